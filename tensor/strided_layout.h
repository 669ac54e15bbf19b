// tensor/strided_layout.h: a view's (sizes, strides, offset) as plain arrays, for the backends.
//
// Backend::compact and Backend::strided_write take a StridedLayout instead of a Tensor, so a
// backend never sees the Tensor class. strided_layout(t) makes one from a tensor's view.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

constexpr int kMaxDims = 8;  // the most dims a tensor (and so a strided copy) has

// A view into a buffer, in elements: element (i0..in-1) lives at offset + sum(ik * strides[k]).
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t offset = 0;
};

// t's view as a StridedLayout (defined in tensor/tensor.cpp).
StridedLayout strided_layout(const Tensor& t);

}  // namespace loom
