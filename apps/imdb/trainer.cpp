// apps/imdb/trainer.cpp: see trainer.h. One TrainingRun per call of train_model; its methods
// are the loop's steps in the order they run: start (fresh or resumed), then for each epoch
// train_epoch (train_step after train_step, stop_mid_epoch on a signal), measure_epoch
// (validation and the metrics line) and end_epoch (early stopping, the files).
#include "apps/imdb/trainer.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "apps/imdb/device_data.h"
#include "apps/imdb/distributed.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/graphed_step.h"
#include "apps/imdb/model.h"
#include "apps/imdb/pipeline.h"
#include "apps/imdb/progress.h"
#include "apps/imdb/running_score.h"
#include "apps/imdb/signals.h"
#include "autograd/functions.h"
#include "cuda/runtime/upload_queue.h"
#include "data/dataset.h"
#include "data/prefetcher.h"
#include "data/sampler.h"
#include "nn/distributed/pipeline.h"
#include "nn/lstm.h"
#include "tensor/generator.h"
#include "tensor/lstm.h"
#include "tensor/ops.h"

namespace loom::imdb {
namespace {

using Clock = std::chrono::steady_clock;
using nn::distributed::MetricTotals;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A batch as the producer (inline or on the prefetch worker) hands it to the loop: CPU tensors,
// or with the data on the device (--data-on-device) only which batch of the epoch it is.
struct StepInput {
  Tensor tokens;  // [B, T] Int32 on the CPU (undefined with the data on the device)
  Tensor labels;  // [B, 1] Float32 on the CPU (likewise)
  int64_t rows = 0;
  int64_t index = 0;  // the batch's index in the epoch
};

StepInput make_step_input(const data::Batch& b, int64_t index) {
  StepInput s;
  s.rows = b.batch_size;
  s.index = index;
  s.tokens = from_vector<int32_t>(b.tokens, {b.batch_size, b.seq_len});
  s.labels = from_vector<float>(b.labels, {b.batch_size, 1});
  return s;
}

// Starts the host-to-device copy of `s` on the upload queue (GPU with --prefetch on).
void submit(cuda::UploadQueue& upload, const StepInput& s) {
  upload.submit({s.tokens, s.labels});
}

// The partial epoch's running sums a TrainState carries (and a checkpoint saves), as the
// MetricTotals that nn/distributed reduces across ranks, and back.
MetricTotals epoch_totals(const TrainState& st) {
  MetricTotals t;
  t.loss_sum = st.loss_sum;
  t.correct = st.correct;
  t.count = st.seen;
  t.time_s = st.train_time;
  t.data_time_s = st.data_time;
  t.wait_time_s = st.wait_time;
  return t;
}

void set_epoch_totals(TrainState& st, const MetricTotals& t) {
  st.loss_sum = t.loss_sum;
  st.correct = t.correct;
  st.seen = t.count;
  st.train_time = t.time_s;
  st.data_time = t.data_time_s;
  st.wait_time = t.wait_time_s;
}

class TrainingRun {
 public:
  TrainingRun(const Config& c, const PreparedData& d, const TrainOptions& o, DataParallel& par);
  TrainResult run();

 private:
  void warn_if_persistent_falls_back() const;
  void start_fresh();
  void resume(const Checkpoint& ck);
  void seed_dropout(uint64_t seed, uint64_t offset);
  bool train_epoch(int64_t batches);
  void train_step(const StepInput& cur, cuda::UploadQueue* upload, const StepInput* next,
                  RunningScore& score);
  std::pair<Tensor, Tensor> device_batch(const StepInput& cur, cuda::UploadQueue* upload,
                                         const StepInput* next);
  GraphedStep::Outputs eager_step(const Tensor& tokens, const Tensor& labels);
  GraphedStep::Outputs pipeline_step(const Tensor& tokens, const Tensor& labels);
  void make_graph();
  void fill_graph_inputs(const StepInput& cur, cuda::UploadQueue* upload, const StepInput* next);
  void stop_mid_epoch(int signal, int64_t batches, data::Prefetcher<StepInput>& batches_in,
                      RunningScore& score);
  EpochMetrics measure_epoch(Clock::time_point epoch_start, int64_t skipped_before);
  bool end_epoch(EpochMetrics& m);
  void snapshot(const std::string& name, TrainState& state);
  MetricTotals job_totals() { return par_.reduce(epoch_totals(st_)); }  // collective
  void check_finite(double value, const char* what) const;

