// Bias addition for the linears that have one (BLOOM, GPT-2, StarCoder): y[r, :] += bias.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"

namespace shardlm::cpu {

void add_bias(ThreadPool& pool, float* y, const float* bias, int64_t rows, int64_t n) {
  pool.parallel_for(rows, std::max<int64_t>(1, kMinCheapElementsPerThread / std::max<int64_t>(n, 1)),
                    [&](int64_t begin, int64_t end) {
                      for (int64_t r = begin; r < end; ++r)
                        for (int64_t i = 0; i < n; ++i) y[r * n + i] += bias[i];
                    });
}

}  // namespace shardlm::cpu
