// tests/fuzz/fuzz_tar.cpp: libFuzzer target for the in-memory tar reader (data/tar_reader.h).
// Any input either walks cleanly or throws loom::Error; checked on every entry: its data is a
// view that lies inside the input buffer (never a read past the end of the archive).
#include <cstdint>
#include <string_view>

#include "data/tar_reader.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view archive(reinterpret_cast<const char*>(data), size);
  try {
    loom::data::TarReader reader(archive, "fuzz.tar");
    loom::data::TarEntry entry;
    unsigned checksum = 0;  // touch every byte, so ASan sees any out-of-range view
    while (reader.next(entry)) {
      for (char c : entry.data)
        checksum += static_cast<unsigned char>(c);
      for (char c : entry.path)
        checksum += static_cast<unsigned char>(c);
      const char* begin = entry.data.data();
      if (begin != nullptr &&
          (begin < archive.data() || begin + entry.data.size() > archive.data() + archive.size()))
        __builtin_trap();
    }
    (void)checksum;
  } catch (const loom::Error&) {
    // a clear error on a corrupt archive is the documented behaviour
  }
  return 0;
}
