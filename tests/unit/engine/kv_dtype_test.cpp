// A bf16 KV pool on stories260K: a decode step's logits stay within a stated tolerance of the f32
// pool's, continuous batching still gives every sequence exactly what it gets alone, and the pool
// takes half the bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/model/decoder.h"
#include "runtime/model/kv_pool.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";

class KvDtypeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load_model(kModel, std::nullopt);
    tokenizer_ = load_tokenizer(kModel, "", model_.spec);
    pool_ = std::make_unique<ThreadPool>(2);
    decoder_ = std::make_unique<Decoder>(model_.spec, model_.weights, *pool_);
  }

  // One forward pass of `tokens` at start_pos through a paged pool; the logits of the last token.
  std::vector<float> forward(KvPool& pool, const std::vector<int32_t>& table, std::span<const int32_t> tokens,
                             int64_t start_pos) {
    const SequenceSlice slice{tokens, start_pos, nullptr, &pool, table};
    const auto logits = decoder_->forward_batch(std::span(&slice, 1));
    return {logits.begin(), logits.end()};
  }

  LoadedModel model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Decoder> decoder_;
};

// The prompt is prefilled into an f32 and a bf16 pool, then 40 greedy tokens (chosen by the f32 run,
// fed to both) are decoded one step at a time, spanning several blocks of 16 positions in a
// shuffled table. Tolerance: every cached K and V element is rounded to bf16 (8 significand bits), a
// relative error of at most u = 2^-8. An attention output, a convex combination of value rows, moves
// by at most u of the largest value from V's rounding; K's rounding moves each score by at most u of
// scale * sum |q_i k_i| (scores here are O(1)), which moves the softmax weights, whose changes sum to
// zero, by about that much relative. So each layer's attention output is off by about 2u relative,
// and the residual stream, norms and matmuls carry that to the logits through 5 layers: 5 x 2 x 2^-8
// = 0.039 of the largest |logit| (no amplification assumed; the observed error, printed, is about a
// fifth of it). It must not be zero either: that would mean the bf16 pool was not what attention
// read.
TEST_F(KvDtypeTest, DecodeLogitsWithBf16PoolStayNearF32) {
  const std::vector<int32_t> prompt =
      tokenizer_->encode("Once upon a time, there was a little girl named Lily. She", true);
  std::vector<int32_t> table = {6, 2, 7, 0, 5, 1, 3, 4};  // 8 blocks of 16 = 128 positions
  const int64_t blocks = static_cast<int64_t>(table.size());
  KvPool f32_pool(model_.spec, blocks, 16, DType::f32), bf16_pool(model_.spec, blocks, 16, DType::bf16);
  std::vector<float> reference = forward(f32_pool, table, prompt, 0);
  std::vector<float> reduced = forward(bf16_pool, table, prompt, 0);
  const auto argmax = [](const std::vector<float>& v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
  };
  const double bound = 5 * 2 * 0x1p-8;
  double worst_relative = 0, total_difference = 0;
  int agreeing = 0;
  const int steps = 40;
  for (int step = 0; step <= steps; ++step) {
    double largest = 0, difference = 0;
    for (size_t i = 0; i < reference.size(); ++i) {
      largest = std::max(largest, std::fabs(double{reference[i]}));
      difference = std::max(difference, std::fabs(double{reference[i]} - reduced[i]));
    }
    ASSERT_LE(difference, bound * largest) << "step " << step;
    worst_relative = std::max(worst_relative, difference / largest);
    total_difference += difference;
    agreeing += argmax(reference) == argmax(reduced);
    if (step == steps) break;
    const int32_t next = argmax(reference);
    const int64_t position = static_cast<int64_t>(prompt.size()) + step;
    reference = forward(f32_pool, table, std::span(&next, 1), position);
    reduced = forward(bf16_pool, table, std::span(&next, 1), position);
  }
  std::printf("bf16 KV vs f32 KV over %d decode steps: worst max|dlogit| / max|logit| = %.5f (bound %.5f), "
              "greedy token agrees at %d of %d\n",
              steps, worst_relative, bound, agreeing, steps + 1);
  EXPECT_GT(total_difference, 0.0);
}

// Continuous batching with the bf16 pool: six prompts, four at a time, each greedy sequence equal
// token for token to the same prompt run alone through an engine with a bf16 pool. Each sequence's
// K/V rows are rounded alike whatever else is in the batch, and attention reads only its own blocks.
TEST_F(KvDtypeTest, BatchedEqualsAloneWithBf16Pool) {
  const std::vector<std::string> prompts = {"Once upon a time", "Lily had a red ball", "The dog", "Tom and Sam went",
                                            "One day, a little bird", "She was happy because"};
  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest r;
    r.prompt = tokenizer_->encode(prompts[i], true);
    r.max_new_tokens = 20 + 7 * static_cast<int64_t>(i);  // sequences leave at different steps
    r.sampling.temperature = 0.0f;
    requests.push_back(r);
  }
  EngineOptions options;
  options.max_batch = 4;
  options.num_blocks = 128;
  options.block_size = 4;
  options.kv_dtype = DType::bf16;
  Engine together(*decoder_, options);
  for (const auto& r : requests) together.submit(r);
  together.run_to_completion();
  EXPECT_EQ(together.counters().largest_batch, 4);
  EXPECT_EQ(together.pool().dtype(), DType::bf16);
  for (size_t i = 0; i < requests.size(); ++i) {
    EngineOptions one = options;
    one.max_batch = 1;
    Engine alone(*decoder_, one);
    alone.submit(requests[i]);
    alone.run_to_completion();
    EXPECT_EQ(together.output(static_cast<int64_t>(i)), alone.output(0)) << "request " << i;
  }
}

// The engine builds its pool in the dtype asked for: bf16 holds the same blocks in half the bytes.
TEST_F(KvDtypeTest, EnginePoolInBf16TakesHalfTheBytes) {
  EngineOptions options;
  options.num_blocks = 10;
  options.block_size = 16;
  Engine f32_engine(*decoder_, options);
  options.kv_dtype = DType::bf16;
  Engine bf16_engine(*decoder_, options);
  // stories260K: 5 layers, 4 KV heads of 8; 2 x 5 x 10 blocks x 4 x 16 x 8 = 51,200 elements.
  EXPECT_EQ(f32_engine.pool().bytes(), 51200u * 4);
  EXPECT_EQ(bf16_engine.pool().bytes(), 51200u * 2);
}

}  // namespace
}  // namespace shardlm
