// tests/bench/bench_stream.cpp: a big compressed fastText corpus, streamed: decode speed alone,
// and reading + cleaning + vocabulary + encoding end to end, with the peak resident memory.
//
// Modes (one per process, so each run's peak RSS is its own):
//   decode      ByteStream alone, a .bz2 file on --decode-threads threads (1: libbz2's own
//               sequential decoder; more: block by block, bzip2_blocks.h); gzip on one thread
//   pipeline    read_fasttext_corpus on --threads workers (+ the decoder thread, + bzip2 on
//               --decode-threads), Vocabulary::fit on every row (--vocab ids), encode_texts to
//               --max-len ids, in uint16 when the vocabulary fits (encode.h)
//   sequential  the same with read_fasttext_corpus_sequential (one thread), for the ratio
// Prints one JSON line: seconds per stage, MB/s, rows, tokens, peak RSS. run_stream_bench.sh
// drives it on the synthetic corpus (make_synthetic_fasttext.py).
// Usage: bench_stream FILE [--mode M] [--threads 2] [--vocab 20000] [--max-len 100]
//   [--max-rows 0] [--max-mb 0] [--decode-threads 0 (one per core)] [--hash 0|1 (decode: an
//   FNV-1a hash of the text, to compare decoders)]; --max-rows (pipeline, sequential) and
//   --max-mb (decode: MB of text) time a prefix of the file.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "data/big_buffer.h"
#include "data/byte_stream.h"
#include "data/encode.h"
#include "data/fasttext_stream.h"
#include "data/parallel.h"
#include "data/vocab.h"
#include "tensor/error.h"

using namespace loom::data;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// max_mb > 0: stop after that many MB of text (a prefix of a big file).
void decode_only(const std::string& path, double max_mb, int decode_threads, bool hash) {
  const auto t0 = Clock::now();
  const int threads = resolve_threads(decode_threads);
  ByteStream in(path, threads);
  std::vector<char> buf(size_t{1} << 20);
  uint64_t fnv = 0xcbf29ce484222325ull;  // FNV-1a of the text (--hash 1)
  while (size_t n = in.read(buf.data(), buf.size())) {
    for (size_t i = 0; hash && i < n; ++i)
      fnv = (fnv ^ static_cast<unsigned char>(buf[i])) * 0x100000001b3ull;
    if (max_mb > 0 && static_cast<double>(in.bytes_out()) >= max_mb * 1e6) break;
  }
  const double s = seconds_since(t0);
  std::printf(
      "{\"mode\": \"decode\", \"compression\": \"%s\", \"decode_threads\": %d, "
      "\"seconds\": %.3f, \"cpu_s\": %.3f, \"text_hash\": \"%016llx\", "
      "\"compressed_mb\": %.1f, \"text_mb\": %.1f, \"text_mb_per_s\": %.1f, "
      "\"compressed_mb_per_s\": %.1f, \"peak_rss_mb\": %.0f}\n",
      compression_name(in.compression()), threads, s, cpu_seconds(),
      static_cast<unsigned long long>(hash ? fnv : 0), in.compressed_bytes_read() / 1e6,
      in.bytes_out() / 1e6, in.bytes_out() / 1e6 / s, in.compressed_bytes_read() / 1e6 / s,
      peak_rss_mb());
}

