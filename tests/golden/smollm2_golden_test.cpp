// SmolLM2-135M-Instruct (Q4_1 GGUF) against transformers' own GGUF loading, which dequantizes it: the
// model's arithmetic exactly with the weights dequantized at load, and the weights as stored (q4_1
// layers, q8_0 embedding, run in place, inputs quantized where the CPU multiplies them as integers)
// within the error that quantized inputs add.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/cpu/ops.h"
#include "runtime/engine/perplexity.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/weight_dtype.h"
#include "tests/golden/golden_support.h"

namespace shardlm::golden {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

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

void expect_logits_match(Decoder& decoder, const nlohmann::json& expected) {
  const ModelSpec& spec = decoder.spec();
  const auto fixed_ids = expected["logits_fixed_ids"].get<std::vector<int64_t>>();
  const int64_t V = spec.vocab_size;
  for (const auto& case_ : expected["logits"]) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    KvCache cache(spec, static_cast<int64_t>(prompt.size()), decoder.ops().memory());
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

void expect_greedy_tokens_match(Decoder& decoder, const nlohmann::json& expected) {
  for (const auto& case_ : expected["greedy"]) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = case_["generated_ids"].get<std::vector<int32_t>>();
    const int32_t stop = case_["stopped_at_eos"].get<bool>() ? want.back() : -1;
    EXPECT_EQ(greedy(decoder, prompt, static_cast<int>(want.size()), stop), want) << case_["prompt"];
  }
}

// The weights as stored, inputs quantized per block of 32 (where the CPU multiplies them as integers):
// logits within 1.0 of transformers' (measured: 0.85 at worst, on logits up to ~32; each input is
// off by up to 1/254 of its block's largest, through 30 layers), and at every position the token
// this path ranks first is one transformers ranks within twice that of its best (the chat prompt's
// last position has its first two 0.08 apart: a tie this path may break either way, as llama.cpp's
// q8 products may). On a GPU the stored weights multiply f32 inputs at decode sizes and bf16-rounded
// ones (weights dequantized to bf16) above: within the same bound.
void expect_stored_weights_within_bound(Decoder& decoder, const nlohmann::json& expected) {
  constexpr double kBound = 1.0;
  const int64_t V = decoder.spec().vocab_size;
  double worst = 0;
  int compared = 0;
  auto check = [&](const float* row, const nlohmann::json& want) {
    const auto top_ids = want["top20_ids"].get<std::vector<int64_t>>();
    for (size_t i = 0; i < top_ids.size(); ++i)
      worst = std::max(worst, std::fabs(row[top_ids[i]] - want["top20_values"][i].get<double>()));
    const int64_t mine = std::max_element(row, row + V) - row;
    const auto at = std::find(top_ids.begin(), top_ids.end(), mine);
    ASSERT_NE(at, top_ids.end()) << "token " << mine << " is not in transformers' top 20";
    const double theirs = want["top20_values"][at - top_ids.begin()].get<double>();
    EXPECT_GE(theirs, want["top20_values"][0].get<double>() - 2 * kBound) << "token " << mine;
    ++compared;
  };
  for (const auto& case_ : expected["logits"]) {
    const auto prompt = case_["prompt_ids"].get<std::vector<int32_t>>();
    KvCache cache(decoder.spec(), static_cast<int64_t>(prompt.size()), decoder.ops().memory());
    const auto logits = decoder.forward(prompt, 0, cache, Logits::all);
    for (size_t p = 0; p < case_["per_position"].size(); ++p)
      check(logits.data() + case_["positions"][p].get<int64_t>() * V, case_["per_position"][p]);
    check(logits.data() + case_["last_position"]["position"].get<int64_t>() * V, case_["last_position"]);
  }
  std::printf("stored weights on %s: largest logit difference %.4f; top token compared at %d positions\n",
              decoder.ops().memory().name().c_str(), worst, compared);
  EXPECT_LT(worst, kBound);
  EXPECT_EQ(compared, 15);  // 4 positions and the last of each of 3 prompts
}

TEST_F(SmolLm2Golden, LogitsMatchTransformers) {
  ThreadPool pool(2);
  Decoder decoder(model_->spec, model_->weights, pool);
  expect_logits_match(decoder, *expected_);
}

TEST_F(SmolLm2Golden, GreedyTokensMatchTransformers) {
  ThreadPool pool(2);
  Decoder decoder(model_->spec, model_->weights, pool);
  expect_greedy_tokens_match(decoder, *expected_);
}

TEST_F(SmolLm2Golden, StoredWeightsStayWithinTheirInputQuantizationError) {
  ThreadPool pool(2);
  ASSERT_EQ(stored_->weights.layers[0].q.weight.dtype(), DType::q4_1);
  ASSERT_EQ(stored_->weights.token_embedding.dtype(), DType::q8_0);
  Decoder decoder(stored_->spec, stored_->weights, pool);
  expect_stored_weights_within_bound(decoder, *expected_);
}

// The same checks on a GPU: the f32 model (cuBLAS), and the weights as stored (q4_1 layers, q8_0
// embedding and head, uploaded as they are and decoded by kernels/cuda).
TEST_F(SmolLm2Golden, OnTheGpuLogitsGreedyTokensAndStoredWeightsMatchTransformers) {
  const GpuDecoder f32 = gpu_decoder(*model_);
  if (f32.decoder == nullptr) GTEST_SKIP() << f32.why_not;
  expect_logits_match(*f32.decoder, *expected_);
  expect_greedy_tokens_match(*f32.decoder, *expected_);
  const GpuDecoder stored = gpu_decoder(*stored_);
  expect_stored_weights_within_bound(*stored.decoder, *expected_);
}

// Perplexity of a public-domain text (tests/data/texts), transformers' figure in the fixture.
class SmolLm2Perplexity : public SmolLm2Golden {
 protected:
  double mean_nll(const LoadedModel& model, DType kv_dtype = DType::f32) {
    ThreadPool pool(2);
    Decoder decoder(model.spec, model.weights, pool);
    const auto& want = (*expected_)["perplexity"];
    const auto tokens = want["token_ids"].get<std::vector<int32_t>>();
    const PerplexityScore score =
        score_text(decoder, tokens, want["bos"].get<int32_t>(), want["context"].get<int64_t>(), kv_dtype);
    EXPECT_EQ(score.tokens, want["scored_tokens"].get<int64_t>());
    return score.mean_nll();
  }
  LoadedModel converted(DType precision) {
    LoadedModel model = *model_;  // the f32 weights, as from a full-precision checkpoint
    convert_matrices(model.weights, precision);
    return model;
  }
};

// The text tokenizes as transformers tokenizes it, and the f32 model scores it as transformers does:
// the mean log-likelihood within 1e-4 (the fixture keeps 6 digits; the two sum 30 layers of f32 in
// different orders, ~1e-5 apart in the logits' log-sum-exp).
TEST_F(SmolLm2Perplexity, F32MatchesTransformers) {
  const auto& want = (*expected_)["perplexity"];
  const std::string text = read_text(std::string(SHARDLM_TEST_DATA) + "/texts/public_domain_us_documents.txt");
  const auto tokenizer = load_tokenizer(kModels + "/SmolLM2-135M-Instruct.Q4_1.gguf", "", model_->spec);
  EXPECT_EQ(tokenizer->encode(text, false), want["token_ids"].get<std::vector<int32_t>>());
  EXPECT_NEAR(mean_nll(*model_), want["mean_nll"].get<double>(), 1e-4);
}

// What each precision costs in perplexity against f32 (measured on this text: bf16 +0.12% with its
// bf16-rounded inputs, the stored Q4_1 with int8-quantized inputs +0.24%, int8 +1.07%, int4 +0.24%,
// an int8 KV cache with f32 weights +0.15%; before the blocked GEMM summed prefill in another order,
// +0.06%, +0.21%, +1.07%, +0.21% and -0.09%). int8 is per output row, and these weights are Q4_1's
// grid, whose 16 levels per block of 32 a row's 255 levels cannot all hit; int4 is q4_1 again and
// finds the same grid (its cost here is the quantized inputs'); the KV cache's rounding, 1/254 of a
// block's largest value, is noise at this scale. Bounds: bf16 0.5%, stored 1%, int8 1.5% (the
// issue's 1% is for weights from a full-precision checkpoint; these are not), int4 10%, KV 0.5%.
TEST_F(SmolLm2Perplexity, EachPrecisionStaysWithinItsBound) {
  const double f32 = mean_nll(*model_);
  struct Case {
    const char* name;
    double nll;
    double bound;  // largest relative increase of perplexity
  };
  const Case cases[] = {{"bf16", mean_nll(converted(DType::bf16)), 0.005},
                        {"stored q4_1", mean_nll(*stored_), 0.01},
                        {"int8", mean_nll(converted(DType::i8)), 0.015},
                        {"int4", mean_nll(converted(DType::q4_1)), 0.10},
                        {"int8 KV cache", mean_nll(*model_, DType::q8_0), 0.005}};
  for (const Case& c : cases) {
    const double increase = std::exp(c.nll - f32) - 1;
    std::printf("%-12s perplexity %.4f (f32 %.4f): %+.2f%%\n", c.name, std::exp(c.nll), std::exp(f32), 100 * increase);
    EXPECT_LT(increase, c.bound) << c.name;
  }
}

// Greedy agreement (tests/fixtures/smollm2/agreement.json): transformers' f32 greedy continuation of
// five prompts, 200 tokens each, fed to each precision; at each of the 1,000 positions the token the
// precision ranks first either is transformers' one or not. Teacher-forced, so one early difference
// does not turn the rest into a comparison of two different texts (free-running agreement is the
// bench shardlm_weights_agreement's). f32 must agree wherever transformers' top two logits are more
// than 0.01 apart (it stays within 5e-3 of them, LogitsMatchTransformers). The others, measured with
// AVX-512 (inputs rounded to bf16, or quantized per block to 16 bits, as the kernels do there): bf16
// agrees at 99.5% of the positions, stored q4_1 and int4 at 99.7%, int8 (per-row int8 of weights that
// were Q4_1: other values) at 97.4%. With 8-bit inputs in every row (SHARDLM_PREFILL_INPUTS=int8 in a
// single pass) the stored weights agree at 97.4%; with 8-bit prefill and 16-bit decode steps, as a
// generation with that setting runs, at 99.7%. Bounds: bf16 99%; stored and int4 99.5%, f32-level
// fidelity (issue 23's goal); int8 and 8-bit inputs throughout 96%.
class SmolLm2Agreement : public SmolLm2Perplexity {
 protected:
  struct Agreement {
    int positions = 0, agree = 0, agree_where_clear = 0, clear = 0;
  };
  // `stepwise`: the prompt's last row in the prefill and every later one in a decode step of its own,
  // as a generation computes them (decode steps keep 16-bit inputs whatever the prefill takes);
  // else all rows in one pass.
  Agreement agreement(const LoadedModel& model, bool stepwise = false) {
    static const nlohmann::json fixture = read_json(kFixtures + "/smollm2/agreement.json");
    ThreadPool pool(2);
    Decoder decoder(model.spec, model.weights, pool);
    const int64_t V = model.spec.vocab_size;
    Agreement result;
    for (const auto& prompt : fixture["prompts"]) {
      auto sequence = prompt["prompt_ids"].get<std::vector<int32_t>>();
      const auto want = prompt["generated_ids"].get<std::vector<int32_t>>();
      const auto margins = prompt["margins"].get<std::vector<double>>();
      const auto first = static_cast<int64_t>(sequence.size()) - 1;  // predicts want[0]
      sequence.insert(sequence.end(), want.begin(), want.end() - 1);
      KvCache cache(model.spec, static_cast<int64_t>(sequence.size()));
      const int64_t in_one_pass = stepwise ? first + 1 : static_cast<int64_t>(sequence.size());
      const auto pass = decoder.forward({sequence.data(), static_cast<size_t>(in_one_pass)}, 0, cache, Logits::all);
      std::vector<float> logits(pass.begin(), pass.end());
      for (int64_t position = in_one_pass; position < static_cast<int64_t>(sequence.size()); ++position) {
        const auto step = decoder.forward({&sequence[position], 1}, position, cache, Logits::all);
        logits.insert(logits.end(), step.begin(), step.end());
      }
      for (size_t i = 0; i < want.size(); ++i) {
        const float* row = logits.data() + (first + static_cast<int64_t>(i)) * V;
        const bool same = std::max_element(row, row + V) - row == want[i];
        const bool clear = margins[i] > 0.01;
        result.positions++;
        result.agree += same;
        result.clear += clear;
        result.agree_where_clear += same && clear;
      }
    }
    return result;
  }
};

TEST_F(SmolLm2Agreement, EachPrecisionPicksTransformersGreedyTokens) {
  const Agreement f32 = agreement(*model_);
  ASSERT_EQ(f32.positions, 1000);
  EXPECT_EQ(f32.agree_where_clear, f32.clear) << "f32 differs from transformers where its choice is clear";
  struct Case {
    const char* name;
    Agreement measured;
    double bound;  // smallest share of the positions that agree
  };
  cpu::set_prefill_inputs_for_testing(true);
  const Agreement eight_bit_prefill = agreement(*stored_), eight_bit_prefill_stepwise = agreement(*stored_, true);
  cpu::set_prefill_inputs_for_testing(false);
  const Case cases[] = {{"bf16", agreement(converted(DType::bf16)), 0.99},
                        {"stored q4_1", agreement(*stored_), 0.995},
                        {"int8", agreement(converted(DType::i8)), 0.96},
                        {"int4", agreement(converted(DType::q4_1)), 0.995},
                        {"stored, 8-bit inputs in one pass", eight_bit_prefill, 0.96},
                        {"stored, 8-bit prefill, stepwise", eight_bit_prefill_stepwise, 0.995}};
  std::printf("f32         %d / %d positions agree with transformers' greedy tokens (%d of %d clear ones)\n",
              f32.agree, f32.positions, f32.agree_where_clear, f32.clear);
  for (const Case& c : cases) {
    const double share = static_cast<double>(c.measured.agree) / c.measured.positions;
    std::printf("%-33s %d / %d positions agree (%.1f%%)\n", c.name, c.measured.agree, c.measured.positions, 100 * share);
    EXPECT_GE(share, c.bound) << c.name;
  }
}

}  // namespace
}  // namespace shardlm::golden
