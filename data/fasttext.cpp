// data/fasttext.cpp: the line parser and the streaming reader (see fasttext.h).
#include "data/fasttext.h"

#include <algorithm>

#include "data/utf8.h"
#include "tensor/error.h"

namespace loom::data {

std::string_view split_fasttext_line(std::string_view line, const std::string& source,
                                     int64_t line_no, float* label) {
  static constexpr std::string_view kPrefix = "__label__";
  LOOM_CHECK(line.substr(0, kPrefix.size()) == kPrefix, "fastText '", source, "' line ", line_no,
             ": expected the line to start with __label__<1|2>");
  size_t end = line.find_first_of(" \t", kPrefix.size());
  if (end == std::string_view::npos) end = line.size();
  const std::string_view name = line.substr(kPrefix.size(), end - kPrefix.size());
  LOOM_CHECK(name == "1" || name == "2", "fastText '", source, "' line ", line_no,
             ": unknown label '__label__", sanitize_utf8(name.substr(0, 40)),
             "' (expected __label__1 or __label__2)");
  *label = name == "2" ? 1.0f : 0.0f;
  return end < line.size() ? line.substr(end + 1) : std::string_view();
}

TextExample parse_fasttext_line(std::string_view line, const std::string& source, int64_t line_no) {
  TextExample ex;
  const std::string_view text = split_fasttext_line(line, source, line_no, &ex.label);
  ex.id = line_no;
  if (!text.empty()) ex.text = sanitize_utf8(text);
  return ex;
}

FastTextReader::FastTextReader(const std::string& path)
    : path_(path), in_(path), chunk_(size_t{1} << 16) {}

bool FastTextReader::next_line() {
  buffer_.clear();
  bool any = false;  // a last line without '\n' still counts
  for (;;) {
    if (chunk_pos_ == chunk_end_) {
      chunk_pos_ = 0;
      chunk_end_ = in_.read(chunk_.data(), chunk_.size());
      if (chunk_end_ == 0) return any;
    }
    any = true;
    const char* begin = chunk_.data() + chunk_pos_;
    const char* end = chunk_.data() + chunk_end_;
    const char* nl = std::find(begin, end, '\n');
    buffer_.append(begin, nl);
    chunk_pos_ = static_cast<size_t>(nl - chunk_.data());
    if (nl != end) {
      ++chunk_pos_;
      return true;
    }
  }
}

bool FastTextReader::next(TextExample& ex) {
  while (next_line()) {
    ++line_;
    if (!buffer_.empty() && buffer_.back() == '\r') buffer_.pop_back();
    if (buffer_.empty()) continue;
    ex = parse_fasttext_line(buffer_, path_, line_);
    return true;
  }
  return false;
}

int64_t for_each_fasttext(const std::string& path, const std::function<bool(TextExample&)>& fn) {
  FastTextReader reader(path);
  TextExample ex;
  int64_t count = 0;
  while (reader.next(ex)) {
    ++count;
    if (!fn(ex)) break;
  }
  return count;
}

}  // namespace loom::data
