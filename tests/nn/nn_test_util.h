// tests/nn/nn_test_util.h: helpers shared by the nn layer tests: golden fixtures as Tensors and
// element-wise comparison with a report of the worst element.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "nn/safetensors.h"
#include "nn/serialize.h"
#include "tensor/ops.h"

namespace loom::nn::testing {

inline std::string golden_path(const std::string& file) {
  return std::string(LOOM_SOURCE_DIR) + "/tests/reference/golden/" + file + ".safetensors";
}

// The fixture file's tensors by name, as loom Tensors.
struct Golden {
  explicit Golden(const std::string& file) : contents(load_safetensors(golden_path(file))) {}
  Tensor operator[](const std::string& name) const { return record_to_tensor(contents.at(name)); }
  SafetensorsContents contents;
};

// |a - b| <= atol + rtol |b| everywhere (compared in float64), shapes equal.
inline ::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol = 1e-5,
                                            double rtol = 1e-5) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure()
           << "shapes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    const double tol = atol + rtol * std::abs(vb[i]);
    if (!(std::abs(va[i] - vb[i]) <= tol))
      return ::testing::AssertionFailure() << "element " << i << ": got " << va[i] << ", expected "
                                           << vb[i] << " (tolerance " << tol << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace loom::nn::testing
