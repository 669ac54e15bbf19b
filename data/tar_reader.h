// data/tar_reader.h: walk the entries of a tar archive that is already in memory.
//
// A tar archive is 512-byte blocks: a header per entry (name, size, type, checksum as
// fixed-width ASCII fields), the entry's bytes padded to a whole block, two zero blocks at the
// end. Names longer than 100 bytes come in three dialects, all read here: ustar's 155-byte
// `prefix` field; GNU's 'L' entries holding the next entry's long name ('K': link target), and
// base-256 sizes of 8 GiB or more; pax 'x' entries of "LEN key=value\n" records ("path", "size")
// overriding the next header. A TarEntry's data is a view into the archive: nothing is copied.
// Errors throw loom::Error naming the archive, the entry and its byte offset: a bad checksum
// (not a tar, or corrupt), a malformed number or pax record, data running past the end, an
// extended header with no entry after it or over 1 MiB. Every size is checked against the bytes
// left before it is used. The archive may end right after an entry's padding, with no zero
// blocks (as `head -c` of a valid archive would), like Python's tarfile.
// Left out: writing archives, pax global headers' values (type 'g' is read and ignored), GNU
// sparse files (reported with their raw bytes and type 'S'), multi-volume archives, link targets,
// owners, permissions and times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loom::data {

struct TarEntry {
  std::string path;       // full name (pax "path", GNU long name, or ustar prefix/name)
  char type = '0';        // '0' regular file (also for '\0' and '7'), '5' directory, '1' hard link,
                          // '2' symlink, '3'/'4' devices, '6' fifo, others as stored
  std::string_view data;  // [size] the entry's bytes, a view into the archive; empty for types
                          // that carry no data (links, directories, devices, fifos)
  uint64_t offset = 0;    // byte offset of the entry's header block (for messages)

  bool is_file() const { return type == '0'; }
};

class TarReader {
 public:
  // `archive` must outlive the reader and every entry it returns; `where` names the archive
  // in error messages (usually its path).
  TarReader(std::string_view archive, std::string where);

  // Fills `entry` with the next entry (extended headers are consumed, not returned); false at
  // the end of the archive. Throws loom::Error on corrupt or truncated input.
  bool next(TarEntry& entry);

 private:
  [[noreturn]] void fail(uint64_t offset, std::string_view entry, const std::string& what) const;
  // An octal (or GNU base-256) number field of a header block.
  uint64_t number(const char* field, size_t width, const char* name, uint64_t offset,
                  std::string_view entry) const;
  void check_checksum(const char* block, uint64_t offset, std::string_view entry) const;
  // Applies the "path" and "size" records of a pax extended header's data.
  void read_pax(std::string_view records, uint64_t offset);

  std::string_view archive_;
  std::string where_;
  size_t pos_ = 0;  // offset of the next header block
  // Overrides from an extended header ('x' or 'L'), for the next entry only.
  bool have_path_ = false, have_size_ = false;
  std::string next_path_;
  uint64_t next_size_ = 0;
};

}  // namespace loom::data
