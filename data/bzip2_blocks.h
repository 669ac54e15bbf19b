// data/bzip2_blocks.h: a bzip2 file cut into its blocks, and one block decoded on its own.
//
// Why blocks: a bzip2 stream is a chain of independent blocks (100-900 kB of text each, each
// with its own CRC), so blocks can be decoded on several threads, as lbzip2 does. A block starts
// with the 48-bit magic 0x314159265359 at any BIT offset, and a stream ends with 0x177245385090,
// a 32-bit combined CRC and zero bits up to a byte; another stream ("BZh1".."BZh9") may follow.
// Why re-wrap: libbz2 cannot start inside a stream, so a block's bits are copied behind a
// "BZh<level>" header and followed by an end-of-stream magic and a CRC equal to the block's own
// (a one-block stream's combined CRC is its block CRC): libbz2 then decodes the block and checks
// its CRC. A segment runs from one magic to the next; the 48 bits may also occur by chance inside
// a block (about once per 2^48 bit positions), which cuts that block in two: a segment that fails
// to decode is joined with the next ones of its stream until it decodes (decode_segment_run).
// Leaves out: checking each stream's combined CRC (every block CRC is checked; the combined one
// only guards against blocks dropped or reordered, which the splitter cannot do); a false
// end-of-stream magic inside a block (as rare) makes the split fail with an error, never with
// wrong text (the one-thread ByteStream reads such a file); randomised blocks are libbz2's job.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace loom::data {

constexpr uint64_t kBzip2BlockMagic = 0x314159265359ull;
constexpr uint64_t kBzip2StreamEndMagic = 0x177245385090ull;
// No real block is longer: 900k symbols of at most 20 bits, plus its tables.
constexpr int64_t kBzip2MaxBlockBytes = int64_t{2600} << 10;

// Bit positions count from the first byte's most significant bit (bzip2's order).
// The first bit position >= from_bit where either magic starts and fits in data[0, bytes);
// -1 when none. Byte-wise with a 64-bit window and a one-byte filter.
int64_t find_bzip2_magic(const unsigned char* data, size_t bytes, int64_t from_bit,
                         uint64_t* magic);
// The same, one bit position at a time: the reference the fast scan is tested against.
int64_t find_bzip2_magic_bitwise(const unsigned char* data, size_t bytes, int64_t from_bit,
                                 uint64_t* magic);

// The bits of a file from one magic (a block's) to the next magic (a block's or the end's).
struct Bzip2Segment {
  std::string bytes;         // the bytes holding the bits: [file_bit / 8, ceil(end / 8))
  int64_t file_bit = 0;      // where the segment starts in the file
  int64_t bits = 0;          // its length in bits
  char level = '9';          // the stream header's block size digit, '1'..'9'
  bool ends_stream = false;  // the next magic is the end-of-stream one
  uint32_t crc() const;      // the 32 bits after the block magic
};

// Wraps parts (adjacent segments, the first one's CRC) as one bzip2 stream.
std::string wrap_bzip2_block(const Bzip2Segment* const* parts, size_t count);

// Decodes a wrapped stream into `out` (replaced). False, with libbz2's reason in `why`, when it
// is not one whole, valid block.
bool decode_bzip2_stream(const std::string& wrapped, std::string& out, std::string& why);

// The text of `first`: first alone when `first_ok` (its text already in `out`), else first
// joined with the segments next_segment() hands over (nullptr: no more in this stream) until it
// decodes. Returns how many segments were joined to it. Throws loom::Error naming `path` and the
// compressed byte offset of `first` when no join decodes (a corrupt block).
int decode_segment_run(const Bzip2Segment& first, bool first_ok, std::string& out,
                       const std::function<const Bzip2Segment*()>& next_segment,
                       const std::string& path);

// Reads a bzip2 file in chunks and hands out its segments in file order.
class Bzip2Splitter {
 public:
  // `head`: the file's first bytes, already read from `file` (which stays the caller's).
  Bzip2Splitter(std::FILE* file, std::string path, std::string head);

  // The next segment; false at the clean end of the file. Throws loom::Error naming the file
  // and the compressed byte offset for bytes that are not bzip2, or a file cut short.
  bool next(Bzip2Segment& seg);
  int64_t bytes_done() const { return pos_bit_ / 8; }  // the file up to the next segment

 private:
  bool have(int64_t end_byte);  // reads until the buffer holds bytes < end_byte; false at EOF
  uint64_t bits_at(int64_t bit, int count) const;  // count <= 57, inside the buffer
  [[noreturn]] void fail(int64_t byte, const std::string& what) const;
  bool start_stream();  // at a stream header; false at the end of the file

  std::FILE* file_;
  std::string path_;
  std::string buf_;  // file bytes [buf_offset_, buf_offset_ + buf_.size())
  int64_t buf_offset_ = 0;
  int64_t pos_bit_ = 0;  // the next block magic, or the next stream header when !in_stream_
  bool in_stream_ = false;
  char level_ = '9';
  bool file_done_ = false;
};

}  // namespace loom::data
