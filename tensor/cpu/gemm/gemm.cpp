// tensor/cpu/gemm/gemm.cpp: the GEMM driver: the checks, and the loops of the BLIS/GotoBLAS
// algorithm around the micro-kernel, with OpenMP threads over units of work.
//
// One implementation for the three element types (templates on TA, TB, TC):
//   for each block of nc columns:
//     for each block of kc values of k:   the team packs the B block once (L2-sized, shared)
//       for each A micro-panel (mr rows): a thread packs it; it stays in L1 ...
//         for each B micro-panel (nr):    ... while these stream from L2 (blocking.h)
//           micro-kernel: an mr x nr tile of C, updated once per k block
// The first k block applies beta; later ones add (beta = 1). A tile cut short by C's edge runs
// the same kernel, told its rows and columns (CTile), so it rounds exactly like a full one.
#include "tensor/cpu/gemm/gemm.h"

#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/cpu/gemm/blocking.h"
#include "tensor/cpu/gemm/kernels.h"
#include "tensor/cpu/gemm/microkernel_reference.h"
#include "tensor/cpu/gemm/pack.h"
#include "tensor/cpu/gemm/tasks.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom::cpu::gemm {
namespace {

// One product: op(A) m x k, op(B) k x n, C m x n.
template <typename TA, typename TB, typename TC>
struct Product {
  MatrixView<TA> a;
  MatrixView<TB> b;
  TC* c;
  int64_t ldc, m, n, k;
  TC alpha, beta;
};

// This thread's packing space for buffer `which` (0: A, 1: B): reused across calls, grown when
// too small, 64-byte aligned so that packed rows start on cache lines.
template <typename T>
T* scratch(int which, int64_t elements) {
  thread_local std::vector<unsigned char> space[2];
  std::vector<unsigned char>& s = space[which];
  const std::size_t bytes = static_cast<std::size_t>(elements) * sizeof(T) + 64;
  if (s.size() < bytes) s.resize(bytes);
  const auto address = reinterpret_cast<std::uintptr_t>(s.data());
  return reinterpret_cast<T*>((address + 63) / 64 * 64);
}

// The two loops a team shares: body(i) for i in [0, n). Every thread of the team calls this; `omp
// for` splits the iterations and its end waits for the whole team. `dynamic` hands them out one
// at a time (any schedule gives the same bits, since a unit's result does not depend on who runs
// it; dynamic keeps both cores busy when another process takes one of them). `alone`: one thread
// runs the product with no team of its own (a small product, or a caller that is itself one
// thread of a parallel region, like an LSTM's per-thread time loop): a plain loop, no OpenMP
// construct at all, since an orphaned `omp for` would bind to the caller's team, whose other
// threads never reach it. (A nested one-thread region would be correct too, but costs ~2.5 us per
// call here, which an LSTM step's GEMM pays 100 times a sequence.)
template <typename Body>
void team_for(bool alone, bool dynamic, int64_t n, const Body& body) {
  if (alone) {
    for (int64_t i = 0; i < n; ++i)
      body(i);
  } else if (dynamic) {
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; ++i)
      body(i);
  } else {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i)
      body(i);
  }
}

