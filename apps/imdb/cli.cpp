// apps/imdb/cli.cpp: the CLI11 definition of every subcommand and the layering of settings.
//
// Each hyperparameter flag is bound to a field of a scratch Config (`typed`). After parsing, the
// resolved Config is built as defaults -> preset -> --config file -> the flags whose count() is
// non-zero (only flags the user actually typed override the file). See config.h.
#include "apps/imdb/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "tensor/error.h"

namespace loom::imdb {
namespace {

// One typed flag: its CLI11 option and the JSON key of the field it sets.
struct Binding {
  CLI::Option* option;
  std::string key;
};

struct ConfigFlags {
  Config typed;             // values as typed (only meaningful where count() > 0)
  std::string prefetch;     // on | off
  std::string config_file;  // --config
  std::vector<Binding> bindings;
  CLI::Option* prefetch_opt = nullptr;
};

const char* kExamples = R"(
Examples:
  imdb study --preset quick                  # the whole CPU ablation in < 15 min (2 cores)
  imdb train --data ../shared/data/aclImdb_v1_labeled.tar.gz --out runs/base
  imdb train --out runs/base --resume        # continue an interrupted run
  mpirun -np 2 imdb train --threads 1 --out runs/dp2   # data-parallel on 2 processes
  imdb eval --checkpoint runs/base/best.safetensors
  echo "A wonderful, moving film." | imdb predict --checkpoint runs/base/best.safetensors
  imdb predict --checkpoint torch_model.safetensors --vocab vocab.json "A fine film"
  imdb prune --checkpoint runs/base/best.safetensors --sparsity 0.5 --structured --out small.safetensors
  imdb distill --teacher runs/base/best.safetensors --lstm-size 32 --out student.safetensors
  imdb study --inference --checkpoint runs/base/best.safetensors --make-missing --out runs/serve
Run `imdb <command> --help` for the flags of one command.)";

// Which flags a subcommand takes: train all; study not the ones it sets per variant (--lstm,
// --precision, --prefetch, --device, --resume); export none of the training ones.
enum class FlagSet { Train, Study, Export };

// Records that option `o` sets the Config key `key` (resolve() applies it when typed).
CLI::Option* bind(ConfigFlags& f, CLI::Option* o, const char* key) {
  f.bindings.push_back({o, key});
  return o;
}

// A flag whose value is a uint64: CLI11 would read "-1" as 2^64 - 1.
const CLI::Validator kNonNegativeInteger(
    [](std::string& s) {
      return s.find('-') == std::string::npos ? std::string()
                                              : "must be a non-negative integer, got " + s;
    },
    "");

void add_data_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const Config d;  // defaults, shown in --help
  const std::string g = "Data";
  bind(f,
       sub->add_option("--data", t.data,
                       "dataset: aclImdb folder, .tar.gz, Kaggle .csv or fastText file "
                       "(default: $LOOM_IMDB_DATA, then ../shared/data/aclImdb_v1_labeled.tar.gz)"),
       "data")
      ->group(g);
  bind(f,
       sub->add_option("--test", t.test,
                       "the dataset's own test file (e.g. test.ft.txt.bz2); --data is then the "
                       "training file, and --split defaults to official"),
       "test")
      ->group(g);
  bind(f,
       sub->add_option("--split", t.split,
                       "random80 (seeded 80/20 of all reviews) | official (aclImdb's 25k "
                       "train / 25k test; the test half validates) | official-val (validation "
                       "= a seeded --val-fraction of the 25k training half; the test half is "
                       "left for one final `eval --on test`)")
           ->default_str(d.split),
       "split")
      ->group(g);
  bind(f,
       sub->add_option("--val-fraction", t.val_fraction,
                       "validation share for --split random80 and official-val")
           ->default_str("0.2"),
       "val_fraction")
      ->group(g);
  bind(f,
       sub->add_option("--train-limit", t.train_limit,
                       "train on only the first N training rows (0 = all)")
           ->default_str("0"),
       "train_limit")
      ->group(g);
  bind(f,
       sub->add_option("--val-limit", t.val_limit,
                       "validate on only the first N validation rows (0 = all)")
           ->default_str("0"),
       "val_limit")
      ->group(g);
}

