// data/gunzip.h: a whole .gz file decompressed into memory in one call (libdeflate).
//
// Why: inflate is the one step of the text pipeline that cannot be split across threads (a
// DEFLATE stream is sequential). libdeflate decompresses a whole buffer 2-3x faster than zlib's
// streaming inflate, because it knows where the output goes and never stops mid-block.
// The price: the whole uncompressed file lives in memory at once (106 MB for aclImdb without
// the unsup split), and the output size must be known up front. gzip's trailer stores it (ISIZE,
// the size mod 2^32), which is exact below 4 GiB.
// So gunzip_whole only takes the easy case and says "stream it instead" for the others:
//   - not gzip at all (no 1f 8b magic), or a truncated header/trailer (too short to be gzip);
//   - a multi-member file (several gzip streams back to back, as `cat a.gz b.gz` or pigz -i
//     make), or data after the first member;
//   - 4 GiB or more of output (ISIZE wrapped around, so the buffer is too small).
// Corrupt compressed data (a bad Huffman table, a CRC-32 mismatch) throws loom::Error naming
// the file.
// Left out: streaming (libarchive does that, see imdb_reader.cpp), zlib/raw DEFLATE wrappers.
#pragma once

#include <string>
#include <string_view>

#include "data/big_buffer.h"

namespace loom::data {

// Decompresses `gz` (a complete .gz file) into *out and returns true; or returns false without
// touching *out when the file needs a streaming decompressor (see the list above). Throws
// loom::Error naming `where` when the data is corrupt.
bool gunzip_whole(std::string_view gz, const std::string& where, ByteBuffer* out);

}  // namespace loom::data
