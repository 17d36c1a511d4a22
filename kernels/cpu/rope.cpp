// RoPE: the angles depend on the token and the pair, not the head, so each token's cos/sin are
// computed once and applied to all its heads. Angles are formed in double: position * frequency
// reaches 1e5 radians at long context, where an f32 angle would already be off by 0.01. The
// frequencies come from the caller (runtime/model/positions.h: plain, linear, dynamic NTK, Llama 3
// or YaRN), so every backend turns pairs by the same table.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"
#include "runtime/core/check.h"

namespace shardlm::cpu {
namespace {

template <RopeLayout Layout>
void rotate_head(float* head, const float* cos_values, const float* sin_values, int64_t pairs) {
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t a = Layout == RopeLayout::adjacent ? 2 * i : i;
    const int64_t b = Layout == RopeLayout::adjacent ? 2 * i + 1 : i + pairs;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * cos_values[i] - x1 * sin_values[i];
    head[b] = x0 * sin_values[i] + x1 * cos_values[i];
  }
}

}  // namespace

void rope(ThreadPool& pool, float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
          const double* frequencies, float magnitude, RopeLayout layout) {
  SHARDLM_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope: head_dim must be even and positive, got {}", head_dim);
  SHARDLM_CHECK(tokens >= 0 && heads >= 0, "rope: bad shape tokens={} heads={}", tokens, heads);
  const int64_t pairs = head_dim / 2;
  const int64_t min_tokens = std::max<int64_t>(1, kMinCheapElementsPerThread / std::max<int64_t>(1, heads * head_dim));

  pool.parallel_for(tokens, min_tokens, [&](int64_t begin, int64_t end) {
    std::vector<float> cos_values(pairs), sin_values(pairs);
    for (int64_t t = begin; t < end; ++t) {
      const double position = positions[t];
      for (int64_t i = 0; i < pairs; ++i) {
        const double angle = position * frequencies[i];
        cos_values[i] = static_cast<float>(std::cos(angle) * magnitude);
        sin_values[i] = static_cast<float>(std::sin(angle) * magnitude);
      }
      for (int64_t h = 0; h < heads; ++h) {
        float* head = x + (t * heads + h) * head_dim;
        if (layout == RopeLayout::adjacent) {
          rotate_head<RopeLayout::adjacent>(head, cos_values.data(), sin_values.data(), pairs);
        } else {
          rotate_head<RopeLayout::halves>(head, cos_values.data(), sin_values.data(), pairs);
        }
      }
    }
  });
}

}  // namespace shardlm::cpu
