// tests/fuzz/fuzz_csv.cpp: libFuzzer target for the RFC 4180 parser and the two CSV readers.
// Any input must either parse or throw loom::Error: no crash, no hang, no sanitizer report.
// Build and run with tests/fuzz/run_fuzz.sh.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/csv.h"
#include "data/utf8.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    loom::data::CsvParser parser(input, "fuzz.csv");
    std::vector<std::string> fields;
    int64_t line = 0, last_line = 0;
    while (parser.next(fields, &line)) {
      if (line < last_line || fields.empty()) __builtin_trap();  // lines only move forward
      last_line = line;
    }
  } catch (const loom::Error&) {
  }
  try {
    for (const auto& ex : loom::data::parse_imdb_csv(input, "fuzz.csv"))
      if (!loom::data::is_valid_utf8(ex.text)) __builtin_trap();
  } catch (const loom::Error&) {
  }
  try {
    loom::data::parse_series_csv(input, "fuzz.csv");
  } catch (const loom::Error&) {
  }
  return 0;
}
