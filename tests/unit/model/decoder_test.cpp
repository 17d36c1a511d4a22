// The decoder's batched prefill against the same tokens fed one at a time, and reduced-precision
// weights against f32 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/model/decoder.h"
#include "runtime/model/weight_dtype.h"
#include "runtime/model/weights/llama2c_reader.h"

namespace shardlm {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
const std::vector<int32_t> kTokens = {1, 403, 407, 261, 378, 11, 300, 290, 261, 420, 350, 63};

std::vector<float> logits_one_by_one(Decoder& decoder, KvCache& cache) {
  std::vector<float> last;
  for (size_t i = 0; i < kTokens.size(); ++i) {
    const auto logits = decoder.forward(std::span(kTokens).subspan(i, 1), static_cast<int64_t>(i), cache);
    last.assign(logits.begin(), logits.end());
  }
  return last;
}

double max_abs_difference(const std::vector<float>& a, std::span<const float> b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

TEST(Decoder, PrefillInOnePassEqualsTokenByToken) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    LoadedModel model = read_llama2c_model(kModel);
    Decoder decoder(model.spec, model.weights, pool);
    KvCache stepwise(model.spec, 64), batched(model.spec, 64);
    const std::vector<float> expected = logits_one_by_one(decoder, stepwise);
    const auto logits = decoder.forward(kTokens, 0, batched);
    // Same arithmetic in a different grouping of rows: only f32 rounding differs (logits are O(10)).
    EXPECT_LT(max_abs_difference(expected, logits), 1e-3) << threads << " threads";
  }
}

TEST(Decoder, ChunkedPrefillContinuesFromTheCache) {
  ThreadPool pool(1);
  LoadedModel model = read_llama2c_model(kModel);
  Decoder decoder(model.spec, model.weights, pool);
  KvCache whole(model.spec, 64), chunked(model.spec, 64);
  const auto whole_logits = decoder.forward(kTokens, 0, whole);
  const std::vector<float> expected(whole_logits.begin(), whole_logits.end());
  decoder.forward(std::span(kTokens).first(5), 0, chunked);
  const auto logits = decoder.forward(std::span(kTokens).subspan(5), 5, chunked);
  EXPECT_LT(max_abs_difference(expected, logits), 1e-3);
}

TEST(Decoder, ReducedPrecisionWeightsStayCloseToF32) {
  ThreadPool pool(1);
  LoadedModel f32 = read_llama2c_model(kModel, DType::f32);
  Decoder reference(f32.spec, f32.weights, pool);
  KvCache cache(f32.spec, 64);
  const std::vector<float> expected = logits_one_by_one(reference, cache);
  // bf16 keeps 8 significand bits (relative error 2^-9 per weight); through 5 layers the logits of
  // this model (spread ~10) move by a few hundredths. f16 keeps 11 bits: 8x closer.
  for (auto [dtype, tolerance] : {std::pair{DType::bf16, 0.25}, std::pair{DType::f16, 0.05}}) {
    LoadedModel reduced = read_llama2c_model(kModel, dtype);
    Decoder decoder(reduced.spec, reduced.weights, pool);
    KvCache reduced_cache(reduced.spec, 64);
    const auto logits = decoder.forward(kTokens, 0, reduced_cache);
    EXPECT_LT(max_abs_difference(expected, logits), tolerance) << dtype_name(dtype);
    const auto argmax = [](auto&& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
    EXPECT_EQ(argmax(expected), argmax(logits)) << dtype_name(dtype);
  }
}

// int8 projections against an independent path: the same quantized values, dequantized to f32 by
// hand (byte times row scale) and run through the f32 kernels. The two differ only in where the scale
// is applied (after each sum, or in every product) and in the order of f32 additions: logits of this
// model are O(10), so a few 1e-4 covers that, while a scale on the wrong row, a byte read as
// unsigned or a missed tail moves them by whole units.
TEST(Decoder, Int8ProjectionsEqualTheirDequantizedWeightsInF32) {
  ThreadPool pool(2);
  LoadedModel quantized = read_llama2c_model(kModel, DType::f32);
  convert_matrices(quantized.weights, DType::i8);
  LoadedModel dequantized = quantized;
  size_t int8_matrices = 0;
  for (LayerWeights& layer : dequantized.weights.layers) {
    for (Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      if (!linear->weight.defined()) continue;
      ASSERT_EQ(linear->weight.dtype(), DType::i8);
      const int64_t rows = linear->weight.dim(0), k = linear->weight.dim(1);
      Tensor f32 = cpu_backend().empty(linear->weight.shape(), DType::f32);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < k; ++i)
          f32.data_as<float>()[r * k + i] =
              static_cast<float>(linear->weight.data_as<int8_t>()[r * k + i]) * linear->scale.data_as<float>()[r];
      linear->weight = f32;
      linear->scale = Tensor();
      ++int8_matrices;
    }
  }
  EXPECT_EQ(int8_matrices, 5u * 7u);  // q, k, v, o, gate, up, down in each of 5 layers
  EXPECT_EQ(quantized.weights.token_embedding.dtype(), DType::bf16);  // as load_in_8bit leaves it

  Decoder int8(quantized.spec, quantized.weights, pool), reference(dequantized.spec, dequantized.weights, pool);
  KvCache int8_cache(quantized.spec, 64), reference_cache(dequantized.spec, 64);
  const auto expected = reference.forward(kTokens, 0, reference_cache, Logits::all);
  const std::vector<float> expected_copy(expected.begin(), expected.end());
  const auto logits = int8.forward(kTokens, 0, int8_cache, Logits::all);
  EXPECT_LT(max_abs_difference(expected_copy, logits), 5e-4);
  // A quarter of f32's bytes for the projections, plus the scales.
  EXPECT_LT(int8.weight_bytes(), reference.weight_bytes());
}

TEST(Decoder, RejectsTokensOutsideTheVocabularyAndTheCache) {
  ThreadPool pool(1);
  LoadedModel model = read_llama2c_model(kModel);
  Decoder decoder(model.spec, model.weights, pool);
  KvCache cache(model.spec, 8);
  const std::vector<int32_t> bad_token = {1, 512};
  EXPECT_THROW(decoder.forward(bad_token, 0, cache), std::runtime_error);
  EXPECT_THROW(decoder.forward(kTokens, 0, cache), std::runtime_error);  // 12 tokens, 8 positions
}

}  // namespace
}  // namespace shardlm
