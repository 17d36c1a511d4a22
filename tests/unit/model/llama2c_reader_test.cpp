#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "runtime/model/weights/llama2c_reader.h"

namespace shardlm {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";

TEST(Llama2cReader, SpecMatchesThePublishedShape) {
  // The shape from the model's README: dim 64, FFN 172, 5 layers, 8 heads, 4 KV heads, vocab 512, seq 512.
  const LoadedModel model = read_llama2c_model(kModel);
  const ModelSpec& s = model.spec;
  EXPECT_EQ(s.hidden, 64);
  EXPECT_EQ(s.ffn_hidden, 172);
  EXPECT_EQ(s.layers, 5);
  EXPECT_EQ(s.heads, 8);
  EXPECT_EQ(s.kv_heads, 4);
  EXPECT_EQ(s.head_dim, 8);
  EXPECT_EQ(s.vocab_size, 512);
  EXPECT_EQ(s.max_seq_len, 512);
  EXPECT_TRUE(s.tied_embeddings);
  EXPECT_EQ(s.rope_layout, RopeLayout::adjacent);
  EXPECT_EQ(model.weights.layers.size(), 5u);
  EXPECT_EQ(model.weights.layers[0].k.weight.shape(), (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(model.weights.layers[0].down.weight.shape(), (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(model.weights.lm_head.data(), model.weights.token_embedding.data());  // tied: one copy
}

TEST(Llama2cReader, F32WeightsViewTheFileWithoutCopying) {
  const LoadedModel model = read_llama2c_model(kModel);
  // The embedding starts right after the 28-byte header; a view points into the mapping there.
  const auto* first = model.weights.token_embedding.data_as<float>();
  const auto* wq = model.weights.layers[0].q.weight.data_as<float>();
  EXPECT_EQ(reinterpret_cast<const char*>(wq) - reinterpret_cast<const char*>(first),
            static_cast<std::ptrdiff_t>((512 * 64 + 5 * 64) * sizeof(float)));
}

TEST(Llama2cReader, ConvertsMatricesToBf16AndKeepsNormsF32) {
  const LoadedModel f32 = read_llama2c_model(kModel, DType::f32);
  const LoadedModel bf16 = read_llama2c_model(kModel, DType::bf16);
  EXPECT_EQ(bf16.weights.layers[2].v.weight.dtype(), DType::bf16);
  EXPECT_EQ(bf16.weights.layers[2].attn_norm.weight.dtype(), DType::f32);
  const Tensor& a = f32.weights.layers[2].v.weight;
  const Tensor& b = bf16.weights.layers[2].v.weight;
  for (int64_t i = 0; i < a.numel(); i += 97) {
    const float x = a.data_as<float>()[i];
    EXPECT_NEAR(load_as_f32(b.data(), DType::bf16, i), x, std::fabs(x) * 0x1p-8f);  // bf16 keeps 8 bits
  }
}

}  // namespace
}  // namespace shardlm
