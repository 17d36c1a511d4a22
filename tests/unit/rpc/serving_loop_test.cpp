// The serving loop survives what goes wrong inside a step: a failure ends the requests it touched
// with INTERNAL naming the cause, is counted in the metrics, frees their blocks, and every other
// request, then and later, gets exactly the tokens the engine gives it alone (the reference).
#include "rpc/server/serving_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>

#include "parallel/comm/communicator.h"
#include "runtime/model/model_loader.h"

namespace shardlm::rpc {
namespace {

// A tokenizer that cannot decode one token id, as with a model whose vocabulary is padded beyond its
// tokenizer's: decoding that id throws.
class TokenizerMissingOneToken : public Tokenizer {
 public:
  TokenizerMissingOneToken(const Tokenizer& real, int32_t missing) : real_(real), missing_(missing) {}
  int64_t vocab_size() const override { return real_.vocab_size(); }
  int32_t bos() const override { return real_.bos(); }
  int32_t eos() const override { return real_.eos(); }
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override { return real_.encode(text, add_bos); }
  std::string decode(int32_t previous, int32_t token) const override {
    if (token == missing_) throw std::out_of_range("token " + std::to_string(token) + " has no text");
    return real_.decode(previous, token);
  }

 private:
  const Tokenizer& real_;
  int32_t missing_;
};

// A tensor-parallel group of one rank (every collective leaves the data as it is) whose link goes
// down for one call: the `fail_at`-th all-reduce throws.
class LinkThatFailsOnce : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "fails-once"; }
  void all_reduce(Tensor&) override { count_call(); }
  void all_reduce(float*, size_t) override { count_call(); }
  void all_gather(const Tensor&, Tensor&) override { throw std::logic_error("not used"); }
  void broadcast(void*, size_t, int) override {}
  void send(const void*, size_t, int) override { throw std::logic_error("not used"); }
  void recv(void*, size_t, int) override { throw std::logic_error("not used"); }
  void barrier() override {}

  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> fail_at{-1};

 private:
  void count_call() {
    if (++calls == fail_at) throw std::runtime_error("link down (injected)");
  }
};

struct Outcome {
  std::vector<int32_t> tokens;
  StreamEnding ending;
};

Outcome wait_for(RequestStream& stream) {
  Outcome outcome;
  for (int polls = 0; polls < 3000; ++polls) {
    StreamChunk chunk;
    const auto ending = stream.wait(std::chrono::milliseconds(20), chunk);
    outcome.tokens.insert(outcome.tokens.end(), chunk.tokens.begin(), chunk.tokens.end());
    if (ending) {
      outcome.ending = *ending;
      return outcome;
    }
  }
  ADD_FAILURE() << "the request never ended";
  return outcome;
}

class ServingLoopFailures : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
    model_ = load_model(path, std::nullopt);
    tokenizer_ = load_tokenizer(path, "", model_.spec);
  }
  ServingRequest request(const std::string& prompt, int64_t new_tokens) const {
    ServingRequest r;
    r.generation.prompt = tokenizer_->encode(prompt, true);
    r.generation.max_new_tokens = new_tokens;
    r.generation.sampling.temperature = 0.0f;
    return r;
  }
  static EngineOptions options() {
    EngineOptions o;
    o.max_batch = 8;
    o.num_blocks = 64;
    o.block_size = 16;
    return o;
  }
  // The greedy tokens of `r`, from an engine of its own.
  std::vector<int32_t> reference(const ServingRequest& r, Decoder& decoder) const {
    Engine engine(decoder, options());
    engine.submit(r.generation);
    engine.run_to_completion();
    return engine.output(0);
  }

  LoadedModel model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ThreadPool pool_{2};
};

int64_t metric(const std::string& text, const std::string& line_start) {
  const size_t at = text.find(line_start);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + line_start.size()));
}

