// Speculative sampling keeps the target's output distribution: the acceptance rule alone against
// exact distributions, then whole runs on stories260K, whose first two tokens over thousands of
// seeds must follow plain sampling's exact joint distribution (computed from the target's logits
// through the Sampler's processed distribution), with prompt-lookup drafts and with a draft model.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "runtime/engine/draft_model.h"
#include "runtime/engine/speculative.h"
#include "runtime/engine/speculative_sampling.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

// Chi-square critical value for `dof` degrees of freedom at the 1e-5 upper tail (z = 4.265), by the
// Wilson-Hilferty approximation, which is within a few percent from dof = 3 on.
double chi_square_critical(int64_t dof) {
  const double k = static_cast<double>(dof), z = 4.265;
  return k * std::pow(1.0 - 2.0 / (9.0 * k) + z * std::sqrt(2.0 / (9.0 * k)), 3.0);
}

// Pearson's chi-square of observed counts against expected probabilities, with outcomes expected
// fewer than 5 times pooled into one bin so the statistic's distribution holds.
void expect_chi_square_fits(const std::map<std::pair<int32_t, int32_t>, double>& expected,
                            const std::map<std::pair<int32_t, int32_t>, int64_t>& observed, int64_t samples) {
  double statistic = 0.0, pooled_expected = 0.0;
  int64_t pooled_observed = 0, bins = 0;
  for (const auto& [outcome, probability] : expected) {
    const double e = probability * samples;
    const auto it = observed.find(outcome);
    const int64_t o = it == observed.end() ? 0 : it->second;
    if (e < 5.0) {
      pooled_expected += e;
      pooled_observed += o;
      continue;
    }
    statistic += (o - e) * (o - e) / e;
    ++bins;
  }
  for (const auto& [outcome, count] : observed) {
    ASSERT_TRUE(expected.count(outcome)) << "an outcome plain sampling never gives: " << outcome.first << ", "
                                         << outcome.second;
  }
  if (pooled_expected > 0.0) {
    statistic += (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) / pooled_expected;
    ++bins;
  }
  ASSERT_GE(bins, 4) << "too few outcomes for the test to say anything";
  EXPECT_LT(statistic, chi_square_critical(bins - 1)) << bins << " bins";
}

// Drafts x ~ q (or always x0 for a point mass) many times and checks the tokens the rule outputs
// (x when accepted, the replacement otherwise) against p, within 5 standard deviations each.
void expect_rule_keeps(const std::vector<float>& p, const std::vector<float>& q, int32_t point_mass_token) {
  UniformSource random(7);
  const int64_t draws = 200000;
  std::vector<int64_t> counts(p.size(), 0);
  for (int64_t i = 0; i < draws; ++i) {
    const int32_t x = q.empty() ? point_mass_token : sample_from(q, random.next());
    const DraftVerdict verdict = verify_draft_token(p, q, x, random);
    ++counts[verdict.accepted ? x : verdict.replacement];
  }
  for (size_t t = 0; t < p.size(); ++t) {
    const double frequency = static_cast<double>(counts[t]) / draws;
    EXPECT_NEAR(frequency, p[t], 5.0 * std::sqrt(p[t] * (1.0 - p[t]) / draws) + 1.0 / draws) << "token " << t;
  }
}

TEST(SpeculativeSampling, AcceptanceRuleKeepsTheTargetDistribution) {
  const std::vector<float> p = {0.5f, 0.2f, 0.0f, 0.25f, 0.05f};
  expect_rule_keeps(p, {0.1f, 0.6f, 0.2f, 0.05f, 0.05f}, -1);  // q puts mass where p has none
  expect_rule_keeps(p, p, -1);                                 // q = p: always accepted
  for (int32_t x : {0, 1, 2, 4}) expect_rule_keeps(p, {}, x);  // prompt lookup: point masses
}

struct Outcomes {
  std::map<std::pair<int32_t, int32_t>, int64_t> counts;
  int64_t drafted = 0, accepted = 0;
};

class SpeculativeSamplingModel : public testing::Test {
 protected:
  void SetUp() override {
    model_ = load_model(path_, std::nullopt);
    tokenizer_ = load_tokenizer(path_, "", model_.spec);
    target_ = std::make_unique<Decoder>(model_.spec, model_.weights, pool_);
    prompt_ = tokenizer_->encode("Lily and Tom went to the park. Lily and Tom went to the park. Lily and Tom", true);
  }

