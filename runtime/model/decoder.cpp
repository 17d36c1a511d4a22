#include "runtime/model/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "parallel/comm/communicator.h"
#include "runtime/core/check.h"
#include "runtime/core/fault_injection.h"
#include "runtime/model/mlp_chunk.h"
#include "runtime/model/positions.h"
#include "runtime/ops/cpu_ops.h"

namespace shardlm {
namespace {

void check_matrix(const Tensor& t, int64_t rows, int64_t cols, const char* what, int64_t layer) {
  SHARDLM_CHECK(t.defined(), "layer {}: {} weight is missing", layer, what);
  SHARDLM_CHECK(t.rank() == 2 && t.dim(0) == rows && t.dim(1) == cols, "layer {}: {} weight is {}, expected [{}, {}]",
                layer, what, t.describe(), rows, cols);
  SHARDLM_CHECK(t.dtype() != DType::i8, "layer {}: {} weight is int8 with row scales, which only projections can be",
                layer, what);
}

// A projection: its weight as check_matrix wants, except that an int8 one comes with f32 row scales.
void check_linear(const Linear& linear, int64_t rows, int64_t cols, const char* what, int64_t layer) {
  if (linear.weight.defined() && linear.weight.dtype() == DType::i8) {
    SHARDLM_CHECK(linear.weight.rank() == 2 && linear.weight.dim(0) == rows && linear.weight.dim(1) == cols,
                  "layer {}: {} weight is {}, expected [{}, {}]", layer, what, linear.weight.describe(), rows, cols);
    SHARDLM_CHECK(linear.scale.defined() && linear.scale.dtype() == DType::f32 && linear.scale.numel() == rows,
                  "layer {}: int8 {} weight needs f32[{}] row scales", layer, what, rows);
    return;
  }
  check_matrix(linear.weight, rows, cols, what, layer);
  SHARDLM_CHECK(!linear.scale.defined(), "layer {}: {} weight is {} but has row scales", layer, what,
                linear.weight.describe());
}

void check_vector(const Tensor& t, int64_t size, const char* what, int64_t layer) {
  if (!t.defined()) return;
  SHARDLM_CHECK(t.dtype() == DType::f32 && t.numel() == size, "layer {}: {} is {}, expected f32[{}]", layer, what,
                t.describe(), size);
}

}  // namespace

Decoder::Decoder(ModelSpec spec, ModelWeights weights, ThreadPool& pool, Placement placement)
    : Decoder(std::move(spec), std::move(weights), std::make_unique<CpuOps>(pool), nullptr, placement) {}

Decoder::Decoder(ModelSpec spec, ModelWeights weights, DeviceOps& ops, Placement placement)
    : Decoder(std::move(spec), std::move(weights), nullptr, &ops, placement) {}

Decoder::Decoder(ModelSpec spec, ModelWeights weights, std::unique_ptr<DeviceOps> owned, DeviceOps* borrowed,
                 Placement placement)
    : spec_(std::move(spec)),
      weights_(std::move(weights)),
      owned_ops_(std::move(owned)),
      ops_(borrowed != nullptr ? *borrowed : *owned_ops_),
      placement_(placement) {
  spec_.validate();
  const ModelSpec& s = spec_;
  SHARDLM_CHECK(s.qkv_layout != QkvLayout::per_head || s.heads == s.kv_heads,
                "{}: per-head interleaved QKV needs as many KV heads as heads", s.family);
  SHARDLM_CHECK(static_cast<int64_t>(weights_.layers.size()) == s.layers, "model has {} layers of weights, spec says {}",
                weights_.layers.size(), s.layers);
  if (placement_.first_stage) {
    check_matrix(weights_.token_embedding, s.vocab_size, s.hidden, "token embedding", -1);
    if (s.position == PositionKind::learned)
      check_matrix(weights_.position_embedding, s.max_seq_len, s.hidden, "position embedding", -1);
  }
  if (placement_.last_stage) {
    SHARDLM_CHECK(weights_.lm_head.defined() && weights_.lm_head.rank() == 2 && weights_.lm_head.dim(1) == s.hidden &&
                      placement_.vocab_first + weights_.lm_head.dim(0) <= s.vocab_size,
                  "LM head is {}, expected rows of {} within a vocabulary of {}", weights_.lm_head.describe(), s.hidden,
                  s.vocab_size);
  }
  for (int64_t l = 0; l < s.layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    if (s.qkv_layout == QkvLayout::separate) {
      check_linear(w.q, s.q_dim(), s.hidden, "query", l);
      check_linear(w.k, s.kv_dim(), s.hidden, "key", l);
      check_linear(w.v, s.kv_dim(), s.hidden, "value", l);
    } else {
      check_linear(w.qkv, s.q_dim() + 2 * s.kv_dim(), s.hidden, "fused QKV", l);
    }
    check_linear(w.o, s.hidden, s.q_dim(), "attention output", l);
    check_linear(w.up, s.ffn_hidden, s.hidden, "MLP up", l);
    check_linear(w.down, s.hidden, s.ffn_hidden, "MLP down", l);
    if (s.ffn == FfnKind::swiglu) check_linear(w.gate, s.ffn_hidden, s.hidden, "MLP gate", l);
    SHARDLM_CHECK(w.attn_norm.defined(), "layer {}: attention norm is missing", l);
    SHARDLM_CHECK(w.ffn_norm.defined() || s.shared_attention_norm, "layer {}: MLP norm is missing", l);
    for (const Tensor* t : {&w.attn_norm.weight, &w.attn_norm.bias, &w.ffn_norm.weight, &w.ffn_norm.bias})
      check_vector(*t, s.hidden, "a norm", l);
  }
  if (s.position == PositionKind::alibi) {
    // Slopes depend on the model's whole head count; this rank takes those of its own heads.
    const int64_t total = placement_.total_heads > 0 ? placement_.total_heads : s.heads;
    const std::vector<float> all = alibi_slopes(total, s.alibi_rule, s.alibi_bias_max);
    alibi_slopes_.assign(all.begin() + placement_.first_head, all.begin() + placement_.first_head + s.heads);
  }
  if (s.position == PositionKind::rope) {
    rope_frequencies_ = rope_frequencies(s, 0);
    rope_magnitude_ = rope_attention_factor(s);
  }
}

size_t Decoder::weight_bytes() const {
  std::set<const void*> seen;
  size_t total = 0;
  auto add = [&](const Tensor& t) {
    if (t.defined() && seen.insert(t.data()).second) total += t.bytes();
  };
  const ModelWeights& w = weights_;
  for (const Tensor* t : {&w.token_embedding, &w.position_embedding, &w.embedding_norm.weight, &w.embedding_norm.bias,
                          &w.final_norm.weight, &w.final_norm.bias, &w.lm_head})
    add(*t);
  for (const LayerWeights& l : w.layers) {
    for (const Norm* n : {&l.attn_norm, &l.ffn_norm}) add(n->weight), add(n->bias);
    for (const Linear* x : {&l.qkv, &l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down})
      add(x->weight), add(x->bias), add(x->scale);
  }
  return total;
}

float* Decoder::device_floats(Tensor& buffer, int64_t elements) {
  if (!buffer.defined() || buffer.numel() < elements) buffer = ops_.memory().empty({std::max<int64_t>(elements, 1)}, DType::f32);
  return buffer.data_as<float>();
}

void Decoder::ensure_scratch(int64_t tokens) {
  if (tokens <= scratch_tokens_) return;
  scratch_tokens_ = tokens;
  const int64_t T = tokens;
  x_ = device_floats(x_buffer_, T * spec_.hidden);
  normed_ = device_floats(normed_buffer_, T * spec_.hidden);
  if (spec_.qkv_layout != QkvLayout::separate) qkv_ = device_floats(qkv_buffer_, T * (spec_.q_dim() + 2 * spec_.kv_dim()));
  q_ = device_floats(q_buffer_, T * spec_.q_dim());
  k_ = device_floats(k_buffer_, T * spec_.kv_dim());
  v_ = device_floats(v_buffer_, T * spec_.kv_dim());
  attn_ = device_floats(attn_buffer_, T * spec_.q_dim());
  out_ = device_floats(out_buffer_, T * spec_.hidden);
  gate_ = device_floats(gate_buffer_, mlp_chunk(T) * spec_.ffn_hidden);
  up_ = device_floats(up_buffer_, mlp_chunk(T) * spec_.ffn_hidden);
  positions_.resize(T);
}

void Decoder::normalize(const Norm& norm, const float* x, float* y, int64_t rows) {
  if (spec_.norm == NormKind::rmsnorm) {
    ops_.rmsnorm(x, norm.weight, y, rows, spec_.norm_eps);
  } else {
    ops_.layernorm(x, norm.weight, norm.bias, y, rows, spec_.norm_eps);
  }
}

void Decoder::linear(const Linear& layer, const float* x, float* y, int64_t rows, bool row_parallel) {
  ops_.matmul(x, layer.weight, layer.scale, y, rows);
  if (row_parallel && placement_.tp_comm != nullptr)
    placement_.tp_comm->all_reduce(y, static_cast<size_t>(rows * layer.weight.dim(0)));
  if (layer.bias.defined()) ops_.add_bias(y, layer.bias, rows);
}

void Decoder::embed(std::span<const SequenceSlice> sequences) {
  std::vector<int32_t> ids;
  for (const SequenceSlice& seq : sequences) {
    for (const int32_t id : seq.tokens) {
      SHARDLM_CHECK(id >= 0 && id < spec_.vocab_size, "token id {} is outside the vocabulary of {}", id,
                    spec_.vocab_size);
      ids.push_back(id);
    }
  }
  const auto count = static_cast<int64_t>(ids.size());
  ops_.embed(weights_.token_embedding, ids.data(), count, x_, /*accumulate=*/false);
  if (spec_.position == PositionKind::learned)
    ops_.embed(weights_.position_embedding, positions_.data(), count, x_, /*accumulate=*/true);
  if (weights_.embedding_norm.defined()) {
    normalize(weights_.embedding_norm, x_, normed_, count);
    ops_.copy(x_, normed_, count * spec_.hidden * sizeof(float));
  }
}

std::span<const float> Decoder::forward(std::span<const int32_t> tokens, int64_t start_pos, KvCache& cache,
                                        Logits which, const float* hidden_in) {
  const SequenceSlice one[] = {{tokens, start_pos, &cache, nullptr, {}}};
  if (which == Logits::last) return forward_batch(one, hidden_in);
  const auto T = static_cast<int64_t>(tokens.size());
  run_batch(one, hidden_in, T);
  if (!placement_.last_stage) return to_host(x_, T * spec_.hidden, host_hidden_);
  return logits_of_first(T);  // every position's logits, for tests of whole prompts
}

std::span<const float> Decoder::forward_every_position(const SequenceSlice& sequence) {
  SHARDLM_CHECK(placement_.last_stage, "only the last pipeline stage has logits");
  const auto T = static_cast<int64_t>(sequence.tokens.size());
  run_batch(std::span<const SequenceSlice>(&sequence, 1), nullptr, T);
  return logits_of_first(T);
}

std::span<const float> Decoder::logits_of_first(int64_t rows) {
  std::vector<int64_t> wanted(rows);
  for (int64_t t = 0; t < rows; ++t) wanted[t] = t;
  return logits_of(wanted);
}

std::span<const float> Decoder::forward_batch(std::span<const SequenceSlice> sequences, const float* hidden_in) {
  int64_t total = 0;
  std::vector<int64_t> last_rows;
  for (const SequenceSlice& seq : sequences) {
    total += static_cast<int64_t>(seq.tokens.size());
    last_rows.push_back(total - 1);
  }
  run_batch(sequences, hidden_in, total);
  // Only a stage that hands its rows on copies them to the host; the last keeps them on the device.
  if (!placement_.last_stage) return to_host(x_, total * spec_.hidden, host_hidden_);
  return logits_of(last_rows);
}

void Decoder::run_batch(std::span<const SequenceSlice> sequences, const float* hidden_in, int64_t total) {
  SHARDLM_CHECK(!sequences.empty() && total > 0, "forward pass with no tokens");
  fault_point(total > static_cast<int64_t>(sequences.size()) ? "prefill" : "decode");
  ensure_scratch(total);
  int64_t t = 0;
  for (const SequenceSlice& seq : sequences) {
    const auto T = static_cast<int64_t>(seq.tokens.size());
    SHARDLM_CHECK(T > 0 && (seq.cache != nullptr) != (seq.pool != nullptr),
                  "a sequence in a forward pass needs tokens and either a cache or a pool");
    const int64_t capacity = seq.cache != nullptr ? seq.cache->capacity()
                                                  : static_cast<int64_t>(seq.block_table.size()) * seq.pool->block_size();
    SHARDLM_CHECK(seq.start_pos >= 0 && seq.start_pos + T <= std::min(capacity, spec_.max_seq_len),
                  "positions {}..{} do not fit a KV cache of {} positions", seq.start_pos, seq.start_pos + T - 1,
                  std::min(capacity, spec_.max_seq_len));
    for (int64_t i = 0; i < T; ++i) positions_[t++] = static_cast<int32_t>(seq.start_pos + i);
  }
  if (placement_.first_stage) {
    embed(sequences);
  } else {
    SHARDLM_CHECK(hidden_in != nullptr, "a pipeline stage after the first needs the previous stage's hidden states");
    ops_.from_host(x_, hidden_in, total * spec_.hidden * sizeof(float));
  }
  run_layers(sequences, total);
}

void Decoder::run_layers(std::span<const SequenceSlice> sequences, int64_t T) {
  const int64_t D = spec_.hidden;
  for (int64_t l = 0; l < spec_.layers; ++l) {
    const LayerWeights& layer = weights_.layers[l];
    normalize(layer.attn_norm, x_, normed_, T);
    attention(layer, l, sequences, T);  // reads normed_, writes out_
    if (spec_.parallel_attention) {
      // x + attn(norm x) + mlp(norm' x): both branches read the block's input, so the MLP's norm is
      // taken before the attention branch is added (with one shared norm, normed_ already holds it).
      if (!spec_.shared_attention_norm) normalize(layer.ffn_norm, x_, normed_, T);
      ops_.add(x_, out_, T * D);
      mlp(layer, normed_, out_, T);
      ops_.add(x_, out_, T * D);
    } else {
      ops_.add(x_, out_, T * D);
      normalize(layer.ffn_norm, x_, normed_, T);
      mlp(layer, normed_, out_, T);
      ops_.add(x_, out_, T * D);
    }
  }
}

std::span<const float> Decoder::to_host(const float* device, int64_t count, std::vector<float>& host) {
  if (ops_.memory().device() == Device::cpu) return std::span<const float>(device, count);
  host.resize(count);
  ops_.to_host(host.data(), device, count * sizeof(float));
  return host;
}

std::span<const float> Decoder::logits_of(const std::vector<int64_t>& rows_wanted) {
  const int64_t D = spec_.hidden, rows = static_cast<int64_t>(rows_wanted.size());
  float* last_rows = device_floats(last_rows_buffer_, rows * D);
  ops_.gather_rows(x_, rows_wanted.data(), rows, D, last_rows);
  normalize(weights_.final_norm, last_rows, normed_, rows);
  const int64_t V = spec_.vocab_size, local = weights_.lm_head.dim(0);
  float* logits = device_floats(logits_buffer_, rows * V);
  if (local == V) {
    ops_.matmul(normed_, weights_.lm_head, Tensor(), logits, rows);
    return to_host(logits, rows * V, host_logits_);
  }
  // This rank's slice of the vocabulary, placed in zeros; the sum over the group fills in the rest.
  // All on the device, so that the group's communicator (NCCL on GPUs) sums device memory.
  float* local_logits = device_floats(local_logits_buffer_, rows * local);
  ops_.matmul(normed_, weights_.lm_head, Tensor(), local_logits, rows);
  ops_.zero(logits, rows * V);
  for (int64_t r = 0; r < rows; ++r)
    ops_.copy(logits + r * V + placement_.vocab_first, local_logits + r * local, local * sizeof(float));
  SHARDLM_CHECK(placement_.tp_comm != nullptr, "a vocabulary-parallel LM head needs its tensor-parallel group");
  placement_.tp_comm->all_reduce(logits, static_cast<size_t>(rows * V));
  return to_host(logits, rows * V, host_logits_);
}

void Decoder::project_qkv(const LayerWeights& layer, int64_t T) {
  if (spec_.qkv_layout == QkvLayout::separate) {
    linear(layer.q, normed_, q_, T);
    linear(layer.k, normed_, k_, T);
    linear(layer.v, normed_, v_, T);
    if (spec_.clip_qkv > 0) {  // the clamp is element-wise, so clamping q, k and v apart is the same
      ops_.clamp(q_, T * spec_.q_dim(), spec_.clip_qkv);
      ops_.clamp(k_, T * spec_.kv_dim(), spec_.clip_qkv);
      ops_.clamp(v_, T * spec_.kv_dim(), spec_.clip_qkv);
    }
    return;
  }
  linear(layer.qkv, normed_, qkv_, T);
  if (spec_.clip_qkv > 0) ops_.clamp(qkv_, T * (spec_.q_dim() + 2 * spec_.kv_dim()), spec_.clip_qkv);
  ops_.split_qkv(spec_, qkv_, T, q_, k_, v_);
}

void Decoder::attention(const LayerWeights& layer, int64_t l, std::span<const SequenceSlice> sequences, int64_t rows) {
  const int64_t KV = spec_.kv_dim(), Q = spec_.q_dim();
  project_qkv(layer, rows);
  const float scale = spec_.attention_scale > 0 ? spec_.attention_scale
                                                : 1.0f / std::sqrt(static_cast<float>(spec_.head_dim));
  int64_t r0 = 0;
  for (const SequenceSlice& seq : sequences) {
    const auto T = static_cast<int64_t>(seq.tokens.size());
    if (spec_.position == PositionKind::rope) {
      // Dynamic NTK scaling makes the frequencies depend on each sequence's own length.
      if (spec_.rope_scaling == RopeScaling::dynamic_ntk) rope_frequencies_ = rope_frequencies(spec_, seq.start_pos + T);
      ops_.rope(q_ + r0 * Q, positions_.data() + r0, T, spec_.heads, spec_.head_dim, rope_frequencies_.data(),
                rope_magnitude_, spec_.rope_layout);
      ops_.rope(k_ + r0 * KV, positions_.data() + r0, T, spec_.kv_heads, spec_.head_dim, rope_frequencies_.data(),
                rope_magnitude_, spec_.rope_layout);
    }
    AttentionShape shape{T, seq.start_pos, spec_.heads, spec_.kv_heads, spec_.head_dim, KV, scale};
    shape.alibi_slopes = alibi_slopes_.empty() ? nullptr : alibi_slopes_.data();
    const void *keys, *values;
    if (seq.cache != nullptr) {
      ops_.copy(seq.cache->keys(l) + seq.start_pos * KV, k_ + r0 * KV, T * KV * sizeof(float));
      ops_.copy(seq.cache->values(l) + seq.start_pos * KV, v_ + r0 * KV, T * KV * sizeof(float));
      keys = seq.cache->keys(l);
      values = seq.cache->values(l);
    } else {
      ops_.write_kv(*seq.pool, l, k_ + r0 * KV, v_ + r0 * KV, T, seq.start_pos, seq.block_table);
      shape.block_table = seq.block_table.data();
      shape.block_size = seq.pool->block_size();
      shape.kv_dtype = seq.pool->dtype();
      keys = seq.pool->keys(l);
      values = seq.pool->values(l);
    }
    ops_.attention(q_ + r0 * Q, keys, values, attn_ + r0 * Q, shape);
    r0 += T;
  }
  linear(layer.o, attn_, out_, rows, /*row_parallel=*/true);
}

int64_t Decoder::mlp_chunk(int64_t tokens) const {
  return ops_.memory().device() == Device::cpu ? std::min(tokens, kCpuMlpChunkTokens) : tokens;
}

void Decoder::mlp(const LayerWeights& layer, const float* input, float* output, int64_t T) {
  const int64_t F = spec_.ffn_hidden, D = spec_.hidden, chunk = mlp_chunk(T);
  // Every rank of a tensor-parallel group cuts the same chunks, so their all-reduces pair up.
  for (int64_t first = 0; first < T; first += chunk) {
    const int64_t rows = std::min(chunk, T - first);
    linear(layer.up, input + first * D, up_, rows);
    switch (spec_.ffn) {
      case FfnKind::swiglu:
        linear(layer.gate, input + first * D, gate_, rows);
        ops_.silu_gate(gate_, up_, up_, rows * F);
        break;
      case FfnKind::gelu: ops_.gelu(up_, rows * F); break;
      case FfnKind::gelu_tanh: ops_.gelu_tanh(up_, rows * F); break;
    }
    linear(layer.down, up_, output + first * D, rows, /*row_parallel=*/true);
  }
}

}  // namespace shardlm
