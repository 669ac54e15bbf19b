// tests/data/tar_test.cpp: the fast .tar.gz path: whole-file gunzip (libdeflate), the in-memory
// tar reader (ustar, GNU and pax dialects as libarchive writes them, hand-made headers for the
// rarer fields), its errors on corrupt or truncated input, and read_aclimdb / ImdbArchive giving
// the same reviews on the fast path and on libarchive's (plain .tar, multi-member gzip).
// Archives are made here, in memory, with libarchive and libdeflate: no binary fixtures.
#include <gtest/gtest.h>
#include <libdeflate.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "data/gunzip.h"
#include "data/imdb_reader.h"
#include "data/tar_reader.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_file;

struct Entry {
  std::string path;
  std::string data;
  char type = '0';  // '0' file, '5' directory, '2' symlink (to "target")
};

// The tar archive libarchive writes for `entries` in `format` (ARCHIVE_FORMAT_TAR_*).
std::string tar_bytes(int format, const std::vector<Entry>& entries) {
  size_t room = 1 << 20;
  for (const Entry& en : entries)
    room += en.data.size() + 1024;  // data, padding and headers
  std::string buf(room, '\0');
  size_t used = 0;
  archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format(a, format), ARCHIVE_OK) << archive_error_string(a);
  EXPECT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK);
  for (const Entry& en : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, en.path.c_str());
    archive_entry_set_perm(e, 0644);
    if (en.type == '5') {
      archive_entry_set_filetype(e, AE_IFDIR);
    } else if (en.type == '2') {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, "target");
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(en.data.size()));
    }
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << en.path << ": " << archive_error_string(a);
    if (!en.data.empty()) archive_write_data(a, en.data.data(), en.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  buf.resize(used);
  return buf;
}