  const Config& c_;
  const PreparedData& d_;
  const TrainOptions& o_;
  DataParallel& par_;
  const bool root_;  // the only rank that writes files
  const Device device_;
  const std::string metrics_path_;
  std::unique_ptr<ImdbModel> model_;
  TrainState st_;
  std::shared_ptr<ShardSampler> sampler_;
  std::unique_ptr<data::DataLoader> loader_;
  std::vector<int64_t> my_validation_;
  std::unique_ptr<DeviceDataset> on_device_;  // --data-on-device
  std::unique_ptr<GraphedStep> graph_;        // --cuda-graph, from the run's second step on
  Tensor graph_tokens_, graph_labels_;        // the graph's inputs, refilled before each replay
  Tensor graph_rows_;                         // with the data on the device: the batch's rows
  Progress progress_;
  TrainResult result_;
};

TrainingRun::TrainingRun(const Config& c, const PreparedData& d, const TrainOptions& o,
                         DataParallel& par)
    : c_(c),
      d_(d),
      o_(o),
      par_(par),
      root_(par.is_root()),
      device_(par.device()),
      metrics_path_(c.out + "/metrics.jsonl"),
      progress_(o.log, o.interactive, c.epochs) {
  // Weights first, from the seeded default generator; dropout masks draw from it afterwards.
  manual_seed(c.seed);
  // Pipelined: every stage builds the whole network (the same draws), then keeps its blocks.
  model_ = std::make_unique<ImdbModel>(c, device_, plan_stage(c, par.stage(), par.num_stages()));
  warn_if_persistent_falls_back();
  if (o.resume_from != nullptr)
    resume(*o.resume_from);
  else
    start_fresh();
  // Collective: every rank holds rank 0's weights from here on (they already agree: same seed or
  // same checkpoint), and all_reduce_gradients can average into the model's gradients.
  par.attach(*model_);

  auto dataset = std::make_shared<data::TokenDataset>(d.tokens, d.labels, d.max_len);
  // This rank's share of each epoch's global batches (the whole batch for one process).
  sampler_ = std::make_shared<ShardSampler>(d.split.train, c.batch, par.data_rank(),
                                            par.data_world(), c.seed);
  loader_ = std::make_unique<data::DataLoader>(
      dataset, sampler_, data::LoaderOptions{sampler_->local_batch(), /*drop_last=*/true});
  // This rank's share of the validation rows; the sums are reduced after scoring.
  my_validation_ = strided_rows(d.split.validation, par.data_rank(), par.data_world());
  LOOM_CHECK(c.micro_batches <= sampler_->local_batch(), "--micro-batches ", c.micro_batches,
             " is more than the ", sampler_->local_batch(),
             " rows each replica trains per step (--batch ", c.batch, " / ", par.data_world(),
             "): use at most that many");
  LOOM_CHECK(!c.cuda_graph || par.world_size() == 1,
             "--cuda-graph captures one process's step; with ", par.world_size(),
             " processes the gradient all-reduce would sit inside the graph: run without it");
  if (c.data_on_device)
    on_device_ = std::make_unique<DeviceDataset>(d.tokens, d.labels, d.max_len, device_);
}

// A benchmark must never time the fallback by mistake: say when `persistent` cannot run here.
void TrainingRun::warn_if_persistent_falls_back() const {
  if (c_.lstm_impl == "persistent" &&
      (c_.precision != "fp32" || !lstm_persistent_available(DType::Float32, c_.lstm_size, device_)))
    std::fprintf(o_.log,
                 "note: the persistent LSTM cannot run here (%s, hidden %lld, %s); the per-step "
                 "recurrence runs instead\n",
                 c_.device.c_str(), static_cast<long long>(c_.lstm_size), c_.precision.c_str());
}

// Dropout masks: rank r continues from the same counter offset with its own seed
// (distributed.h); on rank 0 (and in a 1-process run) that is exactly the seed's own stream.
void TrainingRun::seed_dropout(uint64_t seed, uint64_t offset) {
  manual_seed(dropout_seed(seed, par_.rank()));
  default_generator().advance(offset);
}

void TrainingRun::start_fresh() {
  seed_dropout(c_.seed, default_generator().offset());
  if (root_) std::remove(metrics_path_.c_str());  // a fresh run starts a fresh metrics file
}

void TrainingRun::resume(const Checkpoint& ck) {
  restore_model(*model_, ck, checkpoint_path(c_, "last"), /*with_optimizer=*/true);
  st_ = ck.state;
  seed_dropout(st_.rng_seed, st_.rng_offset);
  // The checkpoint's partial-epoch sums are the whole job's: rank 0 carries them on.
  if (!root_) set_epoch_totals(st_, {});
  // Epochs after the checkpoint are redone: their lines go (a line is written before its
  // epoch's checkpoints, so a crash between the two leaves one line too many, never one short).
  if (root_) truncate_metrics(metrics_path_, st_.epoch);
  std::fprintf(o_.log, "resuming at epoch %lld, step %lld (global step %lld), %lld thread%s\n",
               static_cast<long long>(st_.epoch + 1), static_cast<long long>(st_.step_in_epoch),
               static_cast<long long>(st_.global_step), static_cast<long long>(c_.threads),
               c_.threads == 1 ? "" : "s");
}

TrainResult TrainingRun::run() {
  while (!st_.finished && st_.epoch < c_.epochs) {
    const auto epoch_start = Clock::now();
    loader_->set_epoch(st_.epoch);
    const int64_t batches = loader_->num_batches();  // global batches: the same on every rank
    progress_.begin_epoch(st_.epoch + 1, batches);
    const int64_t skipped_before = model_->skipped_steps();
    par_.reset_comm_seconds();
    model_->set_training(true);
    if (!train_epoch(batches)) return result_;  // stopped by a signal, state saved
    EpochMetrics m = measure_epoch(epoch_start, skipped_before);
    if (!end_epoch(m)) break;
  }
  result_.state = st_;
  return result_;
}

// The rest of epoch st_.epoch, step after step. False when a stop signal (or
// --stop-after-steps) ended it: last.safetensors then holds the state and result_ says so.
bool TrainingRun::train_epoch(int64_t batches) {
  const int64_t first = st_.step_in_epoch;
  const int64_t B = sampler_->local_batch();
  // With the data on the device a batch is its index; the host builds nothing.
  if (on_device_) on_device_->set_order(sampler_->indices(st_.epoch));
  auto produce = [&](int64_t i) {
    return on_device_ ? StepInput{Tensor(), Tensor(), B, first + i}
                      : make_step_input(loader_->batch(first + i), first + i);
  };
  // Workers: 1 prefetching thread, or 0 = build each batch inline inside next().
  data::Prefetcher<StepInput> batches_in(batches - first, produce, c_.prefetch ? 1 : 0, 4);
  // On a GPU with --prefetch on, batch k+1's host-to-device copy (pinned staging, its own copy
  // stream) runs while step k computes (cuda/runtime/upload_queue.h); otherwise each batch is
  // copied when its step starts.
  std::unique_ptr<cuda::UploadQueue> upload;
  if (!device_.is_cpu() && c_.prefetch && !on_device_)
    upload = std::make_unique<cuda::UploadQueue>(
        device_,
        std::vector<cuda::UploadPart>{{DType::Int32, {B, d_.max_len}}, {DType::Float32, {B, 1}}});
  // The epoch's loss and accuracy sums stay on the device: no host read per step.
  RunningScore score(device_, st_.loss_sum, st_.correct);
  StepInput in;
  bool have = batches_in.next(in);  // blocks while the batch is built (wait time)
  if (upload && have) submit(*upload, in);
  while (have) {
    const StepInput cur = std::move(in);
    have = batches_in.next(in);  // the next batch, built ahead by the prefetch worker
    const auto step_start = Clock::now();
    const double upload_wait = upload ? upload->host_wait_seconds() : 0;
    train_step(cur, upload.get(), have ? &in : nullptr, score);
    // A signal may reach one rank or all: every rank stops after the same step.
    const int signal = par_.agree_on_stop(stop_signal());  // collective (several ranks)
    // Time submit() waited for a staging slot is time spent waiting for data, not training.
    const double waited = upload ? upload->host_wait_seconds() - upload_wait : 0;
    st_.train_time += since(step_start) - waited;
    st_.wait_time += waited;
    // Rank 0's running numbers (its shard); the samples are the whole job's. Read from the
    // device only when the bar is redrawn (at most 10 times a second, on a terminal).
    if (st_.seen > 0 && progress_.due(st_.step_in_epoch)) {  // pipelined: the last stage's
      score.read(st_.loss_sum, st_.correct);
      check_finite(st_.loss_sum, "training loss");
      progress_.step(st_.step_in_epoch, st_.loss_sum / st_.seen, st_.correct / st_.seen,
                     static_cast<int64_t>(st_.seen) * par_.world_size());
    }
    const bool test_stop = o_.stop_after_steps > 0 && st_.global_step >= o_.stop_after_steps;
    if (signal != 0 || test_stop) {
      stop_mid_epoch(signal, batches, batches_in, score);
      return false;
    }
  }
  score.read(st_.loss_sum, st_.correct);
  const data::PrefetchStats ps = batches_in.stats();
  st_.data_time += ps.produce_seconds;
  st_.wait_time += ps.wait_seconds;
  return true;
}

// One optimizer step on `cur`; `next` (if any) starts its copy to the device meanwhile.
void TrainingRun::train_step(const StepInput& cur, cuda::UploadQueue* upload, const StepInput* next,
                             RunningScore& score) {
  GraphedStep::Outputs out;
  if (graph_) {
    fill_graph_inputs(cur, upload, next);
    out = graph_->run();
  } else if (par_.grid() != nullptr) {
    const auto [x, y] = device_batch(cur, upload, next);
    out = pipeline_step(x, y);
  } else {
    const auto [x, y] = device_batch(cur, upload, next);
    out = eager_step(x, y);
    if (c_.cuda_graph) make_graph();  // captured at the next step, after this warm-up
  }
  // Pipelined, only the last stage has the logits and the loss: the others count nothing, and
  // the sums reduced over the job are the same as without a pipeline.
  if (out.loss.defined()) {
    score.add(out.loss, out.logits, out.labels, cur.rows);
    st_.seen += static_cast<double>(cur.rows);
  }
  ++st_.step_in_epoch;
  ++st_.global_step;
}

// The batch `cur` on the training device: gathered there (--data-on-device), taken from the
// upload queue (whose copy of `next` starts now), or copied from the host.
std::pair<Tensor, Tensor> TrainingRun::device_batch(const StepInput& cur, cuda::UploadQueue* upload,
                                                    const StepInput* next) {
  if (on_device_) return on_device_->gather(on_device_->batch_rows(cur.index, cur.rows));
  if (upload == nullptr) return {cur.tokens.to(device_), cur.labels.to(device_)};
  const std::vector<Tensor> b = upload->next();  // `cur`, already on its way to the device
  if (next != nullptr) submit(*upload, *next);   // copies while this step runs
  return {b[0], b[1]};
}

GraphedStep::Outputs TrainingRun::eager_step(const Tensor& tokens, const Tensor& labels) {
  const Variable logits = model_->forward(tokens);
  const Variable loss = model_->loss(logits, labels);  // mean over this rank's rows
  model_->backward(loss);
  par_.all_reduce_gradients();  // mean over ranks = the global batch's gradient
  model_->step();               // (unscale, clip,) Adam: the same step on every rank
  return {loss.data(), logits.data(), labels};
}

// One GPipe step (nn/distributed/pipeline.h): micro-batch m is rows [start(m), start(m + 1)) of
// this replica's batch; the last stage scales each micro-batch's mean loss by its share of the
// rows, so the summed gradients are the batch's. Returns the loss and logits on the last stage,
// nothing on the others.
GraphedStep::Outputs TrainingRun::pipeline_step(const Tensor& tokens, const Tensor& labels) {
  const int64_t rows = tokens.size(0), T = tokens.size(1), M = c_.micro_batches;
  auto start = [&](int64_t m) { return m * rows / M; };
  const bool last = model_->plan().last();
  std::vector<Tensor> losses, logits;  // the last stage's, per micro-batch
  nn::distributed::PipelineStage stage;
  stage.input_shape = [&](int64_t m) {
    return model_->stage_input_shape(start(m + 1) - start(m), T);
  };
  stage.forward = [&](int64_t m, const Variable& input) {
    const int64_t first = start(m), n = start(m + 1) - first;
    const Variable out = model_->forward_stage(tokens.narrow(0, first, n).contiguous(), input);
    if (!last) return out;
    const Variable loss = model_->loss(out, labels.narrow(0, first, n).contiguous());
    losses.push_back(mul(loss.data(), static_cast<double>(n)));  // a sum over the rows
    logits.push_back(out.data());
    return mul(loss, static_cast<double>(n) / static_cast<double>(rows));
  };
  nn::distributed::gpipe_step(par_.grid()->stages(), M, stage);
  par_.all_reduce_gradients();  // among this stage's replicas
  model_->step();               // this stage's parameters
  if (!last) return {};
  Tensor loss_sum = losses[0];
  for (size_t k = 1; k < losses.size(); ++k)
    loss_sum = add(loss_sum, losses[k]);
  return {div(loss_sum, static_cast<double>(rows)), concat(logits, 0), labels};
}

// The graph's inputs, made before the capture so that they keep their addresses: the batch's
// tokens and labels, or with the data on the device only its rows (the gather is captured too).
void TrainingRun::make_graph() {
  const int64_t B = sampler_->local_batch();
  GraphedStep::Inputs inputs;
  if (on_device_) {
    graph_rows_ = empty({B}, TensorOptions(DType::Int64, device_));
    inputs = [this] { return on_device_->gather(graph_rows_); };
  } else {
    graph_tokens_ = empty({B, d_.max_len}, TensorOptions(DType::Int32, device_));
    graph_labels_ = empty({B, 1}, TensorOptions(DType::Float32, device_));
    inputs = [this] { return std::pair{graph_tokens_, graph_labels_}; };
  }
  graph_ = std::make_unique<GraphedStep>(*model_, std::move(inputs), o_.log);
}

// Refills the graph's inputs in place with the batch `cur` (outside the graph, stream-ordered).
void TrainingRun::fill_graph_inputs(const StepInput& cur, cuda::UploadQueue* upload,
                                    const StepInput* next) {
  if (on_device_) {
    graph_rows_.copy_(on_device_->batch_rows(cur.index, cur.rows));
    return;
  }
  const auto [x, y] = device_batch(cur, upload, next);
  graph_tokens_.copy_(x);
  graph_labels_.copy_(y);
}

// A stop signal mid-epoch: last.safetensors gets the state with the job's partial-epoch sums.
void TrainingRun::stop_mid_epoch(int signal, int64_t batches,
                                 data::Prefetcher<StepInput>& batches_in, RunningScore& score) {
  const data::PrefetchStats ps = batches_in.stats();
  st_.data_time += ps.produce_seconds;
  st_.wait_time += ps.wait_seconds;
  batches_in.stop();
  score.read(st_.loss_sum, st_.correct);
  TrainState saved = st_;  // with the job's partial-epoch sums, not this rank's
  set_epoch_totals(saved, job_totals());
  check_finite(saved.loss_sum, "training loss");  // a diverged state is never saved
  snapshot("last", saved);                        // collective when pipelined
  result_.stopped = true;
  result_.signal = signal;
  result_.state = saved;
  if (o_.interactive) std::fprintf(o_.log, "\n");
  std::fprintf(o_.log,
               "imdb: stopped by %s at epoch %lld, step %lld/%lld; state saved to %s; "
               "continue with --resume --out %s\n",
               signal == 0 ? "--stop-after-steps" : signal_name(signal),
               static_cast<long long>(st_.epoch + 1), static_cast<long long>(st_.step_in_epoch),
               static_cast<long long>(batches), checkpoint_path(c_, "last").c_str(),
               c_.out.c_str());
}

// The finished epoch's numbers: the job's training sums, then validation (dropout off, no
// graph; each rank scores its share and the sums are reduced). Collective.
EpochMetrics TrainingRun::measure_epoch(Clock::time_point epoch_start, int64_t skipped_before) {
  const MetricTotals train = job_totals();
  check_finite(train.loss_sum, "training loss");
  const Scores mine = par_.grid() != nullptr ? score_rows_pipelined(*model_, par_.grid()->stages(),
                                                                    d_, my_validation_, c_.batch)
                                             : score_rows(*model_, d_, my_validation_, c_.batch);
  const Classification mine_c = classify(mine);
  MetricTotals val_mine;
  val_mine.loss_sum = mine.loss_sum;
  val_mine.correct = static_cast<double>(mine_c.tp + mine_c.tn);
  val_mine.count = static_cast<double>(mine_c.n);
  const MetricTotals val = par_.reduce(val_mine);
  // The last step can leave NaN weights behind a finite training loss: validation shows it.
  check_finite(val.loss_sum, "validation loss");
  // The slowest rank's communication time (it includes waiting for the others).
  const double comm_s = par_.comm().all_reduce_max({par_.comm_seconds()})[0];

  EpochMetrics m;
  m.epoch = st_.epoch + 1;
  // Rank 0's clock, read after the collectives above: every rank has finished the epoch.
  m.epoch_time_s = since(epoch_start);  // after a mid-epoch resume: only the resumed part
  m.data_time_s = train.data_time_s;
  m.wait_time_s = train.wait_time_s;
  m.train_loss = train.mean_loss();
  m.train_acc = train.accuracy();
  m.val_loss = val.mean_loss();
  m.val_acc = val.accuracy();
  m.lr = c_.lr;
  m.fp16 = model_->fp16();
  m.loss_scale = model_->loss_scale();
  m.skipped_steps = model_->skipped_steps() - skipped_before;  // fp16: inf/NaN gradients
  const double busy = train.time_s + train.wait_time_s;
  m.samples_per_s = busy > 0 ? train.count / busy : 0;
  m.world_size = par_.world_size();
  m.comm_time_s = comm_s;
  return m;
}

// Early stopping, then the epoch's files: the metrics line first, then the checkpoints, so a
// crash between them leaves a line that a resume rewrites. False when the run must stop here
// (a stop signal arrived during validation).
bool TrainingRun::end_epoch(EpochMetrics& m) {
  // The reduced loss is the same number on every rank, so every rank decides alike.
  if (m.val_loss < st_.best_val_loss) {
    st_.best_val_loss = m.val_loss;
    st_.best_epoch = m.epoch;
    st_.bad_epochs = 0;
    m.best = true;
  } else {
    ++st_.bad_epochs;
  }
  // The epoch is done: reset the per-epoch sums before saving, so a resume starts clean.
  ++st_.epoch;
  st_.step_in_epoch = 0;
  set_epoch_totals(st_, {});
  if (c_.patience > 0 && st_.bad_epochs >= c_.patience) st_.finished = true;
  if (st_.epoch >= c_.epochs) st_.finished = true;

  if (root_) append_metrics(metrics_path_, m);
  char name[32];
  std::snprintf(name, sizeof(name), "epoch_%03lld", static_cast<long long>(m.epoch));
  snapshot(name, st_);  // only rank 0 writes; pipelined, its stages send their parts
  if (m.best) snapshot("best", st_);
  snapshot("last", st_);  // the commit point: a resume starts after this epoch
  progress_.end_epoch(m);
  result_.epochs.push_back(m);
  if (c_.patience > 0 && st_.bad_epochs >= c_.patience && st_.epoch < c_.epochs)
    std::fprintf(o_.log,
                 "early stopping: no better validation loss for %lld epochs; best epoch %lld\n",
                 static_cast<long long>(c_.patience), static_cast<long long>(st_.best_epoch));
  const int signal = par_.agree_on_stop(stop_signal());  // one that came during validation
  if (signal == 0) return true;
  result_.stopped = true;
  result_.signal = signal;
  std::fprintf(o_.log, "imdb: stopped by %s after epoch %lld; continue with --resume --out %s\n",
               signal_name(signal), static_cast<long long>(m.epoch), c_.out.c_str());
  return false;
}

// Writes <out>/<name>.safetensors on rank 0. Pipelined, the first replica's stages gather their
// blocks on rank 0 first (a collective among them), so the file is the one a plain run writes.
void TrainingRun::snapshot(const std::string& name, TrainState& state) {
  std::vector<nn::TensorRecord> records;
  if (par_.grid() != nullptr && par_.grid()->replica() == 0)
    records = gather_stage_records(*model_, par_.grid()->stages());
  if (!root_) return;
  if (par_.grid() == nullptr) records = model_->state_records();
  state.rng_seed = default_generator().seed();
  state.rng_offset = default_generator().offset();
  save_checkpoint(checkpoint_path(c_, name), c_, d_.vocab, records, state);
}

// A NaN or inf loss: the run has diverged and every later step would train on NaN. Stop before
// anything of this epoch is saved, so the files in --out stay the last good state. Every rank
// sees the same reduced sums (the running ones are one process's) and stops alike.
void TrainingRun::check_finite(double value, const char* what) const {
  if (std::isfinite(value)) return;
  const long long epoch = st_.epoch + 1;
  const std::string kept = st_.epoch == 0
                               ? "no epoch had finished, so there is no checkpoint to go back to"
                               : "the checkpoints in " + c_.out + " still hold epoch " +
                                     std::to_string(st_.epoch) + " (best: epoch " +
                                     std::to_string(st_.best_epoch) + "), and eval can use them";
  LOOM_FAIL("the ", what, " is ", std::isnan(value) ? "NaN" : "inf", " in epoch ", epoch,
            ": training diverged (try a lower --lr, or --clip-norm). Stopped without saving "
            "anything of epoch ",
            epoch, "; ", kept);
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
  TrainingRun run(c, d, o, o.parallel != nullptr ? *o.parallel : *alone);
  return run.run();
}

}  // namespace loom::imdb
