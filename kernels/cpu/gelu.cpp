// GELU in its two published forms: exact (erf; Falcon, MPT, "gelu") and the tanh approximation
// (GPT-2's gelu_new, BLOOM, gelu_pytorch_tanh). Element-wise, chunks across threads.
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"

namespace shardlm::cpu {

void gelu(ThreadPool& pool, float* x, int64_t n) {
  pool.parallel_for(n, kMinCostlyElementsPerThread, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
  });
}

void gelu_tanh(ThreadPool& pool, float* x, int64_t n) {
  pool.parallel_for(n, kMinCostlyElementsPerThread, [&](int64_t begin, int64_t end) {
    constexpr float k = 0.79788456080286536f;  // sqrt(2 / pi)
    for (int64_t i = begin; i < end; ++i) {
      const float v = x[i];
      x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
    }
  });
}

}  // namespace shardlm::cpu
