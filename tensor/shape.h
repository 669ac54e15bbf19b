// tensor/shape.h: shapes and strides as plain vectors, and the broadcasting rule.
//
// A Shape lists the size of each dimension, outermost first (row-major). Strides are in
// elements, not bytes. This file knows nothing about storage or dtypes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loom {

using Shape = std::vector<int64_t>;

// Product of the sizes; 1 for a 0-d shape [].
int64_t numel(const Shape& shape);
// Row-major strides for a dense tensor of `shape`, e.g. [2, 3, 4] -> [12, 4, 1].
Shape contiguous_strides(const Shape& shape);
// NumPy broadcasting: align on the right, sizes must match or be 1.
// Throws loom::Error "<op_name>: shapes [2, 3] and [4] cannot be broadcast (dim -1: 3 vs 4)".
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op_name);
// "[2, 3]"; "[]" for a 0-d shape.
std::string shape_str(const Shape& shape);
// Maps a possibly negative dim into [0, ndim); throws naming `op_name` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const std::string& op_name);

}  // namespace loom
