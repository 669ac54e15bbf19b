// data/fasttext_stream.h: a fastText file (.bz2, .gz or plain) straight to a TokenCorpus, streamed.
//
// For corpora too big to hold as text (3.6M Amazon reviews: 1.6 GB of text, 4 bytes per token
// as a corpus). Three stages run at once, joined by bounded queues so memory stays flat:
//   decoder thread     ByteStream (byte_stream.h) -> batches of whole lines (~1 MB each);
//                      a .bz2 file decodes on decode_threads more threads, block by block
//   tokenizer workers  a batch -> labels + tokens over the batch's own dictionary
//   calling thread     merges batches in file order into one dictionary, so the result is the
//                      same as the sequential reader's (and as tokenize_texts on the read lines)
// The raw text is dropped batch by batch; what stays is the corpus and the labels.
// Lines follow fasttext.h (blank lines skipped, "\r\n" handled, errors name the file and line).
// Every error (a bad line, corrupt compressed data) is raised when the merge reaches it, so it is
// the first one in the file, whatever the thread timing; nothing is returned then. libbz2 checks
// a block's CRC after handing out its text, so a corrupt block may first show as a bad line: the
// readers decode 8 MB further before reporting a bad line, and report the corrupt block if found.
// Left out: CSV (its records may span lines; csv.h reads it whole), keeping the line numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/text_pipeline.h"
#include "data/token_corpus.h"

namespace loom::data {

struct StreamOptions {
  int threads = 0;                       // tokenizer workers; <= 0: one per core but one
  int decode_threads = 0;                // bzip2 decoding threads; <= 0: one per core
  size_t batch_bytes = size_t{1} << 20;  // text per batch (whole lines, so a bit more)
  int queue_batches = 0;                 // batches waiting per queue; <= 0: 2 per worker
  int64_t max_rows = 0;                  // > 0: stop after this many examples
};

struct StreamStats {
  int64_t compressed_bytes = 0;  // read from the file
  int64_t text_bytes = 0;        // decompressed
  int64_t lines = 0;             // lines read, blank ones included
  double seconds = 0;            // wall time of the whole read
  double decode_seconds = 0;     // decoder thread inside ByteStream::read (decoding or waiting)
  double tokenize_seconds = 0;   // all workers together, tokenizing
  double merge_seconds = 0;      // calling thread, merging dictionaries and tokens
};

struct LabeledCorpus {
  TokenCorpus corpus;         // one row per example, in file order
  std::vector<float> labels;  // [rows] __label__2 -> 1, __label__1 -> 0
  StreamStats stats;
};

// The pipeline above. Throws loom::Error naming the file (and the line, or the compressed byte
// offset) for any bad input; an empty file gives an empty corpus.
LabeledCorpus read_fasttext_corpus(const std::string& path, const TextPipeline& pipeline,
                                   const StreamOptions& options = {});

// The same result on the calling thread alone: the reference the pipeline is tested against.
LabeledCorpus read_fasttext_corpus_sequential(const std::string& path, const TextPipeline& pipeline,
                                              int64_t max_rows = 0);

}  // namespace loom::data
