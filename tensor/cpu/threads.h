// tensor/cpu/threads.h: how many threads the CPU backend's kernels use (OpenMP), and how they
// split rows.
//
// GEMMs split their output rows over threads (tensor/cpu/matmul.cpp) and the LSTM recurrence its
// batch rows (tensor/cpu/lstm.cpp); elementwise kernels and reductions are single-threaded. Every
// split follows the two rules below, so a result never depends on the thread count: each output
// element is computed by one thread, in the same order as with one thread.
#pragma once

#include <cstdint>
#include <exception>

namespace loom {

// n >= 1, for this process. Default: OMP_NUM_THREADS, else the cores.
void set_num_threads(int n);
int get_num_threads();

namespace cpu {

// Slices (threads) for `rows` independent rows and `work` multiply-adds in all: at least ~1M
// multiply-adds per thread, or starting a thread costs more than it saves; 1 inside a parallel
// region (even a one-thread one), so slices never nest.
int row_slices(int64_t rows, int64_t work);

// The first row of slice s of `slices` over `rows` rows (slice_begin(rows, slices, slices) ==
// rows): the multiple of `align` nearest to s rows / slices. Boundaries fall on multiples of
// kSliceAlign rows by default: Eigen's GEMM computes rows in groups
// (the micro-kernel's register block) and a group cut short at a slice's end takes a different
// code path, which can round differently; aligned, every row is computed the same way however
// the rows are split. A caller whose rows go through loom's own GEMM passes that kernel's tile
// height instead (tensor/cpu/lstm.cpp): it computes a row the same in any tile.
constexpr int64_t kSliceAlign = 16;
int64_t slice_begin(int64_t rows, int s, int slices, int64_t align = kSliceAlign);

// Calls body(first_row, row_count) for each non-empty slice of `rows`, each slice on its own
// thread: the one loop every row split in the CPU backend goes through.
// Whether a one-slice call may run its body without a parallel region and leave every nested
// call's slicing unchanged: true inside a region already, or with one thread in all (row_slices
// then gives nested calls one slice either way).
bool one_slice_runs_inline();

// A call that gets one slice skips its parallel region when one_slice_runs_inline(): entering a
// region costs about a microsecond, which a GEMV-sized call (an LSTM step at batch 1) would
// otherwise pay every time.
template <typename Body>
void for_each_row_slice(int64_t rows, int64_t work, const Body& body, int64_t align = kSliceAlign) {
  const int slices = row_slices(rows, work);
  if (slices == 1 && one_slice_runs_inline()) {
    if (rows > 0) body(int64_t{0}, rows);
    return;
  }
  // An exception must not leave an OpenMP region (that ends the program with no message): the
  // first one thrown is kept and rethrown here, after every slice has stopped.
  std::exception_ptr error;
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int s = 0; s < slices; ++s) {
    const int64_t first = slice_begin(rows, s, slices, align);
    const int64_t count = slice_begin(rows, s + 1, slices, align) - first;
    try {
      if (count > 0) body(first, count);
    } catch (...) {
#pragma omp critical(loom_row_slice_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace cpu
}  // namespace loom
