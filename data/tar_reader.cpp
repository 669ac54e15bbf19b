// data/tar_reader.cpp: the in-memory tar walker (see tar_reader.h for the format and the rules).
#include "data/tar_reader.h"

#include <cstring>

#include "tensor/error.h"

namespace loom::data {

namespace {
constexpr size_t kBlock = 512;

// Header field offsets and widths (POSIX ustar; GNU uses the same positions for these).
constexpr size_t kName = 0, kNameLen = 100;
constexpr size_t kSize = 124, kSizeLen = 12;
constexpr size_t kChecksum = 148, kChecksumLen = 8;
constexpr size_t kType = 156;
constexpr size_t kMagic = 257;
constexpr size_t kPrefix = 345, kPrefixLen = 155;

// The largest extended header read (pax records, GNU long names): real ones are a few hundred
// bytes; libarchive refuses GNU long names over 1 MiB too.
constexpr uint64_t kMaxExtendedHeader = uint64_t{1} << 20;

// A NUL-terminated string field (not terminated when it fills the whole width).
std::string_view field(const char* block, size_t at, size_t width) {
  const char* p = block + at;
  const void* nul = std::memchr(p, 0, width);
  return {p, nul ? static_cast<size_t>(static_cast<const char*>(nul) - p) : width};
}

bool all_zero(const char* block) {
  for (size_t i = 0; i < kBlock; ++i)
    if (block[i] != 0) return false;
  return true;
}

size_t round_up(uint64_t n) {
  return static_cast<size_t>((n + kBlock - 1) / kBlock * kBlock);
}
}  // namespace

TarReader::TarReader(std::string_view archive, std::string where)
    : archive_(archive), where_(std::move(where)) {}

void TarReader::fail(uint64_t offset, std::string_view entry, const std::string& what) const {
  if (entry.empty()) {
    LOOM_FAIL("corrupt tar archive '", where_, "': header at byte ", offset, ": ", what);
  }
  LOOM_FAIL("corrupt tar archive '", where_, "': entry '", entry, "' (header at byte ", offset,
            "): ", what);
}

uint64_t TarReader::number(const char* f, size_t width, const char* name, uint64_t offset,
                           std::string_view entry) const {
  const auto* u = reinterpret_cast<const unsigned char*>(f);
  if (u[0] & 0x80) {
    // GNU base-256: the remaining bits, big-endian. 0xFF starts a negative number.
    if (u[0] == 0xFF) fail(offset, entry, std::string("negative ") + name + " field");
    uint64_t v = u[0] & 0x7F;
    for (size_t i = 1; i < width; ++i) {
      if (v >> 56) fail(offset, entry, std::string(name) + " field does not fit in 64 bits");
      v = v << 8 | u[i];
    }
    return v;
  }
  // Octal digits, optionally led by spaces, ended by a space or NUL (or the field's end).
  size_t i = 0;
  while (i < width && f[i] == ' ')
    ++i;
  uint64_t v = 0;
  for (; i < width && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v >> 60) fail(offset, entry, std::string(name) + " field does not fit in 64 bits");
    v = v * 8 + static_cast<uint64_t>(f[i] - '0');
  }
  // An empty field (all spaces or NULs) reads as 0, as tar writers leave some fields blank.
  if (i < width && f[i] != ' ' && f[i] != '\0') {
    fail(offset, entry,
         std::string("malformed ") + name + " field '" + std::string(field(f, 0, width)) + "'");
  }
  return v;
}

void TarReader::check_checksum(const char* block, uint64_t offset, std::string_view entry) const {
  // The sum of the header's bytes with the checksum field counted as eight spaces. Some old tars
  // summed signed chars, so that sum is accepted too (as GNU tar and Python's tarfile do).
  const auto* u = reinterpret_cast<const unsigned char*>(block);
  uint64_t sum = 8 * ' ';
  for (size_t i = 0; i < kBlock;
       ++i)  // a plain loop over all 512 bytes: the compiler vectorizes it
    sum += u[i];
  for (size_t i = kChecksum; i < kChecksum + kChecksumLen; ++i)
    sum -= u[i];
  const uint64_t stored = number(block + kChecksum, kChecksumLen, "checksum", offset, entry);
  if (stored == sum) return;
  int64_t signed_sum = 8 * ' ';
  for (size_t i = 0; i < kBlock; ++i)
    if (i < kChecksum || i >= kChecksum + kChecksumLen)
      signed_sum += static_cast<signed char>(block[i]);
  if (static_cast<int64_t>(stored) != signed_sum) {
    fail(offset, entry,
         "header checksum mismatch (stored " + std::to_string(stored) + ", computed " +
             std::to_string(sum) + "): not a tar archive, or a corrupt one");
  }
}

