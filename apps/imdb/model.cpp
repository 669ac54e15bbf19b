// apps/imdb/model.cpp: ImdbModel on nn/ (see model.h).
#include "apps/imdb/model.h"

#include <optional>

#include "apps/imdb/ngrams.h"
#include "apps/imdb/seq2cnn.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "cuda/runtime/device.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/module.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/pooling.h"
#include "nn/serialize.h"
#include "tensor/generator.h"
#include "tensor/ops.h"

namespace loom::imdb {
namespace {

// --lstm composed | fused | persistent: "persistent" is the fused LSTM asking a GPU to run each
// recurrence as one kernel (nn/lstm.h).
nn::LstmImpl lstm_impl_of(const std::string& name) {
  return name == "composed" ? nn::LstmImpl::Composed : nn::LstmImpl::Fused;
}

// F, the features the head reads: the LSTM's (head_features), then the n-gram bag's.
int64_t head_feature_count(const Config& c) {
  return (c.pooling == "max-mean" ? 2 : 1) * (c.bidirectional ? 2 : 1) * c.lstm_size +
         (c.ngram_buckets > 0 ? c.ngram_dim : 0);
}

// The network as an nn::Module, so its parameters get PyTorch's dotted names.
struct Net : nn::Module {
  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::SpatialDropout1d> spatial_dropout, lstm_input_dropout;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> linear;
  std::shared_ptr<nn::Embedding> ngram_embedding;  // --ngram-buckets > 0 only

