// apps/imdb/trainer.cpp: see trainer.h.
#include "apps/imdb/trainer.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "apps/imdb/evaluate.h"
#include "apps/imdb/model.h"
#include "apps/imdb/progress.h"
#include "apps/imdb/signals.h"
#include "data/dataset.h"
#include "data/prefetcher.h"
#include "data/sampler.h"
#include "tensor/generator.h"

namespace loom::imdb {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A batch as CPU tensors: what the producer (inline or on the prefetch worker) hands the loop.
struct StepInput {
  Tensor tokens;                    // [B, T] Int32
  Tensor labels;                    // [B, 1] Float32
  std::vector<float> label_values;  // [B], for the running accuracy without a device copy
  int64_t rows = 0;
};

StepInput make_step_input(const data::Batch& b) {
  StepInput s;
  s.rows = b.batch_size;
  s.tokens = from_vector<int32_t>(b.tokens, {b.batch_size, b.seq_len});
  s.labels = from_vector<float>(b.labels, {b.batch_size, 1});
  s.label_values = b.labels;
  return s;
}

}  // namespace

std::string checkpoint_path(const Config& c, const std::string& name) {
  return c.out + "/" + name + ".safetensors";
}

TrainResult train_model(const Config& c, const PreparedData& d, const TrainOptions& o) {
  validate_against_data(c, static_cast<int64_t>(d.split.train.size()));
  std::string why;
  LOOM_CHECK(ImdbModel::supports(c, &why), why);
  const Device device(c.device);

  // Weights first, from the seeded default generator; dropout masks draw from it afterwards.
  manual_seed(c.seed);
  ImdbModel model(c, device);
  TrainState st;
  const std::string metrics_path = c.out + "/metrics.jsonl";
  if (o.resume_from != nullptr) {
    restore_model(model, *o.resume_from, checkpoint_path(c, "last"), /*with_optimizer=*/true);
    st = o.resume_from->state;
    manual_seed(st.rng_seed);
    default_generator().advance(st.rng_offset);
    truncate_metrics(metrics_path, st.epoch);  // epochs after the checkpoint will be redone
    std::fprintf(o.log, "resuming at epoch %lld, step %lld (global step %lld)\n",
                 static_cast<long long>(st.epoch + 1), static_cast<long long>(st.step_in_epoch),
                 static_cast<long long>(st.global_step));
  } else {
    std::remove(metrics_path.c_str());  // a fresh run starts a fresh metrics file
  }

  auto dataset = std::make_shared<data::TokenDataset>(d.tokens, d.labels, d.max_len);
  auto sampler = std::make_shared<data::SubsetSampler>(d.split.train, /*shuffle=*/true, c.seed);
  data::DataLoader loader(dataset, sampler, {c.batch, /*drop_last=*/false});

  Progress progress(o.log, o.interactive, c.epochs);
  TrainResult result;
  auto snapshot = [&](const std::string& name) {
    st.rng_seed = default_generator().seed();
    st.rng_offset = default_generator().offset();
    save_checkpoint(checkpoint_path(c, name), c, d.vocab, model, st);
  };

  while (!st.finished && st.epoch < c.epochs) {
    const auto epoch_start = Clock::now();
    loader.set_epoch(st.epoch);
    const int64_t batches = loader.num_batches();
    const int64_t first = st.step_in_epoch;
    progress.begin_epoch(st.epoch + 1, batches);
    int64_t skipped_this_epoch = 0;
    model.set_training(true);
    {
      // Workers: 1 prefetching thread, or 0 = build each batch inline inside next().
      data::Prefetcher<StepInput> batches_in(
          batches - first, [&](int64_t i) { return make_step_input(loader.batch(first + i)); },
          c.prefetch ? 1 : 0, 4);
      StepInput in;
      int64_t step = first;
      while (true) {
        if (!batches_in.next(in)) break;  // blocks while the batch is built (wait time)
        const auto step_start = Clock::now();
        const Tensor x = in.tokens.to(device), y = in.labels.to(device);
        const Variable logits = model.forward(x);
        const Variable loss = model.loss(logits, y);
        model.backward(loss);
        if (!model.step()) ++skipped_this_epoch;  // fp16: inf/NaN gradients, step skipped
        const std::vector<float> z = logits.data().to_vector<float>();
        for (size_t k = 0; k < z.size(); ++k)
          st.correct += (z[k] >= 0) == (in.label_values[k] > 0.5f);
        st.loss_sum += loss.item<double>() * static_cast<double>(in.rows);
        st.seen += static_cast<double>(in.rows);
        st.train_time += since(step_start);
        ++step;
        ++st.global_step;
        st.step_in_epoch = step;
        progress.step(step, st.loss_sum / st.seen, st.correct / st.seen,
                      static_cast<int64_t>(st.seen));
        const bool test_stop = o.stop_after_steps > 0 && st.global_step >= o.stop_after_steps;
        if (stop_requested() || test_stop) {
          const data::PrefetchStats ps = batches_in.stats();
          st.data_time += ps.produce_seconds;
          st.wait_time += ps.wait_seconds;
          batches_in.stop();
          snapshot("last");
          result.stopped = true;
          result.signal = stop_signal();
          result.state = st;
          if (o.interactive) std::fprintf(o.log, "\n");
          std::fprintf(o.log,
                       "imdb: stopped by %s at epoch %lld, step %lld/%lld; state saved to %s; "
                       "continue with --resume --out %s\n",
                       test_stop ? "--stop-after-steps" : signal_name(result.signal),
                       static_cast<long long>(st.epoch + 1), static_cast<long long>(step),
                       static_cast<long long>(batches), checkpoint_path(c, "last").c_str(),
                       c.out.c_str());
          return result;
        }
      }
      const data::PrefetchStats ps = batches_in.stats();
      st.data_time += ps.produce_seconds;
      st.wait_time += ps.wait_seconds;
    }

    // Validation: dropout off, no graph.
    const Scores val = score_rows(model, d, d.split.validation, c.batch);
    const Classification vc = classify(val);

    EpochMetrics m;
    m.epoch = st.epoch + 1;
    m.epoch_time_s = since(epoch_start);  // after a mid-epoch resume: only the resumed part
    m.data_time_s = st.data_time;
    m.wait_time_s = st.wait_time;
    m.train_loss = st.seen > 0 ? st.loss_sum / st.seen : 0;
    m.train_acc = st.seen > 0 ? st.correct / st.seen : 0;
    m.val_loss = vc.loss;
    m.val_acc = vc.accuracy;
    m.lr = c.lr;
    m.fp16 = model.fp16();
    m.loss_scale = model.loss_scale();
    m.skipped_steps = skipped_this_epoch;
    m.samples_per_s = st.train_time > 0 ? st.seen / (st.train_time + st.wait_time) : 0;
    if (val.loss < st.best_val_loss) {
      st.best_val_loss = val.loss;
      st.best_epoch = m.epoch;
      st.bad_epochs = 0;
      m.best = true;
    } else {
      ++st.bad_epochs;
    }
    // The epoch is done: reset the per-epoch sums before saving, so a resume starts clean.
    ++st.epoch;
    st.step_in_epoch = 0;
    st.loss_sum = st.correct = st.seen = st.data_time = st.wait_time = st.train_time = 0;
    if (c.patience > 0 && st.bad_epochs >= c.patience) st.finished = true;
    if (st.epoch >= c.epochs) st.finished = true;

    char name[32];
    std::snprintf(name, sizeof(name), "epoch_%03lld", static_cast<long long>(m.epoch));
    snapshot(name);
    if (m.best) snapshot("best");
    snapshot("last");
    append_metrics(metrics_path, m);
    progress.end_epoch(m);
    result.epochs.push_back(m);
    if (c.patience > 0 && st.bad_epochs >= c.patience && st.epoch < c.epochs)
      std::fprintf(o.log,
                   "early stopping: no better validation loss for %lld epochs; best epoch %lld\n",
                   static_cast<long long>(c.patience), static_cast<long long>(st.best_epoch));
    if (stop_requested()) {
      result.stopped = true;
      result.signal = stop_signal();
      std::fprintf(o.log, "imdb: stopped by %s after epoch %lld; continue with --resume --out %s\n",
                   signal_name(result.signal), static_cast<long long>(m.epoch), c.out.c_str());
      break;
    }
  }
  result.state = st;
  return result;
}

}  // namespace loom::imdb
