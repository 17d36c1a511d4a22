#include "parallel/pipeline.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <numeric>

#include "runtime/core/check.h"

namespace shardlm {

std::vector<StageLayers> partition_layers(int64_t layers, int pp, const std::vector<int64_t>& requested) {
  SHARDLM_CHECK(pp >= 1, "--pp must be at least 1, got {}", pp);
  SHARDLM_CHECK(pp <= layers, "--pp {} is more pipeline stages than the model's {} layers; use --pp 1 to {}", pp, layers,
                layers);
  std::vector<int64_t> counts = requested;
  if (counts.empty()) {
    for (int s = 0; s < pp; ++s) counts.push_back(layers / pp + (s < layers % pp ? 1 : 0));
  }
  SHARDLM_CHECK(static_cast<int>(counts.size()) == pp, "--pp-layers lists {} stages, but --pp is {}", counts.size(), pp);
  for (int64_t count : counts) SHARDLM_CHECK(count >= 1, "--pp-layers {}: every stage needs at least one layer", fmt::join(counts, ","));
  SHARDLM_CHECK(std::accumulate(counts.begin(), counts.end(), int64_t{0}) == layers,
                "--pp-layers {} sums to {}, but the model has {} layers", fmt::join(counts, ","),
                std::accumulate(counts.begin(), counts.end(), int64_t{0}), layers);
  std::vector<StageLayers> stages;
  int64_t first = 0;
  for (int64_t count : counts) {
    stages.push_back({first, count});
    first += count;
  }
  return stages;
}

}  // namespace shardlm
