#include "runtime/model/decoder.h"

#include <cmath>
#include <cstring>

#include "kernels/cpu/ops.h"
#include "runtime/core/check.h"

namespace shardlm {
namespace {

void add_in_place(float* x, const float* delta, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += delta[i];
}

void matmul(ThreadPool& pool, const float* x, const Tensor& w, float* y, int64_t tokens) {
  cpu::matmul(pool, x, w.data(), w.dtype(), y, tokens, w.dim(0), w.dim(1));
}

}  // namespace

Decoder::Decoder(ModelSpec spec, ModelWeights weights, ThreadPool& pool)
    : spec_(std::move(spec)), weights_(std::move(weights)), pool_(pool) {
  spec_.validate();
  // The Llama family's block. The other families' switches arrive with their loaders (issue 3).
  SHARDLM_CHECK(spec_.norm == NormKind::rmsnorm, "{}: LayerNorm blocks are not supported by this decoder yet",
                spec_.family);
  SHARDLM_CHECK(spec_.ffn == FfnKind::swiglu, "{}: GELU MLPs are not supported by this decoder yet", spec_.family);
  SHARDLM_CHECK(spec_.position == PositionKind::rope, "{}: only RoPE positions are supported by this decoder yet",
                spec_.family);
  SHARDLM_CHECK(spec_.rope_scaling == RopeScaling::none || spec_.rope_scaling == RopeScaling::linear,
                "{}: only linear RoPE scaling is supported by this decoder yet", spec_.family);
  SHARDLM_CHECK(!spec_.parallel_attention && !spec_.attention_bias && !spec_.mlp_bias && !spec_.embedding_norm,
                "{}: parallel attention, biases and embedding norms are not supported by this decoder yet",
                spec_.family);
  SHARDLM_CHECK(static_cast<int64_t>(weights_.layers.size()) == spec_.layers, "model has {} layers of weights, spec says {}",
                weights_.layers.size(), spec_.layers);
}

void Decoder::ensure_scratch(int64_t tokens) {
  if (tokens <= scratch_tokens_) return;
  scratch_tokens_ = tokens;
  const auto T = static_cast<size_t>(tokens);
  x_.resize(T * spec_.hidden);
  normed_.resize(T * spec_.hidden);
  q_.resize(T * spec_.q_dim());
  k_.resize(T * spec_.kv_dim());
  v_.resize(T * spec_.kv_dim());
  attn_.resize(T * std::max(spec_.q_dim(), spec_.hidden));
  gate_.resize(T * spec_.ffn_hidden);
  up_.resize(T * spec_.ffn_hidden);
  positions_.resize(T);
}

std::span<const float> Decoder::forward(std::span<const int32_t> tokens, int64_t start_pos, KvCache& cache) {
  const auto T = static_cast<int64_t>(tokens.size());
  SHARDLM_CHECK(T > 0, "forward pass with no tokens");
  SHARDLM_CHECK(start_pos >= 0 && start_pos + T <= cache.capacity(),
                "positions {}..{} do not fit a KV cache of {} positions", start_pos, start_pos + T - 1, cache.capacity());
  ensure_scratch(T);
  const int64_t D = spec_.hidden;

  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[t];
    SHARDLM_CHECK(id >= 0 && id < spec_.vocab_size, "token id {} is outside the vocabulary of {}", id, spec_.vocab_size);
    const Tensor& table = weights_.token_embedding;
    for (int64_t i = 0; i < D; ++i) x_[t * D + i] = load_as_f32(table.data(), table.dtype(), id * D + i);
    positions_[t] = static_cast<int32_t>(start_pos + t);
  }

  for (int64_t l = 0; l < spec_.layers; ++l) {
    attention_block(weights_.layers[l], l, T, start_pos, cache);
    mlp_block(weights_.layers[l], T);
  }

  // Only the last token's logits are needed to sample the next one.
  const float* last = x_.data() + (T - 1) * D;
  cpu::rmsnorm(pool_, last, weights_.final_norm.data_as<float>(), normed_.data(), 1, D, spec_.norm_eps);
  logits_.resize(spec_.vocab_size);
  matmul(pool_, normed_.data(), weights_.lm_head, logits_.data(), 1);
  return logits_;
}

void Decoder::attention_block(const LayerWeights& layer, int64_t l, int64_t T, int64_t start_pos, KvCache& cache) {
  const int64_t D = spec_.hidden, KV = spec_.kv_dim();
  cpu::rmsnorm(pool_, x_.data(), layer.attn_norm.data_as<float>(), normed_.data(), T, D, spec_.norm_eps);
  matmul(pool_, normed_.data(), layer.wq, q_.data(), T);
  matmul(pool_, normed_.data(), layer.wk, k_.data(), T);
  matmul(pool_, normed_.data(), layer.wv, v_.data(), T);

  const float position_scale = spec_.rope_scaling == RopeScaling::linear ? spec_.rope_scaling_factor : 1.0f;
  cpu::rope(pool_, q_.data(), positions_.data(), T, spec_.heads, spec_.head_dim, spec_.rope_theta, position_scale,
            spec_.rope_layout);
  cpu::rope(pool_, k_.data(), positions_.data(), T, spec_.kv_heads, spec_.head_dim, spec_.rope_theta, position_scale,
            spec_.rope_layout);
  std::memcpy(cache.keys(l) + start_pos * KV, k_.data(), T * KV * sizeof(float));
  std::memcpy(cache.values(l) + start_pos * KV, v_.data(), T * KV * sizeof(float));

  const AttentionShape shape{T, start_pos, spec_.heads, spec_.kv_heads, spec_.head_dim, KV,
                             1.0f / std::sqrt(static_cast<float>(spec_.head_dim))};
  cpu::attention(pool_, q_.data(), cache.keys(l), cache.values(l), attn_.data(), shape);
  matmul(pool_, attn_.data(), layer.wo, normed_.data(), T);
  add_in_place(x_.data(), normed_.data(), T * D);
}

void Decoder::mlp_block(const LayerWeights& layer, int64_t T) {
  const int64_t D = spec_.hidden, F = spec_.ffn_hidden;
  cpu::rmsnorm(pool_, x_.data(), layer.ffn_norm.data_as<float>(), normed_.data(), T, D, spec_.norm_eps);
  matmul(pool_, normed_.data(), layer.w_gate, gate_.data(), T);
  matmul(pool_, normed_.data(), layer.w_up, up_.data(), T);
  cpu::silu_gate(pool_, gate_.data(), up_.data(), gate_.data(), T * F);
  matmul(pool_, gate_.data(), layer.w_down, normed_.data(), T);
  add_in_place(x_.data(), normed_.data(), T * D);
}

}  // namespace shardlm