void read_and_encode(const std::string& path, const std::string& mode, int threads,
                     int decode_threads, int32_t num_words, int64_t max_len, int64_t max_rows) {
  // The imdb app's cleaning with `--stopwords keep` (its default removes them): the pages in
  // docs/results/ were measured this way.
  const TextPipeline pipeline;
  const auto t0 = Clock::now();
  LabeledCorpus c;
  if (mode == "sequential") {
    c = read_fasttext_corpus_sequential(path, pipeline, max_rows);
  } else {
    StreamOptions so;
    so.threads = threads;
    so.decode_threads = decode_threads;
    so.max_rows = max_rows;
    c = read_fasttext_corpus(path, pipeline, so);
  }
  const double read_s = seconds_since(t0);
  const double read_rss = peak_rss_mb();
  auto t1 = Clock::now();
  const Vocabulary vocab = Vocabulary::fit(c.corpus, {num_words, OovPolicy::Drop}, {}, threads);
  const double fit_s = seconds_since(t1);
  t1 = Clock::now();
  EncodeOptions eo;
  eo.max_len = max_len;
  const auto cells = static_cast<size_t>(c.corpus.rows() * max_len);
  std::vector<uint16_t> narrow;
  std::vector<int32_t> wide;
  int64_t checksum = 0;  // keeps the encoding observable
  if (fits_uint16(vocab)) {
    reserve_huge(narrow, cells);
    narrow.resize(cells);
    encode_texts(c.corpus, vocab, eo, {}, threads, narrow.data());
    for (size_t i = 0; i < cells; i += 4099)
      checksum += narrow[i];
  } else {
    wide = encode_texts(c.corpus, vocab, eo, {}, threads);
    for (size_t i = 0; i < cells; i += 4099)
      checksum += wide[i];
  }
  const double encode_s = seconds_since(t1);
  const double total = seconds_since(t0);
  const StreamStats& st = c.stats;
  std::printf(
      "{\"mode\": \"%s\", \"threads\": %d, \"decode_threads\": %d, \"rows\": %lld, \"tokens\": "
      "%lld, \"dictionary\": %zu, "
      "\"vocab\": %d, \"id_bytes\": %d, \"max_len\": %lld, \"read_s\": %.3f, \"fit_s\": %.3f, "
      "\"encode_s\": %.3f, \"total_s\": %.3f, \"cpu_s\": %.3f, \"decode_s\": %.3f, "
      "\"tokenize_s\": %.3f, \"merge_s\": %.3f, \"compressed_mb\": %.1f, \"text_mb\": %.1f, "
      "\"peak_rss_after_read_mb\": %.0f, \"peak_rss_mb\": %.0f, \"checksum\": %lld}\n",
      mode.c_str(), threads, resolve_threads(decode_threads),
      static_cast<long long>(c.corpus.rows()), static_cast<long long>(c.corpus.tokens.size()),
      c.corpus.words.size(), vocab.num_words(), fits_uint16(vocab) ? 2 : 4,
      static_cast<long long>(max_len), read_s, fit_s, encode_s, total, cpu_seconds(),
      st.decode_seconds, st.tokenize_seconds, st.merge_seconds, st.compressed_bytes / 1e6,
      st.text_bytes / 1e6, read_rss, peak_rss_mb(), static_cast<long long>(checksum));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr,
                 "usage: bench_stream FILE [--mode decode|pipeline|sequential] [--threads 2] "
                 "[--vocab 20000] [--max-len 100] [--max-rows 0] [--max-mb 0] "
                 "[--decode-threads 0] [--hash 0|1]\n");
    return 2;
  }
  const std::string path = argv[1];
  std::string mode = "pipeline";
  int threads = 2, decode_threads = 0;
  bool hash = false;
  int32_t vocab = 20000;
  int64_t max_len = 100, max_rows = 0;
  double max_mb = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--mode")
      mode = value;
    else if (flag == "--threads")
      threads = std::atoi(value.c_str());
    else if (flag == "--vocab")
      vocab = std::atoi(value.c_str());
    else if (flag == "--max-len")
      max_len = std::atoll(value.c_str());
    else if (flag == "--max-rows")
      max_rows = std::atoll(value.c_str());
    else if (flag == "--max-mb")
      max_mb = std::atof(value.c_str());
    else if (flag == "--decode-threads")
      decode_threads = std::atoi(value.c_str());
    else if (flag == "--hash")
      hash = value == "1";
    else {
      std::fprintf(stderr, "bench_stream: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    if (mode == "decode")
      decode_only(path, max_mb, decode_threads, hash);
    else if (mode == "pipeline" || mode == "sequential")
      read_and_encode(path, mode, threads, decode_threads, vocab, max_len, max_rows);
    else {
      std::fprintf(stderr, "bench_stream: --mode must be decode, pipeline or sequential\n");
      return 2;
    }
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "bench_stream: %s\n", e.what());
    return 1;
  }
  return 0;
}
