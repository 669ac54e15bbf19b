// data/big_buffer.h: large buffers (100 MB of text, 25 MB of token ids) without the page-fault tax.
//
// A process gets fresh memory from the kernel one 4 KB page at a time, on first touch: writing
// 100 MB costs 25,000 page faults, about a tenth of the whole text pipeline's time. Linux can
// back a region with 2 MB pages instead (transparent huge pages) when the program asks for it
// with madvise(MADV_HUGEPAGE), which this machine's kernel requires ("madvise" mode). Two more
// habits keep the fault count down: never zero a buffer that is about to be overwritten
// (ByteBuffer), and reserve a vector's final size up front instead of letting it double and copy
// (reserve_huge).
// Left out: memory-mapped files (the archive is read once, sequentially), NUMA placement.
#pragma once

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loom::data {

// Bytes owned without zero-initialisation: `new char[n]` is untouched memory, so the
// decompressor writes each page once (a std::string would memset 100 MB first).
struct ByteBuffer {
  std::unique_ptr<char[]> data;
  size_t size = 0;
  std::string_view view() const { return {data.get(), size}; }
};

// A ByteBuffer of `size` bytes (uninitialised), marked for huge pages (advise_huge_pages).
ByteBuffer allocate_bytes(size_t size);

// The whole content of the file at `path`. Throws loom::Error naming `path` when it cannot be
// opened or read.
ByteBuffer read_whole_file(const std::string& path);

// Asks Linux to back [p, p + bytes) with 2 MB pages when it first touches them (madvise
// MADV_HUGEPAGE). A hint: errors are ignored; a no-op below 8 MB and on other systems.
// Inline (header-only) so that string_table.h stays usable without linking loom_data (the
// fuzz targets compile a few data/ files on their own).
inline void advise_huge_pages(void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr size_t kMin = size_t{8} << 20;
  if (bytes < kMin) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;  // round inward
  const auto end = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// v.reserve(n), then the huge-page hint on the reserved (still untouched) memory. Reserving more
// than will be used costs address space, not memory: pages that are never touched are never
// backed.
template <typename T>
void reserve_huge(std::vector<T>& v, size_t n) {
  if (n <= v.capacity()) return;
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
}

}  // namespace loom::data