// The options of a stronger model than the original's (the strong preset turns them on).
void add_strong_model_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const std::string g = "Model";
  bind(f, sub->add_option("--lstm-layers", t.lstm_layers, "stacked LSTM layers")->default_str("1"),
       "lstm_layers")
      ->group(g);
  bind(f, sub->add_flag("--bidirectional", t.bidirectional, "read each review both ways"),
       "bidirectional")
      ->group(g);
  bind(f,
       sub->add_option("--pooling", t.pooling,
                       "what the head reads: last (the last step's state) | max-mean (the max "
                       "and the mean of every step's output, padding left out)")
           ->default_str("last"),
       "pooling")
      ->group(g);
  bind(f,
       sub->add_option("--embed-dropout", t.embed_dropout,
                       "drops whole token vectors (every channel of a token) in training")
           ->default_str("0"),
       "embed_dropout")
      ->group(g);
  bind(f,
       sub->add_option("--ngram-buckets", t.ngram_buckets,
                       "a bag of n-grams beside the LSTM: every word and every pair of "
                       "neighbouring words (hashed into this many buckets), embedded and averaged "
                       "for the head; 0 = none")
           ->default_str("0"),
       "ngram_buckets")
      ->group(g);
  bind(f,
       sub->add_option("--ngram-dim", t.ngram_dim, "width of the n-gram bag's embedding")
           ->default_str("16"),
       "ngram_dim")
      ->group(g);
  bind(f,
       sub->add_option("--ngram-lr-scale", t.ngram_lr_scale,
                       "the n-gram bag learns this many times faster than the rest of the "
                       "network (its rows are read scaled by it; Adam steps them by lr)")
           ->default_str("1"),
       "ngram_lr_scale")
      ->group(g);
}

// The Seq2CNN model's options (the seq2cnn presets set them; --model seq2cnn alone applies the
// seq2cnn preset) and the preprocessing it needs.
void add_seq2cnn_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const std::string g = "Model";
  bind(f,
       sub->add_option("--model", t.model,
                       "lstm | seq2cnn (embedding -> Conv1d k3 + k4 -> max over time -> linear)")
           ->default_str("lstm"),
       "model")
      ->group(g);
  bind(f,
       sub->add_option("--conv-channels", t.conv_channels,
                       "seq2cnn: output channels of each convolution")
           ->default_str("1024"),
       "conv_channels")
      ->group(g);
  bind(f,
       sub->add_option("--activation", t.activation, "seq2cnn: elu | leaky-relu")
           ->default_str("elu"),
       "activation")
      ->group(g);
  bind(f,
       sub->add_option("--activation-alpha", t.activation_alpha,
                       "ELU's alpha or leaky ReLU's negative slope")
           ->default_str("0.25"),
       "activation_alpha")
      ->group(g);
  bind(f,
       sub->add_option("--padding", t.padding,
                       "pre | post: pad and truncate reviews at the front or the end")
           ->default_str("pre"),
       "padding")
      ->group(g);
  bind(f,
       sub->add_option("--oov", t.oov, "drop | unk-last: unknown words vanish or map to vocab-1")
           ->default_str("drop"),
       "oov")
      ->group(g);
  bind(f,
       sub->add_option("--stopwords", t.stopwords,
                       "keep | remove: drop the words of data/stopwords_en.txt while cleaning")
           ->default_str("remove"),
       "stopwords")
      ->group(g);
}

void add_model_flags(CLI::App* sub, ConfigFlags& f, FlagSet set) {
  Config& t = f.typed;
  const Config d;
  const std::string g = "Model";
  bind(f,
       sub->add_option("--vocab", t.vocab, "vocabulary size, padding included")
           ->default_str(std::to_string(d.vocab)),
       "vocab")
      ->group(g);
  bind(f,
       sub->add_option("--max-len", t.max_len, "tokens per review (pad/truncate at the front)")
           ->default_str(std::to_string(d.max_len)),
       "max_len")
      ->group(g);
  bind(f,
       sub->add_option("--embed", t.embed, "embedding width")->default_str(std::to_string(d.embed)),
       "embed")
      ->group(g);
  bind(f,
       sub->add_option("--lstm-size", t.lstm_size, "LSTM hidden size")
           ->default_str(std::to_string(d.lstm_size)),
       "lstm_size")
      ->group(g);
  bind(f,
       sub->add_option("--spatial-dropout", t.spatial_dropout,
                       "SpatialDropout1D rate on the embeddings")
           ->default_str("0.2"),
       "spatial_dropout")
      ->group(g);
  bind(f,
       sub->add_option("--lstm-dropout", t.lstm_dropout, "dropout rate on the LSTM inputs")
           ->default_str("0.2"),
       "lstm_dropout")
      ->group(g);
  bind(f,
       sub->add_option("--recurrent-dropout", t.recurrent_dropout,
                       "Keras' recurrent_dropout: drops units of h(t-1) before the recurrent "
                       "GEMM, one mask per review for all its steps")
           ->default_str("0.2"),
       "recurrent_dropout")
      ->group(g);
  bind(f,
       sub->add_option("--init", t.init,
                       "initial weights: keras (glorot / orthogonal / forget bias 1, what the "
                       "original Keras run started from) | torch (PyTorch's defaults)")
           ->default_str(d.init),
       "init")
      ->group(g);
  add_strong_model_flags(sub, f);
  add_seq2cnn_flags(sub, f);
  if (set == FlagSet::Train)
    bind(f,
         sub->add_option("--lstm", t.lstm_impl,
                         "LSTM implementation: composed (one autograd op per gate) | fused "
                         "(one node per layer, a GEMM + a cell kernel per step) | persistent "
                         "(one kernel for the whole sequence on a GPU; plain loops on a CPU)")
             ->default_str(d.lstm_impl),
         "lstm_impl")
        ->group(g);
}

