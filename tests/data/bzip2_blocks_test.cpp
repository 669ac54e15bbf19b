// tests/data/bzip2_blocks_test.cpp: bzip2_blocks.h on its own: the fast magic scan against the
// bit-by-bit one, the splitter's segments decoded one by one, a false magic (a boundary cut
// inside a real block) joined back, and a corrupt block named by its offset.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "data/bzip2_blocks.h"
#include "data/split.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::bzip2;
using testing::expect_error;
using testing::TempDir;
using testing::write_file;

// Words from a small list: compresses like text, ~100 kB per `rows` / 1000.
std::string some_text(int rows, uint64_t seed) {
  static const char* kWords[] = {"good", "bad", "film", "plot", "the", "a", "wonderful", "42"};
  SplitMix64 rng(seed);
  std::string s;
  for (int r = 0; r < rows; ++r) {
    const int n = 5 + static_cast<int>(rng.next() % 25);
    for (int w = 0; w < n; ++w)
      s += std::string(kWords[rng.next() % 8]) + (w + 1 < n ? " " : "\n");
  }
  return s;
}

// Every magic position from `from` on, with the given scan.
template <typename Scan>
std::vector<std::pair<int64_t, uint64_t>> all_magics(const std::string& bytes, Scan scan) {
  std::vector<std::pair<int64_t, uint64_t>> found;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  uint64_t magic = 0;
  for (int64_t at = scan(p, bytes.size(), 0, &magic); at >= 0;
       at = scan(p, bytes.size(), at + 1, &magic))
    found.emplace_back(at, magic);
  return found;
}

// Writes the 48 bits of `magic` at bit `at` (most significant bit first).
void plant(std::string& bytes, int64_t at, uint64_t magic) {
  for (int k = 0; k < 48; ++k) {
    const int64_t b = at + k;
    const auto mask = static_cast<char>(0x80 >> (b % 8));
    auto& byte = bytes[static_cast<size_t>(b / 8)];
    byte = ((magic >> (47 - k)) & 1) ? static_cast<char>(byte | mask)
                                     : static_cast<char>(byte & ~mask);
  }
}

std::vector<Bzip2Segment> split_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  Bzip2Splitter splitter(f, path, "");
  std::vector<Bzip2Segment> segs;
  Bzip2Segment seg;
  while (splitter.next(seg))
    segs.push_back(seg);
  std::fclose(f);
  return segs;
}

// All segments decoded in order, as ByteStream's parallel path does (joining after a failure).
std::string decode_all(const std::vector<Bzip2Segment>& segs, int* joins = nullptr) {
  std::string text, block, why;
  for (size_t i = 0; i < segs.size(); ++i) {
    const Bzip2Segment* part = &segs[i];
    const bool ok = decode_bzip2_stream(wrap_bzip2_block(&part, 1), block, why);
    size_t next = i + 1;
    const int joined = decode_segment_run(
        segs[i], ok, block,
        [&]() -> const Bzip2Segment* { return next < segs.size() ? &segs[next++] : nullptr; },
        "test.bz2");
    if (joins != nullptr) *joins += joined;
    i += static_cast<size_t>(joined);
    text += block;
  }
  return text;
}

TEST(Bzip2Blocks, FastScanFindsWhatTheBitwiseScanFinds) {
  SplitMix64 rng(11);
  std::string noise(4096, '\0');
  for (auto& c : noise)
    c = static_cast<char>(rng.next());
  // Both magics at every shift within a byte, at the very start and at the very end.
  std::string planted = noise;
  plant(planted, 0, kBzip2BlockMagic);
  plant(planted, 8 * static_cast<int64_t>(planted.size()) - 48, kBzip2StreamEndMagic);
  for (int64_t k = 0; k < 16; ++k)  // 1001 k: shift k mod 8 (and 4 more)
    plant(planted, 100 + 1001 * k, k < 8 ? kBzip2BlockMagic : kBzip2StreamEndMagic);
  const std::string real = bzip2(some_text(6000, 12), 1) + bzip2("x") + bzip2("");
  for (const std::string* bytes : std::vector<const std::string*>{&noise, &planted, &real}) {
    const auto fast = all_magics(*bytes, find_bzip2_magic);
    EXPECT_EQ(fast, all_magics(*bytes, find_bzip2_magic_bitwise));
    if (bytes == &planted) {
      EXPECT_GE(fast.size(), 18u);
    }
    if (bytes == &real) {
      EXPECT_GE(fast.size(), 8u);
    }
  }
}

TEST(Bzip2Blocks, EachSegmentDecodesAlone) {
  TempDir dir;
  const std::string a = some_text(4000, 13), b = some_text(50, 14);
  write_file(dir.path() / "two.bz2", bzip2(a, 1) + bzip2("") + bzip2(b, 5));
  const std::vector<Bzip2Segment> segs = split_file(dir.str("two.bz2"));
  ASSERT_GE(segs.size(), 4u);  // ~500 kB of text in 100k blocks, then one block
  EXPECT_EQ(segs.back().level, '5');
  int ends = 0;
  for (const auto& s : segs)
    ends += s.ends_stream;
  EXPECT_EQ(ends, 2);  // the empty stream has no block
  std::string text, block, why;
  for (const auto& s : segs) {
    const Bzip2Segment* part = &s;
    ASSERT_TRUE(decode_bzip2_stream(wrap_bzip2_block(&part, 1), block, why)) << why;
    text += block;
  }
  EXPECT_EQ(text, a + b);
}

TEST(Bzip2Blocks, FalseMagicInsideABlockIsJoinedBack) {
  TempDir dir;
  const std::string text = some_text(4000, 15);
  write_file(dir.path() / "a.bz2", bzip2(text, 1));
  std::vector<Bzip2Segment> segs = split_file(dir.str("a.bz2"));
  ASSERT_GE(segs.size(), 3u);
  // Cut the second block in two, as a magic by chance in its data would.
  for (int64_t cut : {int64_t{80}, segs[1].bits / 2 + 3, segs[1].bits - 1}) {
    SCOPED_TRACE(cut);
    std::vector<Bzip2Segment> cut_segs = segs;
    const Bzip2Segment& whole = segs[1];
    Bzip2Segment head = whole, tail = whole;
    head.bits = cut;
    head.ends_stream = false;
    tail.file_bit = whole.file_bit + cut;
    tail.bits = whole.bits - cut;
    const auto skip = static_cast<size_t>(tail.file_bit / 8 - whole.file_bit / 8);
    tail.bytes = whole.bytes.substr(skip);
    cut_segs[1] = head;
    cut_segs.insert(cut_segs.begin() + 2, tail);
    std::string block, why;
    const Bzip2Segment* part = &cut_segs[1];
    EXPECT_FALSE(decode_bzip2_stream(wrap_bzip2_block(&part, 1), block, why));
    int joins = 0;
    EXPECT_EQ(decode_all(cut_segs, &joins), text);
    EXPECT_EQ(joins, 1);
  }
}

TEST(Bzip2Blocks, CorruptBlockNamesItsOffset) {
  TempDir dir;
  write_file(dir.path() / "a.bz2", bzip2(some_text(4000, 16), 1));
  std::vector<Bzip2Segment> segs = split_file(dir.str("a.bz2"));
  ASSERT_GE(segs.size(), 3u);
  std::string& bytes = segs[1].bytes;
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x55);
  expect_error([&] { decode_all(segs); },
               {"test.bz2", "corrupt bzip2 data",
                "compressed byte offset " + std::to_string(segs[1].file_bit / 8)});
}

}  // namespace
}  // namespace loom::data
