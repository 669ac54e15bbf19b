// data/fasttext.h: the fastText classification format, streamed one line at a time.
//
// One example per line: "__label__<L> <text>", as the Amazon reviews polarity dataset ships it
// (__label__1 = negative -> 0, __label__2 = positive -> 1). Files have millions of lines, so
// they are never loaded whole: FastTextReader reads line by line (a std::string buffer reused),
// decompressing .bz2 and .gz files as it goes (byte_stream.h), and for_each_fasttext wraps it in
// a callback. fasttext_stream.h reads a whole corpus faster, on several threads. Lines ending in
// "\r\n" are handled; blank lines are skipped; a line without a "__label__" prefix or with another
// label throws naming the file, line and label. The text may be empty; invalid UTF-8 is replaced
// (utf8.h); NUL bytes are kept for the cleaner (which turns them into spaces). Left out:
// multi-label lines ("__label__a __label__b text"), custom label maps.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/byte_stream.h"
#include "data/example.h"

namespace loom::data {

// The label (0 or 1) and the text of one line (without its '\n'), the text a view into `line`
// (bytes as they are; no UTF-8 check). Throws naming `source` and `line_no` like the parser.
std::string_view split_fasttext_line(std::string_view line, const std::string& source,
                                     int64_t line_no, float* label);

// Parses one line (without its '\n'); `source` and `line` name it in errors.
TextExample parse_fasttext_line(std::string_view line, const std::string& source, int64_t line_no);

class FastTextReader {
 public:
  explicit FastTextReader(const std::string& path);  // throws when the file cannot be opened

  // Reads the next example; false at the end of the file. ex.id is the 1-based line number.
  bool next(TextExample& ex);

  int64_t line() const { return line_; }

 private:
  bool next_line();  // the next line (without '\n') into buffer_; false at the end

  std::string path_;
  ByteStream in_;
  std::vector<char> chunk_;  // decompressed bytes [chunk_pos_, chunk_end_) not split yet
  size_t chunk_pos_ = 0, chunk_end_ = 0;
  std::string buffer_;
  int64_t line_ = 0;
};

// Calls fn(example) for each example in order; stops early when fn returns false.
// Returns the number of examples passed to fn.
int64_t for_each_fasttext(const std::string& path, const std::function<bool(TextExample&)>& fn);

}  // namespace loom::data
