// apps/imdb/cli.cpp: the CLI11 definition of every subcommand and the layering of settings.
//
// Each hyperparameter flag is bound to a field of a scratch Config (`typed`). After parsing, the
// resolved Config is built as defaults -> preset -> --config file -> the flags whose count() is
// non-zero (only flags the user actually typed override the file). See config.h.
#include "apps/imdb/cli.h"

#include <CLI/CLI.hpp>
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
  bind(f, sub->add_option("--preset", t.preset, "quick | full | strong (see `imdb study --help`)"),
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
  for (const Binding& b : f.bindings)
    if (b.key == "preset" && b.option->count() > 0) preset = f.typed.preset;
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
  CLI::App *train, *study, *exp, *eval, *predict;
  ConfigFlags train_f, study_f, export_f, eval_f, predict_f;
};

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
  s.study->footer("\nPresets:\n  " + describe_preset("quick") + "\n  " + describe_preset("full") +
                  "\n  " + describe_preset("strong"));
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
  eval->add_option("--checkpoint", r.eval.checkpoint, "checkpoint written by train")->required();
  eval->add_option("--on", r.eval.on,
                   "val | train | test | all (rows of the dataset to score; "
                   "test = aclImdb's official test half)")
      ->default_str("val");
  eval->add_option("--json", r.eval.json_out, "also write the results to this JSON file");
  eval->add_option("--vocab", r.eval.vocab, "a vocab.json that must match the checkpoint's");
  bind(ef, eval->add_option("--data", ef.typed.data, "dataset (default: the checkpoint's)"),
       "data");
  bind(ef, eval->add_option("--batch", ef.typed.batch, "batch size"), "batch");
  bind(ef, eval->add_option("--threads", ef.typed.threads, "CPU threads"), "threads");
  bind(ef, eval->add_option("--device", ef.typed.device, "cpu | cuda"), "device");

  s.predict = app.add_subcommand(
      "predict", "print the probability of a positive review and the label, one line each");
  CLI::App* predict = s.predict;
  ConfigFlags& pf = s.predict_f;
  predict->add_option("--checkpoint", r.predict.checkpoint, "checkpoint written by train")
      ->required();
  predict->add_option("text", r.predict.texts,
                      "reviews (none and no --file: read stdin, one "
                      "review per line)");
  predict->add_option("--file", r.predict.file, "a file with one review per line");
  predict->add_option("--vocab", r.predict.vocab, "a vocab.json that must match the checkpoint's");
  predict->add_option("--threshold", r.predict.threshold, "label positive at or above")
      ->default_str("0.5");
  bind(pf, predict->add_option("--threads", pf.typed.threads, "CPU threads"), "threads");
  bind(pf, predict->add_option("--device", pf.typed.device, "cpu | cuda"), "device");
}

// After a successful parse: the command's name and its resolved, validated settings.
void finish_request(const Subcommands& s, Request& r) {
  if (*s.train) {
    r.command = "train";
    r.config = resolve(s.train_f, &r.given);
  } else if (*s.study) {
    r.command = "study";
    r.config = resolve(s.study_f, &r.given);
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
    r.config = resolve(s.predict_f, &r.given);
  }
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

  // CLI11 would answer a mistyped command with "A subcommand is required"; name it instead.
  const std::string first = argc >= 2 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "train" && first != "eval" &&
      first != "predict" && first != "study" && first != "export") {
    if (!quiet)
      std::fprintf(stderr,
                   "imdb: unknown command '%s' (expected train, eval, predict, study or export; "
                   "see imdb --help)\n",
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
