// Tensor parallelism at tp 2, 3 and 4 against one rank: every family fixture, stories260K and SmolLM2's
// quantized GGUF as stored, MQA and
// small GQA (KV heads replicated) and uneven splits (tp 3 over 8 or 4 heads) included. Ranks are threads here (ThreadGroup); the arithmetic
// of the split is what is tested.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd.h"
#include "parallel/shard.h"
#include "runtime/model/decoder.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/shard_weights.h"
#include "tests/kernels/kernel_test_support.h"
#include "tests/unit/support/thread_group.h"

namespace shardlm {
namespace {

struct Case {
  std::string model;  // fixture name, or "stories260K"
  int tp;
};

std::string path_of(const std::string& model) {
  if (model == "smollm2") return std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  return model == "stories260K" ? std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin"
                                : std::string(SHARDLM_TEST_DATA) + "/../fixtures/" + model;
}

// The SIMD level a case runs at: SmolLM2's weights stay Q4_1 / Q8_0 as stored, cut into whole blocks
// per rank; at a level that multiplies them by int8-quantized inputs, a rank's share of a sum could
// round an input to another code than the whole does, so the split is checked where the product is
// exact (the best level that decodes blocks to f32).
std::string level_for(const std::string& model) {
  std::string best;
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    if (model != "smollm2" || !cpu::matmul_quantizes_inputs(DType::q4_1)) best = level;
  }
  return best;
}

std::vector<int32_t> prompt_for(const LoadedModel& model) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(static_cast<int32_t>((7 + 37 * i) % model.spec.vocab_size));
  return ids;
}

// Logits of every prompt position, then 16 greedy tokens, from one decoder.
std::pair<std::vector<float>, std::vector<int32_t>> run(Decoder& decoder, const std::vector<int32_t>& prompt) {
  KvCache cache(decoder.spec(), static_cast<int64_t>(prompt.size()) + 16);
  const auto all = decoder.forward(prompt, 0, cache, Logits::all);
  std::vector<float> logits(all.begin(), all.end());
  const int64_t V = decoder.spec().vocab_size;
  std::vector<int32_t> tokens;
  std::span<const float> last(logits.data() + (prompt.size() - 1) * V, V);
  for (int i = 0; i < 16; ++i) {
    tokens.push_back(static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin()));
    const int32_t step[] = {tokens.back()};
    last = decoder.forward(step, static_cast<int64_t>(prompt.size()) + i, cache);
  }
  return {logits, tokens};
}

class TensorParallelDecoder : public ::testing::TestWithParam<Case> {};

TEST_P(TensorParallelDecoder, MatchesOneRank) {
  const Case c = GetParam();
  test::ScopedSimdLevel level(level_for(c.model));
  const LoadedModel full = load_model(path_of(c.model), std::nullopt);
  const auto prompt = prompt_for(full);
  ThreadPool pool(1);
  Decoder single(full.spec, full.weights, pool);
  const auto [want_logits, want_tokens] = run(single, prompt);

  std::vector<std::pair<std::vector<float>, std::vector<int32_t>>> results(c.tp);
  testing::ThreadGroup group(c.tp);
  group.run([&](int rank, Communicator& comm) {
    const auto shard =
        TensorParallelShard::plan(full.spec.family, full.spec.heads, full.spec.kv_heads, full.spec.ffn_hidden,
                                  full.spec.vocab_size, c.tp, rank);
    const LoadedModel local = shard_model(full, shard);
    ThreadPool rank_pool(1);
    Placement placement;
    placement.tp_comm = &comm;
    placement.first_head = shard.first_head;
    placement.total_heads = full.spec.heads;
    placement.vocab_first = shard.first_vocab;
    Decoder decoder(local.spec, local.weights, rank_pool, placement);
    results[rank] = run(decoder, prompt);
  });
  double scale = 1.0, worst = 0.0;
  for (float v : want_logits) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  for (size_t i = 0; i < want_logits.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(want_logits[i]) - results[0].first[i]));
  // Splitting a dot product over ranks only regroups its f32 sum; as in the golden tests, 1e-4 of
  // the largest logit covers that and any real mistake (a wrong head or column) moves whole units.
  EXPECT_LT(worst, 1e-4 * scale) << c.model << " tp " << c.tp;
  for (int rank = 0; rank < c.tp; ++rank) EXPECT_EQ(results[rank].second, want_tokens) << c.model << " rank " << rank;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.model + "_tp" + std::to_string(info.param.tp);
}

INSTANTIATE_TEST_SUITE_P(
    Families, TensorParallelDecoder,
    ::testing::Values(Case{"stories260K", 2}, Case{"stories260K", 3}, Case{"stories260K", 4}, Case{"falcon_7b_style", 3}, Case{"llama", 2}, Case{"llama", 4},
                      Case{"llama_dynamic", 2}, Case{"falcon_7b_style", 2}, Case{"falcon_7b_style", 4},
                      Case{"falcon_40b_style", 2}, Case{"falcon_40b_style", 4}, Case{"bloom", 2}, Case{"mpt", 2},
                      Case{"gpt_bigcode", 2}, Case{"gpt_bigcode", 4}, Case{"gpt2", 2}, Case{"gpt2", 4},
                      Case{"smollm2", 2}, Case{"smollm2", 3}, Case{"smollm2", 4}),
    case_name);

TEST(TensorParallelShard, SplitsHeadsAndKvHeadsByTheRules) {
  // MQA over 4 ranks: each rank keeps the one KV head.
  auto shard = TensorParallelShard::plan("mqa", 8, 1, 64, 100, 4, 3);
  EXPECT_EQ(shard.first_head, 6);
  EXPECT_EQ(shard.heads, 2);
  EXPECT_EQ(shard.kv_sources, std::vector<int64_t>{0});
  // GQA with 2 KV heads over 4 ranks: ranks 2 and 3 read KV head 1.
  EXPECT_EQ(TensorParallelShard::plan("gqa", 8, 2, 64, 100, 4, 2).kv_sources, std::vector<int64_t>{1});
  // GQA with 4 KV heads over 2 ranks: two each.
  EXPECT_EQ(TensorParallelShard::plan("gqa", 8, 4, 64, 100, 2, 1).kv_sources, (std::vector<int64_t>{2, 3}));
  // SmolLM2's 9 heads in groups of 3 over 2 ranks: 5 + 4 heads, each with its own copy of its KV head.
  shard = TensorParallelShard::plan("SmolLM2", 9, 3, 1536, 49152, 2, 1);
  EXPECT_EQ(shard.first_head, 5);
  EXPECT_EQ(shard.heads, 4);
  EXPECT_EQ(shard.kv_sources, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(shard.ffn, 768);
  EXPECT_EQ(shard.first_vocab, 24576);
}

TEST(TensorParallelShard, RefusesMoreRanksThanHeads) {
  try {
    TensorParallelShard::plan("falcon", 4, 1, 256, 100, 5, 0);
    FAIL();
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("cannot be split over --tp 5"), std::string::npos) << message;
    EXPECT_NE(message.find("use --tp 1 to 4"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace shardlm
