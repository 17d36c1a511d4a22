// The engine's paged cache: prefix reuse changes no token, a second chat round computes only its new
// tokens, a shared system prompt shares blocks, and preemption changes no token either.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/core/check.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
    model_ = load_model(path, std::nullopt);
    tokenizer_ = load_tokenizer(path, "", model_.spec);
    pool_ = std::make_unique<ThreadPool>(2);
    decoder_ = std::make_unique<Decoder>(model_.spec, model_.weights, *pool_);
  }
  GenerationRequest request(const std::string& text, int64_t new_tokens, float temperature = 0.0f, uint64_t seed = 1) {
    GenerationRequest r;
    r.prompt = tokenizer_->encode(text, true);
    r.max_new_tokens = new_tokens;
    r.sampling.temperature = temperature;
    r.sampling.seed = seed;
    return r;
  }
  std::vector<std::vector<int32_t>> run(const std::vector<GenerationRequest>& requests, EngineOptions options,
                                        EngineCounters* counters = nullptr) {
    Engine engine(*decoder_, options);
    for (const auto& r : requests) engine.submit(r);
    engine.run_to_completion();
    if (counters) *counters = engine.counters();
    std::vector<std::vector<int32_t>> out;
    for (size_t i = 0; i < requests.size(); ++i) out.push_back(engine.output(static_cast<int64_t>(i)));
    return out;
  }
  static EngineOptions options(int64_t blocks, bool prefix_cache = true, int64_t block_size = 4) {
    EngineOptions o;
    o.max_batch = 8;
    o.num_blocks = blocks;
    o.block_size = block_size;
    o.prefix_cache = prefix_cache;
    return o;
  }

  LoadedModel model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Decoder> decoder_;
};

const std::string kSystem = "Once upon a time, there was a little girl named Lily. She loved to play outside.";

TEST_F(EngineTest, PrefixCacheOnAndOffGiveTheSameTokens) {
  std::vector<GenerationRequest> requests;
  for (const char* ending : {" One day", " Her dog", " The sun", " Tom said"})
    requests.push_back(request(kSystem + ending, 24));
  requests.push_back(request(kSystem + " One day", 24, 0.8f, 5));
  EngineCounters with, without;
  EXPECT_EQ(run(requests, options(256, true), &with), run(requests, options(256, false), &without));
  EXPECT_GT(with.reused_prompt_tokens, 0);
  EXPECT_EQ(without.reused_prompt_tokens, 0);
  EXPECT_LT(with.computed_prompt_tokens, without.computed_prompt_tokens);
}

TEST_F(EngineTest, SecondChatRoundComputesOnlyItsNewTokens) {
  Engine engine(*decoder_, options(256));
  const auto first = request(kSystem + " One day, she", 20);
  engine.submit(first);
  engine.run_to_completion();
  const auto answer = engine.output(0);
  const int64_t before = engine.counters().computed_prompt_tokens;

  // Round two: the whole conversation so far, then the new turn.
  GenerationRequest second = first;
  second.prompt.insert(second.prompt.end(), answer.begin(), answer.end());
  const auto turn = tokenizer_->encode(" Then they went home.", false);
  second.prompt.insert(second.prompt.end(), turn.begin(), turn.end());
  engine.submit(second);
  engine.run_to_completion();
  const int64_t computed = engine.counters().computed_prompt_tokens - before;
  // Only whole blocks are reused, and round one's last sampled token was never computed: at most a
  // block's worth plus that token beyond the new turn's own tokens.
  EXPECT_LE(computed, static_cast<int64_t>(turn.size()) + 4 + 1);
  EXPECT_GE(computed, static_cast<int64_t>(turn.size()));

  // The same tokens as computing round two from scratch.
  EXPECT_EQ(engine.output(1), run({second}, options(256, false))[0]);
}

TEST_F(EngineTest, RequestsWithOneSystemPromptShareItsBlocks) {
  Engine engine(*decoder_, options(256));
  const int64_t a = engine.submit(request(kSystem + " One day", 8));
  const int64_t b = engine.submit(request(kSystem + " Her dog", 8));
  engine.step();
  const auto table_a = engine.blocks().block_table(a);
  const std::vector<int32_t> first_a(table_a.begin(), table_a.end());
  const auto table_b = engine.blocks().block_table(b);
  ASSERT_FALSE(first_a.empty());
  EXPECT_EQ(first_a[0], table_b[0]);
  EXPECT_EQ(engine.blocks().ref_count(first_a[0]), 2);
  EXPECT_GT(engine.counters().reused_prompt_tokens, 0);
  engine.run_to_completion();
  EXPECT_EQ(engine.blocks().num_sequences(), 0);
  EXPECT_EQ(engine.blocks().num_free_blocks(), engine.blocks().num_blocks());  // every block free again
}

TEST_F(EngineTest, PreemptionChangesNoToken) {
  std::vector<GenerationRequest> requests;
  int seed = 0;
  for (const char* text : {"Lily had a big", "The dog ran", "Tom saw a bird", "One day, a little", "She was happy"}) {
    // Every other request samples; each has its own seed (1, 2, ...).
    const float temperature = seed % 2 ? 0.9f : 0.0f;
    ++seed;
    requests.push_back(request(text, 40, temperature, seed));
  }
  EngineCounters tight;
  // 14 blocks of 4 tokens: enough for any one sequence (~48 positions = 12 blocks), not for five.
  const auto squeezed = run(requests, options(14, true), &tight);
  EXPECT_GT(tight.preemptions, 0);
  EXPECT_EQ(squeezed, run(requests, options(512, true)));
}

