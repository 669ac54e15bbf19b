// data/fasttext_stream.cpp: decoder thread -> tokenizer workers -> in-order merge (see
// fasttext_stream.h), and the sequential reference.
#include "data/fasttext_stream.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "data/big_buffer.h"
#include "data/byte_stream.h"
#include "data/fasttext.h"
#include "data/parallel.h"
#include "tensor/error.h"

namespace loom::data {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr size_t kReadChunk = size_t{256} << 10;    // decompressed bytes per ByteStream::read
constexpr size_t kMaxLineBytes = size_t{64} << 20;  // a longer "line" is not a review
constexpr size_t kBlockTokens = size_t{16} << 20;   // 64 MB blocks of tokens while reading
// libbz2 checks a block's CRC only after it has handed out the block's text (up to 900 kB, more
// after run-length decoding), so a bad line may be the first sign of a corrupt block. After a
// bad line both readers decode this much further: a decoding error there is the one reported.
constexpr int64_t kCheckAhead = int64_t{8} << 20;

[[noreturn]] void line_too_long(const std::string& path, int64_t line) {
  LOOM_FAIL("fastText '", path, "' line ", line, ": longer than ", kMaxLineBytes >> 20,
            " MiB without a newline (not a text file?)");
}

// Lines [first_line, first_line + count of '\n') of the file, each ending in '\n' (the file's
// last line may not).
struct TextBatch {
  int64_t seq = 0;
  int64_t first_line = 1;
  int64_t text_end = 0;  // decompressed offset just past the batch
  std::string text;
};

// Cuts the decompressed bytes into TextBatches of whole lines, about batch_bytes each.
class LineBatcher {
 public:
  LineBatcher(const std::string& path, size_t batch_bytes, int decode_threads)
      : stream_(path, decode_threads), batch_bytes_(std::max<size_t>(batch_bytes, 1)) {}

  bool next(TextBatch& b) {
    b.text.swap(carry_);
    carry_.clear();
    while (!done_) {
      if (b.text.size() >= batch_bytes_) {
        const size_t last = b.text.rfind('\n');
        if (last != std::string::npos) {
          carry_.assign(b.text, last + 1, std::string::npos);
          b.text.resize(last + 1);
          break;
        }
        if (b.text.size() > kMaxLineBytes) line_too_long(stream_.path(), next_line_);
      }
      const size_t old = b.text.size();
      b.text.resize(old + kReadChunk);
      const auto t0 = Clock::now();
      const size_t got = stream_.read(&b.text[old], kReadChunk);
      decode_seconds_ += seconds_since(t0);
      b.text.resize(old + got);
      done_ = got == 0;
    }
    if (b.text.empty()) return false;
    b.seq = seq_++;
    b.first_line = next_line_;
    b.text_end = stream_.bytes_out() - static_cast<int64_t>(carry_.size());
    next_line_ += std::count(b.text.begin(), b.text.end(), '\n');
    lines_ = next_line_ - 1 + (b.text.back() == '\n' ? 0 : 1);  // a last line without '\n'
    return true;
  }

  const ByteStream& stream() const { return stream_; }
  int64_t lines() const { return lines_; }
  double decode_seconds() const { return decode_seconds_; }

