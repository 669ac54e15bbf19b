// apps/imdb/pipeline.cpp: see pipeline.h.
#include "apps/imdb/pipeline.h"

#include <cmath>
#include <cstring>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace loom::imdb {

namespace dist = nn::distributed;

Scores score_rows_pipelined(ImdbModel& model, dist::Communicator& stages, const PreparedData& d,
                            const std::vector<int64_t>& rows, int64_t batch) {
  const int s = stages.rank();
  const bool first = s == 0, last = s == stages.world_size() - 1;
  Scores out;
  model.set_training(false);
  NoGradGuard no_grad;
  std::vector<int32_t> chunk;
  std::vector<float> labels;
  for (size_t b = 0; b < rows.size(); b += static_cast<size_t>(batch)) {
    const size_t n = std::min(static_cast<size_t>(batch), rows.size() - b);
    gather_rows(d, rows, b, n, chunk, &labels);
    const int64_t rn = static_cast<int64_t>(n);
    const Tensor tokens = from_vector<int32_t>(chunk, {rn, d.max_len});
    Variable input;
    if (!first) {
      const Tensor a = empty(model.stage_input_shape(rn, d.max_len));
      stages.recv(a, s - 1, 0);
      input = Variable(a);
    }
    const Variable y = model.forward_stage(tokens, input);
    if (!last) {
      stages.send(y.data().contiguous(), s + 1, 0);
      continue;
    }
    const Tensor t = from_vector<float>(labels, {rn, 1});
    out.loss_sum += model.loss(y, t).item<double>() * static_cast<double>(n);
    for (float z : y.data().to_vector<float>())
      out.probs.push_back(1.0f / (1.0f + std::exp(-z)));
    out.labels.insert(out.labels.end(), labels.begin(), labels.end());
  }
  if (!out.probs.empty()) out.loss = out.loss_sum / static_cast<double>(out.probs.size());
  return out;
}

std::vector<nn::TensorRecord> gather_stage_records(const ImdbModel& model,
                                                   dist::Communicator& stages) {
  const int s = stages.rank();
  std::vector<nn::TensorRecord> records = model.state_records();
  if (s != 0) {
    // One message of safetensors bytes (names, dtypes and shapes included), its size first.
    std::vector<std::uint8_t> bytes = nn::encode_safetensors(records, {});
    const Tensor size = from_vector<int64_t>({static_cast<int64_t>(bytes.size())}, {1});
    stages.send(size, 0, 1);
    const Tensor payload = empty({static_cast<int64_t>(bytes.size())}, DType::UInt8);
    std::memcpy(payload.raw_data(), bytes.data(), bytes.size());
    stages.send(payload, 0, 2);
    return {};
  }
  for (int from = 1; from < stages.world_size(); ++from) {
    const Tensor size = empty({1}, DType::Int64);
    stages.recv(size, from, 1);
    const Tensor payload = empty({size.item<int64_t>()}, DType::UInt8);
    stages.recv(payload, from, 2);
    const auto* p = static_cast<const std::uint8_t*>(payload.raw_data());
    const nn::SafetensorsContents theirs =
        nn::decode_safetensors(std::vector<std::uint8_t>(p, p + payload.numel()),
                               "pipeline stage " + std::to_string(from));
    records.insert(records.end(), theirs.tensors.begin(), theirs.tensors.end());
  }
  return records;
}

}  // namespace loom::imdb
