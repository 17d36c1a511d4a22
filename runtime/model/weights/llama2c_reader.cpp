#include "runtime/model/weights/llama2c_reader.h"

#include <cstdint>

#include <cstdlib>

#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"
#include "runtime/model/weight_dtype.h"

namespace shardlm {
namespace {

constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);
constexpr int32_t kMaxExtent = 1 << 20;  // far above any real model; keeps size arithmetic in int64

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

ModelSpec spec_from_header(const Header& h, const std::string& path) {
  const std::pair<const char*, int32_t> fields[] = {{"dim", h.dim},           {"hidden_dim", h.hidden_dim},
                                                    {"n_layers", h.n_layers}, {"n_heads", h.n_heads},
                                                    {"n_kv_heads", h.n_kv_heads}, {"vocab_size", std::abs(h.vocab_size)},
                                                    {"seq_len", h.seq_len}};
  for (const auto& [name, value] : fields) {
    SHARDLM_CHECK(value > 0 && value <= kMaxExtent, "'{}' is not a llama2.c model: header field {} = {} is out of range",
                  path, name, value);
  }
  SHARDLM_CHECK(h.dim % h.n_heads == 0, "'{}': dim {} is not divisible by n_heads {}", path, h.dim, h.n_heads);
  SHARDLM_CHECK(h.n_heads % h.n_kv_heads == 0, "'{}': n_heads {} is not divisible by n_kv_heads {}", path, h.n_heads,
                h.n_kv_heads);
  ModelSpec spec;
  spec.family = "llama";
  spec.vocab_size = std::abs(h.vocab_size);
  spec.hidden = h.dim;
  spec.layers = h.n_layers;
  spec.heads = h.n_heads;
  spec.kv_heads = h.n_kv_heads;
  spec.head_dim = h.dim / h.n_heads;
  spec.ffn_hidden = h.hidden_dim;
  spec.max_seq_len = h.seq_len;
  spec.ffn = FfnKind::swiglu;
  spec.norm = NormKind::rmsnorm;
  spec.norm_eps = 1e-5f;
  spec.position = PositionKind::rope;
  spec.rope_theta = 10000.0f;
  spec.rope_layout = RopeLayout::adjacent;  // llama2.c keeps Meta's interleaved pairs
  spec.tied_embeddings = h.vocab_size > 0;  // llama2.c's convention: negative vocab = separate classifier
  spec.bos_token = 1;
  spec.stop_tokens = {1, 2};  // the TinyStories models emit BOS between stories; EOS is 2
  spec.validate();
  return spec;
}

// Walks the f32 arrays in file order, handing out tensors that view the mapping or converted copies.
class ArrayCursor {
 public:
  ArrayCursor(std::shared_ptr<MappedFile> file, DType matrix_dtype)
      : file_(std::move(file)), matrix_dtype_(matrix_dtype), offset_(kHeaderBytes) {}

  Tensor next_vector(std::vector<int64_t> shape) { return take(std::move(shape), DType::f32); }
  Tensor next_matrix(std::vector<int64_t> shape) { return take(std::move(shape), matrix_dtype_); }
  void skip(int64_t floats) { offset_ += floats * sizeof(float); }

 private:
  Tensor take(std::vector<int64_t> shape, DType dtype) {
    Tensor mapped = Tensor::view(std::move(shape), DType::f32, file_->data() + offset_, file_);
    offset_ += mapped.bytes();
    return convert_tensor(mapped, dtype);
  }
  std::shared_ptr<MappedFile> file_;
  DType matrix_dtype_;
  size_t offset_;
};

}  // namespace

LoadedModel read_llama2c_model(const std::string& path, DType weight_dtype) {
  auto file = MappedFile::open(path);
  SHARDLM_CHECK(file->size() >= kHeaderBytes, "'{}' is truncated: {} bytes, shorter than the {}-byte llama2.c header",
                path, file->size(), kHeaderBytes);
  ByteReader reader(*file);
  Header h{};
  for (int32_t* field : {&h.dim, &h.hidden_dim, &h.n_layers, &h.n_heads, &h.n_kv_heads, &h.vocab_size, &h.seq_len})
    *field = reader.read<int32_t>("header");
  LoadedModel model{spec_from_header(h, path), {}};
  const ModelSpec& s = model.spec;

  // Every array in file order; the size check below must hold before any tensor is made.
  const int64_t L = s.layers, D = s.hidden, F = s.ffn_hidden, V = s.vocab_size, KV = s.kv_dim(), Q = s.q_dim();
  // In 128 bits: a header's sizes (up to 2^31 each) multiply past 64 bits; the file's size then
  // tells a real checkpoint from a corrupt header.
  using Wide = __int128;
  const Wide rope_table = Wide{s.max_seq_len} * s.head_dim;  // legacy freq_cis_real + imag, [seq, head_dim/2] each
  const Wide floats = Wide{V} * D + Wide{L} * D + Wide{L} * Q * D + Wide{2} * L * KV * D + Wide{L} * D * Q +
                      Wide{L} * D + Wide{3} * L * F * D + D + rope_table + (s.tied_embeddings ? 0 : Wide{V} * D);
  const Wide needed = Wide{kHeaderBytes} + floats * Wide{sizeof(float)};
  const int64_t expected = needed > Wide{INT64_MAX} ? INT64_MAX : static_cast<int64_t>(needed);
  SHARDLM_CHECK(static_cast<int64_t>(file->size()) == expected,
                "'{}' does not match its header: dim {}, hidden {}, {} layers, {} heads, {} kv heads, vocab {}, "
                "seq {} need {} bytes, the file has {}{}",
                path, D, F, L, s.heads, s.kv_heads, V, s.max_seq_len, expected, file->size(),
                static_cast<int64_t>(file->size()) < expected ? " (truncated)" : "");

  ArrayCursor cursor(file, weight_dtype);
  ModelWeights& w = model.weights;
  w.token_embedding = cursor.next_matrix({V, D});
  w.layers.resize(L);
  // llama2.c stores each kind of weight for all layers together, so walk kind by kind.
  for (auto& layer : w.layers) layer.attn_norm.weight = cursor.next_vector({D});
  for (auto& layer : w.layers) layer.q.weight = cursor.next_matrix({Q, D});
  for (auto& layer : w.layers) layer.k.weight = cursor.next_matrix({KV, D});
  for (auto& layer : w.layers) layer.v.weight = cursor.next_matrix({KV, D});
  for (auto& layer : w.layers) layer.o.weight = cursor.next_matrix({D, Q});
  for (auto& layer : w.layers) layer.ffn_norm.weight = cursor.next_vector({D});
  for (auto& layer : w.layers) layer.gate.weight = cursor.next_matrix({F, D});
  for (auto& layer : w.layers) layer.down.weight = cursor.next_matrix({D, F});
  for (auto& layer : w.layers) layer.up.weight = cursor.next_matrix({F, D});
  w.final_norm.weight = cursor.next_vector({D});
  cursor.skip(rope_table);  // recomputed from theta instead
  w.lm_head = s.tied_embeddings ? w.token_embedding : cursor.next_matrix({V, D});
  return model;
}

}  // namespace shardlm