  explicit Net(const Config& c) : nn::Module("ImdbNet") {
    const nn::InitScheme init = nn::init::scheme_from_name(c.init);
    // Creation order = draw order from the default generator = PyTorch's registration order.
    // No padding_idx: Keras' Embedding (mask_zero=False) trains the padding row like any other.
    embedding = register_module(
        "embedding",
        std::make_shared<nn::Embedding>(nn::EmbeddingOptions(c.vocab, c.embed).init(init)));
    spatial_dropout = register_module("spatial_dropout",
                                      std::make_shared<nn::SpatialDropout1d>(c.spatial_dropout));
    // Keras' LSTM(dropout=p) drops the LSTM's *inputs* with one mask per (review, feature) for
    // all timesteps: exactly a second SpatialDropout1d. (nn::LSTMOptions::dropout is PyTorch's
    // between-layer dropout, a no-op with one layer.)
    lstm_input_dropout = register_module("lstm_input_dropout",
                                         std::make_shared<nn::SpatialDropout1d>(c.lstm_dropout));
    lstm = register_module(
        "lstm", std::make_shared<nn::LSTM>(nn::LSTMOptions(c.embed, c.lstm_size)
                                               .batch_first(true)
                                               .num_layers(c.lstm_layers)
                                               .bidirectional(c.bidirectional)
                                               .recurrent_dropout(c.recurrent_dropout)
                                               .init(init)
                                               .impl(lstm_impl_of(c.lstm_impl))
                                               .persistent(c.lstm_impl == "persistent")));
    linear = register_module(  // reads head_features(...) [B, F]
        "linear",
        std::make_shared<nn::Linear>(nn::LinearOptions(head_feature_count(c), 1).init(init)));
    // Last, so a network without the bag draws the same initial weights as before it existed.
    // Row 0 is the padding id of words and pairs alike (ngrams.h), kept at zero.
    if (c.ngram_buckets > 0) {
      ngram_embedding = register_module(
          "ngram_embedding", std::make_shared<nn::Embedding>(
                                 nn::EmbeddingOptions(c.vocab + c.ngram_buckets, c.ngram_dim)
                                     .padding_idx(0)
                                     .init(init)));
      // Stored divided by the scale ngram_bag multiplies it by: the bag starts as it would
      // without one (ngram_bag says why the scale is there).
      const Tensor& w = ngram_embedding->weight.data();
      w.copy_(mul(w, 1.0 / c.ngram_lr_scale));
    }
  }
};

// The n-gram bag of each review (ngrams.h): the mean of its words' and word pairs' rows, the
// padding ids left out, times s = --ngram-lr-scale. tokens [B, T] -> [B, ngram_dim].
// Why s: Adam moves every weight by about lr a step whatever the size of its gradient, and a
// bag row gets a gradient only in the steps whose batch holds its n-gram, so at the LSTM's lr the
// bag learns slowly (fastText trains its bags at lr 0.1 and more). Reading the rows as s * E
// makes each Adam step move the bag s times as far: a learning rate s times the rest's, for this
// table alone, without a second optimizer (the gradient reaching E is s times larger, which Adam
// divides away).
Variable ngram_bag(Net& net, const Config& c, const Tensor& tokens) {
  const Tensor ids = ngram_ids(tokens, c.vocab, c.ngram_buckets);  // [B, 2T - 1]
  const Tensor padding = eq(ids, zeros({}, TensorOptions(ids.dtype(), ids.device())));
  const Variable bag = nn::mean_over_time(net.ngram_embedding->forward(ids), padding);
  return c.ngram_lr_scale == 1.0 ? bag : mul(bag, c.ngram_lr_scale);
}

// What the head reads, [B, F]. "last": the last step's state of the top layer (both directions'
// final states with --bidirectional, as PyTorch's h_n holds them). "max-mean": the max and the
// mean over time of every step's output, the padding steps (token id 0) left out. `y` may hold
// only some of the layers (a pipeline stage's): its top layer is the last rows of h_n.
Variable head_features(const Config& c, const nn::LstmOutput& y, const Tensor& tokens) {
  const int64_t D = c.bidirectional ? 2 : 1, top = y.h_n.size(0) - D;
  if (c.pooling == "max-mean") {
    const Tensor padding = eq(tokens, zeros({}, TensorOptions(tokens.dtype(), tokens.device())));
    return concat({nn::max_over_time(y.output, padding), nn::mean_over_time(y.output, padding)}, 1);
  }
  if (D == 1) return select(y.h_n, 0, top);
  return concat({select(y.h_n, 0, top), select(y.h_n, 0, top + 1)}, 1);
}

// Embedding and the dropouts before the LSTM: tokens [B, T] -> [B, T, E], computed time-major
// ([T, B, E]) and returned as its [B, T, E] view. The LSTM reads its input time-major: a batch-
// major x would cost it a transposing copy of the whole input at every forward
// (tensor/lstm.cpp), this one none.
Variable embed_tokens(Net& net, const Config& c, const Tensor& tokens) {
  const int64_t B = tokens.size(0), T = tokens.size(1);
  Variable x = net.embedding->forward(tokens.t().contiguous());  // [T, B, E]
  // Every mask is drawn batch-major, as before, and applied through its transposed view.
  if (net.is_training() && c.embed_dropout > 0) {  // whole tokens dropped: mask [B, T, 1]
    const Tensor tokens_kept = nn::dropout_mask({B, T, 1}, c.embed_dropout, default_generator(),
                                                TensorOptions(x.dtype(), x.device()));
    x = nn::dropout_with_mask(x, tokens_kept.transpose(0, 1));
  }
  // SpatialDropout1D, then the LSTM's input dropout: two [B, 1, E] masks, drawn in that order
  // as the modules' forward would, multiplied into one so x is read and written once (the
  // product rounds once where two multiplies rounded twice).
  const Variable x_bte(x.data().transpose(0, 1));  // the shape the modules draw for
  const Tensor spatial = net.spatial_dropout->draw_mask(x_bte);
  const Tensor input = net.lstm_input_dropout->draw_mask(x_bte);
  const Tensor mask = spatial.defined() && input.defined() ? mul(spatial, input)
                      : spatial.defined()                  ? spatial
                                                           : input;
  if (mask.defined()) x = nn::dropout_with_mask(x, mask.transpose(0, 1));
  return transpose(x, 0, 1);
}

// LSTM layers [first, end) of the network's LSTM on x [B, T, in] (batch first): the functional
// core with those layers' parameters, as the module runs them all.
nn::LstmOutput run_lstm_layers(Net& net, const Variable& x, int64_t first, int64_t end) {
  const nn::LSTMOptions& all = net.lstm->options();
  const int64_t D = all.num_directions();
  const nn::LSTMOptions some =
      nn::LSTMOptions(first == 0 ? all.input_size() : D * all.hidden_size(), all.hidden_size())
          .num_layers(end - first)
          .batch_first(true)
          .dropout(all.dropout())
          .bidirectional(all.bidirectional())
          .recurrent_dropout(all.recurrent_dropout())
          .impl(all.impl())
          .persistent(all.persistent());
  const std::vector<nn::LstmParams>& every = net.lstm->params();
  const std::vector<nn::LstmParams> params(every.begin() + first * D, every.begin() + end * D);
  return nn::lstm_forward(x, Variable(), Variable(), params, some, net.lstm->is_training(),
                          &net.lstm->dropout_generator());
}

// The block a parameter belongs to (StagePlan): embedding -> 0, lstm.*_l<k>[_reverse] -> k,
// linear -> L.
int64_t block_of(const std::string& name, int64_t layers) {
  if (name.rfind("embedding.", 0) == 0) return 0;
  if (name.rfind("linear.", 0) == 0) return layers;
  const size_t at = name.rfind("_l");
  LOOM_CHECK(name.rfind("lstm.", 0) == 0 && at != std::string::npos,
             "pipeline: no stage for parameter '", name, "'");
  return std::stoll(name.substr(at + 2));  // stops at "_reverse"
}

Seq2CnnOptions seq2cnn_options(const Config& c) {
  Seq2CnnOptions o;
  o.vocab = c.vocab;
  o.embed = c.embed;
  o.channels = c.conv_channels;
  o.activation = c.activation;
  o.alpha = c.activation_alpha;
  o.spatial_dropout = c.spatial_dropout;
  o.init = nn::init::scheme_from_name(c.init);
  return o;
}

}  // namespace

StagePlan plan_stage(const Config& c, int stage, int stages) {
  StagePlan p;
  p.stage = stage;
  p.stages = stages;
  p.layers = c.lstm_layers;
  const int64_t blocks = c.lstm_layers + 1;
  p.end_block = blocks;
  if (stages == 1) return p;
  LOOM_CHECK(c.model == "lstm", "--pipeline-stages ", stages,
             ": only --model lstm can be split into stages (got --model ", c.model, ")");
  LOOM_CHECK(stages >= 1 && stages <= blocks, "--pipeline-stages ", stages, " is more than the ",
             blocks, " pieces the network can be cut into (", c.lstm_layers,
             " LSTM layer(s) and the head): use at most --pipeline-stages ", blocks,
             ", or more --lstm-layers");
  LOOM_CHECK(stage >= 0 && stage < stages, "plan_stage: stage ", stage, " of ", stages);
  // Stage s takes blocks / S blocks, one more for each of the last (blocks % S) stages.
  const int64_t base = blocks / stages, extra = blocks % stages;
  auto size = [&](int64_t s) { return base + (s >= stages - extra ? 1 : 0); };
  p.first_block = 0;
  for (int64_t s = 0; s < stage; ++s)
    p.first_block += size(s);
  p.end_block = p.first_block + size(stage);
  return p;
}

struct ImdbModel::Impl {
  Config config;
  Device device;
  StagePlan plan;
  std::shared_ptr<nn::Module> net;  // a Net (--model lstm) or a Seq2Cnn (--model seq2cnn)
  std::unique_ptr<nn::optim::Adam> adam;
  std::unique_ptr<nn::amp::GradScaler> scaler;  // fp16 only
  // Whether parameter `name` belongs to this pipeline stage (always, without a pipeline).
  bool owns(const std::string& name) const;
};

ImdbModel::ImdbModel(const Config& c, Device device) : ImdbModel(c, device, plan_stage(c, 0, 1)) {}

ImdbModel::ImdbModel(const Config& c, Device device, const StagePlan& plan)
    : impl_(std::make_unique<Impl>()) {
  std::string why;
  LOOM_CHECK(supports(c, &why), why);
  LOOM_CHECK(device.is_cpu() || cuda::device_count() > device.index, "--device ", c.device,
             ": no such CUDA device here (", cuda::device_report(), ")");
  Impl& m = *impl_;
  m.config = c;
  m.device = device;
  m.plan = plan;
  // On the CPU, from the default generator.
  if (c.model == "seq2cnn")
    m.net = std::make_shared<Seq2Cnn>(seq2cnn_options(c));
  else
    m.net = std::make_shared<Net>(c);
  if (!device.is_cpu()) m.net->to(device);
  // Only this stage's parameters (all of them without a pipeline).
  m.adam = std::make_unique<nn::optim::Adam>(named_parameters(), nn::optim::AdamOptions(c.lr));
  // fp16 only: bf16 keeps float32's 8-bit exponent, so gradients that float32 holds do not
  // underflow in bf16 and there is nothing for a loss scale to rescue (lab 07, section 7).
  // The scaler reads its collapse flag (a host read: on a GPU a sync) every 100 steps rather than
  // every step. The flag is sticky, so a collapsed run still stops, at most 100 skipped steps
  // later; the epoch line counts skipped steps meanwhile.
  if (c.precision == "fp16")
    m.scaler =
        std::make_unique<nn::amp::GradScaler>(nn::amp::GradScalerOptions().check_interval(100));
}

ImdbModel::~ImdbModel() = default;

bool ImdbModel::supports(const Config& c, std::string* reason) {
  if (c.precision != "fp32" && c.precision != "fp16" && c.precision != "bf16") {
    if (reason) *reason = "--precision must be fp32, fp16 or bf16";
    return false;
  }
  return true;
}

std::string ImdbModel::describe_precision(const Config& c) {
  if (c.precision == "fp16") return "fp16 (float16 GEMMs, dynamic loss scaling)";
  if (c.precision != "bf16") return c.precision;
  if (c.device != "cpu") return "bf16 (bfloat16 GEMMs on cuBLAS, no loss scaling)";
  const std::string kernel = cpu_bf16_gemm_kernel();
  const bool native = kernel.rfind("reference", 0) != 0;
  return "bf16 (bfloat16 GEMMs, no loss scaling; GEMM kernel " + kernel +
         (native ? ")"
                 : ": the portable scalar kernel, as this CPU has no AVX512_BF16 or "
                   "LOOM_CPU_KERNELS lowered the level; the same results, but these times are "
                   "not what bf16 hardware gives)");
}

Device ImdbModel::device() const {
  return impl_->device;
}
bool ImdbModel::fp16() const {
  return impl_->scaler != nullptr;
}
double ImdbModel::loss_scale() const {
  return fp16() ? impl_->scaler->scale_value() : 1.0;
}
int64_t ImdbModel::skipped_steps() const {
  return fp16() ? impl_->scaler->skipped_steps() : 0;
}

void ImdbModel::set_training(bool on) {
  impl_->net->train(on);
}

Seq2Cnn* ImdbModel::seq2cnn() {
  return impl_->config.model == "seq2cnn" ? static_cast<Seq2Cnn*>(impl_->net.get()) : nullptr;
}

bool ImdbModel::Impl::owns(const std::string& name) const {
  if (plan.stages == 1) return true;
  const int64_t block = block_of(name, plan.layers);
  return block >= plan.first_block && block < plan.end_block;
}

std::vector<std::pair<std::string, Variable>> ImdbModel::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> mine;
  for (auto& [name, p] : impl_->net->named_parameters())
    if (impl_->owns(name)) mine.emplace_back(name, p);
  return mine;
}

