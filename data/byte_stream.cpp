// data/byte_stream.cpp: streaming bzip2 (libbz2) and gzip (zlib) decoding (see byte_stream.h).
#include "data/byte_stream.h"

#include <bzlib.h>
#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/bzip2_blocks.h"
#include "tensor/error.h"

namespace loom::data {

namespace {
constexpr size_t kInputChunk = size_t{1} << 20;  // compressed bytes read from the file at a time
constexpr size_t kMagicBytes = 3;                // "BZh", or gzip's 1f 8b plus its method byte

bool starts_bzip2(const char* p, size_t n) {
  return n >= 3 && std::memcmp(p, "BZh", 3) == 0;
}
bool starts_gzip(const char* p, size_t n) {
  return n >= 2 && static_cast<unsigned char>(p[0]) == 0x1f &&
         static_cast<unsigned char>(p[1]) == 0x8b;
}
}  // namespace

const char* compression_name(Compression c) {
  static constexpr const char* kNames[] = {"none", "gzip", "bzip2"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Compression::Bzip2) + 1,
                "one name per Compression");
  return kNames[static_cast<size_t>(c)];
}

// One of the two decoders is live while stream_open_ (the other stays unused).
struct ByteStream::Decoder {
  bz_stream bz{};
  z_stream z{};
};

// bzip2 on several threads. The reading thread cuts segments (Bzip2Splitter) and queues up to
// `window` of them; workers decode each alone; read() takes them oldest first, so the text comes
// out in file order and at most `window` blocks (a few MB each) are held at once. A segment that
// fails alone is re-decoded joined with the next ones on the reading thread (a false magic).
struct ByteStream::Parallel {
  struct Job {
    Bzip2Segment seg;
    std::string text;  // written by a worker, read after `done`
    bool done = false, ok = false;
    std::exception_ptr error;  // the splitter's (bad bytes, a cut file), raised in its turn
  };

  Parallel(std::FILE* file, const std::string& path, std::string head, int threads)
      : splitter(file, path, std::move(head)), window(3 * static_cast<size_t>(threads)) {
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([this] { work(); });
  }
  ~Parallel() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    work_cv.notify_all();
    for (auto& t : workers)
      t.join();
  }

  void fill() {  // the reading thread: queues segments until `window` are in flight
    while (!split_done && in_order.size() < window) {
      auto job = std::make_shared<Job>();
      try {
        if (!splitter.next(job->seg)) {
          split_done = true;
          break;
        }
      } catch (...) {
        job->error = std::current_exception();
        job->done = true;
        split_done = true;
        in_order.push_back(job);
        break;
      }
      in_order.push_back(job);
      {
        std::lock_guard<std::mutex> lock(mutex);
        todo.push_back(job);
      }
      work_cv.notify_one();
    }
  }

  void wait(const Job& job) {
    std::unique_lock<std::mutex> lock(mutex);
    done_cv.wait(lock, [&] { return job.done; });
  }

  void work() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex);
        work_cv.wait(lock, [&] { return stop || !todo.empty(); });
        if (stop) return;
        job = std::move(todo.front());
        todo.pop_front();
      }
      std::string text, why;
      bool ok = false;
      try {
        const Bzip2Segment* part = &job->seg;
        ok = decode_bzip2_stream(wrap_bzip2_block(&part, 1), text, why);
      } catch (...) {  // out of memory: the reading thread decodes it again and reports
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        job->text.swap(text);
        job->ok = ok;
        job->done = true;
      }
      done_cv.notify_all();
    }
  }

  Bzip2Splitter splitter;
  size_t window;
  bool split_done = false;
  std::deque<std::shared_ptr<Job>> in_order;  // the reading thread's, oldest first
  std::string text;                           // the block being handed out
  size_t text_pos = 0;
  std::mutex mutex;  // guards todo, stop and every Job's text, ok and done
  std::condition_variable work_cv, done_cv;
  std::deque<std::shared_ptr<Job>> todo;
  bool stop = false;
  std::vector<std::thread> workers;
};

