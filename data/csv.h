// data/csv.h: an RFC 4180 CSV parser and the two CSV datasets loom reads.
//
// CsvParser walks an in-memory buffer record by record: fields separated by ',', records by
// "\n" or "\r\n"; a field in double quotes may hold commas, newlines and "" (an escaped quote).
// Errors name the source and the 1-based line: an unclosed quote (the line where the field
// starts), or a character after a closing quote other than a delimiter or line end.
// A quote inside an unquoted field is kept as data (lenient, as most writers expect).
// A leading UTF-8 byte-order mark is skipped.
//
// Datasets on top of it:
//   read_imdb_csv    Kaggle's "IMDB Dataset.csv": header with columns review,sentiment (any
//                    order, more columns allowed); sentiment is positive or negative, anything else
//                    throws naming file, line and value. Empty reviews are kept.
//   read_series_csv  a numeric series (date,value), e.g. airline-passengers.csv (month,passengers).
// Left out: other delimiters in the dataset readers, type inference, streaming a CSV larger than
// memory (the Kaggle file is 63 MB; fastText is the streamed format, see fasttext.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/example.h"

namespace loom::data {

class CsvParser {
 public:
  // `data` must outlive the parser; `source` names it in errors (a file path).
  CsvParser(std::string_view data, std::string source, char delimiter = ',');

  // Reads the next record into `fields` (resized; strings reused). Returns false at the end.
  // *line receives the 1-based line where the record starts. A blank line is a record with one
  // empty field.
  bool next(std::vector<std::string>& fields, int64_t* line = nullptr);

 private:
  [[noreturn]] void fail(int64_t line, const std::string& what) const;
  std::string_view data_;
  std::string source_;
  char delimiter_;
  size_t pos_ = 0;
  int64_t line_ = 1;  // line of data_[pos_]
};

// Reads a whole file into memory, decompressed when it is .bz2 or .gz (byte_stream.h); throws
// naming the file when it is missing, unreadable or corrupt.
std::string read_text_file(const std::string& path, const char* op);

// Kaggle IMDB CSV, from a file or from memory (`source` names it in errors).
std::vector<TextExample> read_imdb_csv(const std::string& path);
std::vector<TextExample> parse_imdb_csv(std::string_view data, const std::string& source);

struct SeriesRow {
  std::string date;  // first column, kept as text (e.g. "1949-01")
  double value = 0;  // the value column
};

// A header row, then one row per time step. `value_column` names the value column; empty means
// the second column. Values must parse completely as finite numbers; errors name file and line.
std::vector<SeriesRow> read_series_csv(const std::string& path,
                                       const std::string& value_column = "");
std::vector<SeriesRow> parse_series_csv(std::string_view data, const std::string& source,
                                        const std::string& value_column = "");

}  // namespace loom::data