const StagePlan& ImdbModel::plan() const {
  return impl_->plan;
}

Variable ImdbModel::forward(const Tensor& tokens) {
  LOOM_CHECK(tokens.dim() == 2, "ImdbModel::forward: tokens must be [batch, seq_len], got ",
             shape_str(tokens.shape()));
  if (impl_->config.model == "seq2cnn") {
    // Two classes -> one logit: softmax([z0, z1])[1] = sigmoid(z1 - z0), so binary cross-entropy
    // on z1 - z0 is the two-class cross-entropy, and eval/predict read it like the LSTM's logit.
    const Variable z = static_cast<Seq2Cnn&>(*impl_->net).logits(tokens);  // [B, 2]
    return sub(narrow(z, 1, 1, 1), narrow(z, 1, 0, 1));                    // [B, 1]
  }
  Net& net = static_cast<Net&>(*impl_->net);
  // Under fp16 / bf16 the GEMMs (LSTM gates, Linear) run in 16 bits; see nn/amp/autocast.h.
  const Config& c = impl_->config;
  nn::amp::AutocastGuard autocast(c.precision == "bf16" ? DType::BFloat16 : DType::Float16,
                                  c.precision != "fp32");
  const Variable x = embed_tokens(net, c, tokens);  // [B, T, E]
  const nn::LstmOutput y = net.lstm->forward_full(x);
  Variable features = head_features(c, y, tokens);  // [B, F]
  if (net.ngram_embedding) features = concat({features, ngram_bag(net, c, tokens)}, 1);
  return net.linear->forward(features);  // [B, 1]
}

