// apps/imdb/finetune.cpp: see finetune.h.
#include "apps/imdb/finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "apps/imdb/evaluate.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t finetune_steps(const PreparedData& d, const Config& c, int64_t epochs) {
  return epochs * (static_cast<int64_t>(d.split.train.size()) / c.batch);
}

FinetuneEpoch validate_model(ImdbModel& model, const PreparedData& d, const Config& c) {
  const Classification v = classify(score_rows(model, d, d.split.validation, c.batch));
  FinetuneEpoch e;
  e.val_loss = v.loss;
  e.val_accuracy = v.accuracy;
  return e;
}

std::pair<double, double> time_validation_passes(ImdbModel& a, const PreparedData& da, ImdbModel& b,
                                                 const PreparedData& db, int64_t batch) {
  score_rows(a, da, da.split.validation, batch);  // warm-up: allocations, caches
  score_rows(b, db, db.split.validation, batch);
  std::vector<double> ta, tb;
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    score_rows(a, da, da.split.validation, batch);
    ta.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    score_rows(b, db, db.split.validation, batch);
    tb.push_back(seconds_since(t0));
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[1], tb[1]};
}

std::vector<FinetuneEpoch> finetune(ImdbModel& model, const PreparedData& d, const Config& c,
                                    int64_t epochs, const FinetuneHooks& hooks, std::FILE* log) {
  const int64_t per_epoch = static_cast<int64_t>(d.split.train.size()) / c.batch;
  LOOM_CHECK(epochs == 0 || per_epoch > 0, "fine-tuning needs at least one batch of ", c.batch,
             " training rows; the split has ", d.split.train.size(), " (lower --batch)");
  const int64_t total = epochs * per_epoch, B = c.batch, T = d.max_len;
  std::vector<FinetuneEpoch> out;
  std::vector<int32_t> tokens(static_cast<size_t>(B * T));
  std::vector<float> labels(static_cast<size_t>(B));
  std::vector<int64_t> rows(static_cast<size_t>(B));
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order = d.split.train;
    std::mt19937_64 rng(c.seed * 1000003u + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    model.set_training(true);
    double loss_sum = 0;
    for (int64_t b = 0; b < per_epoch; ++b) {
      for (int64_t k = 0; k < B; ++k) {
        const int64_t r = order[static_cast<size_t>(b * B + k)];
        rows[static_cast<size_t>(k)] = r;
        std::memcpy(&tokens[static_cast<size_t>(k * T)], &d.tokens[static_cast<size_t>(r * T)],
                    static_cast<size_t>(T) * sizeof(int32_t));
        labels[static_cast<size_t>(k)] = d.labels[static_cast<size_t>(r)];
      }
      const Tensor x = from_vector<int32_t>(tokens, {B, T}).to(model.device());
      const Tensor y = from_vector<float>(labels, {B, 1}).to(model.device());
      const Variable logits = model.forward(x);
      const Variable loss = hooks.loss ? hooks.loss(logits, y, rows) : model.loss(logits, y);
      model.backward(loss);
      model.step();
      loss_sum += loss.item<double>();
      ++step;
      if (hooks.after_step) hooks.after_step(step, total);
    }
    FinetuneEpoch e = validate_model(model, d, c);
    e.epoch = epoch;
    e.train_loss = loss_sum / static_cast<double>(per_epoch);
    e.seconds = seconds_since(t0);
    LOOM_CHECK(std::isfinite(e.train_loss) && std::isfinite(e.val_loss), "fine-tuning diverged in ",
               "epoch ", epoch, " (loss ", e.train_loss, "); try a lower --lr");
    std::fprintf(log, "epoch %lld/%lld: train loss %.4f, val loss %.4f, val acc %.4f, %.1f s\n",
                 static_cast<long long>(epoch), static_cast<long long>(epochs), e.train_loss,
                 e.val_loss, e.val_accuracy, e.seconds);
    std::fflush(log);
    out.push_back(e);
  }
  return out;
}

}  // namespace loom::imdb
