// A tiny Llama GGUF whose layers are Q4_K and Q6_K, as Q4_K_M files mix them (random weights, written
// by tests/reference/make_kquant_model.py), against llama.cpp's own logits for it. ShardLM reads the
// k-quants as ggml defines them: dequantized to f32 it computes what the file means; as stored it
// repacks Q4_K into q4_1 and Q6_K into q8_0 blocks and runs those.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "runtime/model/model_loader.h"
#include "tests/golden/golden_support.h"

namespace shardlm::golden {
namespace {

const std::string kModel = kFixtures + "/kquants/tiny_q4_k_m.gguf";

// Every position's logits of each fixture prompt, and the largest |logit| llama.cpp gave.
struct Compared {
  double worst = 0, scale = 0;
  int positions = 0, same_argmax = 0;
};

Compared compare(const LoadedModel& model, const nlohmann::json& cases) {
  ThreadPool pool(2);
  Decoder decoder(model.spec, model.weights, pool);
  Compared c;
  const int64_t V = model.spec.vocab_size;
  for (const auto& case_ : cases) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    KvCache cache(model.spec, static_cast<int64_t>(prompt.size()));
    const auto logits = decoder.forward(prompt, 0, cache, Logits::all);
    for (size_t p = 0; p < prompt.size(); ++p) {
      const auto want = case_["logits"][p].get<std::vector<double>>();
      const float* row = logits.data() + p * V;
      for (int64_t v = 0; v < V; ++v) {
        c.worst = std::max(c.worst, std::fabs(row[v] - want[v]));
        c.scale = std::max(c.scale, std::fabs(want[v]));
      }
      ++c.positions;
      c.same_argmax += std::max_element(row, row + V) - row == std::max_element(want.begin(), want.end()) - want.begin();
    }
  }
  return c;
}

TEST(KQuantGolden, ShardLmReadsQ4KAndQ6KAsLlamaCppDoes) {
  const auto expected = read_json(kFixtures + "/kquants/llama_cpp.json")["cases"];
  const LoadedModel stored = load_model(kModel, std::nullopt);
  EXPECT_EQ(stored.weights.layers[0].q.weight.dtype(), DType::q4_1);    // Q4_K
  EXPECT_EQ(stored.weights.layers[0].v.weight.dtype(), DType::q8_0);    // Q6_K
  EXPECT_EQ(stored.weights.lm_head.dtype(), DType::q8_0);               // Q6_K
  const Compared exact = compare(load_model(kModel, DType::f32), expected), repacked = compare(stored, expected);
  std::printf("k-quants vs llama.cpp (logits up to %.1f): dequantized worst %.4f, same top %d/%d; as stored worst "
              "%.4f, same top %d/%d\n",
              exact.scale, exact.worst, exact.same_argmax, exact.positions, repacked.worst, repacked.same_argmax,
              repacked.positions);
  // llama.cpp multiplies k-quants by inputs it quantizes to 8 bits per 256 (q8_K), so even the exact
  // weights differ from it (measured: 1.2% of the largest logit at worst); repacked (f16 sub-block
  // scales, Q6_K requantized, inputs int8 per 32 where the CPU has VNNI) 1.7%. A misread scale,
  // nibble or bit pair moves logits by their own size. Bounds 2% and 3%, and the same top token.
  EXPECT_LT(exact.worst, 0.02 * exact.scale);
  EXPECT_LT(repacked.worst, 0.03 * repacked.scale);
  EXPECT_EQ(exact.same_argmax, exact.positions);
  EXPECT_EQ(repacked.same_argmax, repacked.positions);
}

}  // namespace
}  // namespace shardlm::golden
