// apps/imdb/evaluate.h: score rows with a model, and the classification metrics of the scores.
//
// score_rows runs the model in eval mode (dropout off) without building a graph, batch by batch
// in the order given, and returns each row's probability plus the mean loss. classify turns the
// probabilities into labels at a threshold and counts the confusion matrix:
//                 predicted 0   predicted 1
//     actual 0        tn            fp
//     actual 1        fn            tp
// precision = tp / (tp + fp), recall = tp / (tp + fn), F1 their harmonic mean (0 when undefined).
// Left out: ROC/AUC, calibration.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"

namespace loom::imdb {

struct Scores {
  std::vector<float> probs;   // [rows] sigmoid(logit)
  std::vector<float> labels;  // [rows]
  double loss = 0;            // mean BCE over the rows
  double loss_sum = 0;        // sum over the rows of the BCE (score_rows; to sum across ranks)
};

// Rows `rows` of the encoded data, in batches of `batch`.
Scores score_rows(ImdbModel& model, const PreparedData& data, const std::vector<int64_t>& rows,
                  int64_t batch);

// Encoded rows given directly: tokens [n, max_len].
Scores score_tokens(ImdbModel& model, const std::vector<int32_t>& tokens, int64_t max_len,
                    int64_t batch);

class InferenceModel;

// score_rows on the inference path (inference.h: an int8 checkpoint, the inference study):
// probabilities, labels and the mean BCE of the probabilities.
Scores score_rows_inference(InferenceModel& model, const PreparedData& data,
                            const std::vector<int64_t>& rows, int64_t batch);

struct Classification {
  int64_t n = 0, tp = 0, fp = 0, tn = 0, fn = 0;
  double accuracy = 0, precision = 0, recall = 0, f1 = 0, loss = 0;
};

Classification classify(const Scores& scores, double threshold = 0.5);
nlohmann::json to_json(const Classification& c);
// A few lines for the terminal: the metrics and the confusion matrix.
std::string format_classification(const Classification& c);

}  // namespace loom::imdb
