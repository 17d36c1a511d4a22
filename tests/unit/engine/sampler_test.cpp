// The sampler against probabilities the test computes itself, in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "runtime/engine/sampler.h"

namespace shardlm {
namespace {

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  double max_logit = -INFINITY, total = 0;
  for (float l : logits) max_logit = std::max<double>(max_logit, l);
  std::vector<double> p;
  for (float l : logits) total += p.emplace_back(std::exp((l - max_logit) / temperature));
  for (double& v : p) v /= total;
  return p;
}

std::vector<double> frequencies(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<double> counts(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) counts[sampler.sample(logits)] += 1.0 / draws;
  return counts;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 0.5f, 2.5f, -1.0f, 2.9f};

TEST(Sampler, GreedyTakesTheLargestLogit) {
  Sampler sampler({0.0f, 0, 1.0f, 7});
  EXPECT_EQ(sampler.sample(kLogits), 1);
}

TEST(Sampler, TemperatureSamplingFollowsTheSoftmax) {
  // 40,000 draws: each frequency's standard error is at most 0.0025, so 0.012 is ~5 sigma.
  for (float temperature : {1.0f, 0.5f}) {
    Sampler sampler({temperature, 0, 1.0f, 42});
    const auto expected = softmax(kLogits, temperature);
    const auto seen = frequencies(sampler, kLogits, 40000);
    for (size_t i = 0; i < kLogits.size(); ++i) EXPECT_NEAR(seen[i], expected[i], 0.012) << "token " << i;
  }
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikely) {
  Sampler sampler({1.0f, 2, 1.0f, 3});
  const auto seen = frequencies(sampler, kLogits, 20000);
  // Tokens 1 (3.0) and 5 (2.9) remain, renormalised: p1 = 1 / (1 + e^-0.1).
  EXPECT_NEAR(seen[1], 1.0 / (1.0 + std::exp(-0.1)), 0.015);
  EXPECT_NEAR(seen[1] + seen[5], 1.0, 1e-12);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  const auto p = softmax(kLogits, 1.0);  // order: 1 (3.0), 5 (2.9), 3 (2.5), 0, 2, 4
  const double top_p = p[1] + p[5] + 0.5 * p[3];  // needs the third token to reach it, not the fourth
  Sampler sampler({1.0f, 0, static_cast<float>(top_p), 9});
  const auto seen = frequencies(sampler, kLogits, 20000);
  EXPECT_EQ(seen[0] + seen[2] + seen[4], 0.0);
  EXPECT_GT(seen[3], 0.0);
  EXPECT_NEAR(seen[1], p[1] / (p[1] + p[5] + p[3]), 0.015);
}

// A vocabulary of SmolLM2's size whose nucleus and min-p set need thousands of tokens: the sampler
// sorts only the head it keeps, growing it until the cut falls inside; the distribution must be what
// sorting everything gives (the reference here, in double precision).
TEST(Sampler, TopPAndMinPOverALargeVocabularyMatchAFullSort) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(49152);
  for (float& l : logits) l = normal(rng);
  for (const auto& [top_p, min_p] : {std::pair{0.5f, 0.0f}, {0.95f, 0.0f}, {1.0f, 0.01f}, {0.9f, 0.05f}}) {
    SCOPED_TRACE(testing::Message() << "top_p " << top_p << " min_p " << min_p);
    const auto p = softmax(logits, 0.8);
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    std::vector<double> expected(p.size(), 0.0);
    double cumulative = 0, kept = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0 && p[order[i]] < min_p * p[order[0]]) break;
      expected[order[i]] = p[order[i]];
      kept += p[order[i]];
      cumulative += p[order[i]];
      if (top_p < 1.0f && cumulative >= top_p) break;
    }
    for (double& v : expected) v /= kept;
    SamplingParams params{0.8f, 0, top_p, 1};
    params.min_p = min_p;
    Sampler sampler(params);
    std::vector<float> probs;
    sampler.distribution(logits, {}, probs);
    ASSERT_EQ(probs.size(), logits.size());
    size_t nonzero = 0;
    for (size_t i = 0; i < probs.size(); ++i) {
      nonzero += probs[i] > 0;
      ASSERT_NEAR(probs[i], expected[i], 1e-6 + 1e-4 * expected[i]) << "token " << i;
    }
    if (min_p == 0.0f) {
      EXPECT_GT(nonzero, 64u);  // the nucleus lies beyond the first head sorted
    }
  }
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  Sampler first({1.0f, 0, 1.0f, 123}), second({1.0f, 0, 1.0f, 123}), other({1.0f, 0, 1.0f, 124});
  std::vector<int32_t> a, b, c;
  for (int i = 0; i < 200; ++i) {
    a.push_back(first.sample(kLogits));
    b.push_back(second.sample(kLogits));
    c.push_back(other.sample(kLogits));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Sampler, MinPDropsTokensFarBelowTheBest) {
  SamplingParams params{1.0f, 0, 1.0f, 7};
  params.min_p = 0.5f;  // keep tokens at least half as likely as token 1 (logit 3.0): 5 (2.9), 3 (2.5)
  Sampler sampler(params);
  const auto seen = frequencies(sampler, kLogits, 20000);
  EXPECT_EQ(seen[0] + seen[2] + seen[4], 0.0);
  const double w1 = 1.0, w5 = std::exp(-0.1), w3 = std::exp(-0.5);
  EXPECT_NEAR(seen[1], w1 / (w1 + w5 + w3), 0.015);
  EXPECT_NEAR(seen[3], w3 / (w1 + w5 + w3), 0.015);
}

