// Pipeline stages chained by hand (stage s's hidden states are stage s+1's input) against one rank,
// with layer counts the stage count does not divide.
#include <gtest/gtest.h>

#include <cmath>

#include "parallel/pipeline.h"
#include "runtime/core/check.h"
#include "runtime/model/decoder.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/shard_weights.h"

namespace shardlm {
namespace {

TEST(PipelineDecoder, ChainedStagesMatchOneRank) {
  const LoadedModel full = load_model(std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin", std::nullopt);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 11, 300};
  ThreadPool pool(1);
  Decoder single(full.spec, full.weights, pool);
  KvCache single_cache(full.spec, 32);
  const auto want_span = single.forward(prompt, 0, single_cache, Logits::all);
  const std::vector<float> want(want_span.begin(), want_span.end());

  for (int pp : {2, 3, 5}) {
    const auto stages = partition_layers(full.spec.layers, pp);
    std::vector<std::unique_ptr<Decoder>> decoders;
    std::vector<std::unique_ptr<KvCache>> caches;
    for (int s = 0; s < pp; ++s) {
      const LoadedModel part = stage_model(full, stages[s], s == 0, s == pp - 1);
      Placement placement;
      placement.first_layer = stages[s].first;
      placement.first_stage = s == 0;
      placement.last_stage = s == pp - 1;
      decoders.push_back(std::make_unique<Decoder>(part.spec, part.weights, pool, placement));
      caches.push_back(std::make_unique<KvCache>(part.spec, 32));
    }
    std::vector<float> hidden;
    std::span<const float> out;
    for (int s = 0; s < pp; ++s) {
      out = decoders[s]->forward(prompt, 0, *caches[s], Logits::all, s == 0 ? nullptr : hidden.data());
      hidden.assign(out.begin(), out.end());
    }
    ASSERT_EQ(hidden.size(), want.size());
    // The same operations in the same order: only the hand-over copies differ, so exactly equal.
    EXPECT_EQ(hidden, want) << "pp " << pp;
  }
}

TEST(PipelineDecoder, PartitionsAreBalancedOrAsRequested) {
  const auto stages = partition_layers(5, 2);
  EXPECT_EQ(stages[0].first, 0);
  EXPECT_EQ(stages[0].count, 3);
  EXPECT_EQ(stages[1].first, 3);
  EXPECT_EQ(stages[1].count, 2);
  EXPECT_EQ(partition_layers(5, 2, {1, 4})[1].count, 4);
  EXPECT_THROW(partition_layers(5, 6), Error);
  EXPECT_THROW(partition_layers(5, 2, {2, 2}), Error);
  EXPECT_THROW(partition_layers(5, 2, {5, 0}), Error);
}

}  // namespace
}  // namespace shardlm
