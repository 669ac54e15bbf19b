// tests/cuda/tile_map_test.cpp: cuda/kernels/multi_tensor.cuh's TileMap (the tiles of a
// multi-tensor launch: Adam over all parameters, the loss scaler's unscale over all gradients) on
// the CPU, in every build. Its functions are LOOM_HOST_DEVICE: the very functions the kernels
// call.
//
// What must hold: walking tiles 0 .. tiles()-1 and asking owner/begin/end, every element of
// every buffer is covered exactly once, in order, by tiles of at most Tile elements (only a
// buffer's last tile may be shorter); an empty buffer owns no tile, wherever it is in the list;
// tiles() is the sum of ceil(count / Tile). Checked as: for each buffer the tiles it owns start
// where the previous one ended, from 0 up to its count (which is "exactly once" without a bitmap,
// so a buffer of billions of elements costs only its tiles).
//
// Leaves out: the kernels that walk the map (adam_kernels_emulation_test.cpp,
// loss_scale_kernels_emulation_test.cpp run those).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/kernels/multi_tensor.cuh"

namespace loom::cuda {
namespace {

// Builds the map of `counts` and checks every property above.
template <int Max, int64_t Tile>
void check_cover(const std::vector<int64_t>& counts) {
  SCOPED_TRACE(std::to_string(counts.size()) + " buffers, Tile " + std::to_string(Tile));
  ASSERT_LE(counts.size(), static_cast<std::size_t>(Max));
  auto map = std::make_unique<TileMap<Max, Tile>>();  // big for Max = 64: keep off the stack
  const int n = static_cast<int>(counts.size());
  map->build(n, [&](int i) { return counts[i]; });
  int64_t want_tiles = 0;
  for (int64_t c : counts)
    want_tiles += ceil_div(c, Tile);
  ASSERT_EQ(map->tiles(), want_tiles);

  std::vector<int64_t> next(counts.size(), 0);  // the first element of buffer i not yet covered
  int last_owner = 0;
  for (int64_t tile = 0; tile < map->tiles(); ++tile) {
    const int i = map->owner(tile);
    ASSERT_GE(i, 0);
    ASSERT_LT(i, n);
    ASSERT_GE(i, last_owner) << "tile " << tile << ": owners go backwards";
    last_owner = i;
    ASSERT_GT(counts[i], 0) << "tile " << tile << " owned by empty buffer " << i;
    const int64_t b = map->begin(i, tile), e = map->end(i, tile);
    ASSERT_EQ(b, next[i]) << "tile " << tile << " of buffer " << i << ": a gap or an overlap";
    ASSERT_GT(e, b) << "tile " << tile << " is empty";
    ASSERT_LE(e - b, Tile);
    ASSERT_TRUE(e - b == Tile || e == counts[i]) << "tile " << tile << ": short, not last";
    next[i] = e;
  }
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(next[i], counts[i]) << "buffer " << i << " not covered to its end";
}

TEST(TileMap, NoBuffersAndOnlyEmptyBuffersHaveNoTiles) {
  check_cover<64, 1024>({});
  check_cover<64, 1024>({0});
  check_cover<64, 1024>({0, 0, 0});
}

TEST(TileMap, EmptyBuffersOwnNoTileWhereverTheyAre) {
  check_cover<64, 1024>({0, 5, 0, 0, 3000, 0});
  check_cover<64, 4>({0, 0, 1, 0, 4, 0, 9, 0, 0});
  // The owner of each tile, by hand: counts {0, 5, 0, 9} with Tile 4 -> tiles 0-1 are buffer
  // 1's, tiles 2-4 buffer 3's.
  TileMap<8, 4> map{};
  const std::vector<int64_t> counts = {0, 5, 0, 9};
  map.build(4, [&](int i) { return counts[i]; });
  ASSERT_EQ(map.tiles(), 5);
  const int owners[] = {1, 1, 3, 3, 3};
  for (int64_t t = 0; t < 5; ++t)
    EXPECT_EQ(map.owner(t), owners[t]) << "tile " << t;
  EXPECT_EQ(map.begin(1, 1), 4);
  EXPECT_EQ(map.end(1, 1), 5);
  EXPECT_EQ(map.begin(3, 4), 8);
  EXPECT_EQ(map.end(3, 4), 9);
}

TEST(TileMap, SizesAroundTheTile) {
  constexpr int64_t T = 1024;
  check_cover<48, T>({1});
  check_cover<48, T>({T - 1});
  check_cover<48, T>({T});  // exact multiple: one full tile, no empty tail tile
  check_cover<48, T>({T + 1});
  check_cover<48, T>({2 * T, 3 * T, T});
  check_cover<48, T>({T - 1, T, T + 1, 1, 5 * T + 7});
}

TEST(TileMap, MaxBuffers) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> size(0, 5000);
  std::vector<int64_t> counts(64);
  for (int64_t& c : counts)
    c = size(rng);
  counts[0] = 0;
  counts[63] = 0;  // the last slot empty: tile_start[Max] still ends the map
  check_cover<64, 1024>(counts);
  counts[63] = 1;
  check_cover<64, 1024>(counts);
  check_cover<48, 1024>(std::vector<int64_t>(counts.begin(), counts.begin() + 48));
  check_cover<64, 1>(std::vector<int64_t>(64, 3));  // Tile 1: one element per tile
}

// Past 2^31 elements (int64 arithmetic everywhere) and 6 million tiles, between small buffers.
TEST(TileMap, OneHugeBuffer) {
  const int64_t huge = 3 * (int64_t{1} << 31) + 5;
  check_cover<64, 1024>({huge});
  check_cover<64, 1024>({7, huge, 0, 1025});
}

}  // namespace
}  // namespace loom::cuda
