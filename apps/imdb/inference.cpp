// apps/imdb/inference.cpp: InferenceModel (see inference.h).
#include "apps/imdb/inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/quantize.h"
#include "apps/imdb/seq2cnn.h"
#include "autograd/grad_mode.h"
#include "data/encode.h"
#include "data/parallel.h"
#include "nn/serialize.h"
#include "tensor/error.h"
#include "tensor/inference.h"
#include "tensor/ops.h"

namespace loom::imdb {
namespace {

float sigmoid(float z) {
  return 1.0f / (1.0f + std::exp(-z));
}

bool fast_path_fits(const Config& c, const InferenceOptions& o) {
  return o.device.is_cpu() && !o.reference && c.model == "lstm" && c.lstm_layers == 1 &&
         !c.bidirectional && c.pooling == "last" && c.ngram_buckets == 0;
}

}  // namespace

struct InferenceModel::Impl {
  Config config;
  data::Vocabulary vocab;
  InferenceOptions options;
  bool int8 = false, fast = false;
  std::unique_ptr<ImdbModel> reference;       // the training model, when not on the fast path
  std::unique_ptr<Seq2CnnInt8> seq2cnn_int8;  // --model seq2cnn with int8 convolutions
  // The fast path's weights: the folded table, or the embedding and the input projection.
  Tensor table, embedding, w_ih, bias;  // bias = b_ih + b_hh
  QuantizedMatrix w_ih_int8, head_int8;
  RecurrentWeights w_hh;
  Tensor linear_w, linear_b;
  // The workspace, for up to `capacity` rows; calls use row-prefix views (no new storage).
  int64_t capacity = 0;
  Tensor ids, step_ids, h_n, c_n, logits;
  std::string cleaned;
  std::vector<int32_t> words, host_ids;

