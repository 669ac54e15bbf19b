// data/string_table.h: a small open-addressing hash table from words to dense indices.
//
// The text hot path looks up ~12 million tokens for the 50k IMDB reviews. std::unordered_map
// would need a std::string per lookup (C++17 has no heterogeneous lookup) and chases a pointer per
// node; this table hashes the std::string_view directly, keeps keys in insertion order (index i is
// the i-th distinct key inserted, which the vocabulary uses for its first-occurrence tie-break) and
// probes linearly in a flat array of 32-byte slots. A slot holds the key's first 24 bytes, so a
// lookup of a word up to 24 bytes long (all but a handful) reads one cache line and never
// touches keys_. Rehashing recomputes the hashes (it happens log2(size) times).
// Left out: erase (never needed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "data/big_buffer.h"

namespace loom::data {

class StringTable {
 public:
  StringTable() { rehash(64); }

  // What a lookup computes once per key: the hash, the key's first 24 bytes (zero-padded) and
  // a tag of hash bits and the size. probe() + prefetch() + insert(key, probe) split a lookup so
  // a caller can hash the next keys and prefetch their slots while it looks up this one: a big
  // table does not fit in the L2 cache, so a lookup is mostly waiting for memory.
  struct Probe {
    uint64_t hash;
    uint64_t bytes[3];
    uint32_t tag;
  };
  static Probe probe(std::string_view key) {
    Probe k;
    for (size_t w = 0; w < 3; ++w)  // word w holds bytes [8w, 8w + 8) of the key
      k.bytes[w] = key.size() > 8 * w ? load_upto8(key.data() + 8 * w, key.size() - 8 * w) : 0;
    finish(k, key);
    return k;
  }
  // The same probe, for a key followed in memory by at least 24 readable bytes (the tokenizer's
  // scratch buffer has that slack): three plain 8-byte loads, masked to the key's size, instead
  // of load_upto8's size-dependent branches, which word lengths make unpredictable.
  static Probe probe_padded(std::string_view key) {
    Probe k;
    for (size_t w = 0; w < 3; ++w) {
      const size_t have = key.size() > 8 * w ? std::min<size_t>(key.size() - 8 * w, 8) : 0;
      k.bytes[w] = load64(key.data() + 8 * w) & low_bytes_mask(have);
    }
    finish(k, key);
    return k;
  }
  void prefetch(const Probe& k) const { __builtin_prefetch(&slots_[k.hash & mask_]); }

  // Index of `key`, or -1 when absent.
  int32_t find(std::string_view key) const {
    const Probe k = probe(key);
    for (size_t s = k.hash & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.index < 0) return -1;
      if (matches(slot, k, key)) return slot.index;
    }
  }