ByteStream::ByteStream(const std::string& path, int decode_threads)
    : path_(path), in_(new char[kInputChunk]), decoder_(new Decoder) {
  file_ = std::fopen(path.c_str(), "rb");
  LOOM_CHECK(file_ != nullptr, "'", path, "': cannot open the file");
  refill();
  const char* head = in_.get() + in_pos_;
  if (starts_bzip2(head, in_end_ - in_pos_)) compression_ = Compression::Bzip2;
  if (starts_gzip(head, in_end_ - in_pos_)) compression_ = Compression::Gzip;
  if (compression_ == Compression::Bzip2 && decode_threads > 1) {
    parallel_ = std::make_unique<Parallel>(file_, path_, std::string(head, in_end_ - in_pos_),
                                           decode_threads);
    in_pos_ = in_end_;  // the splitter owns those bytes now
  }
}

ByteStream::~ByteStream() {
  parallel_.reset();  // joins the workers before the file closes
  if (stream_open_ && compression_ == Compression::Bzip2) BZ2_bzDecompressEnd(&decoder_->bz);
  if (stream_open_ && compression_ == Compression::Gzip) inflateEnd(&decoder_->z);
  if (file_ != nullptr) std::fclose(file_);
}

void ByteStream::fail(const std::string& what) const {
  LOOM_FAIL("'", path_, "': ", what, " (", compression_name(compression_),
            ", at compressed byte offset ", in_offset_, ", after ", out_total_,
            " decompressed bytes)");
}

bool ByteStream::refill() {
  // Keep the unread tail (a stream's magic may straddle two reads), then append.
  const size_t left = in_end_ - in_pos_;
  if (file_done_ || left >= kInputChunk) return false;
  std::memmove(in_.get(), in_.get() + in_pos_, left);
  in_pos_ = 0;
  in_end_ = left;
  const size_t got = std::fread(in_.get() + left, 1, kInputChunk - left, file_);
  if (got < kInputChunk - left) {
    LOOM_CHECK(!std::ferror(file_), "'", path_, "': read error after byte ", in_offset_ + left);
    file_done_ = true;
  }
  in_end_ += got;
  return got > 0;
}

size_t ByteStream::read(char* out, size_t capacity) {
  if (capacity == 0) return 0;
  size_t n = 0;
  switch (compression_) {
    case Compression::None:
      if (in_pos_ == in_end_) refill();
      n = std::min(capacity, in_end_ - in_pos_);
      std::memcpy(out, in_.get() + in_pos_, n);
      in_pos_ += n;
      in_offset_ += static_cast<int64_t>(n);
      break;
    case Compression::Bzip2:
      n = parallel_ ? read_bzip2_parallel(out, capacity) : read_bzip2(out, capacity);
      break;
    case Compression::Gzip:
      n = read_gzip(out, capacity);
      break;
  }
  out_total_ += static_cast<int64_t>(n);
  return n;
}

size_t ByteStream::read_bzip2(char* out, size_t capacity) {
  bz_stream& bz = decoder_->bz;
  for (;;) {
    if (!stream_open_) {  // between streams: the next one, or the end of the file
      if (in_end_ - in_pos_ < kMagicBytes) refill();
      if (in_pos_ == in_end_) return 0;
      if (!starts_bzip2(in_.get() + in_pos_, in_end_ - in_pos_))
        fail("bytes after the end of the last bzip2 stream are not another bzip2 stream");
      bz = bz_stream{};
      LOOM_CHECK(BZ2_bzDecompressInit(&bz, 0, 0) == BZ_OK, "'", path_,
                 "': libbz2 could not start a decoder");
      stream_open_ = true;
    }
    if (in_pos_ == in_end_) refill();
    // At the end of the file the decoder may still hold output; only no progress means cut short.
    const bool at_end = in_pos_ == in_end_;
    bz.next_in = in_.get() + in_pos_;
    bz.avail_in = static_cast<unsigned>(in_end_ - in_pos_);
    bz.next_out = out;
    bz.avail_out = static_cast<unsigned>(std::min<size_t>(capacity, 1u << 30));
    const int r = BZ2_bzDecompress(&bz);
    const size_t used = (in_end_ - in_pos_) - bz.avail_in;
    in_pos_ += used;
    in_offset_ += static_cast<int64_t>(used);
    const size_t produced = static_cast<size_t>(bz.next_out - out);
    if (r == BZ_STREAM_END) {
      BZ2_bzDecompressEnd(&bz);
      stream_open_ = false;
    } else if (r != BZ_OK) {
      fail(r == BZ_MEM_ERROR ? "libbz2 ran out of memory"
                             : "corrupt bzip2 data (a block's checksum or Huffman tables are bad)");
    }
    if (produced > 0) return produced;
    if (r == BZ_OK && at_end) fail("the file ends in the middle of a bzip2 stream (truncated?)");
  }
}

