// apps/imdb/distill.cpp: the teacher's logits and the `imdb distill` command (see distill.h).
#include "apps/imdb/distill.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/finetune.h"
#include "autograd/grad_mode.h"
#include "nn/distillation.h"
#include "nn/serialize.h"
#include "tensor/error.h"
#include "tensor/generator.h"

namespace loom::imdb {

std::vector<float> teacher_logits(ImdbModel& teacher, const PreparedData& d,
                                  const std::vector<int64_t>& rows, int64_t batch) {
  std::vector<float> out(static_cast<size_t>(d.rows), 0.0f);
  teacher.set_training(false);
  NoGradGuard no_grad;
  std::vector<int32_t> chunk;
  for (size_t b = 0; b < rows.size(); b += static_cast<size_t>(batch)) {
    const size_t n = std::min(static_cast<size_t>(batch), rows.size() - b);
    gather_rows(d, rows, b, n, chunk, nullptr);
    const Tensor x =
        from_vector<int32_t>(chunk, {static_cast<int64_t>(n), d.max_len}).to(teacher.device());
    const std::vector<float> z = teacher.forward(x).data().to_vector<float>();
    for (size_t k = 0; k < n; ++k)
      out[static_cast<size_t>(rows[b + k])] = z[k];
  }
  return out;
}

namespace {

// The student's config: the teacher's, with the sizes and run-time settings typed.
Config student_config(const Checkpoint& teacher, const Request& r) {
  Config c = teacher.config;
  c.lstm_size = r.config.lstm_size;  // required flag
  for (const char* key : {"max_len", "epochs", "lr", "batch", "train_limit", "val_limit"}) {
    if (!r.was_given(key)) continue;
    nlohmann::json j = to_json(r.config);
    merge_json(c, {{key, j[key]}}, "command line");
  }
  c.threads = r.config.threads;
  c.device = r.config.device;
  validate(c);
  return c;
}

void write_result(const std::string& path, const nlohmann::json& j) {
  if (path.empty()) return;
  std::ofstream out(path);
  LOOM_CHECK(out.good(), "--json: cannot write '", path, "'");
  out << j.dump(2) << "\n";
}

}  // namespace

int run_distill(const Request& r) {
  const DistillRequest& q = r.distill;
  prepare_output_file(q.out, "--out");
  prepare_output_file(q.json_out, "--json");
  const Checkpoint teacher_ck = load_checkpoint(q.teacher);
  Config tc = teacher_ck.config;
  const Config sc = student_config(teacher_ck, r);
  tc.threads = sc.threads;
  tc.device = sc.device;
  tc.train_limit = sc.train_limit;  // the same rows for both
  tc.val_limit = sc.val_limit;
  apply_threads(sc.threads);
  const std::string data_path = locate_data(r.config.data.empty() ? tc.data : r.config.data);
  const PreparedData td = prepare_data(tc, data_path, &teacher_ck.vocab);
  std::printf("%s\n", describe(td).c_str());
  ImdbModel teacher(tc, Device(tc.device));
  restore_model(teacher, teacher_ck, q.teacher, /*with_optimizer=*/false);
  const FinetuneEpoch teacher_val = validate_model(teacher, td, tc);
  std::vector<float> soft;
  if (q.alpha > 0) soft = teacher_logits(teacher, td, td.split.train, tc.batch);
  // The student reads its own --max-len; the rows and labels are the same.
  PreparedData own;
  if (sc.max_len != tc.max_len) own = prepare_data(sc, data_path, &teacher_ck.vocab);
  const PreparedData& sd = sc.max_len != tc.max_len ? own : td;

  manual_seed(sc.seed);  // the student's weights, then its dropout masks
  ImdbModel student(sc, Device(sc.device));
  FinetuneHooks hooks;
  const nn::DistillationOptions options{q.temperature, q.alpha};
  if (q.alpha > 0)
    hooks.loss = [&](const Variable& logits, const Tensor& labels,
                     const std::vector<int64_t>& rows) {
      std::vector<float> t(rows.size());
      for (size_t k = 0; k < rows.size(); ++k)
        t[k] = soft[static_cast<size_t>(rows[k])];
      const Tensor tt = from_vector<float>(t, labels.shape()).to(labels.device());
      return nn::distillation_loss(logits, tt, labels, options);
    };
  const std::vector<FinetuneEpoch> epochs = finetune(student, sd, sc, sc.epochs, hooks, stdout);
  const FinetuneEpoch& last = epochs.back();
  const auto [teacher_s, student_s] = time_validation_passes(teacher, td, student, sd, sc.batch);

  TrainState state;
  state.epoch = sc.epochs;
  state.finished = true;
  std::map<std::string, std::string> meta = checkpoint_metadata(sc, teacher_ck.vocab, state);
  const nlohmann::json j = {{"teacher", q.teacher},
                            {"teacher_lstm_size", tc.lstm_size},
                            {"teacher_val_accuracy", teacher_val.val_accuracy},
                            {"student_lstm_size", sc.lstm_size},
                            {"student_max_len", sc.max_len},
                            {"temperature", q.temperature},
                            {"alpha", q.alpha},
                            {"epochs", sc.epochs},
                            {"val_rows", sd.split.validation.size()},
                            {"val_accuracy", last.val_accuracy},
                            {"val_loss", last.val_loss},
                            {"teacher_val_forward_seconds", teacher_s},
                            {"student_val_forward_seconds", student_s},
                            {"threads", sc.threads},
                            {"val_accuracy_per_epoch", [&] {
                               std::vector<double> v;
                               for (const FinetuneEpoch& e : epochs)
                                 v.push_back(e.val_accuracy);
                               return v;
                             }()}};
  meta["distillation"] = j.dump();
  std::vector<nn::TensorRecord> records;
  for (const auto& [name, v] : student.named_parameters())
    records.push_back(nn::tensor_to_record(name, v.data()));
  nn::save_safetensors(q.out, records, meta);
  write_result(q.json_out, j);
  std::printf(
      "student lstm_size %lld (T %g, alpha %g, %lld epochs): val acc %.4f; teacher lstm_size "
      "%lld: %.4f (%zu reviews); forward over them: teacher %.3f s, student %.3f s; wrote %s\n",
      static_cast<long long>(sc.lstm_size), q.temperature, q.alpha,
      static_cast<long long>(sc.epochs), last.val_accuracy, static_cast<long long>(tc.lstm_size),
      teacher_val.val_accuracy, sd.split.validation.size(), teacher_s, student_s, q.out.c_str());
  return 0;
}

}  // namespace loom::imdb