  // Index of `key`, inserting it with index size() when absent; *inserted tells which happened.
  int32_t insert(std::string_view key, bool* inserted = nullptr) {
    return insert(key, probe(key), inserted);
  }
  // The same with the key's probe() computed by the caller.
  int32_t insert(std::string_view key, const Probe& k, bool* inserted = nullptr) {
    size_t s = k.hash & mask_;
    for (;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.index < 0) break;
      if (matches(slot, k, key)) {
        if (inserted) *inserted = false;
        return slot.index;
      }
    }
    const auto idx = static_cast<int32_t>(keys_.size());
    keys_.emplace_back(key);
    slots_[s] = Slot{{k.bytes[0], k.bytes[1], k.bytes[2]}, k.tag, idx};
    if (inserted) *inserted = true;
    if (keys_.size() * 2 > slots_.size()) rehash(slots_.size() * 2);  // load factor <= 1/2
    return idx;
  }

  int32_t size() const { return static_cast<int32_t>(keys_.size()); }
  const std::string& key(int32_t idx) const { return keys_[static_cast<size_t>(idx)]; }
  const std::vector<std::string>& keys() const { return keys_; }
  // Moves the keys out (in insertion order) and leaves the table empty.
  std::vector<std::string> take_keys() {
    std::vector<std::string> keys = std::move(keys_);
    *this = StringTable();
    return keys;
  }

  // 64-bit hash of a string: 8 bytes per multiply, then a final avalanche (splitmix64's).
  static uint64_t hash(std::string_view key) { return probe(key).hash; }

 private:
  // 32 bytes, two per cache line: the key's first 24 bytes, the tag, the index.
  struct Slot {
    uint64_t bytes[3];  // first min(24, size) bytes of the key, zero-padded
    uint32_t tag;       // (hash >> 40) << 8 | min(size, 255)
    int32_t index;      // into keys_, -1 = empty
  };

  static uint64_t load64(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  // The first min(n, 8) bytes at p, little-endian, zero-padded (fixed-size loads, not a byte
  // loop: memcpy of a variable size would be a call).
  static uint64_t load_upto8(const char* p, size_t n) {
    if (n >= 8) return load64(p);
    uint64_t w = 0;
    size_t k = 0;
    if (n & 4) {
      uint32_t x;
      std::memcpy(&x, p, 4);
      w = x;
      k = 4;
    }
    if (n & 2) {
      uint16_t x;
      std::memcpy(&x, p + k, 2);
      w |= static_cast<uint64_t>(x) << (8 * k);
      k += 2;
    }
    if (n & 1) w |= static_cast<uint64_t>(static_cast<unsigned char>(p[k])) << (8 * k);
    return w;
  }
  // The mask that keeps the low `n` bytes of a little-endian 8-byte word (n <= 8).
  static uint64_t low_bytes_mask(size_t n) {
    return n >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * n)) - 1;
  }
  // The hash of a key whose first 24 bytes are in k.bytes: the three words (zero past the end),
  // then any bytes past 24, 8 at a time, then the avalanche. The tag adds the size.
  static void finish(Probe& k, std::string_view key) {
    const char* p = key.data();
    const size_t n = key.size();
    uint64_t h = (0x9E3779B97F4A7C15ULL ^ n) * 0xBF58476D1CE4E5B9ULL;
    for (size_t w = 0; w < 3; ++w)
      h = (h ^ k.bytes[w]) * 0xBF58476D1CE4E5B9ULL;
    if (n > 24) {
      for (size_t at = 24; at + 8 < n; at += 8)
        h = (h ^ load64(p + at)) * 0xBF58476D1CE4E5B9ULL;
      h ^= load64(p + n - 8);  // the last 8 bytes (may overlap the previous block)
    }
    k.hash = mix(h);
    k.tag = static_cast<uint32_t>(k.hash >> 40) << 8 | static_cast<uint32_t>(n < 255 ? n : 255);
  }
  // splitmix64's finalizer: every input bit affects every output bit.
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  bool matches(const Slot& slot, const Probe& k, std::string_view key) const {
    if (slot.tag != k.tag || slot.bytes[0] != k.bytes[0] || slot.bytes[1] != k.bytes[1] ||
        slot.bytes[2] != k.bytes[2]) {
      return false;
    }
    if (key.size() <= 24) return true;  // the slot holds the whole key, the tag its size
    // Longer keys: the rest in 8-byte words, the last one overlapping (inline: memcmp would be
    // a call).
    const std::string& stored = keys_[static_cast<size_t>(slot.index)];
    const size_t n = key.size();
    if (stored.size() != n) return false;
    for (size_t at = 24; at + 8 < n; at += 8)
      if (load64(stored.data() + at) != load64(key.data() + at)) return false;
    return load64(stored.data() + n - 8) == load64(key.data() + n - 8);
  }

  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_ = std::vector<Slot>();
    reserve_huge(slots_, capacity);  // 8 MB for 100k words: 2 MB pages spare the TLB
    slots_.assign(capacity, Slot{{0, 0, 0}, 0, -1});
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.index < 0) continue;
      size_t s = probe(keys_[static_cast<size_t>(slot.index)]).hash & mask_;
      while (slots_[s].index >= 0)
        s = (s + 1) & mask_;
      slots_[s] = slot;
    }
  }

  std::vector<std::string> keys_;  // [size] in insertion order
  std::vector<Slot> slots_;        // [capacity], capacity = 2^k
  size_t mask_ = 0;
};

}  // namespace loom::data
