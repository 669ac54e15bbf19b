// data/gunzip.cpp: whole-file gzip decompression with libdeflate (see gunzip.h).
#include "data/gunzip.h"

#include <libdeflate.h>

#include <memory>
#include <new>

#include "tensor/error.h"

namespace loom::data {

bool gunzip_whole(std::string_view gz, const std::string& where, ByteBuffer* out) {
  // 10-byte header + 8-byte trailer (CRC-32, ISIZE) at the very least.
  if (gz.size() < 18 || static_cast<unsigned char>(gz[0]) != 0x1f ||
      static_cast<unsigned char>(gz[1]) != 0x8b) {
    return false;
  }
  const auto* t = reinterpret_cast<const unsigned char*>(gz.data() + gz.size() - 4);
  const size_t isize = static_cast<size_t>(t[0]) | static_cast<size_t>(t[1]) << 8 |
                       static_cast<size_t>(t[2]) << 16 | static_cast<size_t>(t[3]) << 24;
  // DEFLATE cannot expand more than ~1032x; a larger ISIZE is garbage (a truncated file, or the
  // trailer of some other member): let the streaming reader report it.
  if (isize / 1032 > gz.size()) return false;

  ByteBuffer buf;
  try {
    buf = allocate_bytes(isize);  // untouched pages until libdeflate writes them
  } catch (const std::bad_alloc&) {
    return false;  // streaming needs far less memory
  }
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
      libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
  LOOM_CHECK(d != nullptr, "gunzip: '", where, "': libdeflate could not allocate a decompressor");
  size_t in_used = 0, out_used = 0;
  const libdeflate_result r = libdeflate_gzip_decompress_ex(
      d.get(), gz.data(), gz.size(), buf.data.get(), isize, &in_used, &out_used);
  // Too small a buffer: ISIZE wrapped (>= 4 GiB) or belongs to a later member. Not an error yet.
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE) return false;
  LOOM_CHECK(r == LIBDEFLATE_SUCCESS, "gunzip: corrupt archive '", where,
             "': the gzip data is corrupt or truncated (libdeflate result ", static_cast<int>(r),
             ")");
  // Bytes after the first member: another member, or padding. The streaming reader knows both.
  if (in_used != gz.size() || out_used != isize) return false;
  *out = std::move(buf);
  return true;
}

}  // namespace loom::data
