// data/example.h: one labelled text as every reader returns it.
//
// The readers (imdb_reader.h, csv.h, fasttext.h) all produce TextExample, so the pipeline after
// them does not care where a review came from. Labels are floats for a sigmoid output:
// 1 = positive, 0 = negative. Text is raw (HTML and all); TextPipeline cleans it.
#pragma once

#include <cstdint>
#include <string>

namespace loom::data {

enum class Split { Train, Test, Unspecified };

inline const char* split_name(Split s) {
  return s == Split::Train ? "train" : s == Split::Test ? "test" : "unspecified";
}

struct TextExample {
  std::string text;                  // raw bytes as read (sanitized to valid UTF-8 by the reader)
  float label = 0.0f;                // 1 positive, 0 negative
  int64_t id = -1;                   // aclImdb file id; CSV/fastText: 1-based line of the record
  int rating = -1;                   // aclImdb star rating 1..10; -1 when the source has none
  Split split = Split::Unspecified;  // aclImdb's official split; Unspecified elsewhere
};

}  // namespace loom::data
