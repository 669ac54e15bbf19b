// data/vocab.cpp: fitting (parallel counting, first-occurrence ties), lookup, JSON save/load.
#include "data/vocab.h"

#include <algorithm>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "data/parallel.h"
#include "data/text_pipeline.h"
#include "tensor/error.h"

namespace loom::data {

namespace {
void check_options(const VocabOptions& o, const std::string& where) {
  const int32_t min_words = o.oov == OovPolicy::Unk ? 3 : 2;
  LOOM_CHECK(o.num_words >= min_words, where, ": num_words must be >= ", min_words, " (padding",
             o.oov == OovPolicy::Unk ? ", <unk>" : "", " and one word), got ", o.num_words);
}

struct Counts {
  StringTable table;            // words in first-occurrence order
  std::vector<int64_t> counts;  // [table.size()]
};
}  // namespace

// keys[i] has counts[i]; keys are in first-occurrence order. Most frequent first;
// stable_sort keeps first-occurrence order among equal counts.
Vocabulary Vocabulary::top_words(const std::vector<std::string_view>& keys,
                                 const std::vector<int64_t>& counts, const VocabOptions& options) {
  // BEGIN LAB 05 TASK 2 uses(keys, counts, options)
  std::vector<int32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return counts[static_cast<size_t>(a)] > counts[static_cast<size_t>(b)];
  });
  const int32_t first = options.oov == OovPolicy::Unk ? 2 : 1;
  const size_t keep = std::min(order.size(), static_cast<size_t>(options.num_words - first));
  std::vector<std::string> words;
  std::vector<int64_t> top_counts;
  for (size_t k = 0; k < keep; ++k) {
    words.emplace_back(keys[static_cast<size_t>(order[k])]);
    top_counts.push_back(counts[static_cast<size_t>(order[k])]);
  }
  return from_words(words, options, std::move(top_counts));
  // END LAB 05 TASK 2
}

Vocabulary Vocabulary::fit(const std::vector<std::string>& cleaned, const VocabOptions& options,
                           const std::vector<int64_t>& rows, int threads) {
  check_options(options, "Vocabulary::fit");
  const auto n = static_cast<int64_t>(rows.empty() ? cleaned.size() : rows.size());
  for (int64_t r : rows)
    LOOM_CHECK(r >= 0 && r < static_cast<int64_t>(cleaned.size()), "Vocabulary::fit: row ", r,
               " out of range [0, ", cleaned.size(), ")");

  // Each chunk counts its own rows; chunks are merged in order, so the merged table's insertion
  // order is the global first-occurrence order whatever the number of threads.
  std::vector<Counts> parts(static_cast<size_t>(std::max(1, resolve_threads(threads))));
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int64_t chunk) {
    Counts& part = parts[static_cast<size_t>(chunk)];
    for (int64_t k = begin; k < end; ++k) {
      const std::string& doc = cleaned[static_cast<size_t>(rows.empty() ? k : rows[k])];
      for_each_word(doc, [&](std::string_view w) {
        bool inserted = false;
        const int32_t i = part.table.insert(w, &inserted);
        if (inserted) part.counts.push_back(0);
        ++part.counts[static_cast<size_t>(i)];
      });
    }
  });
  Counts all = std::move(parts[0]);
  for (size_t p = 1; p < parts.size(); ++p) {
    for (int32_t i = 0; i < parts[p].table.size(); ++i) {
      bool inserted = false;
      const int32_t j = all.table.insert(parts[p].table.key(i), &inserted);
      if (inserted) all.counts.push_back(0);
      all.counts[static_cast<size_t>(j)] += parts[p].counts[static_cast<size_t>(i)];
    }
  }

  std::vector<std::string_view> keys(all.table.keys().begin(), all.table.keys().end());
  return top_words(keys, all.counts, options);
}

Vocabulary Vocabulary::fit(const TokenCorpus& corpus, const VocabOptions& options,
                           const std::vector<int64_t>& rows, int threads) {
  check_options(options, "Vocabulary::fit");
  const auto n = static_cast<int64_t>(rows.empty() ? corpus.rows() : rows.size());
  for (int64_t r : rows)
    LOOM_CHECK(r >= 0 && r < corpus.rows(), "Vocabulary::fit: row ", r, " out of range [0, ",
               corpus.rows(), ")");
  const size_t num_words = corpus.words.size();

  // Each chunk counts its rows' tokens and lists the dictionary words in the order it first sees
  // them; concatenating the lists in chunk order (skipping words already listed) gives the
  // first-occurrence order of the fitting rows, as in the string version.
  struct Part {
    std::vector<int64_t> counts;      // [num_words]
    std::vector<int32_t> first_seen;  // dictionary indices, first-occurrence order in the chunk
  };
  std::vector<Part> parts(static_cast<size_t>(std::max(1, resolve_threads(threads))));
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int64_t chunk) {
    Part& part = parts[static_cast<size_t>(chunk)];
    part.counts.assign(num_words, 0);
    for (int64_t k = begin; k < end; ++k) {
      const int64_t row = rows.empty() ? k : rows[static_cast<size_t>(k)];
      for (const int32_t* t = corpus.row_begin(row); t != corpus.row_end(row); ++t)
        if (part.counts[static_cast<size_t>(*t)]++ == 0) part.first_seen.push_back(*t);
    }
  });
  std::vector<int64_t> counts;               // [words in `order`]
  std::vector<std::string_view> keys;        // [words in `order`]
  std::vector<int32_t> slot(num_words, -1);  // dictionary index -> position in keys
  for (const Part& part : parts) {
    for (int32_t w : part.first_seen) {
      if (slot[static_cast<size_t>(w)] < 0) {
        slot[static_cast<size_t>(w)] = static_cast<int32_t>(keys.size());
        keys.emplace_back(corpus.words[static_cast<size_t>(w)]);
        counts.push_back(0);
      }
      counts[static_cast<size_t>(slot[static_cast<size_t>(w)])] +=
          part.counts[static_cast<size_t>(w)];
    }
  }
  return top_words(keys, counts, options);
}

