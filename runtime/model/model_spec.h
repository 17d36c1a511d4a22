// One description of every supported architecture: a decoder block with switches. Read from a
// llama2.c header, a Hugging Face config.json, GGUF metadata or a YAML preset; the planner needs
// nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ref/ops.h"

namespace shardlm {

enum class FfnKind : uint8_t { swiglu, gelu, gelu_tanh };
enum class NormKind : uint8_t { rmsnorm, layernorm };
enum class PositionKind : uint8_t { rope, alibi, learned };
// How RoPE's frequencies are scaled past the trained context (runtime/model/positions.h has the formulas).
enum class RopeScaling : uint8_t { none, linear, dynamic_ntk, llama3, yarn };
// How a fused QKV projection orders its output rows.
enum class QkvLayout : uint8_t {
  separate,      // q, k, v are three tensors (Llama)
  blocks,        // [Q | K | V] (MPT, GPT-BigCode, GPT-2, Falcon-7B's multi-query)
  per_head,      // per head q, k, v interleaved (BLOOM; MHA only)
  per_kv_group,  // per KV head: its query heads, then k, then v (Falcon-40B/180B)
};
// Which published formula gives the ALiBi slopes when the head count is not a power of two.
enum class AlibiRule : uint8_t { bloom, mpt };

struct ModelSpec {
  std::string family;         // "llama", "falcon", "bloom", ...
  int64_t vocab_size = 0;
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;       // MHA = heads, MQA = 1, GQA in between
  int64_t head_dim = 0;
  int64_t ffn_hidden = 0;
  int64_t max_seq_len = 0;
  FfnKind ffn = FfnKind::swiglu;
  NormKind norm = NormKind::rmsnorm;
  float norm_eps = 1e-5f;
  PositionKind position = PositionKind::rope;
  float rope_theta = 10000.0f;
  RopeLayout rope_layout = RopeLayout::halves;
  RopeScaling rope_scaling = RopeScaling::none;
  float rope_scaling_factor = 1.0f;
  float rope_original_context = 0;  // dynamic NTK, Llama 3, YaRN: the context the model was trained for
  float rope_low_freq_factor = 1.0f;   // Llama 3: wavelengths over trained / low are divided by the factor,
  float rope_high_freq_factor = 4.0f;  // under trained / high kept, and blended in between
  float rope_beta_fast = 32.0f;        // YaRN: pairs turning more than beta_fast times over the trained
  float rope_beta_slow = 1.0f;         // context keep their frequency, fewer than beta_slow are interpolated
  bool rope_yarn_truncate = true;      // YaRN: the ramp's ends rounded outwards to whole dimensions
  float rope_attention_factor = 0.0f;  // YaRN: multiplies cos and sin; 0 = from the factor (and mscales)
  float rope_mscale = 0.0f, rope_mscale_all_dim = 0.0f;  // YaRN (DeepSeek's form of the attention factor)
  // GGUF's rope_freqs tensor (Llama 3.1 files): pair i's frequency is divided by entry i; empty = none.
  std::vector<float> rope_frequency_divisors;
  AlibiRule alibi_rule = AlibiRule::bloom;
  float alibi_bias_max = 8.0f;      // MPT's alibi_bias_max; BLOOM's rule is the same with 8
  QkvLayout qkv_layout = QkvLayout::separate;
  float attention_scale = 0.0f;     // multiplies q.k; 0 = 1/sqrt(head_dim)
  float clip_qkv = 0.0f;            // MPT: clamp the fused QKV output to [-clip, clip]; 0 = off
  bool parallel_attention = false;  // x + attn(norm x) + mlp(norm' x), Falcon / GPT-J style
  bool shared_attention_norm = false;  // parallel blocks with one norm feeding both (Falcon-7B)
  bool norm_bias = false;           // LayerNorm with a bias
  bool attention_bias = false;
  bool mlp_bias = false;
  bool tied_embeddings = false;
  bool embedding_norm = false;      // BLOOM's LayerNorm on the word embeddings
  int32_t bos_token = -1;
  std::vector<int32_t> stop_tokens; // generation ends when one is sampled

  int64_t q_dim() const { return heads * head_dim; }
  int64_t kv_dim() const { return kv_heads * head_dim; }
  // Throws naming the first field that is missing or inconsistent.
  void validate() const;
  std::string summary() const;  // one line: "llama: 5 layers, hidden 64, ..."
};

}  // namespace shardlm
