// data/tar_reader.h: walk the entries of a tar archive that is already in memory.
//
// A tar archive is a sequence of 512-byte blocks: a header block per entry (name, size, type,
// checksum, all as fixed-width ASCII fields), then the entry's bytes padded to a whole block,
// and two zero blocks at the end. Three dialects extend the 100-byte name field, and all three
// are read here:
//   - ustar (POSIX.1-1988): a 155-byte `prefix` field, the full name is prefix + "/" + name;
//   - GNU: an entry of type 'L' whose data is the long name of the entry that follows (and 'K'
//     for a long link target); sizes of 8 GiB or more in base-256 (top bit of the field set);
//   - pax (POSIX.1-2001): an entry of type 'x' holding "LEN key=value\n" records ("path",
//     "size", ...) that override the header fields of the entry that follows.
// Entries are views: a TarEntry's data points into the archive bytes, nothing is copied.
// Errors throw loom::Error naming the archive, the entry and its byte offset: a header whose
// checksum does not match (not a tar archive, or corrupt), a malformed number, a malformed pax
// record, data that runs past the end of the archive (truncated), an extended header with no
// entry after it, an extended header over 1 MiB. Every size is checked against the bytes the
// archive still holds before it is used, so no header can make the reader allocate or read past
// the end. A clean end needs no zero blocks: the archive may end right after an entry's
// padding (as `head -c` of a valid archive would), like Python's tarfile.
// Left out: writing archives, pax global headers' values (type 'g' is read and ignored), GNU
// sparse files (reported with their raw archived bytes and type 'S'), multi-volume archives,
// link targets, owners, permissions and times.
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