// One block of the product: columns [col0, col0 + cols) x k values [k0, k0 + depth). Called by
// every thread of the team (or by one thread, `alone`): the threads pack the block's B panels
// into the shared `packed_b`, wait, then take units (an A micro-panel times a run of B
// micro-panels) until none is left. `prepacked`, when not null, holds the block's panels already
// (pack_b_bf16, pack_b_u8s8): no packing.
template <typename TA, typename TB, typename TC>
void run_block(const Product<TA, TB, TC>& p, const MicroKernel<TA, TB, TC>& kernel, int64_t col0,
               int64_t cols, int64_t k0, int64_t depth, int64_t runs, TB* packed_b,
               const TB* prepacked, bool alone) {
  constexpr int G = kGroup<TA>;
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t groups = (depth + G - 1) / G;
  const int64_t row_panels = (p.m + mr - 1) / mr, col_panels = (cols + nr - 1) / nr;
  const int64_t b_panel_size = nr * groups * G;
  if (prepacked != nullptr) {
    packed_b = const_cast<TB*>(prepacked);  // read only below
  } else {
    team_for(alone, /*dynamic=*/false, col_panels, [&](int64_t jp) {
      const int64_t j = jp * nr;
      kernel.pack_b(p.b, col0 + j, std::min<int64_t>(nr, cols - j), k0, depth,
                    packed_b + jp * b_panel_size);
    });  // (the end of an omp for waits for every thread: the block is packed)
  }
  TA* packed_a = scratch<TA>(0, mr * groups * G);
  const TC beta = k0 == 0 ? p.beta : TC(1);  // later k blocks add to what the first wrote
  // Whole panels of an A whose k values are adjacent go to the kernel unpacked, if it can read
  // them so (microkernel.h): its rows are reread from L1 just as a packed panel would be.
  const bool a_readable = kernel.run_a_in_place != nullptr && p.a.col_stride == 1 && depth % G == 0;
  team_for(alone, /*dynamic=*/true, row_panels * runs, [&](int64_t unit) {
    const int64_t i = unit / runs * mr, run = unit % runs;
    const int64_t rows = std::min<int64_t>(mr, p.m - i);
    const bool in_place = a_readable && rows == mr;
    if (!in_place) kernel.pack_a(p.a, i, rows, k0, depth, packed_a);  // stays in L1 below
    for (int64_t jp = run_begin(run, runs, col_panels); jp < run_begin(run + 1, runs, col_panels);
         ++jp) {
      const int64_t j = jp * nr;
      const CTile<TC> tile{p.c + i * p.ldc + col0 + j,
                           p.ldc,
                           static_cast<int>(rows),
                           static_cast<int>(std::min<int64_t>(nr, cols - j)),
                           p.alpha,
                           beta};
      if (in_place)
        kernel.run_a_in_place(groups, p.a.at(i, k0), p.a.row_stride, packed_b + jp * b_panel_size,
                              tile);
      else
        kernel.run(groups, packed_a, packed_b + jp * b_panel_size, tile);
    }
  });  // (and waits again: packed_b is rewritten by the next block)
}

// k == 0: op(A) op(B) is the zero matrix, so C = beta C (0 when beta == 0, C unread).
template <typename TA, typename TB, typename TC>
void scale_c(const Product<TA, TB, TC>& p) {
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      TC* out = p.c + i * p.ldc + j;
      *out = update_element(TC(0), p.alpha, p.beta, out);
    }
}

// The blocks of a product, in the driver's order: body(col0, cols, k0, depth).
template <typename T, typename Body>
void for_each_block(int64_t n, int64_t k, const Body& body) {
  const int64_t kc = k_block_depth(k, kKc<T>, kGroup<T>);
  const int64_t nc = std::min<int64_t>(n, kNc);
  for (int64_t col0 = 0; col0 < n; col0 += nc)
    for (int64_t k0 = 0; k0 < k; k0 += kc)
      body(col0, std::min(nc, n - col0), k0, std::min(kc, k - k0));
}

// Every block of the product, in order, on `threads` threads sharing each block (the team), or
// on this thread alone (threads == 1).
template <typename TA, typename TB, typename TC>
void run_blocks(const Product<TA, TB, TC>& p, const MicroKernel<TA, TB, TC>& kernel,
                const TB* prepacked, int threads, int64_t runs) {
  const int64_t kc = k_block_depth(p.k, kKc<TA>, kGroup<TA>);
  const int64_t nc = std::min<int64_t>(p.n, kNc);
  TB* packed_b = prepacked != nullptr ? nullptr  // this thread's, shared by its team
                                      : scratch<TB>(1, packed_size<TB>(nc, kc, kernel.nr));
  const bool alone = threads == 1;
  auto team = [&] {      // what every thread of the team runs
    int64_t offset = 0;  // of the block's panels in `prepacked`
    for_each_block<TB>(p.n, p.k, [&](int64_t col0, int64_t cols, int64_t k0, int64_t depth) {
      run_block(p, kernel, col0, cols, k0, depth, runs, packed_b,
                prepacked != nullptr ? prepacked + offset : nullptr, alone);
      offset += packed_size<TB>(cols, depth, kernel.nr);
    });
  };
  if (alone) {
    team();
    return;
  }
#pragma omp parallel num_threads(threads)
  team();
}