 private:
  ByteStream stream_;
  size_t batch_bytes_;
  std::string carry_;  // the start of a line whose '\n' is not read yet
  int64_t next_line_ = 1;
  int64_t lines_ = 0;
  int64_t seq_ = 0;
  bool done_ = false;
  double decode_seconds_ = 0;
};

// One batch tokenized over its own dictionary (first-occurrence order within the batch).
struct TokenBatch {
  int64_t seq = 0;
  int64_t text_end = 0;         // as in TextBatch
  StringTable words;            // the stopwords first, then the batch's words
  std::vector<int32_t> tokens;  // indices into words, minus the number of stopwords
  std::vector<int64_t> ends;    // [rows] tokens.size() after each row
  std::vector<float> labels;    // [rows]
  std::exception_ptr error;     // the batch's first bad line, raised when the merge reaches it
};

void tokenize_batch(const TextBatch& in, const TextPipeline& pipeline, const std::string& source,
                    TokenBatch& out) {
  out.seq = in.seq;
  out.text_end = in.text_end;
  out.words = pipeline.new_word_table();
  try {
    int64_t line = in.first_line;
    std::string_view rest(in.text);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      std::string_view l = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (!l.empty()) {
        float label = 0;
        pipeline.tokenize_ids(split_fasttext_line(l, source, line, &label), out.words, out.tokens);
        out.ends.push_back(static_cast<int64_t>(out.tokens.size()));
        out.labels.push_back(label);
      }
      ++line;
    }
  } catch (...) {
    out.error = std::current_exception();
  }
}

// Appends batches in file order to one dictionary and one token list. The tokens grow in blocks
// and are joined once at the end, so growing never copies the whole list (a vector doubling
// would briefly hold 3x its final size).
class CorpusBuilder {
 public:
  CorpusBuilder(const TextPipeline& pipeline, int64_t max_rows)
      : words_(pipeline.new_word_table()), stop_(pipeline.num_stopwords()), max_rows_(max_rows) {
    offsets_.push_back(0);
  }

  // Adds the batch's rows (up to max_rows in all); false once max_rows are in.
  bool add(const TokenBatch& b) {
    if (b.error) std::rethrow_exception(b.error);
    auto rows = static_cast<int64_t>(b.ends.size());
    if (max_rows_ > 0) rows = std::min(rows, max_rows_ - static_cast<int64_t>(labels_.size()));
    const size_t used = rows > 0 ? static_cast<size_t>(b.ends[static_cast<size_t>(rows - 1)]) : 0;
    // The words of the kept rows are a prefix of the batch's dictionary (first-occurrence order).
    int32_t used_words = b.words.size() - stop_;
    if (rows < static_cast<int64_t>(b.ends.size())) {
      used_words = 0;
      for (size_t k = 0; k < used; ++k)
        used_words = std::max(used_words, b.tokens[k] + 1);
    }
    remap_.clear();
    for (int32_t i = 0; i < used_words; ++i)
      remap_.push_back(words_.insert(b.words.key(i + stop_)) - stop_);
    if (blocks_.empty() || blocks_.back().size() + used > blocks_.back().capacity()) {
      blocks_.emplace_back();
      reserve_huge(blocks_.back(), std::max(kBlockTokens, used));
    }
    std::vector<int32_t>& block = blocks_.back();
    for (size_t k = 0; k < used; ++k)
      block.push_back(remap_[static_cast<size_t>(b.tokens[k])]);
    const int64_t base = offsets_.back();
    for (int64_t r = 0; r < rows; ++r)
      offsets_.push_back(base + b.ends[static_cast<size_t>(r)]);
    labels_.insert(labels_.end(), b.labels.begin(), b.labels.begin() + rows);
    return max_rows_ <= 0 || static_cast<int64_t>(labels_.size()) < max_rows_;
  }

  LabeledCorpus finish() {
    LabeledCorpus out;
    out.corpus.words = words_.take_keys();
    out.corpus.words.erase(out.corpus.words.begin(), out.corpus.words.begin() + stop_);
    std::vector<int32_t>& tokens = out.corpus.tokens;
    reserve_huge(tokens, static_cast<size_t>(offsets_.back()));
    for (auto& block : blocks_) {  // each block freed once copied: peak = result + one block
      tokens.insert(tokens.end(), block.begin(), block.end());
      std::vector<int32_t>().swap(block);
    }
    out.corpus.offsets = std::move(offsets_);
    out.labels = std::move(labels_);
    return out;
  }

 private:
  StringTable words_;
  int32_t stop_;
  int64_t max_rows_;
  std::vector<int32_t> remap_;  // batch word index -> corpus word index
  std::vector<int64_t> offsets_;
  std::vector<float> labels_;
  std::vector<std::vector<int32_t>> blocks_;
};