  // Plain sampling's exact distribution of the first two tokens (the second is -1 after a stop token).
  std::map<std::pair<int32_t, int32_t>, double> exact(const SamplingParams& params) {
    Sampler sampler(params);
    std::vector<float> first, second;
    std::vector<int32_t> context = prompt_;
    {
      KvCache cache(model_.spec, static_cast<int64_t>(prompt_.size()) + 1);
      sampler.distribution(target_->forward(prompt_, 0, cache), context, first);
    }
    std::map<std::pair<int32_t, int32_t>, double> joint;
    const auto& stops = model_.spec.stop_tokens;
    for (int32_t x = 0; x < static_cast<int32_t>(first.size()); ++x) {
      if (first[x] <= 0.0f) continue;
      if (std::find(stops.begin(), stops.end(), x) != stops.end()) {
        joint[{x, -1}] += first[x];
        continue;
      }
      context.push_back(x);
      KvCache cache(model_.spec, static_cast<int64_t>(context.size()));
      sampler.distribution(target_->forward(context, 0, cache), context, second);
      context.pop_back();
      for (int32_t y = 0; y < static_cast<int32_t>(second.size()); ++y) {
        if (second[y] > 0.0f) joint[{x, y}] += static_cast<double>(first[x]) * second[y];
      }
    }
    return joint;
  }

  // The first two tokens of `runs` speculative runs with seeds 0, 1, ...
  template <class MakeDrafter>
  Outcomes speculative(SamplingParams params, int64_t runs, MakeDrafter make_drafter) {
    Outcomes outcomes;
    for (int64_t seed = 0; seed < runs; ++seed) {
      params.seed = static_cast<uint64_t>(seed);
      auto drafter = make_drafter(params);
      std::vector<int32_t> tokens;
      const auto stats = generate_speculative(*target_, *drafter, prompt_, 3, 3, params, [&](int32_t t) {
        tokens.push_back(t);
        return true;
      });
      outcomes.drafted += stats.drafted;
      outcomes.accepted += stats.accepted;
      tokens.resize(std::max<size_t>(tokens.size(), 2), -1);
      ++outcomes.counts[{tokens[0], tokens[1]}];
    }
    return outcomes;
  }

  const std::string path_ = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  ThreadPool pool_{1};
  LoadedModel model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Decoder> target_;
  std::vector<int32_t> prompt_;
};

TEST_F(SpeculativeSamplingModel, PromptLookupKeepsTheDistribution) {
  for (const SamplingParams params : {SamplingParams{1.0f, 0, 1.0f, 0}, SamplingParams{0.8f, 20, 0.95f, 0}}) {
    SCOPED_TRACE(testing::Message() << "temperature " << params.temperature << " top-k " << params.top_k);
    const int64_t runs = 3000;
    const Outcomes got = speculative(params, runs, [](const SamplingParams&) {
      return std::make_unique<PromptLookupDrafter>();
    });
    // Both paths of the rule ran: some drafts kept, some rejected.
    EXPECT_GT(got.accepted, 0);
    EXPECT_LT(got.accepted, got.drafted);
    expect_chi_square_fits(exact(params), got.counts, runs);
  }
}

TEST_F(SpeculativeSamplingModel, DraftModelKeepsTheDistribution) {
  LoadedModel cut = load_model(path_, std::nullopt);
  cut.spec.layers = 2;  // the first 2 of 5 layers: a cheaper model that is often wrong
  cut.weights.layers.resize(2);
  Decoder draft(cut.spec, cut.weights, pool_);
  for (const SamplingParams params : {SamplingParams{1.0f, 0, 1.0f, 0}, SamplingParams{1.3f, 40, 1.0f, 0, 0.01f}}) {
    SCOPED_TRACE(testing::Message() << "temperature " << params.temperature << " min-p " << params.min_p);
    const int64_t runs = 3000;
    const Outcomes got = speculative(params, runs, [&](const SamplingParams& p) {
      return std::make_unique<DraftModelDrafter>(draft, model_.spec, 200, p);
    });
    EXPECT_GT(got.accepted, 0);
    EXPECT_LT(got.accepted, got.drafted);
    expect_chi_square_fits(exact(params), got.counts, runs);
  }
}

TEST_F(SpeculativeSamplingModel, SeededRunsRepeat) {
  LoadedModel cut = load_model(path_, std::nullopt);
  cut.spec.layers = 2;
  cut.weights.layers.resize(2);
  Decoder draft(cut.spec, cut.weights, pool_);
  const SamplingParams params{0.9f, 0, 1.0f, 1234};
  auto run = [&](bool with_model) {
    std::unique_ptr<Drafter> drafter;
    if (with_model) {
      drafter = std::make_unique<DraftModelDrafter>(draft, model_.spec, 200, params);
    } else {
      drafter = std::make_unique<PromptLookupDrafter>();
    }
    std::vector<int32_t> tokens;
    generate_speculative(*target_, *drafter, prompt_, 40, 4, params, [&](int32_t t) {
      tokens.push_back(t);
      return true;
    });
    return tokens;
  };
  for (bool with_model : {false, true}) {
    const auto first = run(with_model);
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(run(with_model), first) << (with_model ? "draft model" : "prompt lookup");
  }
}

}  // namespace
}  // namespace shardlm
