// data/utf8.cpp: UTF-8 validation and U+FFFD replacement (see utf8.h for the policy).
#include "data/utf8.h"

namespace loom::data {

namespace {
constexpr char kReplacement[] = "\xEF\xBF\xBD";

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}
}  // namespace

size_t utf8_sequence_length(std::string_view bytes, size_t i, size_t* bad_len) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  // Expected length and the allowed range of the *second* byte (the only one that differs from
  // 80..BF; it is what rules out overlong forms, surrogates and values above U+10FFFF).
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c == 0xE0) {
    len = 3, lo = 0xA0;
  } else if (c >= 0xE1 && c <= 0xEC) {
    len = 3;
  } else if (c == 0xED) {
    len = 3, hi = 0x9F;
  } else if (c >= 0xEE && c <= 0xEF) {
    len = 3;
  } else if (c == 0xF0) {
    len = 4, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    len = 4;
  } else if (c == 0xF4) {
    len = 4, hi = 0x8F;
  } else {
    *bad_len = 1;  // C0, C1, F5..FF, or a lone continuation byte
    return 0;
  }
  // Walk the continuation bytes; stop at the first one that does not fit. The bytes consumed so
  // far form the maximal invalid subpart.
  size_t k = 1;
  for (; k < len; ++k) {
    if (i + k >= n) break;
    const unsigned char b = s[i + k];
    if (k == 1 ? (b < lo || b > hi) : !is_continuation(b)) break;
  }
  if (k == len) return len;
  *bad_len = k;
  return 0;
}

bool is_valid_utf8(std::string_view bytes) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    // ASCII fast path: 8 bytes at a time.
    while (i + 8 <= n) {
      unsigned long long w = 0;
      for (int k = 0; k < 8; ++k)
        w |= static_cast<unsigned long long>(static_cast<unsigned char>(bytes[i + k])) << (8 * k);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    size_t bad = 0;
    const size_t len = utf8_sequence_length(bytes, i, &bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  if (is_valid_utf8(bytes)) return std::string(bytes);
  out.reserve(bytes.size() + 16);
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = 0;
    const size_t len = utf8_sequence_length(bytes, i, &bad);
    if (len == 0) {
      out.append(kReplacement, 3);
      i += bad;
    } else {
      out.append(bytes.data() + i, len);
      i += len;
    }
  }
  return out;
}

void sanitize_utf8_inplace(std::string& text) {
  if (is_valid_utf8(text)) return;
  text = sanitize_utf8(text);
}

}  // namespace loom::data