std::string gzip(std::string_view data) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string out(libdeflate_gzip_compress_bound(c, data.size()), '\0');
  out.resize(libdeflate_gzip_compress(c, data.data(), data.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  return out;
}

std::vector<TarEntry> read_all(std::string_view archive, const std::string& where = "mem.tar") {
  std::vector<TarEntry> out;
  TarReader reader(archive, where);
  TarEntry e;
  while (reader.next(e))
    out.push_back(e);
  return out;
}

// A hand-made ustar header block: name, octal size, type; checksum filled in.
void set_checksum(std::string& h) {
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (char c : h)
    sum += static_cast<unsigned char>(c);
  std::snprintf(&h[148], 8, "%06o", sum);  // six digits, NUL; byte 155 stays ' '
}
std::string header(const std::string& name, uint64_t size, char type = '0') {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  std::memcpy(&h[100], "0000644", 7);
  std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
  h[156] = type;
  std::memcpy(&h[257],
              "ustar\0"
              "00",
              8);
  set_checksum(h);
  return h;
}
std::string padded(std::string data) {
  data.resize((data.size() + 511) / 512 * 512, '\0');
  return data;
}

TEST(TarReader, ReadsTheDialectsLibarchiveWrites) {
  const std::string long_dir = std::string(60, 'd') + "/" + std::string(60, 'e');
  const std::string long_name = "aclImdb/" + std::string(150, 'n') + ".txt";
  const std::vector<Entry> common = {
      {"aclImdb/", "", '5'},     {"aclImdb/empty.txt", ""},
      {"aclImdb/one.txt", "1"},  {"aclImdb/block.txt", std::string(512, 'b')},
      {"aclImdb/link", "", '2'}, {"aclImdb/over.txt", std::string(513, 'o') + "\xE9"},
  };
  struct Case {
    int format;
    std::string long_path;  // a path past 100 bytes in that dialect's own way
  };
  for (const Case& c : {Case{ARCHIVE_FORMAT_TAR_USTAR, long_dir + "/f.txt"},  // prefix field
                        Case{ARCHIVE_FORMAT_TAR_GNUTAR, long_name},           // 'L' entry
                        Case{ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, long_name},  // 'x' entry
                        Case{ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, long_name}}) {
    std::vector<Entry> entries = common;
    entries.push_back({c.long_path, "long"});
    const std::string archive = tar_bytes(c.format, entries);  // the entries view into it
    const std::vector<TarEntry> got = read_all(archive);
    ASSERT_EQ(got.size(), entries.size()) << "format " << c.format;
    for (size_t i = 0; i < entries.size(); ++i) {
      const std::string want_path = entries[i].path;
      EXPECT_EQ(got[i].path, want_path) << "format " << c.format;
      EXPECT_EQ(got[i].type, entries[i].type) << want_path;
      EXPECT_EQ(got[i].data, entries[i].data) << want_path;
      EXPECT_EQ(got[i].is_file(), entries[i].type == '0');
      EXPECT_EQ(got[i].offset % 512, 0u);
    }
  }
}

TEST(TarReader, RareHeaderFields) {
  std::string ar;
  std::string h = header("b256.txt", 0);  // GNU base-256 size: 0x80, then big-endian bytes
  std::memset(&h[124], 0, 12);
  h[124] = static_cast<char>(0x80);
  h[135] = 5;
  set_checksum(h);
  ar += h + padded("hello");
  ar += header("old/", 0, '\0');  // pre-POSIX: type NUL and a trailing slash = directory
  const std::string pax =
      "10 size=3\n"
      "12 path=abc\n";
  ar += header("PaxHeader", pax.size(), 'x') + padded(pax);
  ar += header("ignored-name", 0) + padded("abc");  // pax overrides both name and size
  std::string sig = header("caf\xE9.txt", 2);       // checksum as a sum of *signed* chars
  std::memset(&sig[148], ' ', 8);
  int ssum = 0;
  for (char ch : sig)
    ssum += static_cast<signed char>(ch);
  std::snprintf(&sig[148], 8, "%06o", ssum);
  ar += sig + padded("ok");
  ar += header("g", 9, 'g') + padded(std::string("6 a=b\n\0\0\0", 9));  // global pax: ignored

  const std::vector<TarEntry> got = read_all(ar);  // no end-of-archive blocks: a clean end too
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].path, "b256.txt");
  EXPECT_EQ(got[0].data, "hello");
  EXPECT_EQ(got[1].path, "old/");
  EXPECT_EQ(got[1].type, '5');
  EXPECT_EQ(got[2].path, "abc");
  EXPECT_EQ(got[2].data, "abc");
  EXPECT_EQ(got[3].path, "caf\xE9.txt");
  EXPECT_EQ(got[3].data, "ok");

  // Zero blocks end the archive; whatever follows them is padding.
  const std::string trailed = ar + std::string(1024, '\0') + "garbage";
  EXPECT_EQ(read_all(trailed).size(), 4u);
}

TEST(TarReader, CorruptOrTruncatedInputNamesArchiveAndEntry) {
  const std::string good = header("a.txt", 3) + padded("abc");
  expect_error([&] { read_all(good + header("b.txt", 1).substr(0, 100), "t.tar"); },
               {"t.tar", "byte 1024", "truncated header (100 of 512 bytes)"});
  expect_error([&] { read_all(good + header("big.txt", 1000) + std::string(100, 'x'), "t.tar"); },
               {"t.tar", "'big.txt'", "data truncated", "1000 bytes, 100 left"});
  std::string flipped = header("c.txt", 0);
  flipped[0] = 'C';  // checksum no longer matches
  expect_error([&] { read_all(good + flipped, "t.tar"); },
               {"t.tar", "'C.txt'", "checksum mismatch", "not a tar archive"});
  std::string bad_size = header("d.txt", 0);
  std::memcpy(&bad_size[124], "12x", 4);
  set_checksum(bad_size);
  expect_error([&] { read_all(bad_size, "t.tar"); }, {"'d.txt'", "malformed size field '12x'"});
  const std::string bad_pax = "99 path=x\n";
  expect_error([&] { read_all(header("p", bad_pax.size(), 'x') + padded(bad_pax), "t.tar"); },
               {"t.tar", "malformed pax record"});
  const std::string pax = "12 path=abc\n";
  expect_error([&] { read_all(good + header("p", pax.size(), 'x') + padded(pax), "t.tar"); },
               {"'abc'", "ends after an extended header"});
  expect_error([&] { read_all(std::string(600, '\x1f'), "junk.tar"); }, {"junk.tar", "checksum"});
}