// A FIFO of at most `capacity` items between threads; close() wakes everyone and ends it.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}
  bool push(T item) {  // false when closed (the item is dropped)
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  bool pop(T& item) {  // false when closed and empty
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  size_t capacity_;
  bool closed_ = false;
};

// Tokenized batches handed to the merge in file order. A worker more than `window` batches ahead
// of the merge waits, so finished batches cannot pile up behind a slow one.
class InOrder {
 public:
  explicit InOrder(int64_t window) : window_(window) {}

  bool put(TokenBatch&& b) {  // false when cancelled
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return cancelled_ || b.seq < next_ + window_; });
    if (cancelled_) return false;
    const int64_t seq = b.seq;
    ready_.emplace(seq, std::move(b));
    changed_.notify_all();
    return true;
  }
  // The next batch in order; false after the last one. Re-throws the decoder's error there.
  bool take(TokenBatch& b) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return ready_.count(next_) > 0 || next_ == end_; });
    auto it = ready_.find(next_);
    if (it == ready_.end()) {
      if (decoder_error_) std::rethrow_exception(decoder_error_);
      return false;
    }
    b = std::move(it->second);
    ready_.erase(it);
    ++next_;
    changed_.notify_all();
    return true;
  }
  // The decoder made `batches` batches, then stopped (with `error` if it failed).
  void decoder_done(int64_t batches, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    end_ = batches;
    decoder_error_ = std::move(error);
    changed_.notify_all();
  }
  void cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, TokenBatch> ready_;
  int64_t window_;
  int64_t next_ = 0;
  int64_t end_ = -1;  // number of batches, once the decoder knows
  std::exception_ptr decoder_error_;
  bool cancelled_ = false;
};

// Takes the tokenized batches in file order into `builder` until the end or max_rows; returns
// the seconds spent merging.
double merge_in_order(InOrder& tokenized, CorpusBuilder& builder) {
  double seconds = 0;
  TokenBatch b;
  while (tokenized.take(b)) {
    const auto t0 = Clock::now();
    bool more = false;
    try {
      more = builder.add(b);
    } catch (const Error&) {  // a bad line: a corrupt block's CRC error may follow (kCheckAhead)
      TokenBatch next;
      while (tokenized.take(next) && next.text_end < b.text_end + kCheckAhead) {
      }
      throw;
    }
    seconds += seconds_since(t0);
    if (!more) break;
  }
  return seconds;
}

}  // namespace