// Rows [r0, r1) of the product: op(A)'s and C's, the same B.
template <typename TA, typename TB, typename TC>
Product<TA, TB, TC> rows_of(const Product<TA, TB, TC>& p, int64_t r0, int64_t r1) {
  Product<TA, TB, TC> part = p;
  part.a.data = p.a.at(r0, 0);
  part.c = p.c + r0 * p.ldc;
  part.m = r1 - r0;
  return part;
}

// How threads share a product. One thread (under kMinThreadWork multiply-adds a thread, and
// always inside a parallel region, where row_slices gives one): no region, which saves its cost on
// small products and on every step of an LSTM's per-thread loop. B small beside A (n <= m / 4:
// weights times a long batch of rows, or an LSTM's weight gradient [4H, T*B] x [T*B, H]): every
// thread takes its own rows of C and runs them alone, packing B for itself; no thread ever waits
// for another, where sharing each block costs two barriers per block (40 for k = 10,000, each a
// sleep and a wake-up of a waiting thread), and packing B twice costs little next to packing A.
// Otherwise the team shares each block. Every element is computed the same way in all three (the
// tile contract of microkernel.h).
template <typename TA, typename TB, typename TC>
void run_product(const Product<TA, TB, TC>& p, const MicroKernel<TA, TB, TC>& kernel,
                 const TB* prepacked = nullptr) {
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) return scale_c(p);
  const int64_t nc = std::min<int64_t>(p.n, kNc);
  const int64_t row_panels = (p.m + kernel.mr - 1) / kernel.mr;
  const int64_t work = p.m * p.n * p.k;
  const int64_t runs = column_runs(row_panels, (nc + kernel.nr - 1) / kernel.nr, work);
  const int threads = static_cast<int>(std::min<int64_t>(
      row_slices(row_panels * runs, work), std::max<int64_t>(1, work / kMinThreadWork)));
  if (threads > 1 && 4 * p.n <= p.m && row_panels >= 2 * threads) {
    // Not threads.h's for_each_row_slice: its slices start on multiples of 16 rows (Eigen's
    // rule) and its count ignores kMinThreadWork; these start on micro-panels (no extra ragged
    // tile) and number `threads`.
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), n_threads = omp_get_num_threads();
      const int64_t first = row_panels * t / n_threads * kernel.mr;
      const int64_t last = std::min(p.m, row_panels * (t + 1) / n_threads * kernel.mr);
      if (last > first) run_blocks(rows_of(p, first, last), kernel, prepacked, 1, 1);
    }
    return;
  }
  // Alone, one run of columns: more would only pack each A panel again.
  run_blocks(p, kernel, prepacked, threads, threads == 1 ? 1 : runs);
}

void check_args(const MatmulArgs& p, const char* fn) {
  LOOM_CHECK(p.batch >= 0 && p.m >= 0 && p.n >= 0 && p.k >= 0, fn,
             ": expected batch, m, n, k >= 0, got ", p.batch, ", ", p.m, ", ", p.n, ", ", p.k);
  const int64_t a_cols = p.trans_a ? p.m : p.k, b_cols = p.trans_b ? p.k : p.n;
  LOOM_CHECK(p.lda >= std::max<int64_t>(1, a_cols), fn, ": lda = ", p.lda, " is less than A's ",
             a_cols, " stored columns", p.trans_a ? " (A transposed)" : "");
  LOOM_CHECK(p.ldb >= std::max<int64_t>(1, b_cols), fn, ": ldb = ", p.ldb, " is less than B's ",
             b_cols, " stored columns", p.trans_b ? " (B transposed)" : "");
  LOOM_CHECK(p.ldc >= std::max<int64_t>(1, p.n), fn, ": ldc = ", p.ldc, " is less than n = ", p.n);
}