void add_training_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const std::string g = "Training";
  bind(f, sub->add_option("--batch", t.batch, "batch size")->default_str("100"), "batch")->group(g);
  bind(f, sub->add_option("--epochs", t.epochs, "maximum number of epochs")->default_str("8"),
       "epochs")
      ->group(g);
  bind(f,
       sub->add_option("--patience", t.patience,
                       "early stopping: epochs without a better validation loss (0 = off)")
           ->default_str("3"),
       "patience")
      ->group(g);
  bind(f, sub->add_option("--lr", t.lr, "Adam learning rate, in (0, 10]")->default_str("0.001"),
       "lr")
      ->group(g);
  bind(f,
       sub->add_option("--clip-norm", t.clip_norm, "clip the gradient norm (0 = off)")
           ->default_str("0"),
       "clip_norm")
      ->group(g);
}

// The flags of one training run that the study decides per variant.
void add_per_run_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const Config d;
  bind(f,
       sub->add_option("--precision", t.precision,
                       "fp32 | fp16 (mixed precision, dynamic loss scaling) | bf16 (mixed "
                       "precision on the CPU, no loss scaling)")
           ->default_str("fp32"),
       "precision")
      ->group("Training");
  f.prefetch_opt =
      sub->add_option("--prefetch", f.prefetch, "on: build batches on a worker thread | off")
          ->default_str("off")
          ->group("Training");
  bind(f,
       sub->add_flag("--data-on-device", t.data_on_device,
                     "GPU: keep the encoded dataset on the device and gather each batch there "
                     "(no copy per step; --prefetch then has nothing to do)"),
       "data_on_device")
      ->group("Training");
  bind(f,
       sub->add_flag("--cuda-graph", t.cuda_graph,
                     "GPU: capture the training step once as a CUDA Graph and replay it (needs "
                     "every dropout 0, fp32, no --clip-norm, one process)"),
       "cuda_graph")
      ->group("Training");
  bind(f,
       sub->add_flag("--resume", t.resume,
                     "continue from <out>/last.safetensors with the run's own settings and "
                     "thread count (under mpirun/srun every rank reads rank 0's file: --out "
                     "must be on a filesystem all nodes share)"),
       "resume")
      ->group("Run");
  bind(f,
       sub->add_option("--device", t.device,
                       "cpu | cuda | cuda:N (under mpirun/srun: cuda = one GPU per process, "
                       "cuda:<local rank>)")
           ->default_str("cpu"),
       "device")
      ->group("Run");
  bind(f,
       sub->add_option("--dist", t.dist,
                       "data-parallel communicator when started by mpirun/srun: auto (one "
                       "process: none; CPU: mpi; CUDA: nccl) | none | mpi | nccl. --batch "
                       "stays the global batch: each of N processes trains batch/N rows")
           ->default_str(d.dist),
       "dist")
      ->group("Run");
  bind(f,
       sub->add_option("--pipeline-stages", t.pipeline_stages,
                       "under mpirun: cut the network into this many stages, one per process "
                       "(GPipe; the LSTM layers and the head are the pieces); the processes form "
                       "a grid of stages x replicas, data-parallel across replicas")
           ->default_str("1"),
       "pipeline_stages")
      ->group("Run");
  bind(f,
       sub->add_option("--micro-batches", t.micro_batches,
                       "with --pipeline-stages: cut each replica's batch into this many "
                       "micro-batches (a smaller pipeline bubble: (S-1)/(M+S-1) of a step)")
           ->default_str("1"),
       "micro_batches")
      ->group("Run");
}

void add_run_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const Config d;
  const std::string g = "Run";
  bind(f,
       sub->add_option("--threads", t.threads,
                       "CPU threads (0 = all cores; under mpirun/srun the node's cores shared by "
                       "its processes); the count used is recorded and --resume reuses it")
           ->default_str("0"),
       "threads")
      ->group(g);
  bind(f,
       sub->add_option("--seed", t.seed, "seed of the split, shuffles, weights and dropout")
           ->default_str("42")
           ->check(kNonNegativeInteger),
       "seed")
      ->group(g);
  bind(f, sub->add_option("--out", t.out, "output folder")->default_str(d.out), "out")->group(g);
  bind(f,
       sub->add_option("--preset", t.preset,
                       "quick | full | strong | seq2cnn | seq2cnn-small (see `imdb study --help`)"),
       "preset")
      ->group(g);
  sub->add_option("--config", f.config_file,
                  "JSON file of settings (keys as the flags, '_' for '-'); typed flags win")
      ->group(g);
}