LabeledCorpus read_fasttext_corpus(const std::string& path, const TextPipeline& pipeline,
                                   const StreamOptions& options) {
  const auto t0 = Clock::now();
  // Decoding bounds the read (bzip2 is ~90% of its CPU time), so by default it gets every core:
  // one bzip2 decoding thread per core, and one tokenizer per core but one. On 2 cores that is
  // 2 decoders + 1 tokenizer: the tokenizers need about a tenth of the CPU, which they take
  // from the decoders when they run; when they fall behind, the bounded queues stop the
  // decoders (a few blocks ahead at most) and the cores go to the tokenizers. A gzip or plain
  // file ignores decode_threads: its one decoder thread then has the spare core.
  const int workers = options.threads > 0 ? options.threads : std::max(1, resolve_threads(0) - 1);
  const int decoders = resolve_threads(options.decode_threads);
  const size_t depth = options.queue_batches > 0 ? static_cast<size_t>(options.queue_batches)
                                                 : static_cast<size_t>(2 * workers);
  LineBatcher batcher(path, options.batch_bytes, decoders);  // a missing file throws here
  BoundedQueue<TextBatch> texts(depth);
  InOrder tokenized(static_cast<int64_t>(depth) + workers);
  std::vector<double> tokenize_seconds(static_cast<size_t>(workers), 0.0);

  std::vector<std::thread> threads;
  // Whatever way this function leaves, every thread is woken and joined first.
  struct JoinAll {
    BoundedQueue<TextBatch>& texts;
    InOrder& tokenized;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      texts.close();
      tokenized.cancel();
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } join_all{texts, tokenized, threads};

  threads.emplace_back([&] {
    int64_t made = 0;
    std::exception_ptr error;
    try {
      TextBatch b;
      while (batcher.next(b) && texts.push(std::move(b))) {
        ++made;
        b = TextBatch();
      }
    } catch (...) {
      error = std::current_exception();
    }
    tokenized.decoder_done(made, error);
    texts.close();  // the workers finish what is queued, then stop
  });
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      TextBatch in;
      while (texts.pop(in)) {
        const auto t1 = Clock::now();
        TokenBatch out;
        tokenize_batch(in, pipeline, path, out);
        tokenize_seconds[static_cast<size_t>(w)] += seconds_since(t1);
        if (!tokenized.put(std::move(out))) return;
      }
    });
  }

  CorpusBuilder builder(pipeline, options.max_rows);
  const double merge_seconds = merge_in_order(tokenized, builder);
  texts.close();  // after max_rows: stop the decoder early
  tokenized.cancel();
  for (auto& t : threads)
    t.join();

  LabeledCorpus out = builder.finish();
  out.stats.compressed_bytes = batcher.stream().compressed_bytes_read();
  out.stats.text_bytes = batcher.stream().bytes_out();
  out.stats.lines = batcher.lines();
  out.stats.decode_seconds = batcher.decode_seconds();
  for (double s : tokenize_seconds)
    out.stats.tokenize_seconds += s;
  out.stats.merge_seconds = merge_seconds;
  out.stats.seconds = seconds_since(t0);
  return out;
}

LabeledCorpus read_fasttext_corpus_sequential(const std::string& path, const TextPipeline& pipeline,
                                              int64_t max_rows) {
  // One line at a time, one dictionary: nothing shared with the pipeline but the line parser.
  const auto t0 = Clock::now();
  ByteStream stream(path);
  LabeledCorpus out;
  TokenCorpus& c = out.corpus;
  StringTable words = pipeline.new_word_table();
  c.offsets.push_back(0);
  std::vector<char> chunk(kReadChunk);
  std::string line;
  int64_t line_no = 0;
  auto take_line = [&] {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    float label = 0;
    try {
      pipeline.tokenize_ids(split_fasttext_line(line, path, line_no, &label), words, c.tokens);
    } catch (const Error&) {  // decode a little further first (kCheckAhead)
      for (int64_t left = kCheckAhead; left > 0;) {
        const size_t n = stream.read(chunk.data(), chunk.size());
        if (n == 0) break;
        left -= static_cast<int64_t>(n);
      }
      throw;
    }
    c.offsets.push_back(static_cast<int64_t>(c.tokens.size()));
    out.labels.push_back(label);
  };
  auto full = [&] { return max_rows > 0 && static_cast<int64_t>(out.labels.size()) >= max_rows; };
  size_t got = 0;
  while (!full() && (got = stream.read(chunk.data(), chunk.size())) > 0) {
    for (size_t i = 0; i < got && !full(); ++i) {
      if (chunk[i] != '\n') {
        line.push_back(chunk[i]);
        if (line.size() > kMaxLineBytes) line_too_long(path, line_no + 1);
        continue;
      }
      take_line();
      line.clear();
    }
  }
  if (!line.empty() && !full()) take_line();  // the last line had no '\n'
  c.words = words.take_keys();
  c.words.erase(c.words.begin(), c.words.begin() + pipeline.num_stopwords());
  out.stats.compressed_bytes = stream.compressed_bytes_read();
  out.stats.text_bytes = stream.bytes_out();
  out.stats.lines = line_no;
  out.stats.seconds = seconds_since(t0);
  return out;
}

}  // namespace loom::data
