// data/big_buffer.cpp: huge-page hints, uninitialised buffers, whole-file reads (see big_buffer.h).
#include "data/big_buffer.h"

#include <cstdint>
#include <cstdio>

#include "tensor/error.h"

namespace loom::data {

ByteBuffer allocate_bytes(size_t size) {
  ByteBuffer buf;
  buf.size = size;
  buf.data.reset(new char[size + 1]);  // + 1: a valid pointer even when size is 0
  advise_huge_pages(buf.data.get(), size);
  return buf;
}

ByteBuffer read_whole_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  LOOM_CHECK(f != nullptr, "read_whole_file: cannot open '", path, "'");
  LOOM_CHECK(std::fseek(f.get(), 0, SEEK_END) == 0, "read_whole_file: cannot seek in '", path, "'");
  const long size = std::ftell(f.get());
  LOOM_CHECK(size >= 0, "read_whole_file: cannot tell the size of '", path, "'");
  std::rewind(f.get());
  ByteBuffer buf = allocate_bytes(static_cast<size_t>(size));
  const size_t got = std::fread(buf.data.get(), 1, buf.size, f.get());
  LOOM_CHECK(got == buf.size && !std::ferror(f.get()), "read_whole_file: read error in '", path,
             "' (read ", got, " of ", buf.size, " bytes)");
  return buf;
}

}  // namespace loom::data