// Adds the Config flags of `set` to `sub`, grouped for --help, bound to flags.typed.
void add_config_flags(CLI::App* sub, ConfigFlags& f, FlagSet set) {
  add_data_flags(sub, f);
  add_model_flags(sub, f, set);
  if (set != FlagSet::Export) add_training_flags(sub, f);
  if (set == FlagSet::Train) add_per_run_flags(sub, f);
  add_run_flags(sub, f);
}

// defaults -> preset -> --config file -> typed flags. `given` receives the keys the file or the
// command line set (a resumed run keeps its own values for the others).
Config resolve(const ConfigFlags& f, std::set<std::string>* given) {
  Config c;
  nlohmann::json file;  // only the keys the file really holds
  if (!f.config_file.empty()) file = read_config_json(f.config_file);
  std::string preset;
  if (file.contains("preset")) {
    LOOM_CHECK(file["preset"].is_string(), f.config_file, ": key \"preset\" must be a string");
    preset = file["preset"].get<std::string>();
  }
  bool seq2cnn = file.contains("model") && file["model"] == "seq2cnn";
  for (const Binding& b : f.bindings) {
    if (b.key == "preset" && b.option->count() > 0) preset = f.typed.preset;
    if (b.key == "model" && b.option->count() > 0) seq2cnn = f.typed.model == "seq2cnn";
  }
  // --model seq2cnn brings its own preprocessing and sizes (the seq2cnn preset).
  if (preset.empty() && seq2cnn) preset = "seq2cnn";
  apply_preset(c, preset);
  if (!file.empty()) merge_json(c, file, f.config_file);
  for (auto it = file.begin(); it != file.end(); ++it)
    given->insert(it.key());
  const nlohmann::json typed = to_json(f.typed);
  for (const Binding& b : f.bindings) {
    if (b.option->count() == 0) continue;
    // An empty --data would mean "find it", which is not what `--data ''` asks for.
    LOOM_CHECK(b.key != "data" || !f.typed.data.empty(),
               "--data must not be empty (leave it out to use the default dataset)");
    merge_json(c, {{b.key, typed[b.key]}}, "command line");
    given->insert(b.key);
  }
  if (f.prefetch_opt != nullptr && f.prefetch_opt->count() > 0) {
    LOOM_CHECK(f.prefetch == "on" || f.prefetch == "off", "--prefetch must be on or off, got '",
               f.prefetch, "'");
    c.prefetch = f.prefetch == "on";
    given->insert("prefetch");
  }
  // A test file brings its own split: random80 would mix its rows into training.
  if (!c.test.empty() && c.split == "random80" && given->count("split") == 0) c.split = "official";
  validate(c);
  return c;
}

// The subcommands, each with its flags bound to `r` or to its ConfigFlags.
struct Subcommands {
  CLI::App *train, *study, *exp, *eval, *predict, *quantize = nullptr, *bench = nullptr,
                                                  *prune = nullptr, *distill = nullptr;
  ConfigFlags train_f, study_f, export_f, eval_f, predict_f, bench_f, prune_f, distill_f;
};

// `imdb study --inference` (inference_study.h): its own flags, apart from the training ones.
void add_inference_study_flags(CLI::App* sub, StudyRequest& q) {
  const std::string g = "Inference study (--inference)";
  sub->add_flag("--inference", q.inference,
                "the inference study: fp32, int8, pruned, distilled and PyTorch rows, accuracy "
                "against batch-1 p90 latency, model bytes, offline throughput")
      ->group(g);
  sub->add_option("--checkpoint", q.checkpoint, "--inference: the float32 checkpoint")->group(g);
  sub->add_option("--pruned", q.pruned, "--inference: a structured-pruned checkpoint of it")
      ->group(g);
  sub->add_option("--student", q.student, "--inference: a distilled student of it")->group(g);
  sub->add_flag("--make-missing", q.make_missing,
                "--inference: prune (structured, 50%) and distill the rows not given (trains)")
      ->group(g);
  sub->add_option("--student-size", q.student_size, "--make-missing: the student's hidden size")
      ->default_str("32")
      ->group(g);
  sub->add_option("--finetune-epochs", q.finetune_epochs,
                  "--make-missing: epochs of pruning and of distilling")
      ->default_str("1")
      ->group(g);
  sub->add_option("--on", q.on, "--inference: accuracy on val | test")
      ->default_str("val")
      ->group(g);
  sub->add_option("--eval-limit", q.eval_limit, "--inference: score the first N rows (0: all)")
      ->group(g);
  sub->add_option("--queries", q.queries, "--inference: single-stream queries per row, at least")
      ->default_str("1024")
      ->group(g);
  sub->add_option("--min-seconds", q.min_seconds, "--inference: single-stream seconds per row")
      ->default_str("10")
      ->group(g);
  sub->add_option("--samples", q.samples, "--inference: offline samples per row")
      ->default_str("5000")
      ->group(g);
  sub->add_option("--offline-batch", q.offline_batch, "--inference: offline reviews per call")
      ->default_str("1000")
      ->group(g);
  sub->add_flag("--quick", q.quick,
                "--inference: a smoke run (32 queries, 64 samples, 200 rows scored)")
      ->group(g);
  sub->add_flag("--no-torch", q.no_torch, "--inference: leave out the PyTorch rows")->group(g);
}

