// apps/imdb/prune.cpp: the pruning arithmetic (see prune.h) and the `imdb prune` command.
#include "apps/imdb/prune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/finetune.h"
#include "nn/serialize.h"
#include "tensor/error.h"
#include "tensor/generator.h"
#include "tensor/ops.h"

namespace loom::imdb {
namespace {

const Tensor& param(const nn::StateDict& p, const std::string& name) {
  for (const auto& [n, t] : p)
    if (n == name) return t;
  LOOM_FAIL("pruning: the model has no parameter '", name, "'");
}

std::vector<float> host(const Tensor& t) {
  return t.to(kCPU).contiguous().to_vector<float>();
}

void check_structured(const Config& c) {
  LOOM_CHECK(c.lstm_layers == 1 && !c.bidirectional,
             "--structured removes hidden units of one LSTM layer read in one direction; this "
             "model has ",
             c.lstm_layers, " layer(s)", c.bidirectional ? ", bidirectional" : "",
             ": use --unstructured");
}

// The head's input columns that read hidden unit k: k (last), or k and H + k (max, then mean).
std::vector<int64_t> head_columns(const Config& c, int64_t k) {
  if (c.pooling == "max-mean") return {k, c.lstm_size + k};
  return {k};
}

}  // namespace

double cubic_sparsity(double final_sparsity, int64_t step, int64_t end_step) {
  if (end_step <= 0 || step >= end_step) return final_sparsity;
  if (step <= 0) return 0.0;
  const double left = 1.0 - static_cast<double>(step) / static_cast<double>(end_step);
  return final_sparsity * (1.0 - left * left * left);
}

bool is_prunable_weight(const std::string& name) {
  return name.rfind("lstm.weight_", 0) == 0 || name == "linear.weight";
}

Tensor magnitude_mask(const Tensor& w, double sparsity) {
  LOOM_CHECK(sparsity >= 0 && sparsity < 1, "magnitude_mask: sparsity must be in [0, 1), got ",
             sparsity);
  const std::vector<float> v = host(w);
  const size_t k = static_cast<size_t>(std::llround(sparsity * static_cast<double>(v.size())));
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // The k smallest magnitudes, ties broken by position so the mask is deterministic.
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                   [&](size_t a, size_t b) {
                     const float x = std::fabs(v[a]), y = std::fabs(v[b]);
                     return x < y || (x == y && a < b);
                   });
  std::vector<float> mask(v.size(), 1.0f);
  for (size_t i = 0; i < k; ++i)
    mask[order[i]] = 0.0f;
  return from_vector<float>(mask, w.shape()).to(w.device());
}

std::vector<double> hidden_unit_norms(const nn::StateDict& p, const Config& c) {
  check_structured(c);
  const int64_t H = c.lstm_size, E = c.embed;
  const std::vector<float> wih = host(param(p, "lstm.weight_ih_l0")),
                           whh = host(param(p, "lstm.weight_hh_l0")),
                           bih = host(param(p, "lstm.bias_ih_l0")),
                           bhh = host(param(p, "lstm.bias_hh_l0")),
                           head = host(param(p, "linear.weight"));
  const int64_t F = param(p, "linear.weight").size(1), O = param(p, "linear.weight").size(0);
  auto sq = [](float x) { return static_cast<double>(x) * x; };
  std::vector<double> norms(static_cast<size_t>(H));
  for (int64_t k = 0; k < H; ++k) {
    double s = 0;
    for (int64_t g = 0; g < 4; ++g) {  // what feeds unit k: its row of each gate
      const int64_t row = g * H + k;
      for (int64_t e = 0; e < E; ++e)
        s += sq(wih[static_cast<size_t>(row * E + e)]);
      for (int64_t j = 0; j < H; ++j)
        s += sq(whh[static_cast<size_t>(row * H + j)]);
      s += sq(bih[static_cast<size_t>(row)]) + sq(bhh[static_cast<size_t>(row)]);
    }
    for (int64_t row = 0; row < 4 * H; ++row)  // what reads h_k: W_hh's column k, the head
      s += sq(whh[static_cast<size_t>(row * H + k)]);
    for (int64_t col : head_columns(c, k))
      for (int64_t o = 0; o < O; ++o)
        s += sq(head[static_cast<size_t>(o * F + col)]);
    norms[static_cast<size_t>(k)] = std::sqrt(s);
  }
  return norms;
}

