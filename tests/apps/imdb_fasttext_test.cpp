// tests/apps/imdb_fasttext_test.cpp: `imdb train --data train.ft.txt.bz2 --test test.ft.txt.bz2`
// on tiny compressed fastText files written here: the files' own split, and bad input (a corrupt
// block, a bad line deep in the file, an empty file, one label only) refused by name with
// nothing written.
#include <bzlib.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

// `rows` reviews "__label__<1|2> ..." with cue words, like make_tiny_aclimdb's; `only` >= 0 gives
// every row that label (0 negative, 1 positive).
std::string fasttext_reviews(int rows, unsigned seed, int only = -1) {
  const std::vector<std::string> pos = {"great", "wonderful", "loved", "excellent"};
  const std::vector<std::string> neg = {"awful", "boring", "terrible", "worst"};
  const std::vector<std::string> filler = {"the", "movie", "was", "a", "and", "plot", "Story:"};
  std::mt19937 rng(seed);
  std::string s;
  for (int i = 0; i < rows; ++i) {
    const int label = only >= 0 ? only : static_cast<int>(rng() % 2);
    s += label ? "__label__2" : "__label__1";
    const int n = 5 + static_cast<int>(rng() % 8);
    for (int w = 0; w < n; ++w) {
      const auto& from = rng() % 3 == 0 ? (label ? pos : neg) : filler;
      s += " " + from[rng() % from.size()];
    }
    s += '\n';
  }
  return s;
}

void write_bz2(const std::string& path, const std::string& text, int block_100k = 9) {
  std::string out(text.size() + text.size() / 50 + 1024, '\0');
  auto n = static_cast<unsigned>(out.size());
  ASSERT_EQ(BZ2_bzBuffToBuffCompress(out.data(), &n, const_cast<char*>(text.data()),
                                     static_cast<unsigned>(text.size()), block_100k, 0, 0),
            BZ_OK);
  std::ofstream(path, std::ios::binary).write(out.data(), n);
}

bool wrote_a_checkpoint(const std::string& out) {
  if (!fs::exists(out)) return false;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.path().extension() == ".safetensors") return true;
  return false;
}

class ImdbFastText : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_dir("fasttext");
    write_bz2(path("train.ft.txt.bz2"), fasttext_reviews(300, 1));
    write_bz2(path("test.ft.txt.bz2"), fasttext_reviews(60, 2));
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string path(const std::string& name) const { return root_ + "/" + name; }
  std::string root_;
};

TEST_F(ImdbFastText, TrainsOnTheFilesOwnSplitThenEvaluatesTheTestFile) {
  const std::string o = path("run");
  RunResult r =
      run_imdb("train --data " + path("train.ft.txt.bz2") + " --test " + path("test.ft.txt.bz2") +
               " --out " + o + " --epochs 1 " + tiny_model_flags());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("360 reviews"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train 300, validation 60"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("peak RSS"), std::string::npos) << r.output;
  std::ifstream config(o + "/config.json");
  const std::string json((std::istreambuf_iterator<char>(config)), {});
  EXPECT_NE(json.find("\"split\": \"official\""), std::string::npos) << json;
  EXPECT_NE(json.find("test.ft.txt.bz2"), std::string::npos) << json;
  r = run_imdb("eval --checkpoint " + o + "/best.safetensors --on test --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("60"), std::string::npos) << r.output;
}

TEST_F(ImdbFastText, RandomSplitOverATestFileIsRefused) {
  RunResult r =
      run_imdb("train --data " + path("train.ft.txt.bz2") + " --test " + path("test.ft.txt.bz2") +
               " --split random80 --out " + path("run") + " --epochs 1 " + tiny_model_flags());
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.crashed);
  EXPECT_NE(r.output.find("--test"), std::string::npos) << r.output;
}

TEST_F(ImdbFastText, BadFilesAreNamedAndNothingIsWritten) {
  // A corrupt block in the middle: ~40 bzip2 blocks of 100 kB, one byte flipped halfway.
  const std::string big = fasttext_reviews(60000, 3);
  write_bz2(path("big.ft.bz2"), big, 1);
  std::string bytes;
  {
    std::ifstream in(path("big.ft.bz2"), std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), {});
  }
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x55);
  std::ofstream(path("corrupt.ft.bz2"), std::ios::binary) << bytes;
  // A line without a label deep in the file.
  std::string deep = fasttext_reviews(5000, 4);
  deep += "this line has no label\n" + fasttext_reviews(10, 5);
  write_bz2(path("deep.ft.bz2"), deep);
  write_bz2(path("empty.ft.bz2"), "");
  write_bz2(path("one.ft.bz2"), fasttext_reviews(200, 6, /*only=*/1));
  const struct {
    const char* file;
    std::vector<std::string> says;
  } cases[] = {
      {"corrupt.ft.bz2", {"corrupt.ft.bz2", "corrupt bzip2 data", "compressed byte offset"}},
      {"deep.ft.bz2", {"deep.ft.bz2", "line 5001", "__label__"}},
      {"empty.ft.bz2", {"empty.ft.bz2", "holds no reviews"}},
      {"one.ft.bz2", {"one.ft.bz2", "positive", "both labels"}},
  };
  for (const auto& c : cases) {
    const std::string o = path(std::string("out_") + c.file);
    RunResult r = run_imdb("train --data " + path(c.file) + " --test " + path("test.ft.txt.bz2") +
                           " --out " + o + " --epochs 1 " + tiny_model_flags());
    EXPECT_NE(r.status, 0) << c.file;
    EXPECT_FALSE(r.crashed) << c.file << ": " << r.output;
    for (const auto& s : c.says)
      EXPECT_NE(r.output.find(s), std::string::npos) << c.file << ": '" << s << "' not in\n"
                                                     << r.output;
    EXPECT_FALSE(wrote_a_checkpoint(o)) << c.file;
  }
}

}  // namespace
}  // namespace loom::imdb
