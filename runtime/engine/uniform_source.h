// A seeded source of uniform numbers in [0, 1): splitmix64, tiny, well mixed, and defined here so that
// a seed means the same draws on every platform and every rank.
#pragma once

#include <cstdint>

namespace shardlm {

class UniformSource {
 public:
  explicit UniformSource(uint64_t seed) : state_(seed) {}
  double next() {  // from 53 random bits
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

}  // namespace shardlm
