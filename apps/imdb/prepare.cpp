// apps/imdb/prepare.cpp: see prepare.h.
#include "apps/imdb/prepare.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

#include <sys/resource.h>

#include "data/big_buffer.h"
#include "data/encode.h"
#include "data/fasttext_stream.h"
#include "data/imdb_reader.h"
#include "data/parallel.h"
#include "data/readers.h"
#include "data/token_corpus.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// aclImdb (folder or archive) is tokenized straight from the inflated archive (ImdbArchive: no
// copy of the texts), fastText files (.bz2, .gz or plain) are streamed (data/fasttext_stream.h);
// CSV is read by read_text_dataset first.
bool ends_with(const std::string& path, const std::string& suf) {
  return path.size() >= suf.size() && path.compare(path.size() - suf.size(), suf.size(), suf) == 0;
}
bool is_aclimdb(const std::string& path) {
  return std::filesystem::is_directory(path) || ends_with(path, ".tar.gz") ||
         ends_with(path, ".tgz") || ends_with(path, ".tar");
}
bool is_csv(const std::string& path) {
  return ends_with(path, ".csv") || ends_with(path, ".csv.gz") || ends_with(path, ".csv.bz2");
}

// One file's reviews: tokens over the file's own dictionary, labels and each row's official split.
struct FileRows {
  data::TokenCorpus corpus;
  std::vector<float> labels;
  std::vector<data::Split> official;
};

FileRows read_rows(const std::string& path, const data::TextPipeline& pipeline, int threads,
                   const char* flag) {
  FileRows f;
  std::error_code ec;
  LOOM_CHECK(std::filesystem::exists(path, ec), flag, ": '", path, "' does not exist");
  if (is_aclimdb(path)) {
    const data::ImdbArchive archive(path);
    f.corpus = data::tokenize_texts(
        archive.size(), [&](int64_t i) { return archive.text(i); }, pipeline, threads);
    for (const auto& e : archive.examples()) {
      f.labels.push_back(e.label);
      f.official.push_back(e.split);
    }
  } else if (is_csv(path)) {
    const std::vector<data::TextExample> examples = data::read_text_dataset(path);
    f.corpus = data::tokenize_texts(examples, pipeline, threads);
    for (const auto& e : examples)
      f.labels.push_back(e.label);
    f.official.assign(f.labels.size(), data::Split::Unspecified);
  } else {
    data::StreamOptions so;
    so.threads = std::max(1, threads - 1);  // tokenizers: one per core but one, and a .bz2
    so.decode_threads = threads;            // decodes on every core (fasttext_stream.cpp: why)
    data::LabeledCorpus read = data::read_fasttext_corpus(path, pipeline, so);
    f.corpus = std::move(read.corpus);
    f.labels = std::move(read.labels);
    f.official.assign(f.labels.size(), data::Split::Unspecified);
  }
  LOOM_CHECK(!f.labels.empty(), flag, ": '", path, "' holds no reviews");
  return f;
}

// Training needs both classes: a file of one label only is a wrong file, not a dataset.
void check_both_labels(const std::vector<float>& labels, const std::vector<int64_t>& rows,
                       const std::string& path) {
  int64_t positive = 0;
  for (int64_t r : rows)
    positive += labels[static_cast<size_t>(r)] > 0.5f;
  const auto n = static_cast<int64_t>(rows.size());
  const bool both = positive > 0 && positive < n;
  const char* which = positive > 0 ? "positive" : "negative";
  LOOM_CHECK(both, "--data: all ", n, " training reviews of '", path, "' are ", which,
             "; training needs both labels (a wrong file, or a split of one class?)");
}

// Peak resident memory of this process so far (Linux reports ru_maxrss in KiB).
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// The training and validation rows as --split says; `official` is each row's official split.
// "none" is not a user setting: eval --on all/test scores rows without a split, so every row
// counts as training.
data::SplitIndices choose_split(const Config& config, const std::vector<data::Split>& official,
                                const std::string& path) {
  data::SplitIndices split;
  if (config.split == "official" || config.split == "official-val") {
    LOOM_CHECK(std::count(official.begin(), official.end(), data::Split::Test) > 0, "--split ",
               config.split, ": '", path,
               "' has no official train/test split (only the aclImdb folder or archive has one, "
               "or a separate --test file); use --split random80");
    split = data::official_split(official);
    if (config.split == "official-val") {
      // Model selection (early stopping, the kept "best" epoch) must not look at the test
      // half, or the reported test accuracy is optimistic: validate on a seeded share of the
      // training half instead, exactly as random80 splits all rows.
      const std::vector<int64_t> official_train = split.train;
      const data::SplitIndices inner = data::random_split(
          static_cast<int64_t>(official_train.size()), config.val_fraction, config.seed);
      auto to_rows = [&](const std::vector<int64_t>& positions) {
        std::vector<int64_t> rows;
        rows.reserve(positions.size());
        for (int64_t p : positions)
          rows.push_back(official_train[static_cast<size_t>(p)]);
        return rows;
      };
      split.train = to_rows(inner.train);
      split.validation = to_rows(inner.validation);
    }
  } else if (config.split == "none") {  // not a user setting: eval --on all/test, no split
    for (int64_t i = 0; i < static_cast<int64_t>(official.size()); ++i)
      split.train.push_back(i);
  } else {
    const auto rows = static_cast<int64_t>(official.size());
    LOOM_CHECK(rows >= 2, "--split random80: '", path, "' has only ", rows,
               " review(s); need at least 2 to split");
    split = data::random_split(rows, config.val_fraction, config.seed);
  }
  return split;
}

}  // namespace

