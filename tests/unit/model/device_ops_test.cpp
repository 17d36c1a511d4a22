// The decoder runs through its DeviceOps: a wrapper around the CPU ops that counts what it is asked
// to do shows every matrix product, attention and norm of a forward pass going through it, and every
// activation buffer coming from its memory, and the logits equal those of a decoder on the pool.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/model/decoder.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/ops/cpu_ops.h"
#include "tests/unit/support/counting_memory.h"

namespace shardlm {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";

using test::CountingMemory;

// The CPU's ops, counting the ones a forward pass must route through them.
class CountingOps final : public CpuOps {
 public:
  using CpuOps::CpuOps;
  Backend& memory() override { return memory_; }
  void matmul(const float* x, const Tensor& w, const Tensor& s, float* y, int64_t rows) override {
    ++matmuls;
    CpuOps::matmul(x, w, s, y, rows);
  }
  void rmsnorm(const float* x, const Tensor& w, float* y, int64_t rows, float eps) override {
    ++norms;
    CpuOps::rmsnorm(x, w, y, rows, eps);
  }
  void layernorm(const float* x, const Tensor& w, const Tensor& b, float* y, int64_t rows, float eps) override {
    ++norms;
    CpuOps::layernorm(x, w, b, y, rows, eps);
  }
  void rope(float* x, const int32_t* p, int64_t t, int64_t h, int64_t d, const double* frequencies, float magnitude,
            RopeLayout layout) override {
    ++ropes;
    CpuOps::rope(x, p, t, h, d, frequencies, magnitude, layout);
  }
  void attention(const float* q, const void* k, const void* v, float* out, const AttentionShape& shape) override {
    ++attentions;
    CpuOps::attention(q, k, v, out, shape);
  }
  void embed(const Tensor& table, const int32_t* ids, int64_t count, float* out, bool accumulate) override {
    ++embeds;
    CpuOps::embed(table, ids, count, out, accumulate);
  }
  CountingMemory memory_;
  int matmuls = 0, norms = 0, ropes = 0, attentions = 0, embeds = 0;
};

TEST(DeviceOps, DecoderRunsEveryOpThroughItsOpsAndMemory) {
  ThreadPool pool(2);
  const LoadedModel model = read_llama2c_model(kModel);
  const ModelSpec& spec = model.spec;
  ASSERT_EQ(spec.qkv_layout, QkvLayout::separate);
  ASSERT_EQ(spec.ffn, FfnKind::swiglu);
  CountingOps ops(pool);
  Decoder counted(spec, model.weights, ops);
  Decoder plain(spec, model.weights, pool);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378};
  KvCache counted_cache(spec, 16), plain_cache(spec, 16);
  const auto logits = counted.forward(tokens, 0, counted_cache);
  const std::vector<float> counted_logits(logits.begin(), logits.end());
  const auto expected = plain.forward(tokens, 0, plain_cache);
  // The same kernels in the same order: the same numbers.
  ASSERT_EQ(counted_logits.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(counted_logits[i], expected[i]) << "logit " << i;
  // Per layer: q, k, v, o, gate, up, down; then the LM head. Two norms a layer and the final one;
  // RoPE on q and k; attention once a layer; one embedding lookup.
  EXPECT_EQ(ops.matmuls, 7 * spec.layers + 1);
  EXPECT_EQ(ops.norms, 2 * spec.layers + 1);
  EXPECT_EQ(ops.ropes, 2 * spec.layers);
  EXPECT_EQ(ops.attentions, spec.layers);
  EXPECT_EQ(ops.embeds, 1);
  // The activations came from the ops' memory: at least the residual stream, the normed copy and
  // the MLP's two [tokens, ffn] buffers, and the logits.
  const auto T = static_cast<size_t>(tokens.size());
  EXPECT_GE(ops.memory_.allocated_bytes,
            sizeof(float) * (2 * T * spec.hidden + 2 * T * spec.ffn_hidden + spec.vocab_size));
}

}  // namespace
}  // namespace shardlm
