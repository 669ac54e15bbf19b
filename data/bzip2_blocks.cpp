// data/bzip2_blocks.cpp: the bit scan for bzip2's magics, re-wrapping a block as a stream, and
// decoding it with libbz2 (see bzip2_blocks.h).
#include "data/bzip2_blocks.h"

#include <bzlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tensor/error.h"

namespace loom::data {

namespace {

constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;
constexpr size_t kFileChunk = size_t{4} << 20;      // compressed bytes read at a time
constexpr size_t kMaxBlockText = size_t{64} << 20;  // a block decodes to at most ~46 MB

// filter[b]: byte b can be the last whole byte of a magic that ends in the byte after it. A
// magic ending r bits (1..8) into byte i has (magic >> r) & 0xFF as byte i - 1.
std::array<bool, 256> make_filter() {
  std::array<bool, 256> f{};
  for (uint64_t magic : {kBzip2BlockMagic, kBzip2StreamEndMagic})
    for (int r = 1; r <= 8; ++r)
      f[(magic >> r) & 0xFF] = true;
  return f;
}

bool is_magic(uint64_t bits48) {
  return bits48 == kBzip2BlockMagic || bits48 == kBzip2StreamEndMagic;
}

// Appends bits, most significant first, to a byte string.
class BitWriter {
 public:
  explicit BitWriter(std::string& out) : out_(out) {}
  void put(uint64_t value, int count) {  // the low `count` bits of value, count <= 32
    acc_ = (acc_ << count) | (value & ((uint64_t{1} << count) - 1));
    pending_ += count;
    while (pending_ >= 8) {
      pending_ -= 8;
      out_.push_back(static_cast<char>((acc_ >> pending_) & 0xFF));
    }
  }
  // bits [begin_bit, begin_bit + count) of src.
  void copy(const unsigned char* src, int64_t begin_bit, int64_t count) {
    const unsigned char* p = src + begin_bit / 8;
    const int shift = static_cast<int>(begin_bit % 8);
    int64_t left = count;
    for (; left >= 8; left -= 8, ++p)  // one whole output byte from two source bytes
      put(((unsigned{p[0]} << shift) | (shift > 0 ? unsigned{p[1]} >> (8 - shift) : 0u)) & 0xFF, 8);
    for (int64_t k = 0; k < left; ++k) {  // the last bits one at a time
      const int64_t bit = begin_bit + count - left + k;
      put((src[bit / 8] >> (7 - bit % 8)) & 1, 1);
    }
  }
  void flush() {  // zero bits up to a byte
    if (pending_ > 0) put(0, 8 - pending_);
  }

