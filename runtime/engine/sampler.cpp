#include "runtime/engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "runtime/core/check.h"

namespace shardlm {

void SamplingParams::validate() const {
  SHARDLM_CHECK(std::isfinite(temperature) && temperature >= 0.0f, "temperature must be a number >= 0, got {}",
                temperature);
  SHARDLM_CHECK(top_k >= 0, "top-k must be >= 0 (0 disables it), got {}", top_k);
  SHARDLM_CHECK(std::isfinite(top_p) && top_p > 0.0f && top_p <= 1.0f, "top-p must be in (0, 1], got {}", top_p);
  SHARDLM_CHECK(std::isfinite(min_p) && min_p >= 0.0f && min_p <= 1.0f, "min-p must be in [0, 1], got {}", min_p);
  SHARDLM_CHECK(std::isfinite(repetition_penalty) && repetition_penalty > 0.0f,
                "repetition penalty must be a number > 0 (1 = off), got {}", repetition_penalty);
  SHARDLM_CHECK(std::isfinite(presence_penalty) && std::fabs(presence_penalty) <= 100.0f,
                "presence penalty must be a number in [-100, 100], got {}", presence_penalty);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), random_(params.seed) { params_.validate(); }

float Sampler::log_probability(std::span<const float> logits, int32_t token) {
  SHARDLM_CHECK(token >= 0 && static_cast<size_t>(token) < logits.size(), "token {} is outside the logits", token);
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0.0;
  for (float v : logits) total += std::exp(static_cast<double>(v) - max_logit);
  return static_cast<float>(logits[token] - max_logit - std::log(total));
}

std::span<const float> Sampler::penalized(std::span<const float> raw_logits, std::span<const int32_t> context) {
  if (context.empty() || (params_.repetition_penalty == 1.0f && params_.presence_penalty == 0.0f)) return raw_logits;
  penalized_.assign(raw_logits.begin(), raw_logits.end());
  std::vector<bool> seen(penalized_.size(), false);
  for (int32_t token : context) {
    if (token < 0 || static_cast<size_t>(token) >= seen.size() || seen[token]) continue;
    seen[token] = true;
    float& v = penalized_[token];
    v = v > 0 ? v / params_.repetition_penalty : v * params_.repetition_penalty;
    v -= params_.presence_penalty;
  }
  return penalized_;
}

size_t Sampler::weigh(std::span<const float> logits) {
  // Probabilities at this temperature, most likely first; top-k, min-p and top-p cut the tail.
  const size_t n = logits.size();
  candidates_.resize(n);
  for (size_t i = 0; i < n; ++i) candidates_[i] = {logits[i] / params_.temperature, static_cast<int32_t>(i)};
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  const size_t keep_k = params_.top_k > 0 ? std::min<size_t>(params_.top_k, n) : n;
  if (keep_k == n && (params_.top_p < 1.0f || params_.min_p > 0.0f)) return weigh_head(by_logit);
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep_k, candidates_.end(), by_logit);
  candidates_.resize(keep_k);
  const float max_logit = candidates_.front().first;
  double total = 0.0;
  for (auto& [value, id] : candidates_) total += (value = std::exp(value - max_logit));
  const size_t keep = tail_cut(candidates_.size(), [&](size_t i) { return candidates_[i].first; }, total);
  return keep == 0 ? candidates_.size() : keep;
}

template <typename Order>
size_t Sampler::weigh_head(const Order& by_logit) {
  // Top-p and min-p keep only the most likely tokens, usually a few dozen of tens of thousands: only
  // that head needs sorting, where sorting the whole vocabulary would cost milliseconds a token. The
  // head is sorted in prefixes of growing length until the cut falls inside one; the probabilities'
  // normaliser is every token's weight, summed unsorted.
  const size_t n = candidates_.size();
  float max_logit = candidates_.front().first;
  for (const auto& candidate : candidates_) max_logit = std::max(max_logit, candidate.first);
  double total = 0.0;
  for (const auto& candidate : candidates_) total += std::exp(candidate.first - max_logit);
  auto weight = [&](size_t i) { return std::exp(candidates_[i].first - max_logit); };
  size_t keep = 0;
  for (size_t head = std::min<size_t>(n, 64); keep == 0; head = std::min(n, head * 4)) {
    if (head < n) std::nth_element(candidates_.begin(), candidates_.begin() + head, candidates_.end(), by_logit);
    std::sort(candidates_.begin(), candidates_.begin() + head, by_logit);
    keep = tail_cut(head, weight, total);
    if (keep == 0 && head == n) keep = n;
  }
  for (size_t i = 0; i < keep; ++i) candidates_[i].first = weight(i);
  candidates_.resize(keep);
  return keep;
}

template <typename Weight>
size_t Sampler::tail_cut(size_t sorted, const Weight& weight, double total) const {
  // Candidates are sorted, the first the most likely (weight 1): min-p drops the weights below min_p,
  // top-p keeps the shortest prefix whose probability reaches top_p. 0: neither cuts within `sorted`.
  double cumulative = 0.0;
  for (size_t i = 0; i < sorted; ++i) {
    const float w = weight(i);
    if (params_.min_p > 0.0f && i > 0 && w < params_.min_p) return i;
    cumulative += w / total;
    if (params_.top_p < 1.0f && cumulative >= params_.top_p) return i + 1;
  }
  return 0;
}

int32_t Sampler::sample(std::span<const float> raw_logits, std::span<const int32_t> context) {
  SHARDLM_CHECK(!raw_logits.empty(), "sampling from empty logits");
  const std::span<const float> logits = penalized(raw_logits, context);
  if (params_.temperature == 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const size_t keep = weigh(logits);
  double kept_total = 0.0;
  for (size_t i = 0; i < keep; ++i) kept_total += candidates_[i].first;
  const double target = random_.next() * kept_total;
  double cumulative = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += candidates_[i].first;
    if (target < cumulative) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;  // rounding left target at the very top
}

void Sampler::distribution(std::span<const float> raw_logits, std::span<const int32_t> context,
                           std::vector<float>& probs) {
  SHARDLM_CHECK(!raw_logits.empty(), "sampling from empty logits");
  const std::span<const float> logits = penalized(raw_logits, context);
  probs.assign(logits.size(), 0.0f);
  if (params_.temperature == 0.0f) {
    probs[std::max_element(logits.begin(), logits.end()) - logits.begin()] = 1.0f;
    return;
  }
  const size_t keep = weigh(logits);
  double kept_total = 0.0;
  for (size_t i = 0; i < keep; ++i) kept_total += candidates_[i].first;
  for (size_t i = 0; i < keep; ++i) probs[candidates_[i].second] = static_cast<float>(candidates_[i].first / kept_total);
}

}  // namespace shardlm
