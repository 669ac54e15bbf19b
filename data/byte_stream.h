// data/byte_stream.h: a file's bytes, decompressed on the fly (.bz2, .gz or plain), in pieces.
//
// Why: the Amazon reviews ship as train.ft.txt.bz2 (1.6 GB of text in 470 MB). Inflating the
// whole file first (gunzip.h's way) would hold all of it; a ByteStream hands out the text a
// piece at a time, so a reader can tokenize it and let it go.
// The format comes from the first bytes, not the name: "BZh" is bzip2 (libbz2), 1f 8b is gzip
// (zlib), anything else is read as it is. Several streams back to back (`cat a.bz2 b.bz2`, and
// what pbzip2 or pigz write) read as one file, as bzip2 -d and gzip -d do.
// Errors (corrupt data, a file cut short, trailing bytes that are not another stream) throw
// loom::Error naming the file and the compressed byte offset where decoding stopped.
// bzip2 on several threads (decode_threads > 1): bzip2_blocks.h cuts the file into blocks, read
// in chunks; a few blocks at a time decode on worker threads and read() hands out their text in
// file order, the same bytes as the one-thread path (the reference).
// Left out: gzip on several threads (deflate has no block boundaries to find), xz/zstd, seeking.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace loom::data {

enum class Compression { None, Gzip, Bzip2 };
const char* compression_name(Compression c);  // "none", "gzip", "bzip2"

class ByteStream {
 public:
  // Opens `path` and looks at its first bytes. Throws loom::Error naming it when it cannot.
  // decode_threads > 1: a bzip2 file decodes on that many threads (others ignore it).
  explicit ByteStream(const std::string& path, int decode_threads = 1);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // Writes up to `capacity` decompressed bytes to `out`; returns how many, 0 only at the end.
  size_t read(char* out, size_t capacity);

  Compression compression() const { return compression_; }
  const std::string& path() const { return path_; }
  int64_t compressed_bytes_read() const { return in_offset_; }  // consumed from the file so far
  int64_t bytes_out() const { return out_total_; }              // decompressed so far

  struct Decoder;   // the libbz2 and zlib states (byte_stream.cpp)
  struct Parallel;  // the block splitter, the worker threads, the blocks in flight

 private:
  bool refill();  // moves the unread bytes to the front, reads more; false when none came
  [[noreturn]] void fail(const std::string& what) const;
  size_t read_bzip2(char* out, size_t capacity);
  size_t read_bzip2_parallel(char* out, size_t capacity);
  size_t read_gzip(char* out, size_t capacity);

  std::string path_;
  std::FILE* file_ = nullptr;
  Compression compression_ = Compression::None;
  std::unique_ptr<char[]> in_;  // compressed bytes; [in_pos_, in_end_) not decoded yet
  size_t in_pos_ = 0, in_end_ = 0;
  int64_t in_offset_ = 0;  // file offset of in_[in_pos_]
  int64_t out_total_ = 0;
  bool file_done_ = false;
  bool stream_open_ = false;  // inside a compressed stream (its end not reached yet)
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<Parallel> parallel_;  // set for bzip2 with decode_threads > 1
};

}  // namespace loom::data
