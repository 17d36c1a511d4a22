// SmolLM2-135M-Instruct (Q4_1 GGUF) against transformers' own GGUF loading, which dequantizes it: the
// model's arithmetic exactly with the weights dequantized at load, and the weights as stored (q4_1
// layers, q8_0 embedding, run in place, inputs quantized where the CPU multiplies them as integers)
// within the error that quantized inputs add.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "runtime/model/model_loader.h"
#include "tests/golden/golden_support.h"

namespace shardlm::golden {
namespace {

class SmolLm2Golden : public ::testing::Test {
 protected:
  // Loaded once for the suite. A missing model fails the test (CI fetches it; a skip would hide that).
  void SetUp() override {
    const std::string path = kModels + "/SmolLM2-135M-Instruct.Q4_1.gguf";
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run ./launch/fetch-models.sh";
    static LoadedModel model = load_model(path, DType::f32);
    static LoadedModel stored = load_model(path, std::nullopt);
    static nlohmann::json expected = read_json(kFixtures + "/smollm2/expected.json");
    model_ = &model;
    stored_ = &stored;
    expected_ = &expected;
  }
  LoadedModel* model_ = nullptr;
  LoadedModel* stored_ = nullptr;
  nlohmann::json* expected_ = nullptr;
};

TEST_F(SmolLm2Golden, LogitsMatchTransformers) {
  ThreadPool pool(2);
  Decoder decoder(model_->spec, model_->weights, pool);
  const auto fixed_ids = (*expected_)["logits_fixed_ids"].get<std::vector<int64_t>>();
  const int64_t V = model_->spec.vocab_size;
  for (const auto& case_ : (*expected_)["logits"]) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    KvCache cache(model_->spec, static_cast<int64_t>(prompt.size()));
    const auto logits = decoder.forward(prompt, 0, cache, Logits::all);
    for (size_t p = 0; p < case_["per_position"].size(); ++p) {
      const auto& want = case_["per_position"][p];
      const int64_t position = case_["positions"][p].get<int64_t>();
      const float* row = logits.data() + position * V;
      // 30 layers of width 576 in f32, summed in another order than PyTorch's: differences of
      // ~1e-5 relative per layer add up to a few 1e-4 of the logit scale (~20); values are
      // rounded to 6 digits. 5e-3 absolute is a tenth of the smallest greedy margin in the fixture.
      const auto top_ids = want["top20_ids"].get<std::vector<int64_t>>();
      for (size_t i = 0; i < top_ids.size(); ++i)
        EXPECT_NEAR(row[top_ids[i]], want["top20_values"][i].get<double>(), 5e-3) << "position " << position;
      for (size_t i = 0; i < fixed_ids.size(); ++i)
        EXPECT_NEAR(row[fixed_ids[i]], want["fixed_values"][i].get<double>(), 5e-3) << "position " << position;
      EXPECT_EQ(std::max_element(row, row + V) - row, top_ids.front());
    }
  }
}

TEST_F(SmolLm2Golden, GreedyTokensMatchTransformers) {
  ThreadPool pool(2);
  Decoder decoder(model_->spec, model_->weights, pool);
  for (const auto& case_ : (*expected_)["greedy"]) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = case_["generated_ids"].get<std::vector<int32_t>>();
    const int32_t stop = case_["stopped_at_eos"].get<bool>() ? want.back() : -1;
    EXPECT_EQ(greedy(decoder, prompt, static_cast<int>(want.size()), stop), want) << case_["prompt"];
  }
}

TEST_F(SmolLm2Golden, StoredWeightsStayWithinTheirInputQuantizationError) {
  ThreadPool pool(2);
  ASSERT_EQ(stored_->weights.layers[0].q.weight.dtype(), DType::q4_1);
  ASSERT_EQ(stored_->weights.token_embedding.dtype(), DType::q8_0);
  Decoder decoder(stored_->spec, stored_->weights, pool);
  const int64_t V = stored_->spec.vocab_size;
  double worst = 0;
  int positions = 0, same_argmax = 0;
  for (const auto& case_ : (*expected_)["logits"]) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    KvCache cache(stored_->spec, static_cast<int64_t>(prompt.size()));
    const auto logits = decoder.forward(prompt, 0, cache, Logits::all);
    for (size_t p = 0; p < case_["per_position"].size(); ++p) {
      const auto& want = case_["per_position"][p];
      const float* row = logits.data() + case_["positions"][p].get<int64_t>() * V;
      const auto top_ids = want["top20_ids"].get<std::vector<int64_t>>();
      for (size_t i = 0; i < top_ids.size(); ++i)
        worst = std::max(worst, std::fabs(row[top_ids[i]] - want["top20_values"][i].get<double>()));
      ++positions;
      same_argmax += std::max_element(row, row + V) - row == top_ids.front();
    }
  }
  std::printf("stored weights: largest logit difference %.4f, same top token at %d of %d positions\n", worst,
              same_argmax, positions);
  EXPECT_LT(worst, 1.0);
  EXPECT_EQ(same_argmax, positions);
}

}  // namespace
}  // namespace shardlm::golden
