#include "runtime/model/positions.h"

#include <cmath>

namespace shardlm {

std::vector<float> alibi_slopes(int64_t heads, AlibiRule rule, float bias_max) {
  std::vector<float> slopes;
  if (rule == AlibiRule::bloom) {
    int64_t c = 1;
    while (c * 2 <= heads) c *= 2;
    for (int64_t i = 1; i <= c; ++i) slopes.push_back(static_cast<float>(std::pow(2.0, -8.0 * i / c)));
    for (int64_t k = 1; static_cast<int64_t>(slopes.size()) < heads; k += 2)
      slopes.push_back(static_cast<float>(std::pow(2.0, -4.0 * k / c)));
    return slopes;
  }
  int64_t n2 = 1;
  while (n2 < heads) n2 *= 2;
  std::vector<float> all;
  for (int64_t i = 1; i <= n2; ++i) all.push_back(static_cast<float>(1.0 / std::pow(2.0, i * (bias_max / n2))));
  if (n2 == heads) return all;
  for (int64_t i = 1; i < n2; i += 2) slopes.push_back(all[i]);
  for (int64_t i = 0; i < n2; i += 2) slopes.push_back(all[i]);
  slopes.resize(heads);
  return slopes;
}

double rope_theta_for(const ModelSpec& spec, int64_t seq_len) {
  if (spec.rope_scaling != RopeScaling::dynamic_ntk || spec.rope_original_context <= 0 ||
      seq_len <= spec.rope_original_context)
    return spec.rope_theta;
  const double factor = spec.rope_scaling_factor, dim = static_cast<double>(spec.head_dim);
  return spec.rope_theta *
         std::pow(factor * seq_len / spec.rope_original_context - (factor - 1.0), dim / (dim - 2.0));
}

float rope_position_scale(const ModelSpec& spec) {
  return spec.rope_scaling == RopeScaling::linear ? spec.rope_scaling_factor : 1.0f;
}

}  // namespace shardlm