// The product `args` describes on A, B and C (B may be null when its panels are packed).
template <typename TA, typename TB, typename TC>
Product<TA, TB, TC> product_of(const TA* a, const TB* b, TC* c, const MatmulArgs& args, TC alpha,
                               TC beta) {
  Product<TA, TB, TC> p;
  // op(A)(r, kk) is A[r, kk] or, transposed, A[kk, r]; op(B)(kk, j) likewise.
  p.a = args.trans_a ? MatrixView<TA>{a, 1, args.lda} : MatrixView<TA>{a, args.lda, 1};
  p.b = args.trans_b ? MatrixView<TB>{b, 1, args.ldb} : MatrixView<TB>{b, args.ldb, 1};
  p.c = c;
  p.ldc = args.ldc;
  p.m = args.m;
  p.n = args.n;
  p.k = args.k;
  p.alpha = alpha;
  p.beta = beta;
  return p;
}

int32_t integer_scalar(double x, const char* fn, const char* name) {
  LOOM_CHECK(std::trunc(x) == x && x >= std::numeric_limits<int32_t>::min() &&
                 x <= std::numeric_limits<int32_t>::max(),
             fn, ": ", name, " must be an integer in int32's range, got ", x);
  return static_cast<int32_t>(x);
}

// Packs op(B) for `kernel`: every block's panels, one block after the other in the driver's
// order (for_each_block), so that run_product finds block b's panels at the running offset.
template <typename TA, typename TB, typename TC>
void pack_b_once(const MicroKernel<TA, TB, TC>& kernel, const TB* b, const MatmulArgs& args,
                 PackedB<TB>& out, const char* fn) {
  LOOM_CHECK(args.k >= 0 && args.n >= 0, fn, ": expected k, n >= 0, got ", args.k, ", ", args.n);
  LOOM_CHECK(args.ldb >= std::max<int64_t>(1, args.trans_b ? args.k : args.n), fn,
             ": ldb = ", args.ldb, " is less than B's stored columns");
  const MatrixView<TB> view =
      args.trans_b ? MatrixView<TB>{b, 1, args.ldb} : MatrixView<TB>{b, args.ldb, 1};
  int64_t total = 0;
  for_each_block<TB>(args.n, args.k, [&](int64_t, int64_t cols, int64_t, int64_t depth) {
    total += packed_size<TB>(cols, depth, kernel.nr);
  });
  out.k = args.k;
  out.n = args.n;
  out.kernel = &kernel;
  out.panels.resize(static_cast<std::size_t>(total));
  int64_t offset = 0;
  for_each_block<TB>(args.n, args.k, [&](int64_t col0, int64_t cols, int64_t k0, int64_t depth) {
    const int64_t panel = packed_size<TB>(kernel.nr, depth, kernel.nr);
    for (int64_t j = 0; j < cols; j += kernel.nr)
      kernel.pack_b(view, col0 + j, std::min<int64_t>(kernel.nr, cols - j), k0, depth,
                    out.panels.data() + offset + j / kernel.nr * panel);
    offset += packed_size<TB>(cols, depth, kernel.nr);
  });
}

// Runs each of the batch's products with `kernel`. One B for the whole batch (stride_b 0: an
// LSTM's input gradient for a batch-first x multiplies each step's rows by W_ih) is packed once,
// not once a product. When one product is too small for every thread (under kMinThreadWork
// multiply-adds each: that gradient is T products of B x 4H x in), one after another would leave
// the other threads idle; then each thread takes whole products instead, and each product runs
// alone on its thread (run_product inside a parallel region), which gives it the bits it gets
// anywhere else, as does the prepacked B.
template <typename TA, typename TB, typename TC>
void gemm_batch(const TA* a, const TB* b, TC* c, const MatmulArgs& p,
                const MicroKernel<TA, TB, TC>& kernel, TC alpha, TC beta, const char* fn) {
  PackedB<TB> shared_b;
  const bool pack_once = p.batch > 1 && p.stride_b == 0 && p.m > 0;
  if (pack_once) pack_b_once(kernel, b, p, shared_b, fn);
  auto product = [&](int64_t i) {
    run_product(
        product_of(a + i * p.stride_a, b + i * p.stride_b, c + i * p.stride_c, p, alpha, beta),
        kernel, pack_once ? shared_b.panels.data() : nullptr);
  };
  const int64_t work = p.m * p.n * p.k;
  const int threads = row_slices(p.batch, p.batch * work);
  if (threads > 1 && work / kMinThreadWork < threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < p.batch; ++i)
      product(i);
    return;
  }
  for (int64_t i = 0; i < p.batch; ++i)
    product(i);
}