nn::StateDict hidden_unit_masks(const nn::StateDict& p, const Config& c,
                                const std::vector<int64_t>& removed) {
  check_structured(c);
  const int64_t H = c.lstm_size, E = c.embed;
  const Tensor& head = param(p, "linear.weight");
  const int64_t F = head.size(1), O = head.size(0);
  std::vector<float> wih(static_cast<size_t>(4 * H * E), 1.0f),
      whh(static_cast<size_t>(4 * H * H), 1.0f), bias(static_cast<size_t>(4 * H), 1.0f),
      lin(static_cast<size_t>(O * F), 1.0f);
  for (int64_t k : removed) {
    LOOM_CHECK(k >= 0 && k < H, "hidden_unit_masks: unit ", k, " of ", H);
    for (int64_t g = 0; g < 4; ++g) {
      const int64_t row = g * H + k;
      std::fill_n(wih.begin() + row * E, E, 0.0f);
      std::fill_n(whh.begin() + row * H, H, 0.0f);
      bias[static_cast<size_t>(row)] = 0.0f;
    }
    for (int64_t row = 0; row < 4 * H; ++row)
      whh[static_cast<size_t>(row * H + k)] = 0.0f;
    for (int64_t col : head_columns(c, k))
      for (int64_t o = 0; o < O; ++o)
        lin[static_cast<size_t>(o * F + col)] = 0.0f;
  }
  const Device dev = head.device();
  return {{"lstm.weight_ih_l0", from_vector<float>(wih, {4 * H, E}).to(dev)},
          {"lstm.weight_hh_l0", from_vector<float>(whh, {4 * H, H}).to(dev)},
          {"lstm.bias_ih_l0", from_vector<float>(bias, {4 * H}).to(dev)},
          {"lstm.bias_hh_l0", from_vector<float>(bias, {4 * H}).to(dev)},
          {"linear.weight", from_vector<float>(lin, {O, F}).to(dev)}};
}

nn::StateDict remove_hidden_units(const nn::StateDict& p, const Config& c,
                                  const std::vector<int64_t>& kept) {
  check_structured(c);
  const int64_t H = c.lstm_size;
  LOOM_CHECK(!kept.empty() && std::is_sorted(kept.begin(), kept.end()) && kept.front() >= 0 &&
                 kept.back() < H,
             "remove_hidden_units: the kept units must be ascending ids in [0, ", H, ")");
  std::vector<int64_t> gate_rows, head_cols;
  for (int64_t g = 0; g < 4; ++g)  // PyTorch's gate order i, f, g, o: blocks of H rows
    for (int64_t k : kept)
      gate_rows.push_back(g * H + k);
  for (int64_t k : kept)
    head_cols.push_back(k);
  if (c.pooling == "max-mean")
    for (int64_t k : kept)
      head_cols.push_back(H + k);
  // The n-gram bag's columns come after the LSTM's and stay whole.
  const int64_t lstm_cols = (c.pooling == "max-mean" ? 2 : 1) * H;
  for (int64_t j = 0; c.ngram_buckets > 0 && j < c.ngram_dim; ++j)
    head_cols.push_back(lstm_cols + j);
  const Device dev = param(p, "linear.weight").device();
  auto index = [&](const std::vector<int64_t>& v) {
    return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}).to(dev);
  };
  const Tensor rows = index(gate_rows), units = index(kept), cols = index(head_cols);
  nn::StateDict out;
  for (const auto& [name, t] : p) {
    if (name == "lstm.weight_ih_l0" || name == "lstm.bias_ih_l0" || name == "lstm.bias_hh_l0")
      out.emplace_back(name, index_select(t, 0, rows));
    else if (name == "lstm.weight_hh_l0")
      out.emplace_back(name, index_select(index_select(t, 0, rows), 1, units));
    else if (name == "linear.weight")
      out.emplace_back(name, index_select(t, 1, cols));
    else
      out.emplace_back(name, t);
  }
  return out;
}

}  // namespace loom::imdb

