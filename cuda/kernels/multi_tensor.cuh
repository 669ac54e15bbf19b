// cuda/kernels/multi_tensor.cuh: the tile map of a multi-tensor launch, shared by adam.cu (Adam
// over every parameter) and loss_scale.cu (unscale every gradient). Internal to cuda/.
//
//   TileMap<64, 1024> map{};
//   map.build(n, [&](int i) { return counts[i]; });            // host: a prefix sum of tiles
//   for (int64_t tile = blockIdx.x; tile < map.tiles(); tile += gridDim.x) {   // device
//     const int i = map.owner(tile);                            // binary search
//     for (int64_t e = map.begin(i, tile) + threadIdx.x; e < map.end(i, tile); e += blockDim.x)
//       ... element e of buffer i ...
//   }
// Big and small buffers share the grid evenly and an empty buffer owns no tile. Plain C++ apart
// from LOOM_HOST_DEVICE: tests/cuda/tile_map_test.cpp checks it on the CPU. Why a by-value table:
// cuda/README.md, "Multi-tensor launches".
//
// Leaves out: the buffers' pointers (each kernel's table), more than Max buffers (the launchers
// split the list into chunks of Max).
#pragma once

#include <cstdint>

#include "cuda/kernels/launch.cuh"

namespace loom::cuda {

template <int Max, int64_t Tile>
struct TileMap {
  int64_t count[Max];           // elements of buffer i
  int64_t tile_start[Max + 1];  // first tile of buffer i; tile_start[num] = tiles()
  int num;                      // buffers in this launch, <= Max

  // Host: the map of n <= Max buffers, buffer i having count_of(i) >= 0 elements (checked by
  // the caller).
  template <typename CountOf>
  void build(int n, CountOf count_of) {
    num = n;
    int64_t tiles = 0;
    for (int i = 0; i < n; ++i) {
      count[i] = count_of(i);
      tile_start[i] = tiles;
      tiles += ceil_div(count[i], Tile);
    }
    tile_start[n] = tiles;
  }

  // All tiles of the launch (0 when every buffer is empty).
  LOOM_HOST_DEVICE int64_t tiles() const { return tile_start[num]; }

  // The buffer owning `tile`: the last i with tile_start[i] <= tile, which skips empty buffers
  // (their tile_start equals the next one's).
  LOOM_HOST_DEVICE int owner(int64_t tile) const {
    int lo = 0, hi = num - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (tile_start[mid] <= tile)
        lo = mid;
      else
        hi = mid - 1;
    }
    return lo;
  }

  // Element range [begin, end) of buffer i covered by `tile` (end - begin < Tile only for the
  // last tile of a buffer).
  LOOM_HOST_DEVICE int64_t begin(int i, int64_t tile) const {
    return (tile - tile_start[i]) * Tile;
  }
  LOOM_HOST_DEVICE int64_t end(int i, int64_t tile) const {
    const int64_t e = begin(i, tile) + Tile;
    return e < count[i] ? e : count[i];
  }
};

}  // namespace loom::cuda