 private:
  std::string& out_;
  uint64_t acc_ = 0;
  int pending_ = 0;
};

}  // namespace

int64_t find_bzip2_magic(const unsigned char* data, size_t bytes, int64_t from_bit,
                         uint64_t* magic) {
  static const std::array<bool, 256> filter = make_filter();
  const auto first = static_cast<size_t>(from_bit / 8);
  uint64_t window = 0;  // the bytes read so far, the newest in the low 8 bits
  for (size_t i = first; i < bytes; ++i) {
    window = (window << 8) | data[i];
    if (i == first || !filter[data[i - 1]]) continue;
    // Magics ending r bits into byte i, the earliest start first.
    for (int r = 1; r <= 8; ++r) {
      const uint64_t bits = (window >> (8 - r)) & kMask48;
      const int64_t start = static_cast<int64_t>(8 * i) + r - 48;
      if (is_magic(bits) && start >= from_bit) {
        *magic = bits;
        return start;
      }
    }
  }
  return -1;
}

int64_t find_bzip2_magic_bitwise(const unsigned char* data, size_t bytes, int64_t from_bit,
                                 uint64_t* magic) {
  const auto end = static_cast<int64_t>(8 * bytes);
  for (int64_t start = from_bit; start + 48 <= end; ++start) {
    uint64_t bits = 0;
    for (int64_t b = start; b < start + 48; ++b)
      bits = (bits << 1) | ((data[b / 8] >> (7 - b % 8)) & 1);
    if (is_magic(bits)) {
      *magic = bits;
      return start;
    }
  }
  return -1;
}

uint32_t Bzip2Segment::crc() const {
  if (bits < 80) return 0;  // too short to be a block (it will not decode)
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const int64_t shift = file_bit % 8;
  uint32_t v = 0;
  for (int64_t b = shift + 48; b < shift + 80; ++b)
    v = (v << 1) | ((p[b / 8] >> (7 - b % 8)) & 1);
  return v;
}

std::string wrap_bzip2_block(const Bzip2Segment* const* parts, size_t count) {
  LOOM_CHECK(count > 0, "wrap_bzip2_block: no segment");
  std::string out;
  int64_t bits = 0;
  for (size_t k = 0; k < count; ++k)
    bits += parts[k]->bits;
  out.reserve(static_cast<size_t>(bits / 8) + 16);
  out = std::string("BZh") + parts[0]->level;
  BitWriter w(out);
  for (size_t k = 0; k < count; ++k)
    w.copy(reinterpret_cast<const unsigned char*>(parts[k]->bytes.data()), parts[k]->file_bit % 8,
           parts[k]->bits);
  w.put(kBzip2StreamEndMagic >> 24, 24);
  w.put(kBzip2StreamEndMagic & 0xFFFFFF, 24);
  w.put(parts[0]->crc(), 32);  // one block: the combined CRC is the block's CRC
  w.flush();
  return out;
}

bool decode_bzip2_stream(const std::string& wrapped, std::string& out, std::string& why) {
  bz_stream bz{};
  if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
    why = "libbz2 could not start a decoder";
    return false;
  }
  out.resize(std::max<size_t>(wrapped.size() * 4, size_t{1} << 20));
  size_t produced = 0;
  bz.next_in = const_cast<char*>(wrapped.data());
  bz.avail_in = static_cast<unsigned>(wrapped.size());
  bool ok = false;
  for (;;) {
    bz.next_out = &out[produced];
    bz.avail_out = static_cast<unsigned>(out.size() - produced);
    const int r = BZ2_bzDecompress(&bz);
    produced = out.size() - bz.avail_out;
    if (r == BZ_STREAM_END) {
      ok = true;
      break;
    }
    if (r != BZ_OK) {
      why = r == BZ_MEM_ERROR ? "libbz2 ran out of memory"
                              : "corrupt bzip2 data (a block's checksum or Huffman tables are bad)";
      break;
    }
    if (bz.avail_out > 0) {  // all input used, no end of stream: the block was cut short
      why = "corrupt bzip2 data (a block ends early)";
      break;
    }
    if (out.size() >= kMaxBlockText) {
      why = "corrupt bzip2 data (a block decodes to more than 64 MB)";
      break;
    }
    out.resize(out.size() * 2);  // run-length decoding: a block's text can be ~46 MB
  }
  BZ2_bzDecompressEnd(&bz);
  out.resize(ok ? produced : 0);
  return ok;
}

int decode_segment_run(const Bzip2Segment& first, bool first_ok, std::string& out,
                       const std::function<const Bzip2Segment*()>& next_segment,
                       const std::string& path) {
  if (first_ok) return 0;
  std::string why;
  std::vector<const Bzip2Segment*> parts{&first};
  if (decode_bzip2_stream(wrap_bzip2_block(parts.data(), 1), out, why)) return 0;
  const std::string first_why = why;
  // A magic by chance inside the block cut it short: join the next segments while the run could
  // still be one block.
  int64_t bytes = static_cast<int64_t>(first.bytes.size());
  while (!parts.back()->ends_stream && bytes <= kBzip2MaxBlockBytes) {
    const Bzip2Segment* next = next_segment();
    if (next == nullptr) break;
    parts.push_back(next);
    bytes += static_cast<int64_t>(next->bytes.size());
    if (decode_bzip2_stream(wrap_bzip2_block(parts.data(), parts.size()), out, why))
      return static_cast<int>(parts.size()) - 1;
  }
  LOOM_FAIL("'", path, "': ", first_why, " (bzip2, in the block at compressed byte offset ",
            first.file_bit / 8, ")");
}

Bzip2Splitter::Bzip2Splitter(std::FILE* file, std::string path, std::string head)
    : file_(file), path_(std::move(path)), buf_(std::move(head)) {}

void Bzip2Splitter::fail(int64_t byte, const std::string& what) const {
  LOOM_FAIL("'", path_, "': ", what, " (bzip2, at compressed byte offset ", byte, ")");
}

