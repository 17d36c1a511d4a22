// Pipeline stages: which layers each stage holds. Balanced by default (the first layers % pp stages
// take one more), or as the user lists them.
#pragma once

#include <cstdint>
#include <vector>

namespace shardlm {

struct StageLayers {
  int64_t first = 0, count = 0;
};

// Layer counts per stage: `requested` (empty = balanced) must have pp entries, each >= 1, summing to
// `layers`. Throws saying why and what would work (pp above the layer count, a bad list).
std::vector<StageLayers> partition_layers(int64_t layers, int pp, const std::vector<int64_t>& requested = {});

}  // namespace shardlm
