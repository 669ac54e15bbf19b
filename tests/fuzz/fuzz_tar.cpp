// tests/fuzz/fuzz_tar.cpp: libFuzzer target for the tar readers: the in-memory TarReader
// (data/tar_reader.h) and the aclImdb reader on top of it (data/imdb_reader.h), whose
// ImdbArchive::from_bytes takes the in-memory path for a single gzip member and libarchive's
// streaming path for everything else (a plain tar, several gzip members, other formats).
// Any input either reads cleanly or throws loom::Error. Checked on every TarReader entry: its
// data is a view that lies inside the input buffer (never a read past the end of the archive);
// run_fuzz.sh's -rss_limit_mb catches a size claim that allocates instead of failing.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "data/imdb_reader.h"
#include "data/tar_reader.h"
#include "tensor/error.h"

namespace {

void walk_tar(std::string_view archive) {
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
}

void read_reviews(std::string_view bytes) {
  loom::data::ByteBuffer file = loom::data::allocate_bytes(bytes.size());
  if (!bytes.empty()) std::memcpy(file.data.get(), bytes.data(), bytes.size());
  try {
    const auto archive = loom::data::ImdbArchive::from_bytes(std::move(file), "fuzz.tar");
    unsigned checksum = 0;
    for (int64_t i = 0; i < archive.size(); ++i)
      for (char c : archive.text(i))
        checksum += static_cast<unsigned char>(c);
    (void)checksum;
  } catch (const loom::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  walk_tar(bytes);
  read_reviews(bytes);
  return 0;
}