TEST(Sampler, PenaltiesApplyToTokensInTheContext) {
  // Greedy picks token 1 (3.0). Repetition penalty 1.2 on it: 3.0 / 1.2 = 2.5 < 2.9, so token 5 wins.
  SamplingParams repetition{0.0f, 0, 1.0f, 1};
  repetition.repetition_penalty = 1.2f;
  const std::vector<int32_t> context = {1, 1, 4};
  EXPECT_EQ(Sampler(repetition).sample(kLogits, context), 5);
  EXPECT_EQ(Sampler(repetition).sample(kLogits, {}), 1);  // no context, no penalty
  // Presence penalty 0.5 on tokens 1 and 5: 2.5, 2.4 against token 3's 2.5 (the first of a tie wins).
  SamplingParams presence{0.0f, 0, 1.0f, 1};
  presence.presence_penalty = 0.5f;
  const std::vector<int32_t> both = {5, 1};
  EXPECT_EQ(Sampler(presence).sample(kLogits, both), 1);
  presence.presence_penalty = 0.6f;  // 2.4, 2.3 against 2.5
  EXPECT_EQ(Sampler(presence).sample(kLogits, both), 3);
  // A negative logit is multiplied by the repetition penalty (pushed further down).
  const std::vector<float> negative = {-1.0f, -1.1f};
  const std::vector<int32_t> first = {0};
  EXPECT_EQ(Sampler(repetition).sample(negative, first), 1);
}

TEST(Sampler, LogProbabilityIsTheLogSoftmax) {
  const auto p = softmax(kLogits, 1.0);
  for (int32_t token = 0; token < static_cast<int32_t>(kLogits.size()); ++token)
    EXPECT_NEAR(Sampler::log_probability(kLogits, token), std::log(p[token]), 1e-6);
}

TEST(Sampler, RejectsBadParameters) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 0}), std::runtime_error);
  EXPECT_THROW(Sampler({nan, 0, 1.0f, 0}), std::runtime_error);
  EXPECT_THROW(Sampler({1.0f, -1, 1.0f, 0}), std::runtime_error);
  EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 0}), std::runtime_error);
  EXPECT_THROW(Sampler({1.0f, 0, nan, 0}), std::runtime_error);
  EXPECT_THROW(Sampler({1.0f, 0, 1.5f, 0}), std::runtime_error);
  SamplingParams bad{1.0f, 0, 1.0f, 0};
  bad.min_p = 1.5f;
  EXPECT_THROW(Sampler{bad}, std::runtime_error);
  bad.min_p = 0;
  bad.repetition_penalty = 0;
  EXPECT_THROW(Sampler{bad}, std::runtime_error);
  bad.repetition_penalty = 1;
  bad.presence_penalty = nan;
  EXPECT_THROW(Sampler{bad}, std::runtime_error);
}

}  // namespace
}  // namespace shardlm