data::EncodeOptions encode_options(const Config& config) {
  data::EncodeOptions eo;
  eo.max_len = config.max_len;
  const data::PadSide side = config.padding == "post" ? data::PadSide::Post : data::PadSide::Pre;
  eo.padding = eo.truncating = side;
  return eo;
}

data::VocabOptions vocab_options(const Config& config) {
  data::VocabOptions vo;
  vo.num_words = static_cast<int32_t>(config.vocab);
  if (config.oov == "unk-last") vo.oov = data::OovPolicy::Unk;
  return vo;
}

void move_unknown_last(std::vector<int32_t>& tokens, int32_t num_words) {
  for (int32_t& id : tokens) {
    if (id == data::Vocabulary::kUnk)
      id = num_words - 1;
    else if (id > data::Vocabulary::kUnk)
      id -= 1;
  }
}

const data::TextPipeline& text_pipeline(const Config& config) {
  static const data::TextPipeline keep;  // Keras-like cleaning: HTML, digits, symbols, lowercase
  static const data::TextPipeline remove = [] {
    data::TextOptions options;
    options.remove_stopwords = true;  // the built-in list, data/stopwords_en.txt
    return data::TextPipeline(options);
  }();
  return config.stopwords == "remove" ? remove : keep;
}

PreparedData prepare_data(const Config& config, const std::string& path,
                          const data::Vocabulary* vocab) {
  PreparedData d;
  d.source = path;
  d.test_source = config.test;
  d.max_len = config.max_len;
  const int threads = data::resolve_threads(static_cast<int>(config.threads));

  // Read, clean and tokenize: each word is hashed once, into the corpus' dictionary
  // (data/token_corpus.h); fitting and encoding below then work on integers. With --test, the
  // test file's rows follow the training file's, marked as the official test split.
  auto t0 = std::chrono::steady_clock::now();
  const data::TextPipeline& pipeline = text_pipeline(config);
  FileRows main = read_rows(path, pipeline, threads, "--data");
  FileRows test;
  if (!config.test.empty()) {
    test = read_rows(config.test, pipeline, threads, "--test");
    main.official.assign(main.labels.size(), data::Split::Train);
    test.official.assign(test.labels.size(), data::Split::Test);
  }
  d.read_seconds = seconds_since(t0);
  d.labels = std::move(main.labels);
  d.labels.insert(d.labels.end(), test.labels.begin(), test.labels.end());
  d.official = std::move(main.official);
  d.official.insert(d.official.end(), test.official.begin(), test.official.end());
  d.rows = static_cast<int64_t>(d.labels.size());

  d.split = choose_split(config, d.official, path);

  t0 = std::chrono::steady_clock::now();
  if (vocab != nullptr) {
    d.vocab = *vocab;
  } else {
    check_both_labels(d.labels, d.split.train, path);
    // Every training row is in the --data file (a --test file's rows only validate or test).
    d.vocab = data::Vocabulary::fit(main.corpus, vocab_options(config), d.split.train, threads);
  }
  if (config.train_limit > 0 && config.train_limit < static_cast<int64_t>(d.split.train.size()))
    d.split.train.resize(static_cast<size_t>(config.train_limit));
  if (config.val_limit > 0 && config.val_limit < static_cast<int64_t>(d.split.validation.size()))
    d.split.validation.resize(static_cast<size_t>(config.val_limit));
  const data::EncodeOptions eo = encode_options(config);
  // One allocation for both files; each corpus is freed once encoded.
  data::reserve_huge(d.tokens, static_cast<size_t>(d.rows * config.max_len));
  d.tokens.resize(static_cast<size_t>(d.rows * config.max_len));
  data::encode_texts(main.corpus, d.vocab, eo, {}, threads, d.tokens.data());
  const int64_t main_rows = main.corpus.rows();
  main = FileRows();
  if (test.corpus.rows() > 0)
    data::encode_texts(test.corpus, d.vocab, eo, {}, threads,
                       d.tokens.data() + main_rows * config.max_len);
  if (config.oov == "unk-last") {
    LOOM_CHECK(d.vocab.oov() == data::OovPolicy::Unk, "--oov unk-last: the vocabulary (",
               vocab != nullptr ? "given" : "fitted", ") has no <unk> id");
    move_unknown_last(d.tokens, d.vocab.num_words());
  }
  d.encode_seconds = seconds_since(t0);
  d.peak_rss_mb = peak_rss_mb();
  return d;
}

std::string describe(const PreparedData& d) {
  int64_t pos = 0;
  for (float l : d.labels)
    pos += l > 0.5f;
  std::ostringstream s;
  s << d.rows << " reviews (" << pos << " positive) from " << d.source
    << (d.test_source.empty() ? "" : " and " + d.test_source) << "; train " << d.split.train.size()
    << ", validation " << d.split.validation.size() << "; vocabulary " << d.vocab.num_words()
    << " ids (" << d.vocab.num_known_words() << " words); " << d.max_len
    << " tokens per review; read+clean " << d.read_seconds << " s, vocab+encode "
    << d.encode_seconds << " s; peak RSS " << static_cast<int64_t>(d.peak_rss_mb) << " MB";
  return s.str();
}

void gather_rows(const PreparedData& d, const std::vector<int64_t>& rows, size_t first, size_t n,
                 std::vector<int32_t>& tokens, std::vector<float>* labels) {
  const auto w = static_cast<size_t>(d.max_len);
  tokens.resize(n * w);
  if (labels != nullptr) labels->resize(n);
  for (size_t k = 0; k < n; ++k) {
    const auto r = static_cast<size_t>(rows[first + k]);
    std::copy_n(&d.tokens[r * w], w, &tokens[k * w]);
    if (labels != nullptr) (*labels)[k] = d.labels[r];
  }
}

}  // namespace loom::imdb