Vocabulary Vocabulary::from_words(const std::vector<std::string>& words,
                                  const VocabOptions& options, std::vector<int64_t> counts) {
  check_options(options, "Vocabulary::from_words");
  Vocabulary v;
  v.options_ = options;
  LOOM_CHECK(static_cast<int64_t>(words.size()) <= options.num_words - v.first_word_id(),
             "Vocabulary::from_words: ", words.size(), " words do not fit in num_words ",
             options.num_words);
  for (const std::string& w : words) {
    LOOM_CHECK(!w.empty(), "Vocabulary::from_words: empty word at position ", v.table_.size());
    LOOM_CHECK(w.find(' ') == std::string::npos, "Vocabulary::from_words: word '", w,
               "' contains a space");
    bool inserted = false;
    v.table_.insert(w, &inserted);
    LOOM_CHECK(inserted, "Vocabulary::from_words: duplicate word '", w, "'");
  }
  if (counts.empty()) counts.assign(words.size(), 0);
  LOOM_CHECK(counts.size() == words.size(), "Vocabulary::from_words: ", counts.size(),
             " counts for ", words.size(), " words");
  v.counts_ = std::move(counts);
  return v;
}

std::string Vocabulary::word(int32_t id) const {
  if (id == kPad) return "<pad>";
  if (id == kUnk && options_.oov == OovPolicy::Unk) return "<unk>";
  const int32_t i = id - first_word_id();
  LOOM_CHECK(i >= 0 && i < table_.size(), "Vocabulary::word: id ", id, " out of range [0, ",
             first_word_id() + table_.size(), ")");
  return table_.key(i);
}

void Vocabulary::encode(std::string_view cleaned, std::vector<int32_t>& ids) const {
  for_each_word(cleaned, [&](std::string_view w) {
    const int32_t i = id(w);
    if (i >= 0) ids.push_back(i);
  });
}

void Vocabulary::save(const std::string& path) const {
  nlohmann::json j;
  j["format"] = "loom-vocab";
  j["version"] = 1;
  j["num_words"] = options_.num_words;
  j["oov"] = options_.oov == OovPolicy::Unk ? "unk" : "drop";
  j["words"] = table_.keys();
  j["counts"] = counts_;
  std::ofstream out(path, std::ios::binary);
  LOOM_CHECK(out.good(), "Vocabulary::save: cannot open '", path, "' for writing");
  out << j.dump(1) << '\n';
  LOOM_CHECK(out.good(), "Vocabulary::save: write to '", path, "' failed");
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in.good(), "Vocabulary::load: cannot open '", path, "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    LOOM_FAIL("Vocabulary::load: '", path, "' is not valid JSON: ", e.what());
  }
  const std::string where = "Vocabulary::load: '" + path + "'";
  try {
    LOOM_CHECK(j.is_object() && j.value("format", "") == "loom-vocab", where,
               ": not a loom vocabulary (missing \"format\": \"loom-vocab\")");
    LOOM_CHECK(j.value("version", 0) == 1, where, ": unsupported version ", j.value("version", 0));
    VocabOptions o;
    o.num_words = j.at("num_words").get<int32_t>();
    const std::string oov = j.at("oov").get<std::string>();
    LOOM_CHECK(oov == "drop" || oov == "unk", where,
               ": \"oov\" must be \"drop\" or \"unk\", got \"", oov, "\"");
    o.oov = oov == "unk" ? OovPolicy::Unk : OovPolicy::Drop;
    auto words = j.at("words").get<std::vector<std::string>>();
    std::vector<int64_t> counts;
    if (j.contains("counts")) counts = j.at("counts").get<std::vector<int64_t>>();
    try {
      return from_words(words, o, std::move(counts));
    } catch (const Error& e) {
      LOOM_FAIL(where, ": ", e.what());
    }
  } catch (const nlohmann::json::exception& e) {
    LOOM_FAIL(where, ": bad field: ", e.what());
  }
}

}  // namespace loom::data
