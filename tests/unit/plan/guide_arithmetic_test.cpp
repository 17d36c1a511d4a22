// The planner against the figures of "Optimizing LLMs for Speed and Memory" (../shared/GUIDE.md) and the
// parameter counts in ../shared/MODELS.md (published, or counted by hand from the published shapes).
// Every expected number below comes from those pages, not from the planner.
#include <gtest/gtest.h>

#include "runtime/cli/plan_model.h"
#include "runtime/plan/capacity.h"
#include "runtime/plan/hardware.h"
#include "runtime/plan/rank_weights.h"

namespace shardlm::plan {
namespace {

ModelSpec preset(const std::string& name) { return cli::read_plan_model(name).spec; }

int64_t bf16_weight_bytes(const std::string& name) {
  const ModelSpec spec = preset(name);
  return rank_weight_bytes(spec, rank_place(spec, 1, 1, 0, 0), NumberFormat::bf16).total();
}

TEST(GuideArithmetic, ParameterCountsOfEveryPreset) {
  // MODELS.md section 1, "params" column (BLOOM's is the published count; the others are counted from
  // the published config values by the formulas of its section 4).
  const std::pair<const char*, int64_t> expected[] = {
      {"llama-2-7b", 6'738'415'616},     {"llama-2-13b", 13'015'864'320}, {"llama-2-70b", 68'976'648'192},
      {"falcon-7b", 6'921'720'704},      {"falcon-40b", 41'303'293'952},  {"falcon-180b", 178'557'088'768},
      {"bloom-176b", 176'247'271'424},   {"mpt-7b", 6'649'286'656},       {"mpt-30b", 29'957'200'896},
      {"starcoder-15b", 15'517'456'384}, {"octocoder", 15'517'456'384},   {"smollm2-135m", 134'515'008},
      // Llama 3 / 3.1, counted by section 4's Llama formula from the published shapes (untied, vocab 128256):
      // 80 x 855,654,400 + 2 x 128256 x 8192 + 8192, and 126 x 3,187,703,808 + 2 x 128256 x 16384 + 16384.
      {"llama-3-70b", 70'553'706'496},   {"llama-3.1-405b", 405'853'388'800}};
  for (const auto& [name, parameters] : expected) EXPECT_EQ(parameter_count(preset(name)), parameters) << name;
}

TEST(GuideArithmetic, Bf16NeedsTwoBytesPerParameter) {
  // The guide: StarCoder / OctoCoder 31 GB, Llama-2-70B 140 GB, BLOOM 352 GB in bf16 (its "~2X GB"
  // rounds 68.98B to 70B). Norms stay f32 in the runtime, a few MB more.
  EXPECT_NEAR(bf16_weight_bytes("octocoder") / 1e9, 31.0, 0.1);
  EXPECT_NEAR(bf16_weight_bytes("llama-2-70b") / 1e9, 140.0, 2.1);
  EXPECT_NEAR(bf16_weight_bytes("bloom-176b") / 1e9, 352.0, 0.6);
  // MODELS.md section 4: 2 B x 68,976,648,192 = 137,953,296,384 B for Llama-2-70B; the f32 norms add
  // 2 extra bytes for each of (2 x 80 + 1) x 8192 values.
  EXPECT_EQ(bf16_weight_bytes("llama-2-70b"), 137'953'296'384 + 2 * (2 * 80 + 1) * 8192);
  // The guide's 8-bit and 4-bit OctoCoder runs peaked at 15.2 GB and 9.5 GB, weights being most of it.
  const ModelSpec octo = preset("octocoder");
  const RankPlace one = rank_place(octo, 1, 1, 0, 0);
  EXPECT_NEAR(rank_weight_bytes(octo, one, NumberFormat::int8).total() / 1e9, 15.2, 0.7);
  EXPECT_NEAR(rank_weight_bytes(octo, one, NumberFormat::int4).total() / 1e9, 9.5, 1.2);
}

TEST(GuideArithmetic, OctoCoderKvCacheWithAndWithoutMultiQuery) {
  // 16,000 tokens: 7,864,320,000 values (~15 GB in f16) if every head kept its K/V; under 400 MB with MQA.
  ModelSpec octo = preset("octocoder");
  const Hardware h100 = find_hardware("h100-80g");
  Workload w;
  w.context = 16'000;
  w.prompt_tokens = 100;
  w.output_tokens = 100;
  Layout layout;
  layout.kv = NumberFormat::f16;
  const int64_t mqa = make_plan(octo, h100, layout, w).ranks[0].kv_bytes_per_token * 16'000;
  EXPECT_LT(mqa, 400'000'000);
  octo.kv_heads = octo.heads;
  const int64_t mha = make_plan(octo, h100, layout, w).ranks[0].kv_bytes_per_token * 16'000;
  EXPECT_EQ(mha / 2, 7'864'320'000);
  EXPECT_NEAR(mha / 1e9, 15.0, 0.8);
}

TEST(GuideArithmetic, Llama2_70BNeedsSeveralGpus) {
  // "An 80 GB A100/H100 holds none of the large ones alone."
  const ModelSpec llama = preset("llama-2-70b");
  Workload w;
  w.prompt_tokens = 512;
  w.output_tokens = 128;
  for (const char* gpu : {"a100-80g", "h100-80g"}) {
    Layout one;
    EXPECT_FALSE(make_plan(llama, find_hardware(gpu), one, w).fits) << gpu;
  }
  // 8 x A100-80GB at tp 8 holds it, one KV head per rank: 2 x 80 layers x 128 x 2 B = 40,960 B a token
  // (MODELS.md's 327,680 B/token over 8 ranks). What is left for K/V: 80 GiB less an eighth of the
  // 137.95 GB of weights, less the 7/8 of the 0.524 GB embedding every rank replicates, less the
  // preset's runtime (1 GiB) and NCCL (512 MiB) reserves; activations at one sequence are a few MB.
  Layout tp8;
  tp8.tp = 8;
  const Plan plan = make_plan(llama, find_hardware("a100-80g"), tp8, w);
  ASSERT_TRUE(plan.fits);
  for (const RankMemory& r : plan.ranks) {
    EXPECT_EQ(r.kv_bytes_per_token, 40'960);
    const double left = 80.0 * (1 << 30) - 137.95e9 / 8 - 0.524288e9 * 7 / 8 - 1.5 * (1 << 30);
    EXPECT_NEAR(r.kv_tokens_fit, left / 40'960, left / 40'960 * 0.005);
    EXPECT_EQ(r.sequences_fit, r.kv_tokens_fit / 4096);
  }
}

}  // namespace
}  // namespace shardlm::plan
