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
  if (rope_scaling == RopeScaling::llama3 || rope_scaling == RopeScaling::yarn)
    SHARDLM_CHECK(rope_original_context > 0 && std::isfinite(rope_original_context),
                  "model: RoPE scaling needs the original context length (original_max_position_embeddings), got {}",
                  rope_original_context);
  if (rope_scaling == RopeScaling::llama3)
    SHARDLM_CHECK(rope_low_freq_factor > 0 && rope_high_freq_factor > rope_low_freq_factor &&
                      std::isfinite(rope_high_freq_factor),
                  "model: Llama 3 RoPE needs 0 < low_freq_factor < high_freq_factor, got {} and {}",
                  rope_low_freq_factor, rope_high_freq_factor);
  if (rope_scaling == RopeScaling::yarn)
    SHARDLM_CHECK(std::isfinite(rope_beta_fast) && std::isfinite(rope_beta_slow) && rope_beta_fast > 0 &&
                      rope_beta_slow > 0 && !(rope_attention_factor < 0) && std::isfinite(rope_attention_factor) &&
                      std::isfinite(rope_mscale) && std::isfinite(rope_mscale_all_dim),
                  "model: YaRN needs positive beta_fast / beta_slow and a finite attention factor >= 0, got {}, {}, {}",
                  rope_beta_fast, rope_beta_slow, rope_attention_factor);
  SHARDLM_CHECK(rope_frequency_divisors.empty() ||
                    static_cast<int64_t>(rope_frequency_divisors.size()) == head_dim / 2,
                "model: {} RoPE frequency factors for {} pairs", rope_frequency_divisors.size(), head_dim / 2);
  for (const float divisor : rope_frequency_divisors)
    SHARDLM_CHECK(divisor > 0 && std::isfinite(divisor), "model: RoPE frequency factor {} is not positive", divisor);
}

std::string ModelSpec::summary() const {
  return fmt::format("{}: {} layers, hidden {}, heads {} (kv {}), head dim {}, ffn {}, vocab {}, context {}", family,
                     layers, hidden, heads, kv_heads, head_dim, ffn_hidden, vocab_size, max_seq_len);
}

}  // namespace shardlm