bool Bzip2Splitter::have(int64_t end_byte) {
  while (buf_offset_ + static_cast<int64_t>(buf_.size()) < end_byte) {
    if (file_done_) return false;
    // Drop what no segment needs any more (before the current one) before growing.
    const int64_t keep_from = pos_bit_ / 8;
    if (keep_from - buf_offset_ >= static_cast<int64_t>(buf_.size() / 2)) {
      buf_.erase(0, static_cast<size_t>(keep_from - buf_offset_));
      buf_offset_ = keep_from;
    }
    const size_t old = buf_.size();
    buf_.resize(old + kFileChunk);
    const size_t got = std::fread(&buf_[old], 1, kFileChunk, file_);
    buf_.resize(old + got);
    if (got < kFileChunk) {
      LOOM_CHECK(!std::ferror(file_), "'", path_, "': read error after byte ",
                 buf_offset_ + static_cast<int64_t>(buf_.size()));
      file_done_ = true;
    }
  }
  return true;
}

uint64_t Bzip2Splitter::bits_at(int64_t bit, int count) const {
  uint64_t v = 0;
  for (int64_t b = bit; b < bit + count; ++b) {
    const auto byte = static_cast<unsigned char>(buf_[static_cast<size_t>(b / 8 - buf_offset_)]);
    v = (v << 1) | ((byte >> (7 - b % 8)) & 1);
  }
  return v;
}

bool Bzip2Splitter::start_stream() {
  for (;;) {
    const int64_t h = pos_bit_ / 8;  // streams start on a byte
    if (!have(h + 1)) return false;
    const bool header = have(h + 4);
    const char* p = buf_.data() + (h - buf_offset_);
    if (!header || std::memcmp(p, "BZh", 3) != 0 || p[3] < '1' || p[3] > '9')
      fail(h, "bytes after the end of the last bzip2 stream are not another bzip2 stream");
    level_ = p[3];
    if (!have(h + 10)) fail(h, "the file ends in the middle of a bzip2 stream (truncated?)");
    const uint64_t magic = bits_at((h + 4) * 8, 48);
    if (magic == kBzip2BlockMagic) {
      pos_bit_ = (h + 4) * 8;
      in_stream_ = true;
      return true;
    }
    if (magic != kBzip2StreamEndMagic)
      fail(h + 4, "corrupt bzip2 data (no block after the stream header)");
    if (!have(h + 14)) fail(h, "the file ends in the middle of a bzip2 stream (truncated?)");
    pos_bit_ = (h + 14) * 8;  // an empty stream: header, end magic, CRC (byte-aligned)
  }
}

bool Bzip2Splitter::next(Bzip2Segment& seg) {
  if (!in_stream_ && !start_stream()) return false;
  const int64_t start = pos_bit_;
  int64_t from = start + 80;  // after the magic and the block CRC
  int64_t found = -1;
  uint64_t magic = 0;
  for (;;) {
    const auto* data = reinterpret_cast<const unsigned char*>(buf_.data());
    found = find_bzip2_magic(data, buf_.size(), from - buf_offset_ * 8, &magic);
    if (found >= 0) {
      found += buf_offset_ * 8;
      break;
    }
    const int64_t end = buf_offset_ + static_cast<int64_t>(buf_.size());
    if (end - start / 8 > kBzip2MaxBlockBytes + 1024)
      fail(start / 8, "corrupt bzip2 data (no block boundary within 2.6 MB)");
    from = std::max(from, end * 8 - 47);  // a magic may straddle the old end
    if (!have(end + 1)) fail(end, "the file ends in the middle of a bzip2 stream (truncated?)");
  }
  seg.file_bit = start;
  seg.bits = found - start;
  seg.level = level_;
  seg.ends_stream = magic == kBzip2StreamEndMagic;
  const int64_t first_byte = start / 8, end_byte = (found + 7) / 8;
  seg.bytes.assign(buf_, static_cast<size_t>(first_byte - buf_offset_),
                   static_cast<size_t>(end_byte - first_byte));
  if (seg.ends_stream) {  // the combined CRC, then zero bits up to a byte
    const int64_t after = (found + 80 + 7) / 8;
    if (!have(after)) fail(found / 8, "the file ends in the middle of a bzip2 stream (truncated?)");
    pos_bit_ = after * 8;
    in_stream_ = false;
  } else {
    pos_bit_ = found;
  }
  return true;
}

}  // namespace loom::data
