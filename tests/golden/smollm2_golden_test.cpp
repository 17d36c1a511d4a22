// SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized at load) against transformers' own GGUF loading.
#include <gtest/gtest.h>

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
    static LoadedModel model = load_model(path, std::nullopt);
    static nlohmann::json expected = read_json(kFixtures + "/smollm2/expected.json");
    model_ = &model;
    expected_ = &expected;
  }
  LoadedModel* model_ = nullptr;
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

}  // namespace
}  // namespace shardlm::golden