namespace loom::imdb {
namespace {

// The model's parameters by name (the live tensors: masks are applied to them in place).
nn::StateDict live_parameters(const ImdbModel& model) {
  nn::StateDict p;
  for (const auto& [name, v] : model.named_parameters())
    p.emplace_back(name, v.data());
  return p;
}

void apply_masks(const ImdbModel& model, const nn::StateDict& masks) {
  for (const auto& [name, v] : model.named_parameters())
    for (const auto& [mask_name, mask] : masks)
      if (mask_name == name) v.data().copy_(mul(v.data(), mask));
}

// The masks for sparsity `s` of the model as it is now (pruned weights are 0, so they stay
// among the smallest and a mask only ever grows).
nn::StateDict masks_at(const ImdbModel& model, const Config& c, bool structured, double s) {
  const nn::StateDict p = live_parameters(model);
  nn::StateDict masks;
  if (!structured) {
    for (const auto& [name, t] : p)
      if (is_prunable_weight(name)) masks.emplace_back(name, magnitude_mask(t, s));
    return masks;
  }
  const std::vector<double> norms = hidden_unit_norms(p, c);
  std::vector<int64_t> order(norms.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return norms[static_cast<size_t>(a)] < norms[static_cast<size_t>(b)];
  });
  const int64_t n = std::min<int64_t>(std::llround(s * static_cast<double>(c.lstm_size)),
                                      c.lstm_size - 1);  // at least one unit stays
  order.resize(static_cast<size_t>(n));
  return hidden_unit_masks(p, c, order);
}

// The hidden units whose every weight is 0 after the final masks: the ones to remove.
std::vector<int64_t> surviving_units(const ImdbModel& model, const Config& c) {
  const std::vector<double> norms = hidden_unit_norms(live_parameters(model), c);
  std::vector<int64_t> kept;
  for (size_t k = 0; k < norms.size(); ++k)
    if (norms[k] > 0) kept.push_back(static_cast<int64_t>(k));
  return kept;
}

struct WeightCounts {
  int64_t parameters = 0;      // every parameter
  int64_t prunable = 0;        // the LSTM's weight matrices and the head's weight
  int64_t prunable_zeros = 0;  // of those, exactly 0
};

WeightCounts count_weights(const ImdbModel& model) {
  WeightCounts n;
  for (const auto& [name, v] : model.named_parameters()) {
    n.parameters += v.numel();
    if (!is_prunable_weight(name)) continue;
    const std::vector<float> w = host(v.data());
    n.prunable += static_cast<int64_t>(w.size());
    n.prunable_zeros += std::count(w.begin(), w.end(), 0.0f);
  }
  return n;
}

// The structurally pruned model: a new, smaller ImdbModel holding the kept units' weights.
// Prints how far its logits are from the masked model's (0 up to rounding: nothing read the
// removed units).
std::unique_ptr<ImdbModel> shrink(ImdbModel& masked, Config& c, const PreparedData& d) {
  const std::vector<int64_t> kept = surviving_units(masked, c);
  const nn::StateDict smaller = remove_hidden_units(live_parameters(masked), c, kept);
  Config small = c;
  small.lstm_size = static_cast<int64_t>(kept.size());
  auto out = std::make_unique<ImdbModel>(small, masked.device());
  nn::SafetensorsContents file;
  for (const auto& [name, t] : smaller)
    file.tensors.push_back(nn::tensor_to_record(name, t));
  out->load_state(file, "the pruned model", /*with_optimizer=*/false);
  const std::vector<int64_t> probe(
      d.split.validation.begin(),
      d.split.validation.begin() + std::min<size_t>(d.split.validation.size(), 100));
  const Scores a = score_rows(masked, d, probe, c.batch), b = score_rows(*out, d, probe, c.batch);
  double diff = 0;
  for (size_t i = 0; i < a.probs.size(); ++i)
    diff = std::max(diff, static_cast<double>(std::fabs(a.probs[i] - b.probs[i])));
  std::printf(
      "removed %lld of %lld hidden units; probabilities of %zu reviews moved by at most "
      "%.3g\n",
      static_cast<long long>(c.lstm_size - small.lstm_size), static_cast<long long>(c.lstm_size),
      probe.size(), diff);
  c = small;
  return out;
}

// What pruning did, for the summary line, the JSON and the checkpoint's metadata.
struct PruneOutcome {
  FinetuneEpoch before, after;
  WeightCounts dense, left;
  double dense_seconds = 0, pruned_seconds = 0;  // forward over the validation rows
  int64_t steps = 0;                             // fine-tuning steps
};

// Writes the pruned checkpoint (the model's tensors; "pruning" in the metadata) and --json,
// and prints the summary line.
void save_pruned(const PruneRequest& p, const Checkpoint& ck, const Config& dense_config,
                 const Config& c, const PreparedData& d, const ImdbModel& pruned,
                 const PruneOutcome& o) {
  const nlohmann::json j = {{"method", p.structured ? "structured" : "unstructured"},
                            {"sparsity", p.sparsity},
                            {"finetune_epochs", p.finetune_epochs},
                            {"source", p.checkpoint},
                            {"lstm_size_before", dense_config.lstm_size},
                            {"lstm_size_after", c.lstm_size},
                            {"parameters_before", o.dense.parameters},
                            {"parameters_after", o.left.parameters},
                            {"prunable_weights", o.left.prunable},
                            {"prunable_zeros", o.left.prunable_zeros},
                            {"val_rows", d.split.validation.size()},
                            {"val_accuracy_before", o.before.val_accuracy},
                            {"val_accuracy_after", o.after.val_accuracy},
                            {"val_loss_before", o.before.val_loss},
                            {"val_loss_after", o.after.val_loss},
                            {"val_forward_seconds_before", o.dense_seconds},
                            {"val_forward_seconds_after", o.pruned_seconds},
                            {"threads", c.threads}};
  TrainState state = ck.state;
  state.global_step += o.steps;
  state.finished = true;
  std::map<std::string, std::string> meta = checkpoint_metadata(c, ck.vocab, state);
  meta["pruning"] = j.dump();
  std::vector<nn::TensorRecord> records;
  for (const auto& [name, v] : pruned.named_parameters())
    records.push_back(nn::tensor_to_record(name, v.data()));
  nn::save_safetensors(p.out, records, meta);
  if (!p.json_out.empty()) {
    std::ofstream out(p.json_out);
    LOOM_CHECK(out.good(), "--json: cannot write '", p.json_out, "'");
    out << j.dump(2) << "\n";
  }
  std::printf(
      "pruned %s to %.0f%%: lstm_size %lld -> %lld, parameters %lld -> %lld, zeros in the "
      "pruned matrices %lld of %lld; val acc %.4f -> %.4f (%zu reviews); forward over them "
      "%.3f s -> %.3f s; wrote %s\n",
      p.structured ? "structured" : "unstructured", 100 * p.sparsity,
      static_cast<long long>(dense_config.lstm_size), static_cast<long long>(c.lstm_size),
      static_cast<long long>(o.dense.parameters), static_cast<long long>(o.left.parameters),
      static_cast<long long>(o.left.prunable_zeros), static_cast<long long>(o.left.prunable),
      o.before.val_accuracy, o.after.val_accuracy, d.split.validation.size(), o.dense_seconds,
      o.pruned_seconds, p.out.c_str());
}

}  // namespace
}  // namespace loom::imdb