TEST_F(ServingLoopFailures, AFailedTokenEndsOnlyItsRequestWithInternal) {
  Decoder decoder(model_.spec, model_.weights, pool_);
  const ServingRequest doomed = request("Once upon a time", 24), other = request("The little dog", 24);
  const std::vector<int32_t> doomed_tokens = reference(doomed, decoder), other_tokens = reference(other, decoder);
  // A token the first request generates and the second never does.
  const auto missing = std::find_if(doomed_tokens.begin(), doomed_tokens.end(), [&](int32_t t) {
    return std::find(other_tokens.begin(), other_tokens.end(), t) == other_tokens.end();
  });
  ASSERT_NE(missing, doomed_tokens.end());
  const TokenizerMissingOneToken tokenizer(*tokenizer_, *missing);

  Engine engine(decoder, options());
  ServingMetrics metrics;
  ServingLoop loop(engine, tokenizer, metrics, {});
  auto doomed_stream = loop.submit(doomed), other_stream = loop.submit(other);
  std::thread runner([&] { loop.run(); });
  const Outcome failed = wait_for(*doomed_stream), served = wait_for(*other_stream);
  // Still serving: a later request is answered too.
  const Outcome later = wait_for(*loop.submit(other));
  loop.shut_down(std::chrono::milliseconds(0));
  runner.join();

  EXPECT_EQ(failed.ending.error, StreamEnding::Error::internal);
  EXPECT_EQ(failed.ending.reason, FinishReason::error);
  EXPECT_NE(failed.ending.message.find("token " + std::to_string(*missing) + " has no text"), std::string::npos)
      << failed.ending.message;
  // Everything before the failed token reached the client.
  const auto before = std::vector<int32_t>(doomed_tokens.begin(), missing);
  EXPECT_EQ(failed.tokens, before);
  EXPECT_EQ(served.ending.error, StreamEnding::Error::none) << served.ending.message;
  EXPECT_EQ(served.tokens, other_tokens);
  EXPECT_EQ(later.ending.error, StreamEnding::Error::none) << later.ending.message;
  EXPECT_EQ(later.tokens, other_tokens);
  EXPECT_FALSE(loop.failed());
  const std::string text = metrics.render();
  EXPECT_EQ(metric(text, "shardlm_requests_total{outcome=\"error\"} "), 1) << text;
  EXPECT_EQ(metric(text, "shardlm_requests_total{outcome=\"length\"} "), 2) << text;
  EXPECT_EQ(metrics.gauges().kv_blocks_in_use, 0);
}

TEST_F(ServingLoopFailures, AFailedForwardPassEndsTheRequestsInItAndTheLoopGoesOn) {
  LinkThatFailsOnce link;
  Placement placement;
  placement.tp_comm = &link;
  Decoder decoder(model_.spec, model_.weights, pool_, placement);
  const ServingRequest first = request("Once upon a time", 16), second = request("The little dog", 16);
  const std::vector<int32_t> expected = reference(second, decoder);
  // A forward pass makes the same all-reduces whatever it computes; aim the failure mid-way through
  // the third step (step one prefills both prompts, step two decodes their second tokens).
  {
    Engine probe(decoder, options());
    probe.submit(first.generation);
    link.calls = 0;
    probe.step();
  }
  const int64_t per_step = link.calls;
  ASSERT_GT(per_step, 1);
  link.calls = 0;
  link.fail_at = 2 * per_step + per_step / 2;

  Engine engine(decoder, options());
  ServingMetrics metrics;
  ServingLoop loop(engine, *tokenizer_, metrics, {});
  auto first_stream = loop.submit(first), second_stream = loop.submit(second);
  std::thread runner([&] { loop.run(); });
  const Outcome a = wait_for(*first_stream), b = wait_for(*second_stream);
  const Outcome later = wait_for(*loop.submit(second));
  loop.shut_down(std::chrono::milliseconds(0));
  runner.join();

  for (const Outcome* failed : {&a, &b}) {
    EXPECT_EQ(failed->ending.error, StreamEnding::Error::internal);
    EXPECT_NE(failed->ending.message.find("link down (injected)"), std::string::npos) << failed->ending.message;
    EXPECT_EQ(failed->tokens.size(), 2u);  // the prefill's token and the first decode step's
  }
  EXPECT_EQ(later.ending.error, StreamEnding::Error::none) << later.ending.message;
  EXPECT_EQ(later.tokens, expected);
  EXPECT_FALSE(loop.failed());
  const std::string text = metrics.render();
  EXPECT_EQ(metric(text, "shardlm_requests_total{outcome=\"error\"} "), 2) << text;
  EXPECT_EQ(metrics.gauges().kv_blocks_in_use, 0);
}

TEST_F(ServingLoopFailures, ARequestLargerThanThePoolIsInvalidNotExhausted) {
  Decoder decoder(model_.spec, model_.weights, pool_);
  EngineOptions small = options();
  small.num_blocks = 2;  // 32 tokens
  Engine engine(decoder, small);
  ServingMetrics metrics;
  ServingLoop loop(engine, *tokenizer_, metrics, {});
  auto too_large = loop.submit(request("Once upon a time", 100));
  std::thread runner([&] { loop.run(); });
  const Outcome refused = wait_for(*too_large);
  const Outcome fits = wait_for(*loop.submit(request("Once upon a time", 8)));
  loop.shut_down(std::chrono::milliseconds(0));
  runner.join();

  EXPECT_EQ(refused.ending.error, StreamEnding::Error::invalid_argument);
  EXPECT_NE(refused.ending.message.find("need more KV blocks than the pool's 2"), std::string::npos)
      << refused.ending.message;
  EXPECT_EQ(fits.ending.error, StreamEnding::Error::none) << fits.ending.message;
  EXPECT_EQ(fits.tokens.size(), 8u);
  EXPECT_EQ(metric(metrics.render(), "shardlm_requests_total{outcome=\"rejected\"} "), 1);
}

}  // namespace
}  // namespace shardlm::rpc