void TarReader::read_pax(std::string_view records, uint64_t offset) {
  // Each record: "<len> <key>=<value>\n", where <len> counts the whole record in bytes.
  size_t at = 0;
  while (at < records.size()) {
    if (records[at] == '\0') break;  // NUL padding after the last record
    size_t len = 0, i = at;
    for (; i < records.size() && records[i] >= '0' && records[i] <= '9'; ++i) {
      len = len * 10 + static_cast<size_t>(records[i] - '0');
      if (len > records.size()) break;
    }
    const bool ok_len = i > at && i < records.size() && records[i] == ' ' && len > i - at + 1 &&
                        len <= records.size() - at && records[at + len - 1] == '\n';
    if (!ok_len) fail(offset, "", "malformed pax record at byte " + std::to_string(at));
    const std::string_view body = records.substr(i + 1, at + len - 1 - (i + 1));
    const size_t eq = body.find('=');
    if (eq == std::string_view::npos) {
      fail(offset, "", "pax record without '=' at byte " + std::to_string(at));
    }
    const std::string_view key = body.substr(0, eq), value = body.substr(eq + 1);
    if (key == "path") {
      next_path_.assign(value);
      have_path_ = true;
    } else if (key == "size") {
      uint64_t v = 0;
      bool ok = !value.empty() && value.size() <= 19;
      for (char c : value)
        ok = ok && c >= '0' && c <= '9', v = v * 10 + static_cast<uint64_t>(c - '0');
      if (!ok) fail(offset, "", "malformed pax size '" + std::string(value) + "'");
      next_size_ = v;
      have_size_ = true;
    }
    at += len;
  }
}

bool TarReader::next(TarEntry& entry) {
  for (;;) {
    const uint64_t offset = pos_;
    if (pos_ >= archive_.size()) {
      if (have_path_ || have_size_) {
        fail(offset, next_path_, "the archive ends after an extended header, before its entry");
      }
      return false;
    }
    if (archive_.size() - pos_ < kBlock) {
      fail(offset, "",
           "truncated header (" + std::to_string(archive_.size() - pos_) + " of 512 bytes)");
    }
    const char* block = archive_.data() + pos_;
    if (all_zero(block)) {  // end-of-archive marker; whatever follows is padding
      pos_ = archive_.size();
      continue;
    }
    // The name first, so every later error can name the entry.
    std::string_view name = field(block, kName, kNameLen);
    std::string full;
    if (std::memcmp(block + kMagic, "ustar\0", 6) == 0) {  // POSIX: prefix + "/" + name
      const std::string_view prefix = field(block, kPrefix, kPrefixLen);
      if (!prefix.empty()) {
        full.assign(prefix).append("/").append(name);
        name = full;
      }
    }
    char type = block[kType];
    const bool meta = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    if (have_path_ && !meta) name = next_path_;
    check_checksum(block, offset, name);
    uint64_t size = number(block + kSize, kSizeLen, "size", offset, name);
    if (have_size_ && !meta) size = next_size_;
    if (type == '\0' || type == '7') type = '0';
    if (type == '0' && !name.empty() && name.back() == '/') type = '5';  // old-style directory
    // Links, devices, directories and fifos carry no data whatever their size field says.
    const bool has_data = !(type >= '1' && type <= '6');
    if (meta && size > kMaxExtendedHeader) {
      fail(offset, name,
           "extended header of " + std::to_string(size) + " bytes (more than 1 MiB): corrupt");
    }
    const size_t data_at = pos_ + kBlock;
    const size_t left = archive_.size() - data_at;
    if (has_data && size > left) {
      fail(offset, name,
           "data truncated: the header says " + std::to_string(size) + " bytes, " +
               std::to_string(left) + " left in the archive");
    }
    const std::string_view data =
        has_data ? archive_.substr(data_at, static_cast<size_t>(size)) : std::string_view();
    // The next header follows the padding; a missing final pad just ends the archive.
    pos_ = data_at + (has_data ? std::min(round_up(size), left) : 0);

    if (meta) {
      if (type == 'x') read_pax(data, offset);
      if (type == 'L') {
        next_path_.assign(field(data.data(), 0, data.size()));
        have_path_ = true;
      }
      continue;  // 'g' (global pax) and 'K' (long link target) are read past and ignored
    }
    entry.path.assign(name);
    entry.type = type;
    entry.data = data;
    entry.offset = offset;
    have_path_ = have_size_ = false;
    return true;
  }
}

}  // namespace loom::data
