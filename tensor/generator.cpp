// tensor/generator.cpp: host-side draws and the default generator.
#include "tensor/generator.h"

#include "tensor/philox.h"

namespace loom {

double Generator::uniform() {
  const Philox4x32 r = philox4x32_10(seed_, advance(1));
  return philox_uniform01_double(r.v[0], r.v[1]);
}

double Generator::normal() {
  const Philox4x32 r = philox4x32_10(seed_, advance(1));
  return philox_normal(r.v[0], r.v[1]);
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) {
  default_generator().manual_seed(seed);
}

}  // namespace loom
