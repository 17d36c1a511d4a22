#include "runtime/model/positions.h"

#include <algorithm>
#include <cmath>
#include <numbers>

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

namespace {

void scale_llama3(const ModelSpec& spec, std::vector<double>& frequencies) {
  const double factor = spec.rope_scaling_factor, low = spec.rope_low_freq_factor, high = spec.rope_high_freq_factor;
  const double trained = spec.rope_original_context;
  const double low_freq_wavelength = trained / low, high_freq_wavelength = trained / high;
  for (double& frequency : frequencies) {
    const double wavelength = 2.0 * std::numbers::pi / frequency;
    if (wavelength > low_freq_wavelength) {
      frequency /= factor;
    } else if (!(wavelength < high_freq_wavelength)) {
      const double smooth = (trained / wavelength - low) / (high - low);
      frequency = (1.0 - smooth) * frequency / factor + smooth * frequency;
    }
  }
}

void scale_yarn(const ModelSpec& spec, std::vector<double>& frequencies) {
  const double dim = static_cast<double>(spec.head_dim), theta = spec.rope_theta;
  const double trained = spec.rope_original_context, factor = spec.rope_scaling_factor;
  const auto dimension_of = [&](double rotations) {
    return dim * std::log(trained / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(theta));
  };
  double low = dimension_of(spec.rope_beta_fast), high = dimension_of(spec.rope_beta_slow);
  if (spec.rope_yarn_truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, dim - 1.0);
  if (low == high) high += 0.001;  // as transformers: no division by zero
  for (size_t i = 0; i < frequencies.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    // ramp 0: high-frequency pairs keep their frequency (extrapolation); 1: divided by the factor.
    frequencies[i] = frequencies[i] * (1.0 - ramp) + frequencies[i] / factor * ramp;
  }
}

double yarn_mscale(double factor, double mscale) { return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0; }

}  // namespace

std::vector<double> rope_frequencies(const ModelSpec& spec, int64_t seq_len) {
  const double position_scale = spec.rope_scaling == RopeScaling::linear ? spec.rope_scaling_factor : 1.0;
  std::vector<double> frequencies = ref::rope_frequencies(spec.head_dim, rope_theta_for(spec, seq_len), position_scale);
  if (spec.rope_scaling == RopeScaling::llama3) scale_llama3(spec, frequencies);
  if (spec.rope_scaling == RopeScaling::yarn) scale_yarn(spec, frequencies);
  for (size_t i = 0; i < spec.rope_frequency_divisors.size() && i < frequencies.size(); ++i)
    frequencies[i] /= spec.rope_frequency_divisors[i];
  return frequencies;
}

float rope_attention_factor(const ModelSpec& spec) {
  if (spec.rope_scaling != RopeScaling::yarn) return 1.0f;
  if (spec.rope_attention_factor > 0) return spec.rope_attention_factor;
  const double factor = spec.rope_scaling_factor;
  if (spec.rope_mscale != 0 && spec.rope_mscale_all_dim != 0)
    return static_cast<float>(yarn_mscale(factor, spec.rope_mscale) / yarn_mscale(factor, spec.rope_mscale_all_dim));
  return static_cast<float>(yarn_mscale(factor, 1.0));
}

}  // namespace shardlm
