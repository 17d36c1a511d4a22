// Continuous batching gives every sequence exactly what it gets alone: greedy and seeded sampling,
// with more requests than batch slots so that sequences join while others run.
#include <gtest/gtest.h>

#include "runtime/engine/batch_generator.h"
#include "runtime/engine/generator.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

std::vector<GenerationRequest> requests_for(const Tokenizer& tokenizer, float temperature) {
  const std::vector<std::string> prompts = {"Once upon a time", "Lily had a red ball", "The dog", "Tom and Sam went",
                                            "One day, a little bird", "She was happy because"};
  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest r;
    r.prompt = tokenizer.encode(prompts[i], true);
    r.max_new_tokens = 20 + 7 * static_cast<int64_t>(i);  // different lengths: sequences leave at different steps
    r.sampling.temperature = temperature;
    r.sampling.seed = 1000 + i;
    requests.push_back(r);
  }
  return requests;
}

TEST(BatchGenerator, EverySequenceGetsWhatItGetsAlone) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel model = load_model(path, std::nullopt);
  const auto tokenizer = load_tokenizer(path, "", model.spec);
  ThreadPool pool(2);
  Decoder decoder(model.spec, model.weights, pool);
  for (float temperature : {0.0f, 0.9f}) {
    const auto requests = requests_for(*tokenizer, temperature);
    EngineCounters stats;
    const auto together = generate_batch(decoder, requests, 4, &stats);
    EXPECT_EQ(stats.largest_batch, 4);
    for (size_t i = 0; i < requests.size(); ++i) {
      Sampler sampler(requests[i].sampling);
      std::vector<int32_t> alone;
      generate(decoder, requests[i].prompt, requests[i].max_new_tokens, sampler, [&](int32_t token) {
        alone.push_back(token);
        return true;
      });
      EXPECT_EQ(together[i], alone) << "request " << i << " at temperature " << temperature;
    }
  }
}

TEST(BatchGenerator, RejectsBadRequestsNamingThem) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel model = load_model(path, std::nullopt);
  ThreadPool pool(1);
  Decoder decoder(model.spec, model.weights, pool);
  std::vector<GenerationRequest> requests(2);
  requests[0].prompt = {1, 403};
  requests[1].prompt = {};
  EXPECT_THROW(generate_batch(decoder, requests, 2), std::runtime_error);
  requests[1].prompt = {1};
  requests[1].sampling.top_p = 0;
  EXPECT_THROW(generate_batch(decoder, requests, 2), std::runtime_error);
}

}  // namespace
}  // namespace shardlm
