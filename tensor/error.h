// tensor/error.h: loom's one exception type and the check macro that throws it.
//
// loom never asserts on bad input: a Release build must give the user a message, not a crash.
// LOOM_CHECK(cond, parts...) throws loom::Error whose message is the concatenation of `parts`
// (anything with operator<<), so a call site can name the op, the shapes and the argument:
//
//   LOOM_CHECK(a.dim() == 2, "matmul: expected 2-D operands, got ", shape_str(a.shape()));
//
// Internal invariants that only a loom bug can break use the same macro: a clear message
// is still better than undefined behaviour.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace loom {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <typename... Parts>
std::string concat_message(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

}  // namespace loom

#define LOOM_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) throw ::loom::Error(::loom::detail::concat_message(__VA_ARGS__)); \
  } while (0)

// Throws unconditionally; for the default branch of a switch and similar.
#define LOOM_FAIL(...) throw ::loom::Error(::loom::detail::concat_message(__VA_ARGS__))
