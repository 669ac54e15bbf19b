// tests/bench/bench_data.cpp: end-to-end timing of loom's text pipeline on the real IMDB archive.
//
// The same steps as tests/reference/data_pipeline.py, which run_data_bench.sh times in the same
// run: read all 50,000 reviews from the .tar.gz, clean + tokenize them (stopwords removed; N
// threads), fit the vocabulary (num_words 500) on the official train rows, encode all rows to
// max_len 100 ('pre'/'pre'). Runs once per thread count in --threads and checks every run gives
// the same bytes as the first; --dump writes the first run's vocabulary and encoding in the
// reference's text format so the driver can compare them. --prefetch-demo instead measures what
// prefetching hides (see prefetch_demo). Not Google Benchmark: one end-to-end pass takes seconds
// and is itself the measurement.
// Usage: bench_data [ARCHIVE] [--threads 1,2] [--dump FILE] [--no-stopwords]
//        bench_data [ARCHIVE] --prefetch-demo [--step-ms 10] [--batches 100]
//        ARCHIVE defaults to $LOOM_IMDB_DATA (as for apps/imdb),
//        else ../shared/data/aclImdb_v1_labeled.tar.gz
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "data/batch.h"
#include "data/encode.h"
#include "data/imdb_reader.h"
#include "data/prefetcher.h"
#include "data/split.h"
#include "data/token_corpus.h"
#include "tensor/error.h"

using namespace loom::data;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Result {
  std::vector<std::string> words;
  std::vector<int32_t> encoded;  // [reviews, max_len]
};

Result run_pipeline(const std::string& archive, int threads, bool stopwords, int64_t max_len) {
  // Read: libdeflate inflates the whole archive and the tar headers are walked (one thread; the
  // texts are not copied). Clean + tokenize: TokenCorpus on `threads` threads, each token hashed
  // once.
  const auto t0 = Clock::now();
  const std::clock_t cpu0 = std::clock();  // process CPU time, all threads
  TextOptions text_options;
  text_options.remove_stopwords = stopwords;
  const TextPipeline pipeline(text_options);
  const ImdbArchive reviews(archive);  // the reviews stay inside the inflated tar
  const double read_s = seconds_since(t0);
  const TokenCorpus corpus = tokenize_texts(
      reviews.size(), [&](int64_t i) { return reviews.text(i); }, pipeline, threads);
  const SplitIndices split = official_split(reviews.examples());
  const double read_clean_s = seconds_since(t0);

  const auto t2 = Clock::now();
  const Vocabulary vocab = Vocabulary::fit(corpus, {500, OovPolicy::Drop}, split.train, threads);
  const double vocab_s = seconds_since(t2);

  const auto t3 = Clock::now();
  Result r;
  r.encoded = encode_texts(corpus, vocab, {max_len}, {}, threads);
  const double encode_s = seconds_since(t3);
  r.words = vocab.words();
  std::printf(
      "{\"impl\": \"loom\", \"threads\": %d, \"reviews\": %zu, \"read_s\": %.4f, "
      "\"read_clean_tokenize_s\": %.4f, \"vocab_s\": %.4f, \"encode_s\": %.4f, "
      "\"total_s\": %.4f, \"cpu_s\": %.4f}\n",
      threads, reviews.examples().size(), read_s, read_clean_s, vocab_s, encode_s,
      seconds_since(t0), static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC);
  std::fflush(stdout);
  return r;
}

void dump(const Result& r, int64_t max_len, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  for (size_t i = 0; i < r.words.size(); ++i)
    out << (i ? " " : "") << r.words[i];
  out << '\n';
  std::string line;
  for (size_t row = 0; row < r.encoded.size() / static_cast<size_t>(max_len); ++row) {
    line.clear();
    for (int64_t k = 0; k < max_len; ++k) {
      if (k) line += ' ';
      line +=
          std::to_string(r.encoded[row * static_cast<size_t>(max_len) + static_cast<size_t>(k)]);
    }
    out << line << '\n';
  }
  LOOM_CHECK(out.good(), "bench_data: cannot write '", path, "'");
}

void busy_wait(double ms) {
  const auto until = Clock::now() + std::chrono::duration<double, std::milli>(ms);
  while (Clock::now() < until) {
  }
}

