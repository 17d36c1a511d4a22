// Position encodings' numbers that depend only on the spec: ALiBi slopes and RoPE's effective theta.
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

// What RoPE divides positions by: the linear scaling factor, else 1.
float rope_position_scale(const ModelSpec& spec);

}  // namespace shardlm