namespace loom::imdb {

int run_prune(const Request& r) {
  const PruneRequest& p = r.prune;
  prepare_output_file(p.out, "--out");
  prepare_output_file(p.json_out, "--json");
  const Checkpoint ck = load_checkpoint(p.checkpoint);
  Config c = ck.config;
  c.threads = r.config.threads;
  c.device = r.config.device;
  if (r.was_given("batch")) c.batch = r.config.batch;
  if (r.was_given("lr")) c.lr = r.config.lr;
  apply_threads(c.threads);
  if (p.structured) check_structured(c);
  const std::string data_path = locate_data(r.config.data.empty() ? ck.config.data : r.config.data);
  c.data = data_path;
  const PreparedData d = prepare_data(c, data_path, &ck.vocab);
  std::printf("%s\n", describe(d).c_str());
  manual_seed(c.seed);  // the fine-tuning's dropout masks
  ImdbModel model(c, Device(c.device));
  restore_model(model, ck, p.checkpoint, /*with_optimizer=*/false);
  const FinetuneEpoch before = validate_model(model, d, c);
  const WeightCounts dense = count_weights(model);

  // Zhu & Gupta: masks recomputed 10 times while sparsity climbs (3/4 of the steps), then held.
  const int64_t total = finetune_steps(d, c, p.finetune_epochs), end = total * 3 / 4;
  const int64_t every = std::max<int64_t>(1, end / 10);
  nn::StateDict masks;
  FinetuneHooks hooks;
  hooks.after_step = [&](int64_t step, int64_t) {
    if (step <= end && (step % every == 0 || step == end))
      masks = masks_at(model, c, p.structured, cubic_sparsity(p.sparsity, step, end));
    apply_masks(model, masks);  // Adam moved the pruned weights: back to 0
  };
  if (total == 0) {
    masks = masks_at(model, c, p.structured, p.sparsity);  // one shot, no fine-tuning
    apply_masks(model, masks);
  }
  finetune(model, d, c, p.finetune_epochs, hooks, stdout);

  const Config dense_config = c;
  std::unique_ptr<ImdbModel> small;
  if (p.structured) small = shrink(model, c, d);
  ImdbModel& pruned = small ? *small : model;
  const FinetuneEpoch after = validate_model(pruned, d, c);
  const WeightCounts left = count_weights(pruned);
  ImdbModel original(dense_config, Device(c.device));  // the dense model again, to time beside
  restore_model(original, ck, p.checkpoint, /*with_optimizer=*/false);
  const auto [dense_s, pruned_s] = time_validation_passes(original, d, pruned, d, c.batch);

  const PruneOutcome outcome{before, after, dense, left, dense_s, pruned_s, total};
  save_pruned(p, ck, dense_config, c, d, pruned, outcome);
  return 0;
}

}  // namespace loom::imdb
