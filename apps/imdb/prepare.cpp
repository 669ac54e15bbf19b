// apps/imdb/prepare.cpp: see prepare.h.
#include "apps/imdb/prepare.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "data/encode.h"
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
// copy of the texts); the other formats are read by read_text_dataset first.
bool is_aclimdb(const std::string& path) {
  auto ends_with = [&](const std::string& suf) {
    return path.size() >= suf.size() &&
           path.compare(path.size() - suf.size(), suf.size(), suf) == 0;
  };
  return std::filesystem::is_directory(path) || ends_with(".tar.gz") || ends_with(".tgz") ||
         ends_with(".tar");
}

// The train/validation rows config.split asks for (prepare.h). "none" is not a user setting:
// eval --on all/test scores rows without a split, so every row counts as training.
data::SplitIndices split_rows(const Config& config, const std::vector<data::TextExample>& examples,
                              const std::string& path) {
  const int64_t n = static_cast<int64_t>(examples.size());
  std::vector<data::Split> official;
  for (const auto& e : examples)
    official.push_back(e.split);
  data::SplitIndices split;
  if (config.split == "official" || config.split == "official-val") {
    LOOM_CHECK(std::count(official.begin(), official.end(), data::Split::Test) > 0, "--split ",
               config.split, ": '", path,
               "' has no official train/test split (only the aclImdb folder or archive has one); "
               "use --split random80");
    split = data::official_split(examples);
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
  } else if (config.split == "none") {
    for (int64_t i = 0; i < n; ++i)
      split.train.push_back(i);
  } else {
    LOOM_CHECK(n >= 2, "--split random80: '", path, "' has only ", n,
               " review(s); need at least 2 to split");
    split = data::random_split(n, config.val_fraction, config.seed);
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

const data::TextPipeline& text_pipeline() {
  static const data::TextPipeline pipeline;  // the defaults: Keras-like cleaning, stopwords kept
  return pipeline;
}

PreparedData prepare_data(const Config& config, const std::string& path,
                          const data::Vocabulary* vocab) {
  PreparedData d;
  d.source = path;
  d.max_len = config.max_len;
  const int threads = data::resolve_threads(static_cast<int>(config.threads));

  // Read, clean and tokenize: each word is hashed once, into the corpus' dictionary
  // (data/token_corpus.h); fitting and encoding below then work on integers.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<data::TextExample> examples;
  data::TokenCorpus corpus;
  if (is_aclimdb(path)) {
    const data::ImdbArchive archive(path);
    examples = archive.examples();  // labels and splits; the texts stay in the archive
    corpus = data::tokenize_texts(
        archive.size(), [&](int64_t i) { return archive.text(i); }, text_pipeline(), threads);
  } else {
    examples = data::read_text_dataset(path);
    corpus = data::tokenize_texts(examples, text_pipeline(), threads);
  }
  LOOM_CHECK(!examples.empty(), "--data: '", path, "' holds no reviews");
  d.read_seconds = seconds_since(t0);
  d.rows = static_cast<int64_t>(examples.size());

  d.labels.reserve(examples.size());
  d.official.reserve(examples.size());
  for (const auto& e : examples) {
    d.labels.push_back(e.label);
    d.official.push_back(e.split);
  }

  d.split = split_rows(config, examples, path);

  t0 = std::chrono::steady_clock::now();
  if (vocab != nullptr) {
    d.vocab = *vocab;
  } else {
    d.vocab = data::Vocabulary::fit(corpus, vocab_options(config), d.split.train, threads);
  }
  if (config.train_limit > 0 && config.train_limit < static_cast<int64_t>(d.split.train.size()))
    d.split.train.resize(static_cast<size_t>(config.train_limit));
  if (config.val_limit > 0 && config.val_limit < static_cast<int64_t>(d.split.validation.size()))
    d.split.validation.resize(static_cast<size_t>(config.val_limit));
  d.tokens = data::encode_texts(corpus, d.vocab, encode_options(config), {}, threads);
  if (config.oov == "unk-last") {
    LOOM_CHECK(d.vocab.oov() == data::OovPolicy::Unk, "--oov unk-last: the vocabulary (",
               vocab != nullptr ? "given" : "fitted", ") has no <unk> id");
    move_unknown_last(d.tokens, d.vocab.num_words());
  }
  d.encode_seconds = seconds_since(t0);
  return d;
}

std::string describe(const PreparedData& d) {
  int64_t pos = 0;
  for (float l : d.labels)
    pos += l > 0.5f;
  std::ostringstream s;
  s << d.rows << " reviews (" << pos << " positive) from " << d.source << "; train "
    << d.split.train.size() << ", validation " << d.split.validation.size() << "; vocabulary "
    << d.vocab.num_words() << " ids (" << d.vocab.num_known_words() << " words); " << d.max_len
    << " tokens per review; read+clean " << d.read_seconds << " s, vocab+encode "
    << d.encode_seconds << " s";
  return s.str();
}

}  // namespace loom::imdb