void add_train_and_study(CLI::App& app, Subcommands& s, Request& r) {
  s.train = app.add_subcommand("train",
                               "train one model; writes config.json, "
                               "metrics.jsonl and checkpoints to --out");
  add_config_flags(s.train, s.train_f, FlagSet::Train);
  s.train
      ->add_flag("--overwrite", r.overwrite,
                 "train into an --out that holds an old run: deletes its config.json, "
                 "metrics.jsonl and checkpoints first")
      ->group("Run");
  // Hidden (empty group): the tests' stand-in for Ctrl-C at an exact step.
  s.train
      ->add_option("--stop-after-steps", r.stop_after_steps,
                   "behave as if SIGINT arrived after N optimizer steps")
      ->group("");

  s.study = app.add_subcommand(
      "study",
      "run the baseline and each optimization as separate train runs (same seed and "
      "data) and write <out>/report/ (report.md, CSV, JSONL, PNG plots)");
  add_config_flags(s.study, s.study_f, FlagSet::Study);
  s.study
      ->add_option("--variants", r.study.variants,
                   "only these variants (default all): baseline prefetch fused fp16 all "
                   "cuda_baseline cuda_prefetch cuda_fused cuda_persistent cuda_fp16 cuda_all")
      ->delimiter(',');
  s.study->add_option("--python", r.study.python, "python with matplotlib, for the plots")
      ->default_str(r.study.python);
  bind(s.study_f,
       s.study
           ->add_option("--target-accuracy", s.study_f.typed.target_accuracy,
                        "time-to-accuracy: each variant's time and epochs until its "
                        "validation accuracy first reaches this")
           ->default_str("0.83"),
       "target_accuracy");
  s.study
      ->add_flag("--overwrite", r.overwrite,
                 "study into an --out that holds an old study: deletes its runs' files first")
      ->group("Run");
  add_inference_study_flags(s.study, r.study);
  s.study->footer("\nPresets:\n  " + describe_preset("quick") + "\n  " + describe_preset("full") +
                  "\n  " + describe_preset("strong"));
}

// eval and predict on a plain state_dict (plain_state_dict.h): the settings its tensors do not
// show. An app checkpoint refuses them (it has its own config).
void add_state_dict_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  const std::string g = "Plain state_dict (no imdb metadata; sizes are read from the tensors)";
  sub->add_option("--config", f.config_file, "JSON file of the model's settings (config.json keys)")
      ->group(g);
  bind(f, sub->add_option("--max-len", t.max_len, "tokens per review the model expects"), "max_len")
      ->group(g);
  bind(f, sub->add_option("--embed", t.embed, "embedding width"), "embed")->group(g);
  bind(f, sub->add_option("--lstm-size", t.lstm_size, "LSTM hidden size"), "lstm_size")->group(g);
  bind(f, sub->add_option("--lstm-layers", t.lstm_layers, "stacked LSTM layers"), "lstm_layers")
      ->group(g);
  bind(f, sub->add_flag("--bidirectional", t.bidirectional, "a bidirectional LSTM"),
       "bidirectional")
      ->group(g);
  bind(f, sub->add_option("--pooling", t.pooling, "last | max-mean"), "pooling")->group(g);
}