Variable ImdbModel::forward_stage(const Tensor& tokens, const Variable& input) {
  const StagePlan& p = impl_->plan;
  if (p.stages == 1) return forward(tokens);
  Net& net = static_cast<Net&>(*impl_->net);  // plan_stage refuses seq2cnn
  const Config& c = impl_->config;
  const int64_t L = p.layers, end_layer = std::min(p.end_block, L);
  Variable x = p.first() ? embed_tokens(net, c, tokens) : input;
  if (p.first_block < end_layer) {
    const nn::LstmOutput y = run_lstm_layers(net, x, p.first_block, end_layer);
    if (end_layer < L) return y.output;  // [b, T, D*H]: the next stage runs the next layers
    x = head_features(c, y, tokens);     // [b, F]
  }
  if (!p.last()) return x;        // the next stage is the head
  return net.linear->forward(x);  // [b, 1]
}

Shape ImdbModel::stage_input_shape(int64_t rows, int64_t seq_len) const {
  const StagePlan& p = impl_->plan;
  const Config& c = impl_->config;
  LOOM_CHECK(!p.first(), "stage_input_shape: the first stage reads tokens, not an activation");
  if (p.first_block < p.layers) return {rows, seq_len, (c.bidirectional ? 2 : 1) * c.lstm_size};
  return {rows, head_feature_count(c)};
}

