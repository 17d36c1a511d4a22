// LayerNorm over rows, rows spread across threads. Two passes (mean, then variance of the
// centred values) rather than E[x^2] - E[x]^2, which cancels badly when |mean| >> std.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"

namespace shardlm::cpu {

void layernorm(ThreadPool& pool, const float* x, const float* weight, const float* bias, float* y, int64_t rows,
               int64_t dim, float eps) {
  pool.parallel_for(rows, std::max<int64_t>(1, kMinCheapElementsPerThread / std::max<int64_t>(dim, 1)),
                    [&](int64_t begin, int64_t end) {
                      for (int64_t r = begin; r < end; ++r) {
                        const float* in = x + r * dim;
                        float* out = y + r * dim;
                        float sum = 0.0f;
                        for (int64_t i = 0; i < dim; ++i) sum += in[i];
                        const float mean = sum / static_cast<float>(dim);
                        float squares = 0.0f;
                        for (int64_t i = 0; i < dim; ++i) squares += (in[i] - mean) * (in[i] - mean);
                        const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(dim) + eps);
                        if (bias != nullptr) {
                          for (int64_t i = 0; i < dim; ++i) out[i] = (in[i] - mean) * inv_std * weight[i] + bias[i];
                        } else {
                          for (int64_t i = 0; i < dim; ++i) out[i] = (in[i] - mean) * inv_std * weight[i];
                        }
                      }
                    });
}

}  // namespace shardlm::cpu
