// Softmax of one vector, in place. Single-threaded: it runs on rows of attention scores or logits,
// short enough that waking threads would cost more than the work.
#include <cmath>

#include "kernels/cpu/ops.h"

namespace shardlm::cpu {

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  // Subtracting the maximum keeps every exp in (0, 1], so nothing overflows.
  float max_value = x[0];
  for (int64_t i = 1; i < n; ++i) max_value = x[i] > max_value ? x[i] : max_value;
  // The sum in double costs little next to expf and keeps its rounding negligible at any n.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv_sum;
}

}  // namespace shardlm::cpu
