// data/utf8.h: make arbitrary bytes valid UTF-8 before any text processing.
//
// Review files come from the wild: Latin-1 leftovers, truncated multi-byte characters, stray NUL
// bytes. Every later step (cleaning, tokenizing, the vocabulary file) assumes valid UTF-8, so the
// readers' text goes through sanitize_utf8 first. Policy (the same as Python's
// bytes.decode("utf-8", errors="replace"), so the Python reference sees identical text):
//   - each *maximal invalid subpart* (Unicode 15, section 3.9) becomes one U+FFFD (EF BF BD);
//   - overlong forms, surrogates (ED A0..BF) and code points above U+10FFFF are invalid;
//   - NUL bytes are valid UTF-8 and are kept here; the text cleaner turns them into spaces.
// Left out: normalization (NFC/NFKC) and Unicode case folding.
#pragma once

#include <string>
#include <string_view>

namespace loom::data {

// True when `bytes` is well-formed UTF-8.
bool is_valid_utf8(std::string_view bytes);

// Returns `bytes` with every maximal invalid subpart replaced by U+FFFD. Valid input is returned
// unchanged (one copy, no per-byte work beyond validation).
std::string sanitize_utf8(std::string_view bytes);

// In-place version for the hot path: leaves `text` untouched when it is already valid.
void sanitize_utf8_inplace(std::string& text);

// Length in bytes of the valid UTF-8 sequence starting at bytes[i], or 0 when it is invalid
// (the caller then replaces the maximal invalid subpart, whose length is returned in *bad_len).
size_t utf8_sequence_length(std::string_view bytes, size_t i, size_t* bad_len);

}  // namespace loom::data
