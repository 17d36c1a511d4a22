// SwiGLU's gating, out = silu(gate) * up, split among threads in contiguous chunks.
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"

namespace shardlm::cpu {
void silu_gate(ThreadPool& pool, const float* gate, const float* up, float* out, int64_t n) {
  pool.parallel_for(n, kMinCostlyElementsPerThread, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // For gate < -88.7, exp(-gate) overflows to inf and the quotient is -0: the exact value is
      // smaller than 3e-37 in magnitude, so no NaN and a negligible error.
      out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    }
  });
}

}  // namespace shardlm::cpu
