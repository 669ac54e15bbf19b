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
#include "tensor/error.h"

namespace loom::imdb {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The aclImdb reader can clean on its worker threads while it decompresses; the other formats
// go through read_text_dataset and are cleaned afterwards.
bool is_aclimdb(const std::string& path) {
  auto ends_with = [&](const std::string& suf) {
    return path.size() >= suf.size() &&
           path.compare(path.size() - suf.size(), suf.size(), suf) == 0;
  };
  return std::filesystem::is_directory(path) || ends_with(".tar.gz") || ends_with(".tgz") ||
         ends_with(".tar");
}

}  // namespace

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

  auto t0 = std::chrono::steady_clock::now();
  std::vector<data::TextExample> examples;
  if (is_aclimdb(path)) {
    data::ImdbReadOptions read;
    read.transform = data::clean_transform(text_pipeline());
    read.threads = threads;
    examples = data::read_aclimdb(path, read);
  } else {
    examples = data::read_text_dataset(path);
    const std::vector<std::string> cleaned = data::clean_texts(examples, text_pipeline(), threads);
    for (size_t i = 0; i < examples.size(); ++i)
      examples[i].text = cleaned[i];
  }
  LOOM_CHECK(!examples.empty(), "--data: '", path, "' holds no reviews");
  d.read_seconds = seconds_since(t0);
  d.rows = static_cast<int64_t>(examples.size());

  std::vector<std::string> cleaned;
  cleaned.reserve(examples.size());
  d.labels.reserve(examples.size());
  d.official.reserve(examples.size());
  for (auto& e : examples) {
    cleaned.push_back(std::move(e.text));
    d.labels.push_back(e.label);
    d.official.push_back(e.split);
  }

  if (config.split == "official") {
    LOOM_CHECK(std::count(d.official.begin(), d.official.end(), data::Split::Test) > 0,
               "--split official: '", path,
               "' has no official train/test split (only the aclImdb folder or archive has one); "
               "use --split random80");
    d.split = data::official_split(examples);
  } else {
    LOOM_CHECK(d.rows >= 2, "--split random80: '", path, "' has only ", d.rows,
               " review(s); need at least 2 to split");
    d.split = data::random_split(d.rows, config.val_fraction, config.seed);
  }

  t0 = std::chrono::steady_clock::now();
  if (vocab != nullptr) {
    d.vocab = *vocab;
  } else {
    data::VocabOptions vo;
    vo.num_words = static_cast<int32_t>(config.vocab);
    d.vocab = data::Vocabulary::fit(cleaned, vo, d.split.train, threads);
  }
  if (config.train_limit > 0 && config.train_limit < static_cast<int64_t>(d.split.train.size()))
    d.split.train.resize(static_cast<size_t>(config.train_limit));
  if (config.val_limit > 0 && config.val_limit < static_cast<int64_t>(d.split.validation.size()))
    d.split.validation.resize(static_cast<size_t>(config.val_limit));
  data::EncodeOptions eo;
  eo.max_len = config.max_len;
  d.tokens = data::encode_texts(cleaned, d.vocab, eo, {}, threads);
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
