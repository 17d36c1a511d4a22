// The decoder's batched prefill against the same tokens fed one at a time, and reduced-precision
// weights against f32 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd.h"
#include "runtime/backend/backend.h"
#include "runtime/model/decoder.h"
#include "runtime/model/weight_dtype.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "tests/kernels/kernel_test_support.h"

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

// `model` with every matrix dequantized to f32 by hand: each value read by load_as_f32 (the dtype's
// own definition) and, for int8, multiplied by its row's scale. The independent path the quantized
// decoders are checked against.
LoadedModel dequantized_copy(const LoadedModel& model) {
  LoadedModel copy = model;
  auto to_f32 = [](const Tensor& t, const Tensor& row_scales) {
    if (!t.defined() || t.dtype() == DType::f32) return t;
    Tensor f32 = cpu_backend().empty(t.shape(), DType::f32);
    const int64_t k = t.dim(-1);
    for (int64_t i = 0; i < t.numel(); ++i)
      f32.data_as<float>()[i] =
          load_as_f32(t.data(), t.dtype(), i) * (row_scales.defined() ? row_scales.data_as<float>()[i / k] : 1.0f);
    return f32;
  };
  ModelWeights& w = copy.weights;
  const bool tied = w.lm_head.data() == w.token_embedding.data();
  w.token_embedding = to_f32(w.token_embedding, Tensor());
  w.lm_head = tied ? w.token_embedding : to_f32(w.lm_head, Tensor());
  for (LayerWeights& layer : w.layers) {
    for (Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      linear->weight = to_f32(linear->weight, linear->scale);
      linear->scale = Tensor();
    }
  }
  return copy;
}

// Quantized weights against that independent path: the same quantized values, dequantized to f32 by
// hand and run through the f32 kernels. The two differ only in where a scale is applied (int8: after
// each sum, or in every product) and in the order of f32 additions: logits of this model are O(10),
// so a few 1e-4 covers that, while a scale on the wrong row or block, a byte read as unsigned, a
// nibble from the wrong half or a missed tail moves them by whole units.
void expect_quantized_decoder_matches_dequantized(DType precision, const std::map<DType, size_t>& matrices_by_dtype,
                                                  DType table_dtype) {
  ThreadPool pool(2);
  LoadedModel quantized = read_llama2c_model(kModel, DType::f32);
  convert_matrices(quantized.weights, precision);
  std::map<DType, size_t> counted;
  for (const LayerWeights& layer : quantized.weights.layers) {
    for (const Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down})
      if (linear->weight.defined()) ++counted[linear->weight.dtype()];
  }
  EXPECT_EQ(counted, matrices_by_dtype);
  EXPECT_EQ(quantized.weights.token_embedding.dtype(), table_dtype);
  const LoadedModel dequantized = dequantized_copy(quantized);

  Decoder decoder(quantized.spec, quantized.weights, pool), reference(dequantized.spec, dequantized.weights, pool);
  EXPECT_LT(decoder.weight_bytes(), reference.weight_bytes());
  // At every SIMD level that multiplies by the weights as they are; a level that quantizes the
  // inputs of block formats (AVX-512 VNNI) computes another product, which tests/kernels checks
  // against kernels/ref's rule for it, and the SmolLM2 golden test against transformers.
  int compared = 0;
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    if (cpu::matmul_quantizes_inputs(DType::q4_1) || cpu::matmul_quantizes_inputs(DType::q8_0)) continue;
    SCOPED_TRACE(testing::Message() << "simd=" << level);
    KvCache cache(quantized.spec, 64), reference_cache(dequantized.spec, 64);
    const auto expected = reference.forward(kTokens, 0, reference_cache, Logits::all);
    const std::vector<float> expected_copy(expected.begin(), expected.end());
    const auto logits = decoder.forward(kTokens, 0, cache, Logits::all);
    EXPECT_LT(max_abs_difference(expected_copy, logits), 5e-4);
    ++compared;
  }
  EXPECT_GT(compared, 0);  // generic always is such a level
}

// int8: q, k, v, o, gate, up, down of each of 5 layers per output row; tables bf16, as load_in_8bit.
TEST(Decoder, Int8ProjectionsEqualTheirDequantizedWeightsInF32) {
  expect_quantized_decoder_matches_dequantized(DType::i8, {{DType::i8, 5u * 7u}}, DType::bf16);
}

// int4: q4_1 for every projection whose rows are whole blocks of 32 (this model's width 64); the MLP
// down projection reads 172 values a row and takes int8 per row instead. Tables q8_0.
TEST(Decoder, Int4ProjectionsEqualTheirDequantizedWeightsInF32) {
  expect_quantized_decoder_matches_dequantized(DType::q4_1, {{DType::q4_1, 5u * 6u}, {DType::i8, 5u}}, DType::q8_0);
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
