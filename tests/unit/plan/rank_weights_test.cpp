// Per-rank shares against the sharding rules worked out by hand (parallel/shard.h, pipeline.h).
#include <gtest/gtest.h>

#include "runtime/cli/plan_model.h"
#include "runtime/core/check.h"
#include "runtime/plan/capacity.h"
#include "runtime/plan/hardware.h"

namespace shardlm::plan {
namespace {

ModelSpec preset(const std::string& name) { return cli::read_plan_model(name).spec; }

Plan plan_of(const std::string& model, int tp, int pp, NumberFormat kv = NumberFormat::f32) {
  Layout layout;
  layout.tp = tp;
  layout.pp = pp;
  layout.weights = NumberFormat::f32;
  layout.kv = kv;
  Workload w;
  w.prompt_tokens = 5;
  w.output_tokens = 100;
  return make_plan(preset(model), find_hardware("a100-80g"), layout, w);
}

TEST(RankWeights, SmolLM2UnevenHeadsCopyKvHeadsPerQueryHead) {
  // 9 heads over 2 ranks: 5 + 4; 3 KV heads of 3 query heads each do not split along that line, so
  // each local query head gets its own KV head: 5 and 4 KV heads, 2 x 30 x n x 64 x 4 B a token in f32.
  const Plan plan = plan_of("smollm2-135m", 2, 1);
  EXPECT_EQ(plan.ranks[0].kv_heads, 5);
  EXPECT_EQ(plan.ranks[1].kv_heads, 4);
  EXPECT_EQ(plan.ranks[0].kv_bytes_per_token, 2 * 30 * 5 * 64 * 4);
  EXPECT_EQ(plan.ranks[1].kv_bytes_per_token, 2 * 30 * 4 * 64 * 4);
  // Rank 0 in f32: embedding 49152 x 576 replicated; per layer q 320 x 576, k and v 320 x 576 each,
  // o 576 x 320, gate/up 768 x 576, down 576 x 768, two norms of 576; final norm; LM head rows 0..24575.
  const int64_t layer = 3 * 320 * 576 + 576 * 320 + 3 * 768 * 576 + 2 * 576;
  EXPECT_EQ(plan.ranks[0].weights.total(), 4 * (49152 * 576 + 30 * layer + 576 + 24576 * 576));
}

TEST(RankWeights, MultiQueryKvHeadIsReplicated) {
  // OctoCoder has one KV head and 48 query heads: at tp 4 each rank's 12 heads read that one head,
  // which every rank keeps whole.
  const Plan plan = plan_of("octocoder", 4, 1, NumberFormat::bf16);
  for (const RankMemory& r : plan.ranks) {
    EXPECT_EQ(r.kv_heads, 1);
    EXPECT_EQ(r.kv_bytes_per_token, 2 * 40 * 1 * 128 * 2);
  }
  // Falcon-7B's 71 heads do not split evenly over 4 ranks (18, 18, 18, 17), so each local query head
  // gets its own copy of the KV head (parallel/shard.h's third rule): 18 copies on rank 0.
  const Plan falcon = plan_of("falcon-7b", 4, 1, NumberFormat::bf16);
  EXPECT_EQ(falcon.ranks[0].kv_heads, 18);
  EXPECT_EQ(falcon.ranks[3].kv_heads, 17);
  EXPECT_EQ(falcon.ranks[0].kv_bytes_per_token, 2 * 32 * 18 * 64 * 2);
}

TEST(RankWeights, PipelineStagesSplitLayersAndEmbeddings) {
  // 80 layers over 3 stages: 27, 27, 26. Only the first holds the embedding, only the last the head.
  const Plan plan = plan_of("llama-2-70b", 1, 3, NumberFormat::bf16);
  ASSERT_EQ(plan.ranks.size(), 3u);
  EXPECT_EQ(plan.ranks[0].layers, 27);
  EXPECT_EQ(plan.ranks[1].layers, 27);
  EXPECT_EQ(plan.ranks[2].layers, 26);
  EXPECT_EQ(plan.ranks[0].weights.embeddings, int64_t{32000} * 8192 * 4);
  EXPECT_EQ(plan.ranks[0].weights.lm_head, 0);
  EXPECT_EQ(plan.ranks[1].weights.embeddings + plan.ranks[1].weights.lm_head, 0);
  EXPECT_EQ(plan.ranks[2].weights.lm_head, int64_t{32000} * 8192 * 4 + 8192 * 4);
  EXPECT_EQ(plan.ranks[2].kv_bytes_per_token, 2 * 26 * 8 * 128 * 2);  // bf16 K/V
}

TEST(RankWeights, QuantizedFormatsCountTheirScales) {
  // int8: one f32 scale per row; int4 (q4_1): per 32 inputs 16 bytes of nibbles, an f16 scale and
  // an f16 minimum; a row that is not whole groups falls back to int8, as the runtime does.
  EXPECT_EQ(matrix_bytes(8192, 8192, NumberFormat::int8), 8192 * 8192 + 8192 * 4);
  EXPECT_EQ(matrix_bytes(8192, 8192, NumberFormat::int4), 8192 * (8192 / 32) * (16 + 2 + 2));
  EXPECT_EQ(matrix_bytes(10, 129, NumberFormat::int4), 10 * 129 + 10 * 4);
  // Tables beside int8 layers stay bf16; beside int4 they are q8_0: 32 bytes and an f16 scale per 32.
  EXPECT_EQ(table_bytes(32000, 8192, NumberFormat::int8), 32000 * 8192 * 2);
  EXPECT_EQ(table_bytes(32000, 8192, NumberFormat::int4), 32000 * (8192 / 32) * (32 + 2));
  EXPECT_EQ(table_bytes(512, 100, NumberFormat::int4), 512 * 100 * 2);
}

TEST(RankWeights, LayoutsTheModelCannotTakeAreRefusedNamingTheFlag) {
  try {
    plan_of("falcon-7b", 72, 1);
    FAIL() << "72 ranks for 71 heads";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot be split over --tp 72"), std::string::npos) << error.what();
  }
  EXPECT_THROW(plan_of("stories260k", 1, 6), Error);  // 5 layers
}

}  // namespace
}  // namespace shardlm::plan