TEST_F(EngineTest, StopTokensAndLogProbabilities) {
  auto free_run = request("Once upon a time", 12);
  free_run.logprobs = true;
  Engine engine(*decoder_, options(64));
  engine.submit(free_run);
  engine.run_to_completion();
  const auto tokens = engine.output(0);
  ASSERT_EQ(tokens.size(), 12u);

  // The log-probabilities, against the reference loop's logits put through a log-softmax in double.
  KvCache cache(model_.spec, 64);
  std::vector<int32_t> fed = free_run.prompt;
  auto logits = decoder_->forward(fed, 0, cache);
  for (size_t i = 0; i < tokens.size(); ++i) {
    double max_logit = *std::max_element(logits.begin(), logits.end()), total = 0;
    for (float v : logits) total += std::exp(v - max_logit);
    EXPECT_NEAR(engine.logprobs(0)[i], logits[tokens[i]] - max_logit - std::log(total), 1e-4) << i;
    const int32_t step[] = {tokens[i]};
    logits = decoder_->forward(step, static_cast<int64_t>(fed.size() + i), cache);
  }

  // A request's own stop token ends it just before that token.
  auto stopped = request("Once upon a time", 12);
  stopped.stop_tokens = {tokens[4]};
  engine.submit(stopped);
  engine.run_to_completion();
  const auto first_stop = std::find(tokens.begin(), tokens.end(), tokens[4]) - tokens.begin();
  EXPECT_EQ(engine.output(1), std::vector<int32_t>(tokens.begin(), tokens.begin() + first_stop));
}

TEST_F(EngineTest, ChunkedPrefillKeepsStepsWithinTheBudgetAndChangesNoToken) {
  std::vector<GenerationRequest> requests = {request("The dog ran", 30), request(kSystem + kSystem + " One day", 20),
                                             request(kSystem + " Tom said", 20, 0.9f, 3), request("Lily had", 25)};
  EngineCounters whole, chunked;
  const auto expected = run(requests, options(256), &whole);
  EngineOptions budgeted = options(256);
  budgeted.max_step_tokens = 8;
  EXPECT_EQ(run(requests, budgeted, &chunked), expected);
  EXPECT_LE(chunked.largest_step_tokens, 8);  // at most 4 sequences decode at once, below the budget
  EXPECT_GT(whole.largest_step_tokens, 8);   // the long prompt alone is far more
  // Chunks, a tight pool and preemption together still change nothing.
  EngineOptions tight = options(24);
  tight.max_step_tokens = 8;
  EngineCounters squeezed;
  EXPECT_EQ(run(requests, tight, &squeezed), expected);
  EXPECT_GT(squeezed.preemptions, 0);
}

TEST_F(EngineTest, ARequestThatCannotFitAloneIsRefused) {
  Engine engine(*decoder_, options(2));
  EXPECT_THROW(engine.submit(request("Once upon a time", 100)), std::runtime_error);
}

TEST_F(EngineTest, CancellingFreesBlocksAndChangesNoOtherRequest) {
  const auto keep = request(kSystem + " One day", 24);
  const auto plain = run({keep}, options(64));
  Engine engine(*decoder_, options(64));
  const int64_t kept = engine.submit(keep);
  const int64_t running = engine.submit(request(" Her dog ran to the park and", 40));
  const int64_t mid_prefill = engine.submit(request(kSystem + " The sun was", 40));
  // Cancel `running` after a few of its tokens, and `mid_prefill` while it runs too.
  for (int i = 0; i < 3; ++i) engine.step();
  EXPECT_TRUE(engine.admitted(running));
  engine.cancel(running);
  engine.cancel(mid_prefill);
  EXPECT_TRUE(engine.finished(running));
  EXPECT_EQ(engine.finish_reason(running), FinishReason::cancelled);
  EXPECT_EQ(engine.finish_reason(mid_prefill), FinishReason::cancelled);
  engine.run_to_completion();
  EXPECT_EQ(engine.output(kept), plain[0]);
  EXPECT_EQ(engine.finish_reason(kept), FinishReason::length);
  // Every block is free or merely cached again once nothing runs.
  EXPECT_EQ(engine.blocks().num_free_blocks(), engine.blocks().num_blocks());
  EXPECT_EQ(engine.blocks().num_sequences(), 0);
  engine.release(kept);
  EXPECT_THROW(engine.output(kept), std::out_of_range);
}

TEST_F(EngineTest, CancellingAQueuedRequestNeverRunsIt) {
  EngineOptions o = options(64);
  o.max_batch = 1;
  Engine engine(*decoder_, o);
  const int64_t first = engine.submit(request(kSystem, 8));
  const int64_t queued = engine.submit(request(" Her dog", 8));
  engine.step();
  EXPECT_FALSE(engine.admitted(queued));
  engine.cancel(queued);
  engine.run_to_completion();
  EXPECT_EQ(engine.output(first).size(), 8u);
  EXPECT_TRUE(engine.output(queued).empty());
  EXPECT_EQ(engine.finish_reason(queued), FinishReason::cancelled);
  const int64_t unfinished = engine.submit(request(" The sun", 4));
  EXPECT_THROW(engine.release(unfinished), shardlm::Error);
}

}  // namespace
}  // namespace shardlm