size_t ByteStream::read_bzip2_parallel(char* out, size_t capacity) {
  Parallel& p = *parallel_;
  while (p.text_pos == p.text.size()) {
    p.fill();
    if (p.in_order.empty()) {
      in_offset_ = p.splitter.bytes_done();
      return 0;
    }
    const std::shared_ptr<Parallel::Job> job = p.in_order.front();
    p.in_order.pop_front();
    p.wait(*job);
    if (job->error) std::rethrow_exception(job->error);
    in_offset_ = job->seg.file_bit / 8;
    // Segments joined to this one leave the queue; their own results (if any) are dropped.
    std::vector<std::shared_ptr<Parallel::Job>> joined;
    auto next_segment = [&]() -> const Bzip2Segment* {
      p.fill();
      if (p.in_order.empty() || p.in_order.front()->error) return nullptr;
      joined.push_back(p.in_order.front());
      p.in_order.pop_front();
      return &joined.back()->seg;
    };
    decode_segment_run(job->seg, job->ok, job->text, next_segment, path_);
    const Bzip2Segment& last = joined.empty() ? job->seg : joined.back()->seg;
    in_offset_ = (last.file_bit + last.bits) / 8;
    p.text.swap(job->text);
    p.text_pos = 0;
  }
  const size_t n = std::min(capacity, p.text.size() - p.text_pos);
  std::memcpy(out, p.text.data() + p.text_pos, n);
  p.text_pos += n;
  return n;
}

size_t ByteStream::read_gzip(char* out, size_t capacity) {
  z_stream& z = decoder_->z;
  for (;;) {
    if (!stream_open_) {
      if (in_end_ - in_pos_ < kMagicBytes) refill();
      if (in_pos_ == in_end_) return 0;
      if (!starts_gzip(in_.get() + in_pos_, in_end_ - in_pos_))
        fail("bytes after the end of the last gzip member are not another gzip member");
      z = z_stream{};
      LOOM_CHECK(inflateInit2(&z, 15 + 16) == Z_OK, "'", path_, "': zlib could not start");
      stream_open_ = true;
    }
    if (in_pos_ == in_end_) refill();
    // At the end of the file the decoder may still hold output; only no progress means cut short.
    const bool at_end = in_pos_ == in_end_;
    z.next_in = reinterpret_cast<Bytef*>(in_.get() + in_pos_);
    z.avail_in = static_cast<uInt>(in_end_ - in_pos_);
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = static_cast<uInt>(std::min<size_t>(capacity, 1u << 30));
    const int r = inflate(&z, Z_NO_FLUSH);
    const size_t used = (in_end_ - in_pos_) - z.avail_in;
    in_pos_ += used;
    in_offset_ += static_cast<int64_t>(used);
    const size_t produced = static_cast<size_t>(reinterpret_cast<char*>(z.next_out) - out);
    if (r == Z_STREAM_END) {
      inflateEnd(&z);
      stream_open_ = false;
    } else if (r != Z_OK && !(r == Z_BUF_ERROR && z.avail_in == 0)) {
      fail(std::string("corrupt gzip data: ") + (z.msg != nullptr ? z.msg : "zlib error"));
    }
    if (produced > 0) return produced;
    if (r != Z_STREAM_END && at_end)
      fail("the file ends in the middle of a gzip member (truncated?)");
  }
}

}  // namespace loom::data
