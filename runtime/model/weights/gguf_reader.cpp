#include "runtime/model/weights/gguf_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"
#include "runtime/model/weights/ggml_dequantize.h"
#include "runtime/model/weights/load_progress.h"

namespace shardlm {
namespace {

// The runtime dtype a GGUF tensor keeps when loaded as stored: its own; the k-quants as the runtime
// blocks they are repacked into (below). Q4_0 stays q4_0, a view of the file, until a rank has cut
// its share (repack_file_formats).
DType stored_dtype(GgmlType type) {
  switch (type) {
    case GgmlType::f32: return DType::f32;
    case GgmlType::f16: return DType::f16;
    case GgmlType::bf16: return DType::bf16;
    case GgmlType::q8_0:
    case GgmlType::q6_K: return DType::q8_0;
    case GgmlType::q4_0: return DType::q4_0;
    case GgmlType::q4_1:
    case GgmlType::q4_K: return DType::q4_1;
  }
  SHARDLM_FAIL("ggml type {} has no runtime dtype", static_cast<uint32_t>(type));
}

// Converts a file tensor of `units` pieces (blocks, super-blocks or rows) of unit_bytes a slice at a
// time, giving each slice's file pages back as soon as it is done: loading never holds a large
// tensor's source and its result together (a 49k-token vocabulary's Q6_K LM head is 157 MiB of file
// pages beside its 204 MiB in q8_0).
template <class ConvertSlice>
void convert_releasing_source(const uint8_t* source, int64_t units, size_t unit_bytes, ConvertSlice convert_slice) {
  constexpr int64_t kSliceBytes = 4 << 20;
  const int64_t per_slice = std::max<int64_t>(1, kSliceBytes / static_cast<int64_t>(unit_bytes));
  for (int64_t first = 0; first < units; first += per_slice) {
    const int64_t count = std::min(per_slice, units - first);
    convert_slice(first, count);
    release_mapped_pages(source + first * unit_bytes, count * unit_bytes);
  }
}

// Q4_0 and the k-quants in the runtime's own blocks (ggml_dequantize.h): Q4_0 and Q4_K as q4_1,
// Q6_K as q8_0, block by block into the tensor's storage, never a whole f32 copy.
Tensor repack(const GgufTensor& t, std::vector<int64_t> shape, DType target) {
  Tensor result = cpu_backend().empty(std::move(shape), target);
  const int64_t elements = result.numel();
  constexpr int64_t kSuperBlocks = 256 / kQuantBlock;  // runtime blocks of a k-quant super-block
  switch (t.type) {
    case GgmlType::q4_0: {
      auto* out = result.data_as<BlockQ4_1>();
      convert_releasing_source(t.data, elements / kQuantBlock, sizeof(BlockQ4_0), [&](int64_t first, int64_t count) {
        repack_q4_0_as_q4_1(t.data + first * sizeof(BlockQ4_0), count, out + first);
      });
      break;
    }
    case GgmlType::q4_K:
    case GgmlType::q6_K: {
      const size_t bytes = ggml_row_bytes(t.type, 256);
      convert_releasing_source(t.data, elements / 256, bytes, [&](int64_t first, int64_t count) {
        const uint8_t* from = t.data + first * bytes;
        if (t.type == GgmlType::q4_K) {
          repack_q4_K_as_q4_1(from, count, result.data_as<BlockQ4_1>() + first * kSuperBlocks);
        } else {
          requantize_q6_K_as_q8_0(from, count, result.data_as<BlockQ8_0>() + first * kSuperBlocks);
        }
      });
      break;
    }
    default: SHARDLM_FAIL("ggml type {} is not repacked", static_cast<uint32_t>(t.type));
  }
  return result;
}

// A tensor in `dtype`, or when that is null, as stored: a view of the mapped file (no copy, no heap)
// for every type the kernels read directly, so a quantized model stays quantized. What is read into
// a copy gives its file pages back (release_mapped_pages): a rank's memory is its weights, not the file.
Tensor load_tensor(const GgufFile& gguf, const std::string& name, std::vector<int64_t> shape,
                   std::optional<DType> dtype, LoadProgress& progress) {
  const GgufTensor& t = gguf.tensor(name);
  progress.advance(t.bytes);
  SHARDLM_CHECK(t.shape == shape, "'{}': tensor '{}' has shape [{}], the metadata implies [{}]", gguf.path(), name,
                fmt::join(t.shape, ", "), fmt::join(shape, ", "));
  const DType target = dtype.value_or(stored_dtype(t.type));
  Tensor result;
  if (target == stored_dtype(t.type) && t.type != GgmlType::q4_K && t.type != GgmlType::q6_K) {
    return Tensor::view(std::move(shape), target, t.data, gguf.mapping());
  } else if ((t.type == GgmlType::q4_0 || t.type == GgmlType::q4_K) && target == DType::q4_1) {
    result = repack(t, std::move(shape), target);
  } else if (t.type == GgmlType::q6_K && target == DType::q8_0) {
    result = repack(t, std::move(shape), target);
  } else {
    const int64_t row = shape.back(), rows = t.bytes / ggml_row_bytes(t.type, row);
    result = cpu_backend().empty(shape, target);
    const size_t row_bytes = dtype_bytes(target, row), source_row_bytes = ggml_row_bytes(t.type, row);
    std::vector<float> staging(row);
    convert_releasing_source(t.data, rows, source_row_bytes, [&](int64_t first, int64_t count) {
      for (int64_t r = first; r < first + count; ++r) {
        dequantize_row(t.type, t.data + r * source_row_bytes, staging.data(), row);
        convert_from_f32(staging.data(), static_cast<uint8_t*>(result.data()) + r * row_bytes, target, row);
      }
    });
  }
  release_mapped_pages(t.data, t.bytes);
  return result;
}

}  // namespace

ModelSpec gguf_model_spec(const GgufFile& g) {
  const std::string arch = g.string("general.architecture");
  SHARDLM_CHECK(arch == "llama", "'{}': GGUF architecture '{}' is not supported yet (llama)", g.path(), arch);
  const std::string p = arch + ".";
  ModelSpec s;
  s.family = "llama";
  s.hidden = g.integer(p + "embedding_length");
  s.layers = g.integer(p + "block_count");
  s.heads = g.integer(p + "attention.head_count");
  s.kv_heads = g.integer_or(p + "attention.head_count_kv", s.heads);
  SHARDLM_CHECK(s.heads > 0, "'{}': head_count must be positive", g.path());
  s.head_dim = g.integer_or(p + "rope.dimension_count", s.hidden / s.heads);
  s.ffn_hidden = g.integer(p + "feed_forward_length");
  s.max_seq_len = g.integer(p + "context_length");
  s.vocab_size = g.has(p + "vocab_size") ? g.integer(p + "vocab_size")
                                         : static_cast<int64_t>(g.value("tokenizer.ggml.tokens").array.size());
  s.norm = NormKind::rmsnorm;
  s.norm_eps = static_cast<float>(g.number_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
  s.ffn = FfnKind::swiglu;
  s.position = PositionKind::rope;
  s.rope_theta = static_cast<float>(g.number_or(p + "rope.freq_base", 10000.0));
  // llama.cpp's converter permutes Hugging Face's q/k rows back to Meta's interleaved pairs.
  s.rope_layout = RopeLayout::adjacent;
  const std::string scaling = g.string_or(p + "rope.scaling.type", "none");
  if (scaling == "linear") {
    s.rope_scaling = RopeScaling::linear;
    s.rope_scaling_factor = static_cast<float>(g.number_or(p + "rope.scaling.factor", 1.0));
  } else if (scaling == "yarn") {
    // The plain YaRN of a factor and a trained context, as transformers computes it (and llama.cpp with
    // its defaults); the tuning keys some converters add are refused rather than ignored.
    for (const char* tuning : {"rope.scaling.attn_factor", "rope.scaling.yarn_log_multiplier",
                               "rope.scaling.yarn_ext_factor", "rope.scaling.yarn_attn_factor",
                               "rope.scaling.yarn_beta_fast", "rope.scaling.yarn_beta_slow"})
      SHARDLM_CHECK(!g.has(p + tuning), "'{}': {}{} is not supported with YaRN RoPE scaling yet", g.path(), p, tuning);
    s.rope_scaling = RopeScaling::yarn;
    s.rope_scaling_factor = static_cast<float>(g.number_or(p + "rope.scaling.factor", 1.0));
    s.rope_original_context = static_cast<float>(g.integer_or(p + "rope.scaling.original_context_length", 0));
    SHARDLM_CHECK(s.rope_original_context > 0, "'{}': YaRN RoPE scaling needs {}rope.scaling.original_context_length",
                  g.path(), p);
  } else {
    SHARDLM_CHECK(scaling == "none", "'{}': {}rope.scaling.type '{}' is not supported (none, linear, yarn)", g.path(), p,
                  scaling);
  }
  // Llama 3.1 files carry the llama3 scaling as a divisor per pair (llama.cpp's frequency factors).
  if (g.has_tensor("rope_freqs.weight")) {
    const GgufTensor& t = g.tensor("rope_freqs.weight");
    const int64_t pairs = s.head_dim / 2;
    SHARDLM_CHECK(t.type == GgmlType::f32 && t.shape == std::vector<int64_t>{pairs},
                  "'{}': tensor 'rope_freqs.weight' must be f32 [{}] (one factor per RoPE pair), got [{}]", g.path(),
                  pairs, fmt::join(t.shape, ", "));
    s.rope_frequency_divisors.resize(pairs);
    std::memcpy(s.rope_frequency_divisors.data(), t.data, pairs * sizeof(float));
  }
  s.tied_embeddings = !g.has_tensor("output.weight");
  s.bos_token = static_cast<int32_t>(g.integer_or("tokenizer.ggml.bos_token_id", -1));
  if (g.has("tokenizer.ggml.eos_token_id")) s.stop_tokens = {static_cast<int32_t>(g.integer("tokenizer.ggml.eos_token_id"))};
  if (g.has("tokenizer.ggml.eot_token_id")) s.stop_tokens.push_back(static_cast<int32_t>(g.integer("tokenizer.ggml.eot_token_id")));
  s.validate();
  return s;
}

LoadedModel read_gguf_model(const std::string& path, std::optional<DType> matrix_dtype) {
  const GgufFile g = GgufFile::open(path);
  LoadedModel model{gguf_model_spec(g), {}};
  const ModelSpec& s = model.spec;
  size_t total_bytes = 0;
  for (const auto& [name, tensor] : g.tensors()) total_bytes += tensor.bytes;
  LoadProgress progress(path, static_cast<int64_t>(g.tensors().size()), total_bytes);
  ModelWeights& w = model.weights;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) { return load_tensor(g, name, {rows, cols}, matrix_dtype, progress); };
  auto vector = [&](const std::string& name) { return load_tensor(g, name, {s.hidden}, DType::f32, progress); };
  w.token_embedding = matrix("token_embd.weight", s.vocab_size, s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    LayerWeights layer;
    layer.attn_norm.weight = vector(p + "attn_norm.weight");
    layer.ffn_norm.weight = vector(p + "ffn_norm.weight");
    layer.q.weight = matrix(p + "attn_q.weight", s.q_dim(), s.hidden);
    layer.k.weight = matrix(p + "attn_k.weight", s.kv_dim(), s.hidden);
    layer.v.weight = matrix(p + "attn_v.weight", s.kv_dim(), s.hidden);
    layer.o.weight = matrix(p + "attn_output.weight", s.hidden, s.q_dim());
    layer.gate.weight = matrix(p + "ffn_gate.weight", s.ffn_hidden, s.hidden);
    layer.up.weight = matrix(p + "ffn_up.weight", s.ffn_hidden, s.hidden);
    layer.down.weight = matrix(p + "ffn_down.weight", s.hidden, s.ffn_hidden);
    w.layers.push_back(std::move(layer));
  }
  w.final_norm.weight = vector("output_norm.weight");
  w.lm_head = s.tied_embeddings ? w.token_embedding : matrix("output.weight", s.vocab_size, s.hidden);
  return model;
}

}  // namespace shardlm
