// apps/imdb/trainer.cpp: see trainer.h.
#include "apps/imdb/trainer.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "apps/imdb/distributed.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/model.h"
#include "apps/imdb/progress.h"
#include "apps/imdb/running_score.h"
#include "apps/imdb/signals.h"
#include "cuda/device_batches.h"
#include "data/dataset.h"
#include "data/prefetcher.h"
#include "data/sampler.h"
#include "nn/lstm.h"
#include "tensor/lstm.h"
#include "tensor/generator.h"

namespace loom::imdb {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A batch as CPU tensors: what the producer (inline or on the prefetch worker) hands the loop.
struct StepInput {
  Tensor tokens;  // [B, T] Int32
  Tensor labels;  // [B, 1] Float32
  int64_t rows = 0;
};

StepInput make_step_input(const data::Batch& b) {
  StepInput s;
  s.rows = b.batch_size;
  s.tokens = from_vector<int32_t>(b.tokens, {b.batch_size, b.seq_len});
  s.labels = from_vector<float>(b.labels, {b.batch_size, 1});
  return s;
}

// The partial epoch's running sums a TrainState carries (and a checkpoint saves), as the
// MetricTotals that nn/distributed reduces across ranks, and back.
nn::distributed::MetricTotals epoch_totals(const TrainState& st) {
  nn::distributed::MetricTotals t;
  t.loss_sum = st.loss_sum;
  t.correct = st.correct;
  t.count = st.seen;
  t.time_s = st.train_time;
  t.data_time_s = st.data_time;
  t.wait_time_s = st.wait_time;
  return t;
}

void set_epoch_totals(TrainState& st, const nn::distributed::MetricTotals& t) {
  st.loss_sum = t.loss_sum;
  st.correct = t.correct;
  st.seen = t.count;
  st.train_time = t.time_s;
  st.data_time = t.data_time_s;
  st.wait_time = t.wait_time_s;
}

}  // namespace

std::string checkpoint_path(const Config& c, const std::string& name) {
  return c.out + "/" + name + ".safetensors";
}

