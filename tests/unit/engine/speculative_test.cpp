// Prompt-lookup speculation keeps exactly plain greedy decoding's output.
#include <gtest/gtest.h>

#include "runtime/engine/generator.h"
#include "runtime/engine/speculative.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

TEST(PromptLookup, DraftsWhatFollowedTheLastNgram) {
  const std::vector<int32_t> context = {5, 6, 7, 8, 9, 1, 6, 7};
  EXPECT_EQ(prompt_lookup_draft(context, 2), (std::vector<int32_t>{8, 9}));   // "6 7" was followed by 8 9
  EXPECT_EQ(prompt_lookup_draft(context, 10), (std::vector<int32_t>{8, 9, 1, 6, 7}));
  const std::vector<int32_t> nothing = {1, 2, 3};
  EXPECT_TRUE(prompt_lookup_draft(nothing, 4).empty());
}

TEST(Speculative, GreedyOutputIsPlainGreedyOutput) {
  for (const std::string model_path : {std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin",
                                       std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama"}) {
    LoadedModel model = load_model(model_path, std::nullopt);
    const auto tokenizer = load_tokenizer(model_path, "", model.spec);
    ThreadPool pool(2);
    Decoder decoder(model.spec, model.weights, pool);
    const std::string story = "Lily and Tom went to the park. Lily and Tom went to the park. Lily and Tom";
    for (const std::string text : {story, std::string("Once upon a time"), story + " went to the"}) {
      const auto prompt = tokenizer->encode(text, true);
      Sampler greedy({0.0f, 0, 1.0f, 0});
      std::vector<int32_t> plain, fast;
      generate(decoder, prompt, 40, greedy, [&](int32_t t) {
        plain.push_back(t);
        return true;
      });
      for (int64_t k : {1, 3, 8}) {
        fast.clear();
        const auto stats = generate_greedy_speculative(decoder, prompt, 40, k, [&](int32_t t) {
          fast.push_back(t);
          return true;
        });
        EXPECT_EQ(fast, plain) << model_path << " k " << k << ": " << text;
        EXPECT_EQ(stats.generated, static_cast<int64_t>(plain.size()));
      }
    }
  }
}

TEST(Speculative, RepetitiveTextAcceptsDrafts) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel model = load_model(path, std::nullopt);
  const auto tokenizer = load_tokenizer(path, "", model.spec);
  ThreadPool pool(1);
  Decoder decoder(model.spec, model.weights, pool);
  // Greedy decoding of this tiny model soon repeats itself, which is what prompt lookup feeds on.
  const auto stats = generate_greedy_speculative(decoder, tokenizer->encode("Once upon a time", true), 200, 4,
                                                 [](int32_t) { return true; });
  EXPECT_GT(stats.accepted, 0);
  EXPECT_LT(stats.passes, stats.generated);
}

}  // namespace
}  // namespace shardlm
