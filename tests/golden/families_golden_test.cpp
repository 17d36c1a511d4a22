// Every family against Hugging Face transformers: the same logits (within a justified tolerance)
// and the same 32 greedy tokens, from tiny random checkpoints saved by transformers itself; on the
// CPU, and on a GPU where one is present (skipped, saying why, elsewhere).
#include <gtest/gtest.h>

#include "runtime/model/model_loader.h"
#include "tests/golden/golden_support.h"

namespace shardlm::golden {
namespace {

class FamilyGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = kFixtures + "/" + GetParam();
    expected_ = read_json(dir_ + "/expected.json");
    // In f32, as transformers computes them: a bf16 checkpoint held as stored would take the bf16 dot
    // product, whose inputs are rounded to bf16 (tests/kernels checks that path against kernels/ref).
    model_ = load_model(dir_, DType::f32);
    // llama_dynamic runs past even its scaled context (factor x trained) on purpose, to test the
    // NTK formula far out; RoPE has no table to run out of, so allow what the fixture needs.
    int64_t longest = 0;
    for (const auto& c : expected_["logits"]) longest = std::max<int64_t>(longest, c["prompt_ids"].size());
    for (const auto& c : expected_["greedy"])
      longest = std::max<int64_t>(longest, c["prompt_ids"].size() + c["generated_ids"].size());
    if (model_.spec.rope_scaling == RopeScaling::dynamic_ntk)
      model_.spec.max_seq_len = std::max(model_.spec.max_seq_len, longest);
  }
  void expect_logits_match(Decoder& decoder) {
    for (const auto& case_ : expected_["logits"]) {
      const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
      KvCache cache(model_.spec, static_cast<int64_t>(prompt.size()), decoder.ops().memory());
      const auto logits = decoder.forward(prompt, 0, cache, Logits::all);
      const auto& values = case_["values"];
      const auto V = model_.spec.vocab_size;
      for (size_t p = 0; p < values.size(); ++p) {
        const int64_t position = case_["positions"][p].get<int64_t>();
        double scale = 1.0, worst = 0.0;
        for (int64_t v = 0; v < V; ++v) scale = std::max(scale, std::fabs(values[p][v].get<double>()));
        for (int64_t v = 0; v < V; ++v)
          worst = std::max(worst, std::fabs(logits[position * V + v] - values[p][v].get<double>()));
        // The reference is rounded to 6 significant digits (<= 5e-6 relative) and computed in f32 with
        // another summation order; through 2-3 layers of width <= 128 that moves logits by ~1e-6 of
        // their scale. 1e-4 of the largest logit leaves room for both and still fails on any real
        // mistake (a wrong slope, layout or norm moves logits by whole units).
        EXPECT_LT(worst, 1e-4 * scale) << GetParam() << ": position " << position << " of \"" << case_["prompt"] << "\"";
      }
    }
  }
  void expect_greedy_tokens_match(Decoder& decoder) {
    for (const auto& case_ : expected_["greedy"]) {
      const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
      const auto want = case_["generated_ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(greedy(decoder, prompt, static_cast<int>(want.size())), want) << GetParam() << ": " << case_["prompt"];
    }
  }
  std::string dir_;
  nlohmann::json expected_;
  LoadedModel model_;
};

TEST_P(FamilyGolden, SpecMatchesTheConfig) {
  const auto& spec = expected_["spec"];
  EXPECT_EQ(model_.spec.hidden, spec["hidden"].get<int64_t>());
  EXPECT_EQ(model_.spec.layers, spec["layers"].get<int64_t>());
  EXPECT_EQ(model_.spec.heads, spec["heads"].get<int64_t>());
  EXPECT_EQ(model_.spec.kv_heads, spec["kv_heads"].get<int64_t>());
  EXPECT_EQ(model_.spec.head_dim, spec["head_dim"].get<int64_t>());
  EXPECT_EQ(model_.spec.ffn_hidden, spec["ffn"].get<int64_t>());
  EXPECT_EQ(model_.spec.vocab_size, spec["vocab"].get<int64_t>());
  EXPECT_EQ(model_.spec.tied_embeddings, spec["tied_embeddings"].get<bool>());
}

TEST_P(FamilyGolden, LogitsMatchTransformers) {
  ThreadPool pool(2);
  Decoder decoder(model_.spec, model_.weights, pool);
  expect_logits_match(decoder);
}

TEST_P(FamilyGolden, GreedyTokensMatchTransformers) {
  ThreadPool pool(2);
  Decoder decoder(model_.spec, model_.weights, pool);
  expect_greedy_tokens_match(decoder);
}

// The same checks with the decoder on a GPU (CudaOps, weights uploaded, K/V in device memory).
TEST_P(FamilyGolden, OnTheGpuLogitsAndGreedyTokensMatchTransformers) {
  const GpuDecoder gpu = gpu_decoder(model_);
  if (gpu.decoder == nullptr) GTEST_SKIP() << gpu.why_not;
  expect_logits_match(*gpu.decoder);
  expect_greedy_tokens_match(*gpu.decoder);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyGolden,
                         ::testing::Values("llama", "llama_dynamic", "llama3_rope", "llama_yarn", "falcon_7b_style",
                                           "falcon_40b_style", "bloom", "mpt", "gpt_bigcode", "gpt2"));

}  // namespace
}  // namespace shardlm::golden