void add_export_eval_predict(CLI::App& app, Subcommands& s, Request& r) {
  s.exp = app.add_subcommand(
      "export",
      "write the encoded train/validation data and split as safetensors to --out "
      "(input of tests/reference/torch_imdb.py)");
  add_config_flags(s.exp, s.export_f, FlagSet::Export);

  s.eval = app.add_subcommand("eval", "score a checkpoint on a split or a whole dataset");
  CLI::App* eval = s.eval;
  ConfigFlags& ef = s.eval_f;
  eval->add_option("--checkpoint", r.eval.checkpoint,
                   "checkpoint written by train, or a plain state_dict (with --vocab)")
      ->required();
  eval->add_option("--on", r.eval.on,
                   "val | train | test | all (rows of the dataset to score; "
                   "test = aclImdb's official test half)")
      ->default_str("val");
  eval->add_option("--json", r.eval.json_out, "also write the results to this JSON file");
  eval->add_option("--vocab", r.eval.vocab,
                   "vocab.json: must match a checkpoint's; a plain state_dict's vocabulary");
  bind(ef, eval->add_option("--data", ef.typed.data, "dataset (default: the checkpoint's)"),
       "data");
  bind(ef, eval->add_option("--batch", ef.typed.batch, "batch size"), "batch");
  bind(ef, eval->add_option("--threads", ef.typed.threads, "CPU threads"), "threads");
  bind(ef, eval->add_option("--device", ef.typed.device, "cpu | cuda"), "device");
  add_state_dict_flags(eval, ef);

  s.predict = app.add_subcommand(
      "predict", "print the probability of a positive review and the label, one line each");
  CLI::App* predict = s.predict;
  ConfigFlags& pf = s.predict_f;
  predict
      ->add_option("--checkpoint", r.predict.checkpoint,
                   "checkpoint written by train, or a plain state_dict (with --vocab)")
      ->required();
  predict->add_option("text", r.predict.texts,
                      "reviews (none and no --file: read stdin, one "
                      "review per line)");
  predict->add_option("--file", r.predict.file, "a file with one review per line");
  predict->add_option("--vocab", r.predict.vocab,
                      "vocab.json: must match a checkpoint's; a plain state_dict's vocabulary");
  predict
      ->add_option("--format", r.predict.format,
                   "tsv: probability<TAB>label<TAB>review | jsonl: one JSON object a line "
                   "(probability, label, text); full float precision, nothing else on stdout")
      ->default_str("tsv");
  predict->add_option("--threshold", r.predict.threshold, "label positive at or above")
      ->default_str("0.5");
  bind(pf, predict->add_option("--threads", pf.typed.threads, "CPU threads"), "threads");
  bind(pf, predict->add_option("--device", pf.typed.device, "cpu | cuda"), "device");
  add_state_dict_flags(predict, pf);
}

// The run-time flags prune and distill share (their model comes from a checkpoint).
void add_finetune_flags(CLI::App* sub, ConfigFlags& f) {
  Config& t = f.typed;
  bind(f, sub->add_option("--data", t.data, "dataset (default: the checkpoint's)"), "data");
  bind(f, sub->add_option("--batch", t.batch, "batch size (default: the checkpoint's)"), "batch");
  bind(f, sub->add_option("--lr", t.lr, "Adam learning rate (default: the checkpoint's)"), "lr");
  bind(f, sub->add_option("--threads", t.threads, "CPU threads"), "threads");
  bind(f, sub->add_option("--device", t.device, "cpu | cuda"), "device");
}

void add_prune_distill(CLI::App& app, Subcommands& s, Request& r) {
  s.prune = app.add_subcommand(
      "prune",
      "gradual magnitude pruning (Zhu & Gupta's cubic schedule) with fine-tuning; writes the "
      "pruned checkpoint");
  CLI::App* p = s.prune;
  p->add_option("--checkpoint", r.prune.checkpoint, "checkpoint written by train")->required();
  p->add_option("--sparsity", r.prune.sparsity,
                "share of weights (unstructured) or LSTM hidden units (structured) removed, "
                "in [0, 1)")
      ->required();
  p->add_flag("--structured", r.prune.structured,
              "remove whole LSTM hidden units: a smaller, faster model");
  p->add_flag("--unstructured", r.prune.unstructured,
              "zero single weights (the matrices keep their shape and their speed)");
  p->add_option("--finetune-epochs", r.prune.finetune_epochs,
                "epochs of training while the sparsity climbs (0 = prune at once)")
      ->default_str("1");
  p->add_option("--out", r.prune.out, "the pruned checkpoint (.safetensors)")->required();
  p->add_option("--json", r.prune.json_out, "also write the results to this JSON file");
  add_finetune_flags(p, s.prune_f);

  s.distill = app.add_subcommand(
      "distill", "train a smaller student on a teacher's soft targets and the labels");
  CLI::App* d = s.distill;
  ConfigFlags& df = s.distill_f;
  d->add_option("--teacher", r.distill.teacher, "the teacher's checkpoint")->required();
  bind(df, d->add_option("--lstm-size", df.typed.lstm_size, "the student's LSTM hidden size"),
       "lstm_size")
      ->required();
  bind(df, d->add_option("--max-len", df.typed.max_len, "the student's tokens per review"),
       "max_len");
  bind(df, d->add_option("--epochs", df.typed.epochs, "epochs (default: the teacher's)"), "epochs");
  bind(df, d->add_option("--train-limit", df.typed.train_limit, "train on the first N rows"),
       "train_limit");
  bind(df, d->add_option("--val-limit", df.typed.val_limit, "validate on the first N rows"),
       "val_limit");
  d->add_option("--temperature", r.distill.temperature, "softens both outputs (T > 0)")
      ->default_str("2");
  d->add_option("--alpha", r.distill.alpha,
                "weight of the soft targets in [0, 1]; 0 trains the student on the labels alone")
      ->default_str("0.5");
  d->add_option("--out", r.distill.out, "the student's checkpoint (.safetensors)")->required();
  d->add_option("--json", r.distill.json_out, "also write the results to this JSON file");
  add_finetune_flags(d, df);
}