// Each batch of 100 raw reviews is cleaned and encoded on demand (the producer), and a simulated
// training step busy-waits `step_ms` per batch (the consumer); run with 0, 1 and 2 worker threads.
void prefetch_demo(const std::string& archive, double step_ms, int64_t batches) {
  const std::vector<TextExample> examples = read_aclimdb(archive);
  const TextPipeline pipeline;
  const SplitIndices split = official_split(examples);
  // A vocabulary fitted once up front; batches are then built lazily from raw text.
  const Vocabulary vocab = Vocabulary::fit(clean_texts(examples, pipeline, 0), {500}, split.train);
  const std::vector<int64_t> order = permutation(static_cast<int64_t>(examples.size()), 1);
  const int64_t batch_size = 100;
  batches = std::min<int64_t>(batches, static_cast<int64_t>(examples.size()) / batch_size);
  auto produce = [&](int64_t b) {
    Batch batch;
    batch.batch_size = batch_size;
    batch.seq_len = 100;
    batch.tokens.resize(static_cast<size_t>(batch_size * 100));
    std::string cleaned;
    std::vector<int32_t> ids;
    for (int64_t k = 0; k < batch_size; ++k) {
      const TextExample& ex =
          examples[static_cast<size_t>(order[static_cast<size_t>(b * batch_size + k)])];
      pipeline.clean(ex.text, cleaned);
      ids.clear();
      vocab.encode(cleaned, ids);
      pad_or_truncate(ids, {100}, batch.tokens.data() + k * 100);
      batch.labels.push_back(ex.label);
    }
    return batch;
  };
  for (int workers : {0, 1, 2}) {
    const auto t0 = Clock::now();
    Prefetcher<Batch> pf(batches, produce, workers, 4);
    Batch b;
    int64_t n = 0;
    while (pf.next(b)) {
      busy_wait(step_ms);  // the "training step"
      ++n;
    }
    const PrefetchStats s = pf.stats();
    std::printf(
        "{\"prefetch_workers\": %d, \"batches\": %lld, \"step_ms\": %.1f, \"epoch_s\": %.4f, "
        "\"wait_s\": %.4f, \"produce_s\": %.4f, \"produce_ms_per_batch\": %.3f}\n",
        workers, static_cast<long long>(n), step_ms, seconds_since(t0), s.wait_seconds,
        s.produce_seconds, 1000.0 * s.produce_seconds / static_cast<double>(n));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string archive;
  if (const char* env = std::getenv("LOOM_IMDB_DATA")) archive = env;
  if (archive.empty()) archive = "../shared/data/aclImdb_v1_labeled.tar.gz";
  std::vector<int> threads = {1, 2};
  std::string dump_path;
  bool stopwords = true, demo = false;
  double step_ms = 10;
  int64_t batches = 100;
  const int64_t max_len = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--threads" && has_value) {
      threads.clear();
      for (const char* p = argv[++i]; *p;) {
        threads.push_back(std::atoi(p));
        while (*p && *p != ',')
          ++p;
        if (*p == ',') ++p;
      }
    } else if (a == "--dump" && has_value) {
      dump_path = argv[++i];
    } else if (a == "--no-stopwords") {
      stopwords = false;
    } else if (a == "--prefetch-demo") {
      demo = true;
    } else if (a == "--step-ms" && has_value) {
      step_ms = std::atof(argv[++i]);
    } else if (a == "--batches" && has_value) {
      batches = std::atoll(argv[++i]);
    } else if (!a.empty() && a[0] != '-') {
      archive = a;
    } else {
      std::fprintf(stderr, "bench_data: unknown argument '%s' (see the header of bench_data.cpp)\n",
                   a.c_str());
      return 2;
    }
  }
  try {
    if (demo) {
      prefetch_demo(archive, step_ms, batches);
      return 0;
    }
    Result first;
    for (size_t k = 0; k < threads.size(); ++k) {
      Result r = run_pipeline(archive, threads[k], stopwords, max_len);
      if (k == 0) {
        first = std::move(r);
        if (!dump_path.empty()) dump(first, max_len, dump_path);
      } else if (r.words != first.words || r.encoded != first.encoded) {
        std::fprintf(stderr, "bench_data: %d threads gave a different result than %d\n", threads[k],
                     threads[0]);
        return 1;
      }
    }
    if (threads.size() > 1) std::printf("{\"threads_identical\": true}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_data: %s\n", e.what());
    return 1;
  }
  return 0;
}