TrainResult train_model(const Config& c, const PreparedData& d, const TrainOptions& o) {
  validate_against_data(c, static_cast<int64_t>(d.split.train.size()));
  std::string why;
  LOOM_CHECK(ImdbModel::supports(c, &why), why);
  // One process unless the caller started a job (commands.cpp); the study passes none.
  std::unique_ptr<DataParallel> alone;
  if (o.parallel == nullptr) alone = std::make_unique<DataParallel>("none", c.device);
  DataParallel& par = o.parallel != nullptr ? *o.parallel : *alone;
  const bool root = par.is_root();  // the only rank that writes files
  const Device device = par.device();

  // Weights first, from the seeded default generator; dropout masks draw from it afterwards.
  manual_seed(c.seed);
  ImdbModel model(c, device);
  // A benchmark must never time the fallback by mistake: say when `persistent` cannot run here.
  if (c.lstm_impl == "persistent" &&
      (c.precision == "fp16" ||
       !lstm_persistent_available(DType::Float32, c.lstm_size, device)))
    std::fprintf(o.log,
                 "note: the persistent LSTM cannot run here (%s, hidden %lld, %s); the fused "
                 "implementation runs instead\n",
                 c.device.c_str(), static_cast<long long>(c.lstm_size), c.precision.c_str());
  TrainState st;
  const std::string metrics_path = c.out + "/metrics.jsonl";
  // Dropout masks: rank r continues from the same counter offset with its own seed
  // (distributed.h); on rank 0 (and in a 1-process run) that is exactly the seed's own stream.
  auto seed_dropout = [&](uint64_t seed, uint64_t offset) {
    manual_seed(dropout_seed(seed, par.rank()));
    default_generator().advance(offset);
  };
  if (o.resume_from != nullptr) {
    restore_model(model, *o.resume_from, checkpoint_path(c, "last"), /*with_optimizer=*/true);
    st = o.resume_from->state;
    seed_dropout(st.rng_seed, st.rng_offset);
    // The checkpoint's partial-epoch sums are the whole job's: rank 0 carries them on.
    if (!root) set_epoch_totals(st, {});
    if (root) truncate_metrics(metrics_path, st.epoch);  // epochs after the checkpoint are redone
    std::fprintf(o.log, "resuming at epoch %lld, step %lld (global step %lld)\n",
                 static_cast<long long>(st.epoch + 1), static_cast<long long>(st.step_in_epoch),
                 static_cast<long long>(st.global_step));
  } else {
    seed_dropout(c.seed, default_generator().offset());
    if (root) std::remove(metrics_path.c_str());  // a fresh run starts a fresh metrics file
  }
  // Collective: every rank holds rank 0's weights from here on (they already agree: same seed or
  // same checkpoint), and all_reduce_gradients can average into the model's gradients.
  par.attach(model);

  auto dataset = std::make_shared<data::TokenDataset>(d.tokens, d.labels, d.max_len);
  // This rank's share of each epoch's global batches (the whole batch for one process).
  auto sampler =
      std::make_shared<ShardSampler>(d.split.train, c.batch, par.rank(), par.world_size(), c.seed);
  data::DataLoader loader(dataset, sampler, {sampler->local_batch(), /*drop_last=*/true});
  // This rank's share of the validation rows; the sums are reduced after scoring.
  const std::vector<int64_t> my_validation =
      strided_rows(d.split.validation, par.rank(), par.world_size());

  Progress progress(o.log, o.interactive, c.epochs);
  TrainResult result;
  auto snapshot = [&](const std::string& name, TrainState& state) {
    state.rng_seed = default_generator().seed();
    state.rng_offset = default_generator().offset();
    save_checkpoint(checkpoint_path(c, name), c, d.vocab, model, state);
  };
  // The partial epoch's sums of every rank (losses, rows, times: see nn/distributed/metrics.h).
  auto job_totals = [&] { return par.reduce(epoch_totals(st)); };  // collective

  while (!st.finished && st.epoch < c.epochs) {
    const auto epoch_start = Clock::now();
    loader.set_epoch(st.epoch);
    const int64_t batches = loader.num_batches();  // global batches: the same on every rank
    const int64_t first = st.step_in_epoch;
    progress.begin_epoch(st.epoch + 1, batches);
    const int64_t skipped_before = model.skipped_steps();
    par.reset_comm_seconds();
    model.set_training(true);
    {
      // Workers: 1 prefetching thread, or 0 = build each batch inline inside next().
      data::Prefetcher<StepInput> batches_in(
          batches - first, [&](int64_t i) { return make_step_input(loader.batch(first + i)); },
          c.prefetch ? 1 : 0, 4);
      // On a GPU with --prefetch on, batch k+1's host-to-device copy (pinned staging, its own
      // copy stream) runs while step k computes (cuda/device_batches.h); otherwise each batch
      // is copied when its step starts.
      std::unique_ptr<cuda::DeviceBatchQueue> upload;
      if (!device.is_cpu() && c.prefetch)
        upload =
            std::make_unique<cuda::DeviceBatchQueue>(device, sampler->local_batch(), d.max_len);
      auto submit = [&](const StepInput& s) {
        upload->submit(s.tokens.data_ptr<int32_t>(), s.labels.data_ptr<float>(), s.rows);
      };
      // The epoch's loss and accuracy sums stay on the device: no host read per step.
      RunningScore score(device, st.loss_sum, st.correct);
      StepInput in;
      bool have = batches_in.next(in);  // blocks while the batch is built (wait time)
      if (upload && have) submit(in);
      int64_t step = first;
      while (have) {
        const StepInput cur = std::move(in);
        have = batches_in.next(in);  // the next batch, built ahead by the prefetch worker
        const auto step_start = Clock::now();
        Tensor x, y;
        if (upload) {
          cuda::DeviceBatch b = upload->next();  // `cur`, already on its way to the device
          if (have) submit(in);                  // copies while this step runs
          x = b.tokens;
          y = b.labels;
        } else {
          x = cur.tokens.to(device);
          y = cur.labels.to(device);
        }
        const Variable logits = model.forward(x);
        const Variable loss = model.loss(logits, y);  // mean over this rank's rows
        model.backward(loss);
        par.all_reduce_gradients();  // mean over ranks = the global batch's gradient
        model.step();                // (unscale, clip,) Adam: the same step on every rank
        score.add(loss.data(), logits.data(), y, cur.rows);
        st.seen += static_cast<double>(cur.rows);
        ++step;
        ++st.global_step;
        st.step_in_epoch = step;
        // A signal may reach one rank or all: every rank stops after the same step.
        const int signal = par.agree_on_stop(stop_signal());  // collective (several ranks)
        st.train_time += since(step_start);
        // Rank 0's running numbers (its shard); the samples are the whole job's. Read from
        // the device only when the bar is redrawn (at most 10 times a second, on a terminal).
        if (progress.due(step)) {
          score.read(st.loss_sum, st.correct);
          progress.step(step, st.loss_sum / st.seen, st.correct / st.seen,
                        static_cast<int64_t>(st.seen) * par.world_size());
        }
        const bool test_stop = o.stop_after_steps > 0 && st.global_step >= o.stop_after_steps;
        if (signal != 0 || test_stop) {
          const data::PrefetchStats ps = batches_in.stats();
          st.data_time += ps.produce_seconds;
          st.wait_time += ps.wait_seconds;
          batches_in.stop();
          score.read(st.loss_sum, st.correct);
          TrainState saved = st;  // with the job's partial-epoch sums, not this rank's
          set_epoch_totals(saved, job_totals());
          if (root) snapshot("last", saved);
          result.stopped = true;
          result.signal = signal;
          result.state = saved;
          if (o.interactive) std::fprintf(o.log, "\n");
          std::fprintf(o.log,
                       "imdb: stopped by %s at epoch %lld, step %lld/%lld; state saved to %s; "
                       "continue with --resume --out %s\n",
                       signal == 0 ? "--stop-after-steps" : signal_name(signal),
                       static_cast<long long>(st.epoch + 1), static_cast<long long>(step),
                       static_cast<long long>(batches), checkpoint_path(c, "last").c_str(),
                       c.out.c_str());
          return result;
        }
      }
      score.read(st.loss_sum, st.correct);
      const data::PrefetchStats ps = batches_in.stats();
      st.data_time += ps.produce_seconds;
      st.wait_time += ps.wait_seconds;
    }
    const nn::distributed::MetricTotals train = job_totals();

    // Validation: dropout off, no graph; each rank scores its share and the sums are reduced.
    const Scores mine = score_rows(model, d, my_validation, c.batch);
    const Classification mine_c = classify(mine);
    nn::distributed::MetricTotals val_mine;
    val_mine.loss_sum = mine.loss_sum;
    val_mine.correct = static_cast<double>(mine_c.tp + mine_c.tn);
    val_mine.count = static_cast<double>(mine_c.n);
    const nn::distributed::MetricTotals val = par.reduce(val_mine);
    // The slowest rank's communication time (it includes waiting for the others).
    const double comm_s = par.comm().all_reduce_max({par.comm_seconds()})[0];

    EpochMetrics m;
    m.epoch = st.epoch + 1;
    // Rank 0's clock, read after the collectives above: every rank has finished the epoch.
    m.epoch_time_s = since(epoch_start);  // after a mid-epoch resume: only the resumed part
    m.data_time_s = train.data_time_s;
    m.wait_time_s = train.wait_time_s;
    m.train_loss = train.mean_loss();
    m.train_acc = train.accuracy();
    m.val_loss = val.mean_loss();
    m.val_acc = val.accuracy();
    m.lr = c.lr;
    m.fp16 = model.fp16();
    m.loss_scale = model.loss_scale();
    m.skipped_steps = model.skipped_steps() - skipped_before;  // fp16: inf/NaN gradients
    const double busy = train.time_s + train.wait_time_s;
    m.samples_per_s = busy > 0 ? train.count / busy : 0;
    m.world_size = par.world_size();
    m.comm_time_s = comm_s;
    // The reduced loss is the same number on every rank, so every rank decides alike.
    if (m.val_loss < st.best_val_loss) {
      st.best_val_loss = m.val_loss;
      st.best_epoch = m.epoch;
      st.bad_epochs = 0;
      m.best = true;
    } else {
      ++st.bad_epochs;
    }
    // The epoch is done: reset the per-epoch sums before saving, so a resume starts clean.
    ++st.epoch;
    st.step_in_epoch = 0;
    set_epoch_totals(st, {});
    if (c.patience > 0 && st.bad_epochs >= c.patience) st.finished = true;
    if (st.epoch >= c.epochs) st.finished = true;

    if (root) {
      char name[32];
      std::snprintf(name, sizeof(name), "epoch_%03lld", static_cast<long long>(m.epoch));
      snapshot(name, st);
      if (m.best) snapshot("best", st);
      snapshot("last", st);
      append_metrics(metrics_path, m);
    }
    progress.end_epoch(m);
    result.epochs.push_back(m);
    if (c.patience > 0 && st.bad_epochs >= c.patience && st.epoch < c.epochs)
      std::fprintf(o.log,
                   "early stopping: no better validation loss for %lld epochs; best epoch %lld\n",
                   static_cast<long long>(c.patience), static_cast<long long>(st.best_epoch));
    const int signal = par.agree_on_stop(stop_signal());  // one that came during validation
    if (signal != 0) {
      result.stopped = true;
      result.signal = signal;
      std::fprintf(o.log, "imdb: stopped by %s after epoch %lld; continue with --resume --out %s\n",
                   signal_name(signal), static_cast<long long>(m.epoch), c.out.c_str());
      break;
    }
  }
  result.state = st;
  return result;
}

}  // namespace loom::imdb