// C = alpha op(A) B + beta C with B from pack_b_once.
template <typename TA, typename TB, typename TC>
void gemm_prepacked(const MicroKernel<TA, TB, TC>& kernel, const TA* a, const PackedB<TB>& b, TC* c,
                    const MatmulArgs& args, TC alpha, TC beta, const char* fn) {
  LOOM_CHECK(b.kernel != nullptr, fn, ": B was never packed (pack it first)");
  LOOM_CHECK(b.kernel == &kernel, fn, ": B was packed for another kernel (",
             static_cast<const MicroKernel<TA, TB, TC>*>(b.kernel)->name, ", now ", kernel.name,
             ")");
  LOOM_CHECK(args.batch == 1 && args.k == b.k && args.n == b.n, fn, ": k x n = ", args.k, " x ",
             args.n, " (batch ", args.batch, ") but B was packed as ", b.k, " x ", b.n);
  MatmulArgs checked = args;
  checked.trans_b = false;
  checked.ldb = std::max<int64_t>(1, args.n);
  check_args(checked, fn);
  // B's view is never read: its panels are packed.
  run_product(product_of<TA, TB, TC>(a, nullptr, c, checked, alpha, beta), kernel, b.panels.data());
}

}  // namespace

void gemm_f32(const float* a, const float* b, float* c, const MatmulArgs& args) {
  check_args(args, "gemm_f32");
  gemm_batch(a, b, c, args, f32_kernel(kernel_level()), static_cast<float>(args.alpha),
             static_cast<float>(args.beta), "gemm_f32");
}

void gemm_bf16(const uint16_t* a, const uint16_t* b, float* c, const MatmulArgs& args) {
  check_args(args, "gemm_bf16");
  gemm_batch(a, b, c, args, bf16_kernel(kernel_level()), static_cast<float>(args.alpha),
             static_cast<float>(args.beta), "gemm_bf16");
}

int bf16_tile_rows() {
  return bf16_kernel(kernel_level()).mr;
}

void gemm_u8s8(const uint8_t* a, const int8_t* b, int32_t* c, const MatmulArgs& args) {
  check_args(args, "gemm_u8s8");
  const int32_t alpha = integer_scalar(args.alpha, "gemm_u8s8", "alpha");
  const int32_t beta = integer_scalar(args.beta, "gemm_u8s8", "beta");
  gemm_batch(a, b, c, args, u8s8_kernel(kernel_level()), alpha, beta, "gemm_u8s8");
}

void pack_b_u8s8(const int8_t* b, const MatmulArgs& args, PackedU8S8B& out) {
  pack_b_once(u8s8_kernel(kernel_level()), b, args, out, "pack_b_u8s8");
}

void pack_b_bf16(const uint16_t* b, const MatmulArgs& args, PackedBf16B& out) {
  pack_b_once(bf16_kernel(kernel_level()), b, args, out, "pack_b_bf16");
}

void gemm_u8s8_packed(const uint8_t* a, const PackedU8S8B& b, int32_t* c, const MatmulArgs& args) {
  const char* fn = "gemm_u8s8_packed";
  gemm_prepacked(u8s8_kernel(kernel_level()), a, b, c, args,
                 integer_scalar(args.alpha, fn, "alpha"), integer_scalar(args.beta, fn, "beta"),
                 fn);
}

void gemm_bf16_packed(const uint16_t* a, const PackedBf16B& b, float* c, const MatmulArgs& args) {
  gemm_prepacked(bf16_kernel(kernel_level()), a, b, c, args, static_cast<float>(args.alpha),
                 static_cast<float>(args.beta), "gemm_bf16_packed");
}

}  // namespace loom::cpu::gemm
