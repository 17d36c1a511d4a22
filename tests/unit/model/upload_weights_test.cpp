// upload_weights: every tensor copied into the device's memory once (a tied LM head shares the
// embedding's copy), byte for byte, and matrices the device cannot multiply refused before anything
// is copied. A counting host "device" stands in for a GPU, so this runs everywhere.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "runtime/model/weight_dtype.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/ops/upload_weights.h"
#include "tests/unit/support/counting_memory.h"

namespace shardlm {
namespace {

using test::CountingMemory;

const DType kF32AndBf16[] = {DType::f32, DType::bf16};

TEST(UploadWeights, EachTensorOnceByteForByteTiedOnesShared) {
  LoadedModel model = read_llama2c_model(std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin");
  ASSERT_EQ(model.weights.lm_head.data(), model.weights.token_embedding.data()) << "stories260K ties its LM head";
  CountingMemory memory;
  const ModelWeights uploaded = upload_weights(model.weights, memory, kF32AndBf16);
  // The host tensors, by address: what the upload must have copied once each.
  std::set<const void*> host;
  auto check = [&](const Tensor& before, const Tensor& after) {
    ASSERT_EQ(before.defined(), after.defined());
    if (!before.defined()) return;
    host.insert(before.data());
    EXPECT_NE(after.data(), before.data()) << before.describe() << " was not copied";
    EXPECT_EQ(after.shape(), before.shape());
    EXPECT_EQ(after.dtype(), before.dtype());
    EXPECT_EQ(std::memcmp(after.data(), before.data(), before.bytes()), 0) << before.describe();
  };
  check(model.weights.token_embedding, uploaded.token_embedding);
  check(model.weights.lm_head, uploaded.lm_head);
  check(model.weights.final_norm.weight, uploaded.final_norm.weight);
  for (size_t l = 0; l < model.weights.layers.size(); ++l) {
    const LayerWeights &a = model.weights.layers[l], &b = uploaded.layers[l];
    for (auto [x, y] : {std::pair{&a.q, &b.q}, {&a.k, &b.k}, {&a.v, &b.v}, {&a.o, &b.o}, {&a.gate, &b.gate},
                        {&a.up, &b.up}, {&a.down, &b.down}})
      check(x->weight, y->weight);
    check(a.attn_norm.weight, b.attn_norm.weight);
    check(a.ffn_norm.weight, b.ffn_norm.weight);
  }
  EXPECT_EQ(uploaded.lm_head.data(), uploaded.token_embedding.data()) << "the tied LM head was copied twice";
  EXPECT_EQ(memory.allocations, static_cast<int>(host.size()));
}

TEST(UploadWeights, MatricesTheDeviceCannotMultiplyAreRefusedBeforeAnyCopy) {
  LoadedModel model = read_llama2c_model(std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin");
  convert_matrices(model.weights, DType::i8);
  CountingMemory memory;
  try {
    upload_weights(model.weights, memory, kF32AndBf16);
    FAIL() << "int8 projections were uploaded to a device that multiplies f32 and bf16 only";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("counting memory"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("--weights bf16"), std::string::npos) << error.what();
  }
  EXPECT_EQ(memory.allocations, 0);
}

}  // namespace
}  // namespace shardlm
