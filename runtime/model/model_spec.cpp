#include "runtime/model/model_spec.h"

#include <cmath>
#include <fmt/format.h>

#include "runtime/core/check.h"

namespace shardlm {

void ModelSpec::validate() const {
  SHARDLM_CHECK(vocab_size > 0, "model: vocab size must be positive, got {}", vocab_size);
  SHARDLM_CHECK(hidden > 0, "model: hidden size must be positive, got {}", hidden);
  SHARDLM_CHECK(layers > 0, "model: layer count must be positive, got {}", layers);
  SHARDLM_CHECK(heads > 0, "model: head count must be positive, got {}", heads);
  SHARDLM_CHECK(kv_heads > 0 && heads % kv_heads == 0,
                "model: {} query heads cannot be grouped over {} key/value heads", heads, kv_heads);
  SHARDLM_CHECK(head_dim > 0, "model: head dimension must be positive, got {}", head_dim);
  SHARDLM_CHECK(position != PositionKind::rope || head_dim % 2 == 0, "model: RoPE needs an even head dimension, got {}",
                head_dim);
  SHARDLM_CHECK(ffn_hidden > 0, "model: FFN size must be positive, got {}", ffn_hidden);
  SHARDLM_CHECK(max_seq_len > 0, "model: context length must be positive, got {}", max_seq_len);
  constexpr int64_t kLimit = int64_t{1} << 24;  // above every real model; keeps sizes from overflowing
  for (const auto& [name, value] : {std::pair{"vocab size", vocab_size}, {"hidden size", hidden}, {"layer count", layers},
                                    {"head count", heads}, {"head dimension", head_dim}, {"FFN size", ffn_hidden},
                                    {"context length", max_seq_len}})
    SHARDLM_CHECK(value <= kLimit, "model: {} {} is beyond any supported model (at most {})", name, value, kLimit);
  SHARDLM_CHECK(norm_eps > 0 && norm_eps < 1, "model: norm epsilon must be in (0, 1), got {}", norm_eps);
  SHARDLM_CHECK(rope_theta > 0 && std::isfinite(rope_theta), "model: RoPE theta must be positive, got {}", rope_theta);
  SHARDLM_CHECK(!(clip_qkv < 0) && !std::isnan(clip_qkv) && !(attention_scale < 0) && !std::isnan(attention_scale),
                "model: clip_qkv and attention scale must be >= 0");
  SHARDLM_CHECK(rope_scaling_factor >= 1.0f, "model: RoPE scaling factor must be at least 1, got {}",
                rope_scaling_factor);
}

std::string ModelSpec::summary() const {
  return fmt::format("{}: {} layers, hidden {}, heads {} (kv {}), head dim {}, ffn {}, vocab {}, context {}", family,
                     layers, hidden, heads, kv_heads, head_dim, ffn_hidden, vocab_size, max_seq_len);
}

}  // namespace shardlm