void check_inference_study(StudyRequest& q) {
  if (!q.inference) {
    LOOM_CHECK(q.checkpoint.empty() && q.pruned.empty() && q.student.empty() && !q.make_missing &&
                   !q.quick && !q.no_torch,
               "study: --checkpoint, --pruned, --student, --make-missing, --quick and --no-torch "
               "belong to the inference study: add --inference");
    return;
  }
  LOOM_CHECK(!q.checkpoint.empty(), "study --inference: --checkpoint FILE (float32) is required");
  LOOM_CHECK(q.variants.empty(), "study --inference: --variants belongs to the training study");
  LOOM_CHECK(q.on == "val" || q.on == "test", "--on must be val or test, got '", q.on, "'");
  LOOM_CHECK(q.queries >= 1 && q.samples >= 1 && q.offline_batch >= 1 && q.min_seconds >= 0 &&
                 q.eval_limit >= 0,
             "study --inference: --queries, --samples and --offline-batch must be >= 1, "
             "--min-seconds and --eval-limit >= 0");
  LOOM_CHECK(q.student_size >= 1 && q.finetune_epochs >= 0,
             "study --inference: --student-size must be >= 1 and --finetune-epochs >= 0");
  if (q.quick) {
    q.queries = std::min<int64_t>(q.queries, 32);
    q.min_seconds = 0;
    q.samples = std::min<int64_t>(q.samples, 64);
    q.offline_batch = std::min<int64_t>(q.offline_batch, 32);
    if (q.eval_limit == 0) q.eval_limit = 200;
  }
}

void check_prune_distill(const Request& r) {
  if (r.command == "prune") {
    const PruneRequest& p = r.prune;
    LOOM_CHECK(p.structured != p.unstructured,
               "prune: give exactly one of --structured and --unstructured");
    LOOM_CHECK(p.sparsity >= 0 && p.sparsity < 1, "--sparsity must be in [0, 1), got ", p.sparsity);
    LOOM_CHECK(p.finetune_epochs >= 0, "--finetune-epochs must be >= 0, got ", p.finetune_epochs);
  } else if (r.command == "distill") {
    const DistillRequest& d = r.distill;
    LOOM_CHECK(std::isfinite(d.temperature) && d.temperature > 0, "--temperature must be > 0, got ",
               d.temperature);
    LOOM_CHECK(d.alpha >= 0 && d.alpha <= 1, "--alpha must be in [0, 1], got ", d.alpha);
  }
}

// quantize and bench: the inference commands (apps/imdb/quantize.h, bench.cpp).
void add_quantize_and_bench(CLI::App& app, Subcommands& s, Request& r) {
  s.quantize =
      app.add_subcommand("quantize",
                         "write an int8 copy of a checkpoint (weights per output channel, dynamic "
                         "activations; eval, predict and bench load it)");
  s.quantize->add_option("--checkpoint", r.quantize.checkpoint, "float32 checkpoint")->required();
  s.quantize->add_option("--out", r.quantize.out, "the int8 checkpoint to write")->required();

  s.bench = app.add_subcommand(
      "bench",
      "MLPerf-style benchmark of a checkpoint on real reviews (single-stream, offline, "
      "server); writes --json and one summary line");
  CLI::App* b = s.bench;
  BenchRequest& q = r.bench;
  ConfigFlags& bf = s.bench_f;
  b->add_option("--checkpoint", q.checkpoint, "checkpoint (float32 or int8)")->required();
  b->add_option("--model", q.model,
                "lstm | seq2cnn: the model the checkpoint must hold (default: whichever it holds; "
                "seq2cnn runs its padding-window forward, fp32 or --int8)");
  b->add_option("--scenario", q.scenario, "single-stream | offline | server")
      ->default_str(q.scenario);
  b->add_option("--queries", q.queries,
                "single-stream: at least this many queries; server: queries per probed rate")
      ->default_str("1024");
  b->add_option("--min-seconds", q.min_seconds, "single-stream: run at least this long")
      ->default_str("60");
  b->add_option("--samples", q.samples, "offline: samples in the one query")->default_str("25000");
  b->add_option("--batch", q.batch, "offline: reviews per model call")->default_str("1000");
  b->add_option("--rate", q.rate, "server: run this rate (queries/s) only; default: search");
  b->add_option("--latency-bound", q.latency_bound_ms, "server: p99 bound in ms")
      ->default_str("10");
  b->add_option("--search-steps", q.search_steps, "server: bisection steps")->default_str("8");
  b->add_option("--seed", q.seed, "server: seed of the arrival schedule")->default_str("1");
  b->add_flag("--no-fold", q.no_fold, "keep the embedding and the input GEMM apart");
  b->add_flag("--reference", q.reference,
              "time the training model's forward (no grad) instead of the inference path");
  b->add_flag("--int8", q.int8,
              "seq2cnn: quantize the two convolutions to int8 at load (dynamic, per time step)");
  b->add_option("--json", q.json_out, "write the results to this JSON file");
  bind(bf, b->add_option("--data", bf.typed.data, "reviews to send (default: the checkpoint's)"),
       "data");
  bind(bf, b->add_option("--threads", bf.typed.threads, "CPU threads"), "threads");
  bind(bf, b->add_option("--device", bf.typed.device, "cpu | cuda"), "device");
}

