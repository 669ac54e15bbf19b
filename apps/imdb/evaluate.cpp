// apps/imdb/evaluate.cpp: see evaluate.h.
#include "apps/imdb/evaluate.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "apps/imdb/inference.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace loom::imdb {

Scores score_tokens(ImdbModel& model, const std::vector<int32_t>& tokens, int64_t max_len,
                    int64_t batch) {
  LOOM_CHECK(max_len > 0 && batch > 0, "score_tokens: max_len and batch must be > 0");
  const int64_t n = static_cast<int64_t>(tokens.size()) / max_len;
  Scores s;
  s.probs.reserve(static_cast<size_t>(n));
  model.set_training(false);
  NoGradGuard no_grad;
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t rows = std::min(batch, n - b);
    std::vector<int32_t> chunk(tokens.begin() + b * max_len, tokens.begin() + (b + rows) * max_len);
    const Tensor t = from_vector<int32_t>(chunk, {rows, max_len}).to(model.device());
    const std::vector<float> logits = model.forward(t).data().to_vector<float>();
    for (float z : logits)
      s.probs.push_back(1.0f / (1.0f + std::exp(-z)));
  }
  return s;
}

Scores score_rows(ImdbModel& model, const PreparedData& d, const std::vector<int64_t>& rows,
                  int64_t batch) {
  Scores s;
  s.probs.reserve(rows.size());
  s.labels.reserve(rows.size());
  model.set_training(false);
  NoGradGuard no_grad;
  double loss_sum = 0;
  std::vector<int32_t> chunk;
  std::vector<float> labels;
  for (size_t b = 0; b < rows.size(); b += static_cast<size_t>(batch)) {
    const size_t n = std::min(static_cast<size_t>(batch), rows.size() - b);
    gather_rows(d, rows, b, n, chunk, &labels);
    const int64_t rn = static_cast<int64_t>(n);
    const Tensor t = from_vector<int32_t>(chunk, {rn, d.max_len}).to(model.device());
    const Tensor y = from_vector<float>(labels, {rn, 1}).to(model.device());
    const Variable logits = model.forward(t);
    loss_sum += model.loss(logits, y).item<double>() * static_cast<double>(n);
    for (float z : logits.data().to_vector<float>())
      s.probs.push_back(1.0f / (1.0f + std::exp(-z)));
    s.labels.insert(s.labels.end(), labels.begin(), labels.end());
  }
  s.loss_sum = loss_sum;
  s.loss = rows.empty() ? 0.0 : loss_sum / static_cast<double>(rows.size());
  return s;
}

Scores score_rows_inference(InferenceModel& model, const PreparedData& d,
                            const std::vector<int64_t>& rows, int64_t batch) {
  Scores s;
  std::vector<int32_t> chunk;
  std::vector<float> labels;
  for (size_t b = 0; b < rows.size(); b += static_cast<size_t>(batch)) {
    const size_t n = std::min(static_cast<size_t>(batch), rows.size() - b);
    gather_rows(d, rows, b, n, chunk, &labels);
    s.labels.insert(s.labels.end(), labels.begin(), labels.end());
    s.probs.resize(b + n);
    model.predict_ids(chunk.data(), static_cast<int64_t>(n), s.probs.data() + b);
  }
  for (size_t i = 0; i < s.probs.size(); ++i) {  // BCE of a probability, kept off log(0)
    const double p = std::clamp<double>(s.probs[i], 1e-7, 1 - 1e-7);
    s.loss_sum -= s.labels[i] > 0.5f ? std::log(p) : std::log(1 - p);
  }
  s.loss = s.loss_sum / static_cast<double>(s.probs.size());
  return s;
}

Classification classify(const Scores& s, double threshold) {
  LOOM_CHECK(s.probs.size() == s.labels.size(), "classify: ", s.probs.size(), " probabilities for ",
             s.labels.size(), " labels");
  Classification c;
  c.n = static_cast<int64_t>(s.probs.size());
  c.loss = s.loss;
  for (size_t i = 0; i < s.probs.size(); ++i) {
    const bool pred = s.probs[i] >= threshold, actual = s.labels[i] > 0.5f;
    if (pred && actual)
      ++c.tp;
    else if (pred && !actual)
      ++c.fp;
    else if (!pred && actual)
      ++c.fn;
    else
      ++c.tn;
  }
  auto ratio = [](int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / b : 0.0; };
  c.accuracy = ratio(c.tp + c.tn, c.n);
  c.precision = ratio(c.tp, c.tp + c.fp);
  c.recall = ratio(c.tp, c.tp + c.fn);
  c.f1 = c.precision + c.recall > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0.0;
  return c;
}

nlohmann::json to_json(const Classification& c) {
  return {{"n", c.n},
          {"accuracy", c.accuracy},
          {"precision", c.precision},
          {"recall", c.recall},
          {"f1", c.f1},
          {"loss", c.loss},
          {"confusion", {{"tn", c.tn}, {"fp", c.fp}, {"fn", c.fn}, {"tp", c.tp}}}};
}

std::string format_classification(const Classification& c) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "reviews    %lld\n"
                "loss       %.4f\n"
                "accuracy   %.4f\n"
                "precision  %.4f\n"
                "recall     %.4f\n"
                "F1         %.4f\n"
                "confusion matrix (rows: actual, columns: predicted)\n"
                "              neg       pos\n"
                "  neg  %9lld %9lld\n"
                "  pos  %9lld %9lld\n",
                static_cast<long long>(c.n), c.loss, c.accuracy, c.precision, c.recall, c.f1,
                static_cast<long long>(c.tn), static_cast<long long>(c.fp),
                static_cast<long long>(c.fn), static_cast<long long>(c.tp));
  return buf;
}

}  // namespace loom::imdb
