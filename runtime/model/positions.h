// Position encodings' numbers that depend only on the spec: ALiBi slopes and RoPE's frequency table,
// computed once on the host for every backend.
#pragma once

#include <vector>

#include "runtime/model/model_spec.h"

namespace shardlm {

// One slope per head. BLOOM's rule: for c = the largest power of two <= heads, 2^(-8i/c) for
// i = 1..c, then 2^(-4k/c) for odd k up to the remaining count. MPT's rule: for n2 = the smallest
// power of two >= heads, 2^(-bias_max * i / n2) for i = 1..n2, odd-indexed entries first, then
// even, first `heads` of them. Both give 2^(-8i/n) when heads is a power of two and bias_max is 8.
std::vector<float> alibi_slopes(int64_t heads, AlibiRule rule, float bias_max);

// RoPE's base for a forward pass whose furthest position is seq_len - 1. Dynamic NTK scaling (as in
// transformers) raises it once the sequence outgrows the trained context:
// theta * (factor * seq_len / trained - (factor - 1)) ^ (head_dim / (head_dim - 2)).
double rope_theta_for(const ModelSpec& spec, int64_t seq_len);

// RoPE's head_dim / 2 frequencies (radians per position) for a forward pass whose furthest position is
// seq_len - 1, as transformers' rope init functions compute them (modeling_rope_utils), with
// base_i = theta^(-2i/head_dim):
// - none: base_i; linear: base_i / factor; dynamic NTK: base_i of rope_theta_for(seq_len);
// - llama3: with wavelength w = 2 pi / base_i and L = original context, base_i / factor where
//   w > L / low_freq_factor, base_i where w < L / high_freq_factor, and in between
//   (1 - s) base_i / factor + s base_i with s = (L / w - low) / (high - low);
// - yarn: dimension d(r) = head_dim ln(L / (2 pi r)) / (2 ln theta) turns r times over L; the ramp runs
//   from lo = d(beta_fast) to hi = d(beta_slow) (floored / ceiled when truncating, clamped to
//   [0, head_dim - 1], hi + 0.001 when equal); with ramp_i = clamp((i - lo) / (hi - lo), 0, 1),
//   base_i (1 - ramp_i) + base_i / factor ramp_i;
// then each divided by the GGUF rope_freqs entry, when the spec has them.
std::vector<double> rope_frequencies(const ModelSpec& spec, int64_t seq_len);

// What cos and sin are multiplied by (so q.k by its square): YaRN's attention factor, the configured
// one or else mscale(factor, mscale) / mscale(factor, mscale_all_dim) when both are set, else
// mscale(factor, 1), where mscale(f, m) = 0.1 m ln f + 1 (1 for f <= 1). 1 for every other RoPE.
float rope_attention_factor(const ModelSpec& spec);

}  // namespace shardlm