// After a successful parse: the command's name and its resolved, validated settings.
void finish_request(const Subcommands& s, Request& r) {
  if (*s.train) {
    r.command = "train";
    r.config = resolve(s.train_f, &r.given);
  } else if (*s.study) {
    r.command = "study";
    r.config = resolve(s.study_f, &r.given);
    check_inference_study(r.study);
  } else if (*s.exp) {
    r.command = "export";
    r.config = resolve(s.export_f, &r.given);
  } else if (*s.eval) {
    r.command = "eval";
    LOOM_CHECK(
        r.eval.on == "val" || r.eval.on == "train" || r.eval.on == "test" || r.eval.on == "all",
        "--on must be val, train, test or all, got '", r.eval.on, "'");
    r.config = resolve(s.eval_f, &r.given);
  } else if (*s.predict) {
    r.command = "predict";
    LOOM_CHECK(r.predict.threshold > 0 && r.predict.threshold < 1,
               "--threshold must be in (0, 1), got ", r.predict.threshold);
    LOOM_CHECK(r.predict.format == "tsv" || r.predict.format == "jsonl",
               "--format must be tsv or jsonl, got '", r.predict.format, "'");
    r.config = resolve(s.predict_f, &r.given);
  } else if (s.quantize != nullptr && *s.quantize) {
    r.command = "quantize";
  } else if (s.bench != nullptr && *s.bench) {
    r.command = "bench";
    const BenchRequest& b = r.bench;
    LOOM_CHECK(b.scenario == "single-stream" || b.scenario == "offline" || b.scenario == "server",
               "--scenario must be single-stream, offline or server, got '", b.scenario, "'");
    LOOM_CHECK(b.model.empty() || b.model == "lstm" || b.model == "seq2cnn",
               "--model must be lstm or seq2cnn, got '", b.model, "'");
    LOOM_CHECK(b.queries >= 1, "--queries must be >= 1, got ", b.queries);
    LOOM_CHECK(b.min_seconds >= 0, "--min-seconds must be >= 0, got ", b.min_seconds);
    LOOM_CHECK(b.samples >= 1 && b.batch >= 1, "--samples and --batch must be >= 1");
    LOOM_CHECK(b.rate >= 0, "--rate must be >= 0, got ", b.rate);
    LOOM_CHECK(b.latency_bound_ms > 0, "--latency-bound must be > 0, got ", b.latency_bound_ms);
    LOOM_CHECK(b.search_steps >= 1, "--search-steps must be >= 1, got ", b.search_steps);
    r.config = resolve(s.bench_f, &r.given);
  } else if (*s.prune) {
    r.command = "prune";
    r.config = resolve(s.prune_f, &r.given);
  } else if (*s.distill) {
    r.command = "distill";
    r.config = resolve(s.distill_f, &r.given);
  }
  check_prune_distill(r);
}

}  // namespace

int parse_command_line(int argc, const char* const* argv, Request& r, bool quiet) {
  CLI::App app{
      "imdb: sentiment of IMDB movie reviews with loom.\n"
      "Model (as in the original Keras study): Embedding -> SpatialDropout1D -> LSTM -> Linear "
      "-> sigmoid,\ntrained with Adam and binary cross-entropy; early stopping on validation "
      "loss.",
      "imdb"};
  app.footer(kExamples);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every subcommand");
  Subcommands s;
  add_train_and_study(app, s, r);
  add_export_eval_predict(app, s, r);
  add_quantize_and_bench(app, s, r);
  add_prune_distill(app, s, r);

  // CLI11 would answer a mistyped command with "A subcommand is required"; name it instead.
  const std::string first = argc >= 2 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "train" && first != "eval" &&
      first != "predict" && first != "study" && first != "export" && first != "quantize" &&
      first != "bench" && first != "prune" && first != "distill") {
    if (!quiet)
      std::fprintf(stderr,
                   "imdb: unknown command '%s' (expected train, eval, predict, study, export, "
                   "quantize, bench, prune or distill; see imdb --help)\n",
                   argv[1]);
    return 2;
  }
  for (int i = 0; i < argc; ++i)
    r.command_line += (i ? " " : "") + std::string(argv[i]);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints help (code 0) or the error with a usage hint; `quiet` ranks print nothing.
    std::ostringstream discard;
    return quiet ? app.exit(e, discard, discard) : app.exit(e);
  }
  finish_request(s, r);
  return -1;
}

}  // namespace loom::imdb
