// tests/fuzz/fuzz_fasttext.cpp: libFuzzer target for the fastText line parser. Each input line
// must parse (with valid UTF-8 text and a 0/1 label) or throw loom::Error.
#include <cstdint>
#include <string_view>

#include "data/fasttext.h"
#include "data/utf8.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  int64_t line_no = 0;
  while (!input.empty()) {
    size_t end = input.find('\n');
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(0, end);
    input.remove_prefix(end == input.size() ? end : end + 1);
    try {
      const auto ex = loom::data::parse_fasttext_line(line, "fuzz.ft", ++line_no);
      if (!loom::data::is_valid_utf8(ex.text)) __builtin_trap();
      if (ex.label != 0.0f && ex.label != 1.0f) __builtin_trap();
    } catch (const loom::Error&) {
    }
  }
  return 0;
}