Variable ImdbModel::loss(const Variable& logits, const Tensor& labels) {
  // Outside autocast: the loss is float32 (logits come back float32 from the 16-bit GEMM).
  return nn::bce_with_logits(logits, labels);
}

void ImdbModel::backward(const Variable& loss) {
  if (fp16())
    impl_->scaler->scale(loss).backward();
  else
    loss.backward();
}

void ImdbModel::step() {
  Impl& m = *impl_;
  if (m.scaler) {
    if (m.config.clip_norm > 0) {
      m.scaler->unscale_(m.adam->named_parameters());  // clip the true gradients
      nn::clip_grad_norm_(m.net->parameters(), m.config.clip_norm);
    }
    m.scaler->step(*m.adam);
    m.scaler->update();
  } else {
    if (m.config.clip_norm > 0) nn::clip_grad_norm_(m.net->parameters(), m.config.clip_norm);
    m.adam->step();
  }
  m.adam->zero_grad();
}

void ImdbModel::zero_grad(bool set_to_none) {
  impl_->adam->zero_grad(set_to_none);
}

std::vector<nn::TensorRecord> ImdbModel::state_records() const {
  const Impl& m = *impl_;
  std::vector<nn::TensorRecord> out;
  for (const auto& [name, t] : m.net->state_dict())
    if (m.owns(name)) out.push_back(nn::tensor_to_record(name, t));
  for (const auto& [name, t] : m.adam->state_dict())
    out.push_back(nn::tensor_to_record("optim." + name, t));
  if (m.scaler)
    for (const auto& [name, t] : m.scaler->state_dict())
      out.push_back(nn::tensor_to_record("scaler." + name, t));
  return out;
}

void ImdbModel::load_state(const nn::SafetensorsContents& file, const std::string& source,
                           bool with_optimizer) {
  Impl& m = *impl_;
  nn::StateDict params, optim;
  std::map<std::string, Tensor> scaler;
  auto starts = [](const std::string& s, const char* p) { return s.rfind(p, 0) == 0; };
  for (const nn::TensorRecord& r : file.tensors) {
    if (starts(r.name, "optim.")) {
      // "optim.<param>.<buffer>": a pipeline stage keeps only its own parameters' state.
      const std::string key = r.name.substr(6);
      if (m.owns(key.substr(0, key.rfind('.')))) optim.emplace_back(key, nn::record_to_tensor(r));
    } else if (starts(r.name, "scaler.")) {
      scaler.emplace(r.name.substr(7), nn::record_to_tensor(r));
    } else {
      params.emplace_back(r.name, nn::record_to_tensor(r));
    }
  }
  try {
    m.net->load_state_dict(params, /*strict=*/true);  // names, shapes, dtypes; names the tensor
    if (with_optimizer) {
      m.adam->load_state_dict(optim);
      if (m.scaler) m.scaler->load_state_dict(scaler, m.device);
    }
  } catch (const Error& e) {
    LOOM_FAIL(source, ": the checkpoint does not fit the model its config describes: ", e.what());
  }
}

}  // namespace loom::imdb
