// tests/common/error_of.h: the message of the loom::Error a piece of code throws.
//
// Tests of bad input check that the message names the op, the shapes, the file or the tensor:
//
//   EXPECT_NE(error_of([] { add(zeros({2, 3}), zeros({4})); }).find("add"), std::string::npos);
//
// If nothing is thrown the test fails here, so a missing check cannot pass silently.
// To assert that code does NOT throw, use EXPECT_NO_THROW.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tensor/error.h"

namespace loom::test {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a loom::Error";
  return std::string();
}

}  // namespace loom::test