TEST(TarReader, RefusesAnExtendedHeaderOverOneMebibyte) {
  const std::string name(2u << 20, 'n');  // a GNU long name of 2 MiB
  const std::string tar =
      header("././@LongLink", name.size(), 'L') + padded(name) + header("short", 1) + padded("x");
  expect_error([&] { read_all(tar, "long.tar"); },
               {"long.tar", "extended header of 2097152 bytes", "more than 1 MiB"});
}

TEST(Gunzip, WholeFileOrAskForStreaming) {
  std::string data;
  for (int i = 0; i < 20000; ++i)
    data += "line " + std::to_string(i) + "\n";
  const std::string gz = gzip(data);
  ByteBuffer out;
  ASSERT_TRUE(gunzip_whole(gz, "x.gz", &out));
  EXPECT_EQ(out.view(), data);

  ByteBuffer untouched;
  EXPECT_FALSE(gunzip_whole(data, "x.gz", &untouched));  // not gzip
  EXPECT_FALSE(gunzip_whole(gz + gzip("second member"), "x.gz", &untouched));
  std::string wrapped = gz;  // ISIZE smaller than the real size, as past 4 GiB
  wrapped[wrapped.size() - 4] = 1;
  wrapped[wrapped.size() - 3] = wrapped[wrapped.size() - 2] = wrapped[wrapped.size() - 1] = 0;
  EXPECT_FALSE(gunzip_whole(wrapped, "x.gz", &untouched));
  EXPECT_EQ(untouched.data, nullptr);

  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0x55;
  expect_error([&] { gunzip_whole(bad_crc, "x.gz", &untouched); }, {"x.gz", "corrupt"});
}

// aclImdb entries (the same set as readers_test.cpp's), as (path, content).
std::vector<Entry> imdb_entries() {
  return {{"aclImdb/", "", '5'},
          {"aclImdb/test/pos/0_7.txt", "Test positive."},
          {"aclImdb/train/pos/3_8.txt", "Great<br />film."},
          {"aclImdb/README", "not a review"},
          {"aclImdb/train/neg/2_1.txt", std::string("Bad\0movie \xE9", 11)},
          {"aclImdb/train/pos/1_10.txt", ""},
          {"aclImdb/test/neg/5_2.txt", "Test negative."}};
}

TEST(AclImdb, EveryArchivePathGivesTheSameReviews) {
  TempDir dir;
  const std::string tar = tar_bytes(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, imdb_entries());
  write_file(dir.path() / "fast.tar.gz", gzip(tar));  // libdeflate + TarReader
  write_file(dir.path() / "plain.tar", tar);          // libarchive
  const size_t half = tar.size() / 2;                 // two gzip members: libarchive
  write_file(dir.path() / "multi.tgz", gzip(tar.substr(0, half)) + gzip(tar.substr(half)));

  const auto want = read_aclimdb(dir.str("fast.tar.gz"));
  ASSERT_EQ(want.size(), 5u);
  EXPECT_EQ(want[0].text, std::string("Bad\0movie \xEF\xBF\xBD", 13));  // sanitized copy
  for (const char* name : {"plain.tar", "multi.tgz"}) {
    const auto got = read_aclimdb(dir.str(name));
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].text, want[i].text) << name;
      EXPECT_EQ(got[i].id, want[i].id) << name;
      EXPECT_EQ(got[i].split, want[i].split) << name;
      EXPECT_EQ(got[i].label, want[i].label) << name;
    }
  }
  for (const char* name : {"fast.tar.gz", "plain.tar", "multi.tgz"}) {
    const ImdbArchive archive(dir.str(name));
    ASSERT_EQ(archive.size(), 5);
    EXPECT_EQ(archive.text(0), std::string_view("Bad\0movie \xE9", 11)) << name;  // raw bytes
    EXPECT_EQ(archive.text(2), "Great<br />film.");
    EXPECT_EQ(archive.examples()[4].id, 0);
    EXPECT_TRUE(archive.examples()[4].text.empty());
  }
}

