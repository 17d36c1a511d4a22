// Split-K attention's last step (flash-decoding): each of `splits` blocks attends one query row to a
// disjoint range of the keys and leaves [its maximum score, the sum of exp(score - maximum), the
// exp-weighted sum of the values (head_dim floats)]; the softmax over all the keys is recovered by
// rescaling each range to the largest maximum. Host and device code: the CPU tests check it against a
// direct softmax.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/host_device.h"

namespace shardlm::cuda {

// Floats one range's partial result takes.
SHARDLM_HOST_DEVICE int64_t partial_floats(int64_t head_dim) { return head_dim + 2; }

// Output dimension d of the query row whose ranges' partials start at `partials`, one range every
// partial_floats(head_dim) floats. An empty range has maximum -inf and adds nothing; at least one
// range (the first) holds a key.
SHARDLM_HOST_DEVICE float merged_output(const float* partials, int splits, int64_t head_dim, int64_t d) {
  const int64_t stride = partial_floats(head_dim);
  float best = -INFINITY;
  for (int s = 0; s < splits; ++s) best = fmaxf(best, partials[s * stride]);
  float sum = 0.0f, weighted = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float* range = partials + s * stride;
    if (range[0] == -INFINITY) continue;
    const float rescale = expf(range[0] - best);
    sum += range[1] * rescale;
    weighted += range[2 + d] * rescale;
  }
  return weighted / sum;
}

// Ranges per query row: enough blocks to fill the GPU (twice its multiprocessors) when the rows and
// heads alone do not, each range at least kMinKeysPerSplit keys, at most kMaxSplits.
inline constexpr int64_t kMinKeysPerSplit = 256;
inline constexpr int kMaxSplits = 64;
SHARDLM_HOST_DEVICE int attention_splits(int64_t rows_times_heads, int64_t keys, int multiprocessors) {
  const int64_t wanted = (2 * static_cast<int64_t>(multiprocessors) + rows_times_heads - 1) / rows_times_heads;
  int64_t splits = wanted < keys / kMinKeysPerSplit ? wanted : keys / kMinKeysPerSplit;
  if (splits > kMaxSplits) splits = kMaxSplits;
  return splits < 1 ? 1 : static_cast<int>(splits);
}

}  // namespace shardlm::cuda
