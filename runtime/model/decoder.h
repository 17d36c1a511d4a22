// The generic decoder: embedding, N blocks (norm, attention, norm, MLP), final norm, LM head, with
// the switches of ModelSpec covering every supported family. It runs every op through a DeviceOps
// (runtime/ops) and keeps its activations in that device's memory, so one decoder serves every
// device; logits come back to the host for sampling.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/core/thread_pool.h"
#include "runtime/model/kv_cache.h"
#include "runtime/model/kv_pool.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_weights.h"
#include "runtime/ops/device_ops.h"

namespace shardlm {

enum class Logits : uint8_t { last, all };

// One sequence's part of a forward pass: its new tokens, the position of the first, and where its
// keys and values live: a contiguous cache, or a paged pool and the sequence's block table.
struct SequenceSlice {
  std::span<const int32_t> tokens;
  int64_t start_pos = 0;
  KvCache* cache = nullptr;
  KvPool* pool = nullptr;
  std::span<const int32_t> block_table;
};

class Communicator;

// Where this decoder sits among the ranks. Tensor parallelism: its spec and weights are the rank's
// share (runtime/model/shard_weights.h) and row-parallel outputs are summed over `tp_comm`.
// Pipeline parallelism: it holds layers [first_layer, first_layer + spec.layers) only; the first
// stage embeds tokens, the others start from the hidden states the previous stage hands on, and
// only the last stage computes logits.
struct Placement {
  Communicator* tp_comm = nullptr;  // nullptr: no tensor parallelism
  int64_t first_head = 0;           // global index of this rank's first query head
  int64_t total_heads = 0;          // query heads of the whole model (0: the spec's)
  int64_t first_layer = 0;
  bool first_stage = true;
  bool last_stage = true;
  // Vocabulary-parallel LM head: on the last stage each tensor-parallel rank holds the LM head's rows
  // [vocab_first, vocab_first + lm_head rows) and the logits are summed over tp_comm, so the head (for
  // SmolLM2 a fifth of all weights) is read once per step across the group, not once per rank.
  int64_t vocab_first = 0;
};

class Decoder {
 public:
  // Throws when the weights do not fit the spec, naming the tensor. The first runs on the host with
  // the pool's threads; the second on the device `ops` stands for (the weights already on it).
  Decoder(ModelSpec spec, ModelWeights weights, ThreadPool& pool, Placement placement = {});
  Decoder(ModelSpec spec, ModelWeights weights, DeviceOps& ops, Placement placement = {});

  const ModelSpec& spec() const { return spec_; }
  const ModelWeights& weights() const { return weights_; }
  const Placement& placement() const { return placement_; }
  // The device the decoder runs on: KV caches and pools for it are allocated in ops().memory().
  DeviceOps& ops() const { return ops_; }
  // Bytes of the weights this rank holds (a tensor shared by two roles, as a tied LM head, once).
  size_t weight_bytes() const;

  // Runs `tokens` at positions start_pos, start_pos+1, ... writing their keys and values into the
  // cache, and returns the logits of the last token [vocab] or of every token [T, vocab]. All tokens
  // go through each matmul together, which is what makes prefill fast. On a pipeline stage other
  // than the first, `hidden_in` holds the previous stage's output [T, hidden]; on a stage other than
  // the last, the result is this stage's output hidden states [T, hidden] instead of logits.
  std::span<const float> forward(std::span<const int32_t> tokens, int64_t start_pos, KvCache& cache,
                                 Logits which = Logits::last, const float* hidden_in = nullptr);

  // Several sequences in one pass: their tokens go through every matmul together (the weights are
  // read once for all of them), attention runs per sequence against its own cache. Returns the
  // logits of each sequence's last token [sequences, vocab] on the last stage, else the hidden
  // states of all tokens [total tokens, hidden] in sequence order (hidden_in likewise).
  std::span<const float> forward_batch(std::span<const SequenceSlice> sequences, const float* hidden_in = nullptr);
  // Every position's logits ([tokens][vocab]) for one sequence, its keys and values in its cache or
  // pool as in forward_batch: what scoring a text (perplexity) needs. Last stage only.
  std::span<const float> forward_every_position(const SequenceSlice& sequence);

 private:
  void ensure_scratch(int64_t tokens);
  void embed(std::span<const SequenceSlice> sequences);
  // Positions, embedding (or hidden_in) and the layers for all sequences; leaves x_ [total, hidden]
  // on the device.
  void run_batch(std::span<const SequenceSlice> sequences, const float* hidden_in, int64_t total);
  // Runs the layers over x_ (rows of all sequences); leaves the result in x_.
  void run_layers(std::span<const SequenceSlice> sequences, int64_t rows);
  // Final norm and LM head over the given rows of x_, into logits_ [rows, vocab].
  // Logits of rows 0..rows-1 of the last forward pass.
  std::span<const float> logits_of_first(int64_t rows);
  std::span<const float> logits_of(const std::vector<int64_t>& rows);
  void normalize(const Norm& norm, const float* x, float* y, int64_t rows);
  // y = x W^T + b. A row-parallel layer's partial products are summed over the group before its
  // bias is added, so the bias counts once.
  void linear(const Linear& layer, const float* x, float* y, int64_t rows, bool row_parallel = false);
  void project_qkv(const LayerWeights& layer, int64_t tokens);
  void attention(const LayerWeights& layer, int64_t layer_index, std::span<const SequenceSlice> sequences, int64_t rows);
  void mlp(const LayerWeights& layer, const float* input, float* output, int64_t tokens);
  // Tokens of a step whose MLP hidden rows are held at once (runtime/model/mlp_chunk.h).
  int64_t mlp_chunk(int64_t tokens) const;

  Decoder(ModelSpec spec, ModelWeights weights, std::unique_ptr<DeviceOps> owned, DeviceOps* borrowed,
          Placement placement);
  // Device memory of `elements` floats held by `buffer`, reallocated when it is too small.
  float* device_floats(Tensor& buffer, int64_t elements);
  // count floats of device memory as the host sees them: the memory itself on the host device, else
  // a copy in `host`.
  std::span<const float> to_host(const float* device, int64_t count, std::vector<float>& host);

  ModelSpec spec_;
  ModelWeights weights_;
  std::unique_ptr<DeviceOps> owned_ops_;  // set when built from a thread pool
  DeviceOps& ops_;
  Placement placement_;
  std::vector<float> alibi_slopes_;
  // RoPE's frequencies (positions.h): fixed, or for dynamic NTK recomputed per sequence length.
  std::vector<double> rope_frequencies_;
  float rope_magnitude_ = 1.0f;
  // Scratch activations in the device's memory, grown to the largest token count seen: [T, width]
  // each (pointers into the tensors below, which own them).
  int64_t scratch_tokens_ = 0;
  Tensor x_buffer_, normed_buffer_, qkv_buffer_, q_buffer_, k_buffer_, v_buffer_, attn_buffer_, out_buffer_,
      gate_buffer_, up_buffer_, logits_buffer_, local_logits_buffer_, last_rows_buffer_;
  float *x_ = nullptr, *normed_ = nullptr, *qkv_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr,
        *attn_ = nullptr, *out_ = nullptr, *gate_ = nullptr, *up_ = nullptr;
  // Host copies of logits and hidden states, where the device is not the host.
  std::vector<float> host_logits_, host_hidden_;
  std::vector<int32_t> positions_;  // host: the ops take positions and token ids from the host
};

}  // namespace shardlm