TEST(AclImdb, TruncatedTarballsNameTheFileAndEntry) {
  TempDir dir;
  const std::string tar = tar_bytes(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, imdb_entries());
  const std::string gz = gzip(tar);
  write_file(dir.path() / "cut.tar.gz", gz.substr(0, gz.size() / 2));
  expect_error([&] { read_aclimdb(dir.str("cut.tar.gz")); }, {"cut.tar.gz"});
  // A valid gzip of a tar cut 3 bytes into an entry's data.
  const size_t cut = tar.find("Great<br />") + 3;
  ASSERT_LT(cut, tar.size());
  write_file(dir.path() / "short.tar.gz", gzip(tar.substr(0, cut)));
  expect_error([&] { read_aclimdb(dir.str("short.tar.gz")); },
               {"read_aclimdb", "short.tar.gz", "data truncated"});
}

// A header's size is a claim: it must fit in what the file still holds (uncompressed) and under
// the review limit, and it is never allocated before the bytes arrive.
TEST(AclImdb, HostileSizeClaimsAreRefusedWithoutAllocatingThem) {
  TempDir dir;
  const std::string review = "aclImdb/train/pos/1_9.txt";
  // A 10 KB plain tar whose review claims 1 TiB: libarchive's path (this used to be bad_alloc).
  std::string tib = header(review, 0);
  std::memset(&tib[124], 0, 12);
  tib[124] = static_cast<char>(0x80);  // GNU base-256 size: 2^40, big-endian
  tib[135 - 5] = 1;
  set_checksum(tib);
  write_file(dir.path() / "tib.tar", tib + std::string(10 * 512, 'x'));
  expect_error([&] { read_aclimdb(dir.str("tib.tar")); },
               {"tib.tar", review, "claims 1099511627776 bytes", "holds only"});
  // Two gzip members (libarchive again) claiming 100 MiB: over the review limit, refused at the
  // header instead of after zero-filling 100 MB.
  const std::string tar = header(review, uint64_t{100} << 20) + padded("tiny");
  write_file(dir.path() / "claim.tgz", gzip(tar.substr(0, 700)) + gzip(tar.substr(700)));
  expect_error([&] { read_aclimdb(dir.str("claim.tgz")); },
               {"claim.tgz", review, "104857600 bytes", "more than the largest review"});
}

TEST(AclImdb, AReviewOverTheLimitIsRefusedOnEveryPath) {
  TempDir dir;
  const std::string big(kMaxReviewBytes + 1, 'x');
  const std::string tar = tar_bytes(ARCHIVE_FORMAT_TAR_USTAR, {{"aclImdb/train/neg/4_2.txt", big}});
  write_file(dir.path() / "big.tar.gz", gzip(tar));  // in memory
  write_file(dir.path() / "big.tar", tar);           // libarchive
  write_file(dir.path() / "folder" / "train" / "neg" / "4_2.txt", big);
  for (const char* name : {"big.tar.gz", "big.tar", "folder"})
    expect_error([&] { read_aclimdb(dir.str(name)); },
                 {name, "4_2.txt", "16777217 bytes", "more than the largest review read (16 MiB)"});
}

}  // namespace
}  // namespace loom::data
