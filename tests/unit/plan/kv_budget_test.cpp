// The KV formula against numbers worked out by hand from published model shapes.
#include <gtest/gtest.h>

#include "runtime/core/check.h"
#include "runtime/plan/kv_budget.h"
#include "runtime/model/kv_cache.h"

namespace shardlm {
namespace {

constexpr size_t kGiB = size_t{1} << 30;

TEST(KvBudget, Llama2_70BInBf16OnOneRank) {
  // 80 layers, 8 KV heads (GQA), head_dim 128: 2 x 80 x 8 x 128 x 2 bytes.
  const KvFootprint kv{80, 8, 128, DType::bf16};
  EXPECT_EQ(kv.values_per_token(), 163'840);
  EXPECT_EQ(kv.bytes_per_token(), 327'680u);
  // A block of 16 tokens is exactly 5 MiB, so 80 GiB holds 16 x 1024 blocks.
  EXPECT_EQ(kv.bytes_per_block(16), 5u << 20);
  EXPECT_EQ(blocks_for_budget(80 * kGiB, kv.bytes_per_token(), 16), 16'384);
}

TEST(KvBudget, Llama2_70BPerRankShares) {
  // tp 8: one KV head per rank. pp 2 x tp 4: 40 layers and 2 KV heads per rank. Same bytes either way.
  EXPECT_EQ((KvFootprint{80, 1, 128, DType::bf16}.bytes_per_token()), 40'960u);
  EXPECT_EQ((KvFootprint{40, 2, 128, DType::bf16}.bytes_per_token()), 40'960u);
}

TEST(KvBudget, OctoCoderWithAndWithoutMultiQuery) {
  // StarCoder / OctoCoder: 40 layers, 48 query heads, one shared KV head (MQA), head_dim 128, 16k tokens.
  const int64_t tokens = 16'000;
  const KvFootprint mha{40, 48, 128, DType::f16};
  const KvFootprint mqa{40, 1, 128, DType::f16};
  EXPECT_EQ(mha.values_per_token() * tokens, 7'864'320'000);
  EXPECT_EQ(mqa.values_per_token() * tokens, 163'840'000);
  // About 15.7 GB of fp16 without MQA, 48 times less with it.
  EXPECT_EQ(mha.bytes_per_token() * tokens, 15'728'640'000u);
  EXPECT_EQ(mha.bytes_per_token(), 48 * mqa.bytes_per_token());
}

TEST(KvBudget, SmolLM2_135MInBf16) {
  // 30 layers, 3 KV heads, head_dim 64: 2 x 30 x 3 x 64 x 2 bytes.
  ModelSpec spec;
  spec.layers = 30;
  spec.heads = 9;
  spec.kv_heads = 3;
  spec.head_dim = 64;
  const KvFootprint kv = KvFootprint::of_model(spec, DType::bf16);
  EXPECT_EQ(kv.bytes_per_token(), 23'040u);
  // 16-token blocks of 368,640 bytes: 1 GiB holds 2912 (2913 would need 1,073,848,320 bytes).
  EXPECT_EQ(blocks_for_budget(kGiB, kv.bytes_per_token(), 16), 2'912);
}

TEST(KvBudget, AgreesWithTheContiguousCacheInF32) {
  ModelSpec spec;
  spec.layers = 30;
  spec.heads = 9;
  spec.kv_heads = 3;
  spec.head_dim = 64;
  EXPECT_EQ(KvFootprint::of_model(spec, DType::f32).bytes_per_token() * 100, KvCache::bytes_for(spec, 100));
}

TEST(KvBudget, BudgetRoundsDownToWholeBlocks) {
  EXPECT_EQ(blocks_for_budget(0, 100, 4), 0);
  EXPECT_EQ(blocks_for_budget(399, 100, 4), 0);
  EXPECT_EQ(blocks_for_budget(400, 100, 4), 1);
  EXPECT_EQ(blocks_for_budget(1199, 100, 4), 2);
  // A block too large to represent fits in nothing.
  EXPECT_EQ(blocks_for_budget(SIZE_MAX, SIZE_MAX / 2, 4), 0);
}

TEST(KvBudget, RejectsSizesThatAreNotPositive) {
  EXPECT_THROW(blocks_for_budget(1000, 0, 16), Error);
  EXPECT_THROW(blocks_for_budget(1000, 10, 0), Error);
  EXPECT_THROW((KvFootprint{0, 8, 128, DType::bf16}.bytes_per_token()), Error);
  EXPECT_THROW((KvFootprint{80, 0, 128, DType::bf16}.bytes_per_token()), Error);
  EXPECT_THROW((KvFootprint{80, 8, -1, DType::bf16}.bytes_per_token()), Error);
  EXPECT_THROW((KvFootprint{80, 8, 128, DType::bf16}.bytes_per_block(0)), Error);
  try {
    (void)KvFootprint{80, 0, 128, DType::bf16}.bytes_per_token();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kv_heads"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shardlm
