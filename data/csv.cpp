// data/csv.cpp: the RFC 4180 state machine and the IMDB/series CSV readers (see csv.h).
#include "data/csv.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "data/byte_stream.h"
#include "data/utf8.h"
#include "tensor/error.h"

namespace loom::data {

CsvParser::CsvParser(std::string_view data, std::string source, char delimiter)
    : data_(data), source_(std::move(source)), delimiter_(delimiter) {
  if (data_.size() >= 3 && data_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // BOM
}

void CsvParser::fail(int64_t line, const std::string& what) const {
  LOOM_FAIL("CSV '", source_, "' line ", line, ": ", what);
}

bool CsvParser::next(std::vector<std::string>& fields, int64_t* line) {
  const size_t n = data_.size();
  if (pos_ >= n) return false;
  if (line) *line = line_;
  size_t count = 0;
  for (;;) {  // one field per iteration
    if (count == fields.size()) fields.emplace_back();
    std::string& field = fields[count++];
    field.clear();
    if (pos_ < n && data_[pos_] == '"') {
      const int64_t start_line = line_;
      ++pos_;
      for (;;) {
        const void* q = std::memchr(data_.data() + pos_, '"', n - pos_);
        if (q == nullptr) fail(start_line, "unclosed quote (the quoted field starts on this line)");
        const size_t qpos = static_cast<size_t>(static_cast<const char*>(q) - data_.data());
        const std::string_view chunk = data_.substr(pos_, qpos - pos_);
        for (char c : chunk)
          line_ += c == '\n';
        field.append(chunk);
        pos_ = qpos + 1;
        if (pos_ < n && data_[pos_] == '"') {  // "" is an escaped quote
          field.push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      // After the closing quote: a delimiter, a line end, or the end of the data.
      if (pos_ < n && data_[pos_] != delimiter_ && data_[pos_] != '\n' &&
          !(data_[pos_] == '\r' && pos_ + 1 < n && data_[pos_ + 1] == '\n') &&
          !(data_[pos_] == '\r' && pos_ + 1 == n)) {
        fail(line_, std::string("unexpected character '") + data_[pos_] +
                        "' after a closing quote (expected a delimiter or a line end)");
      }
      if (pos_ < n && data_[pos_] == '\r') ++pos_;
    } else {
      size_t end = pos_;
      while (end < n && data_[end] != delimiter_ && data_[end] != '\n')
        ++end;
      size_t stop = end;
      if (stop > pos_ && data_[stop - 1] == '\r' && (stop == n || data_[stop] == '\n')) --stop;
      field.assign(data_.data() + pos_, stop - pos_);
      pos_ = end;
    }
    if (pos_ < n && data_[pos_] == delimiter_) {
      ++pos_;
      if (pos_ == n) {  // a trailing delimiter: one more, empty field
        if (count == fields.size()) fields.emplace_back();
        fields[count++].clear();
        break;
      }
      continue;
    }
    if (pos_ < n && data_[pos_] == '\n') {
      ++pos_;
      ++line_;
    }
    break;
  }
  fields.resize(count);
  return true;
}

std::string read_text_file(const std::string& path, const char* op) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  LOOM_CHECK(f != nullptr, op, ": cannot open '", path, "': ", std::strerror(errno));
  f.reset();
  // Decompressed on the way in when the file is .bz2 or .gz (byte_stream.h).
  ByteStream in(path);
  std::string data;
  char buf[1 << 16];
  while (size_t got = in.read(buf, sizeof buf))
    data.append(buf, got);
  return data;
}

namespace {
bool is_blank_record(const std::vector<std::string>& fields) {
  return fields.size() == 1 && fields[0].empty();
}

int64_t find_column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int64_t>(i);
  return -1;
}
}  // namespace

std::vector<TextExample> parse_imdb_csv(std::string_view data, const std::string& source) {
  CsvParser parser(data, source);
  std::vector<std::string> header, fields;
  int64_t line = 0;
  LOOM_CHECK(parser.next(header, &line), "read_imdb_csv: '", source, "' is empty");
  const int64_t review = find_column(header, "review");
  const int64_t sentiment = find_column(header, "sentiment");
  LOOM_CHECK(review >= 0 && sentiment >= 0, "read_imdb_csv: '", source,
             "' line 1: the header needs columns 'review' and 'sentiment'");
  std::vector<TextExample> out;
  while (parser.next(fields, &line)) {
    if (is_blank_record(fields)) continue;
    LOOM_CHECK(fields.size() == header.size(), "read_imdb_csv: '", source, "' line ", line,
               ": expected ", header.size(), " fields, got ", fields.size());
    const std::string& s = fields[static_cast<size_t>(sentiment)];
    LOOM_CHECK(s == "positive" || s == "negative", "read_imdb_csv: '", source, "' line ", line,
               ": unknown sentiment '", sanitize_utf8(s.substr(0, 40)),
               "' (expected positive or negative)");
    TextExample ex;
    ex.text = std::move(fields[static_cast<size_t>(review)]);
    sanitize_utf8_inplace(ex.text);
    ex.label = s == "positive" ? 1.0f : 0.0f;
    ex.id = line;
    out.push_back(std::move(ex));
  }
  return out;
}

std::vector<TextExample> read_imdb_csv(const std::string& path) {
  const std::string data = read_text_file(path, "read_imdb_csv");
  return parse_imdb_csv(data, path);
}

std::vector<SeriesRow> parse_series_csv(std::string_view data, const std::string& source,
                                        const std::string& value_column) {
  CsvParser parser(data, source);
  std::vector<std::string> header, fields;
  int64_t line = 0;
  LOOM_CHECK(parser.next(header, &line), "read_series_csv: '", source, "' is empty");
  LOOM_CHECK(header.size() >= 2, "read_series_csv: '", source,
             "' line 1: need at least two columns (date,value), got ", header.size());
  const int64_t col = value_column.empty() ? 1 : find_column(header, value_column);
  LOOM_CHECK(col >= 0, "read_series_csv: '", source, "' line 1: no column named '", value_column,
             "'");
  std::vector<SeriesRow> out;
  while (parser.next(fields, &line)) {
    if (is_blank_record(fields)) continue;
    LOOM_CHECK(fields.size() == header.size(), "read_series_csv: '", source, "' line ", line,
               ": expected ", header.size(), " fields, got ", fields.size());
    const std::string& v = fields[static_cast<size_t>(col)];
    char* end = nullptr;
    const double value = std::strtod(v.c_str(), &end);
    while (end && (*end == ' ' || *end == '\t'))
      ++end;
    LOOM_CHECK(!v.empty() && end == v.c_str() + v.size() && std::isfinite(value),
               "read_series_csv: '", source, "' line ", line, ": '", sanitize_utf8(v.substr(0, 40)),
               "' is not a finite number");
    out.push_back({fields[0], value});
  }
  LOOM_CHECK(!out.empty(), "read_series_csv: '", source, "' has a header but no rows");
  return out;
}

std::vector<SeriesRow> read_series_csv(const std::string& path, const std::string& value_column) {
  const std::string data = read_text_file(path, "read_series_csv");
  return parse_series_csv(data, path, value_column);
}

}  // namespace loom::data