  Tensor weight(const Checkpoint& ck, const std::string& name, const std::string& path) const {
    return nn::record_to_tensor(find_record(ck.file, name, path));
  }
  QuantizedMatrix int8_weight(const Checkpoint& ck, const std::string& name,
                              const std::string& path) const {
    const std::string what = path + ": " + name;
    return quantized_matrix(weight(ck, name, path), weight(ck, name + ".scale", path),
                            what.c_str());
  }
  void load_fast(const Checkpoint& ck, const std::string& path);
  void reserve(int64_t rows);
  void run_fast(int64_t rows);
};

void InferenceModel::Impl::load_fast(const Checkpoint& ck, const std::string& path) {
  embedding = weight(ck, "embedding.weight", path);
  bias = add(weight(ck, "lstm.bias_ih_l0", path), weight(ck, "lstm.bias_hh_l0", path));
  linear_b = weight(ck, "linear.bias", path);
  if (int8) {
    w_ih_int8 = int8_weight(ck, "lstm.weight_ih_l0", path);
    w_hh.int8 = int8_weight(ck, "lstm.weight_hh_l0", path);
    head_int8 = int8_weight(ck, "linear.weight", path);
    // The fold of an int8 projection uses its dequantized weights: the table is then exactly
    // what the int8 weights give for each token, with no rounding of the embedding rows.
    if (options.fold) w_ih = dequantize(w_ih_int8);
  } else {
    w_ih = weight(ck, "lstm.weight_ih_l0", path);
    w_hh.w_hh = weight(ck, "lstm.weight_hh_l0", path).contiguous();
    linear_w = weight(ck, "linear.weight", path);
  }
  if (options.fold) table = fold_input_projection(embedding, w_ih, bias, zeros({bias.numel()}));
}

void InferenceModel::Impl::reserve(int64_t rows) {
  if (rows <= capacity) return;
  const int64_t T = config.max_len, H = config.lstm_size;
  ids = empty({rows, T}, DType::Int32);
  h_n = empty({rows, H});
  c_n = empty({rows, H});
  logits = empty({rows, 1});
  if (!options.fold) {  // the unfolded path's gate rows are numbered b * T + t
    step_ids = empty({rows, T}, DType::Int32);
    int32_t* p = step_ids.data_ptr<int32_t>();
    for (int64_t i = 0; i < rows * T; ++i)
      p[i] = static_cast<int32_t>(i);
  }
  capacity = rows;
}

// ids[0, rows) are filled; logits[0, rows) come out.
void InferenceModel::Impl::run_fast(int64_t rows) {
  const Tensor ids_now = ids.narrow(0, 0, rows), h = h_n.narrow(0, 0, rows),
               c = c_n.narrow(0, 0, rows), out = logits.narrow(0, 0, rows);
  if (options.fold) {
    lstm_inference(table, ids_now, w_hh, h, c);
  } else {  // embedding rows, then the input GEMM for every step at once (allocates)
    const Tensor x = index_select(embedding, 0, ids_now.flatten());  // [rows * T, E]
    const Tensor gates =
        int8 ? linear_int8(x, w_ih_int8, bias) : add(matmul(x, w_ih.t()), bias).contiguous();
    lstm_inference(gates, step_ids.narrow(0, 0, rows), w_hh, h, c);
  }
  if (int8)
    linear_int8_into(h, head_int8, linear_b, out);
  else
    linear_into(h, linear_w, linear_b, out);
}

InferenceModel::InferenceModel(const Checkpoint& ck, const std::string& path,
                               InferenceOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.config = ck.config;
  m.config.device = options.device.str();
  m.vocab = ck.vocab;
  m.options = options;
  m.int8 = is_quantized(ck);
  LOOM_CHECK(!options.int8_convolutions || (m.config.model == "seq2cnn" && options.device.is_cpu()),
             path, ": int8 convolutions are for a Seq2CNN checkpoint on the CPU (this one holds a ",
             m.config.model, " model, device ", options.device.str(), ")");
  m.fast = fast_path_fits(m.config, options);
  if (m.fast) {
    m.load_fast(ck, path);
    return;
  }
  LOOM_CHECK(!m.int8, path,
             ": an int8 checkpoint runs on the CPU fast path only (not with --device cuda or "
             "the reference forward)");
  m.reference = std::make_unique<ImdbModel>(m.config, options.device);
  restore_model(*m.reference, ck, path, /*with_optimizer=*/false);
  m.reference->set_training(false);
  if (options.int8_convolutions)
    m.seq2cnn_int8 = std::make_unique<Seq2CnnInt8>(*m.reference->seq2cnn());
}

InferenceModel::~InferenceModel() = default;

void InferenceModel::predict_ids(const int32_t* ids, int64_t rows, float* probs) {
  Impl& m = *impl_;
  const int64_t T = m.config.max_len;
  if (rows == 0) return;
  if (!m.fast) {
    NoGradGuard no_grad;
    const std::vector<int32_t> v(ids, ids + rows * T);
    const Tensor tokens = from_vector<int32_t>(v, {rows, T}).to(m.options.device);
    if (m.seq2cnn_int8) {  // logits [rows, 2]: the model's one logit is z1 - z0, as ImdbModel's
      const std::vector<float> z = m.seq2cnn_int8->logits(tokens).to_vector<float>();
      for (int64_t i = 0; i < rows; ++i)
        probs[i] = sigmoid(z[static_cast<size_t>(2 * i + 1)] - z[static_cast<size_t>(2 * i)]);
      return;
    }
    const std::vector<float> z = m.reference->forward(tokens).data().to_vector<float>();
    for (int64_t i = 0; i < rows; ++i)
      probs[i] = sigmoid(z[static_cast<size_t>(i)]);
    return;
  }
  m.reserve(rows);
  std::memcpy(m.ids.data_ptr<int32_t>(), ids, static_cast<size_t>(rows * T) * sizeof(int32_t));
  m.run_fast(rows);
  const float* z = m.logits.data_ptr<float>();
  for (int64_t i = 0; i < rows; ++i)
    probs[i] = sigmoid(z[i]);
}

void InferenceModel::predict_texts(const std::vector<std::string_view>& texts, float* probs) {
  Impl& m = *impl_;
  const int64_t T = m.config.max_len, rows = static_cast<int64_t>(texts.size());
  const data::EncodeOptions eo = encode_options(m.config);  // Seq2CNN pads at the end
  const bool unk_last = m.config.oov == "unk-last";
  const int32_t num_words = m.vocab.num_words();
  m.host_ids.resize(std::max(m.host_ids.size(), static_cast<size_t>(rows * T)));
  // Rows [begin, end) as training encoded its reviews (prepare.h), with the given buffers.
  auto encode = [&](int64_t begin, int64_t end, std::string& cleaned, std::vector<int32_t>& words) {
    for (int64_t i = begin; i < end; ++i) {
      text_pipeline(m.config).clean(texts[static_cast<size_t>(i)], cleaned);
      words.clear();
      m.vocab.encode(cleaned, words);
      if (unk_last) move_unknown_last(words, num_words);
      data::pad_or_truncate(words, eo, m.host_ids.data() + i * T);
    }
  };
  if (rows < 64 || m.options.text_threads == 1) {
    encode(0, rows, m.cleaned, m.words);  // batch 1 stays on this thread, with kept buffers
  } else {
    data::parallel_chunks(rows, m.options.text_threads, [&](int64_t b, int64_t e, int64_t) {
      std::string cleaned;
      std::vector<int32_t> words;
      encode(b, e, cleaned, words);
    });
  }
  predict_ids(m.host_ids.data(), rows, probs);
}

float InferenceModel::predict_text(std::string_view text) {
  float p = 0;
  predict_texts({text}, &p);
  return p;
}

int64_t InferenceModel::max_len() const {
  return impl_->config.max_len;
}

bool InferenceModel::int8() const {
  return impl_->int8;
}

std::string InferenceModel::describe() const {
  const Impl& m = *impl_;
  if (m.config.model == "seq2cnn")
    return m.seq2cnn_int8
               ? "Seq2CNN with int8 convolutions (dynamic), padding-window trick"
               : "fp32 Seq2CNN, padding-window trick, training forward under NoGradGuard";
  if (!m.fast) return "fp32, reference forward (training model under NoGradGuard)";
  return std::string(m.int8 ? "int8 weights, uint8 activations per row" : "fp32") +
         (m.options.fold ? ", folded embedding x W_ih table" : ", embedding then input GEMM") +
         ", fast path";
}

bool is_quantized(const Checkpoint& ck) {
  return ck.file.metadata.count(kQuantizationKey) > 0;
}

}  // namespace loom::imdb
