// tests/fuzz/fuzz_tokenizer.cpp: libFuzzer target for UTF-8 sanitizing and the text pipeline.
// The first byte picks the options; the rest is the text. Checked on every input: the cleaned
// form is valid UTF-8, has single spaces and no edge spaces, and cleaning it again changes nothing.
#include <cstdint>
#include <string>
#include <string_view>

#include "data/text_pipeline.h"
#include "data/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!loom::data::is_valid_utf8(loom::data::sanitize_utf8(text))) __builtin_trap();

  loom::data::TextOptions o;
  o.strip_html = flags & 1;
  o.remove_digits = flags & 2;
  o.remove_symbols = flags & 4;
  o.lowercase = flags & 8;
  o.remove_stopwords = flags & 16;
  static const loom::data::TextPipeline* pipelines[32] = {};
  const loom::data::TextPipeline*& p = pipelines[flags & 31];
  if (p == nullptr) p = new loom::data::TextPipeline(o);  // built once per option set

  const std::string once = p->clean(text);
  if (!loom::data::is_valid_utf8(once)) __builtin_trap();
  if (once.find("  ") != std::string::npos) __builtin_trap();
  if (!once.empty() && (once.front() == ' ' || once.back() == ' ')) __builtin_trap();
  // Idempotence: a '<' survives only when no '>' follows it, so a second pass strips nothing.
  if (p->clean(once) != once) __builtin_trap();
  return 0;
}
