#include "runtime/engine/speculative_sampling.h"

#include <algorithm>
#include <vector>

#include "runtime/core/check.h"

namespace shardlm {

int32_t sample_from(std::span<const float> probs, double u) {
  SHARDLM_CHECK(!probs.empty(), "sampling from an empty distribution");
  double total = 0.0;
  for (float value : probs) total += value;
  // Scaled by the actual total, so rounding in the caller's normalisation cannot push u past the end.
  const double target = u * total;
  double cumulative = 0.0;
  int32_t last_possible = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0.0f) continue;
    cumulative += probs[i];
    last_possible = static_cast<int32_t>(i);
    if (target < cumulative) return last_possible;
  }
  return last_possible;
}

DraftVerdict verify_draft_token(std::span<const float> p, std::span<const float> q, int32_t x, UniformSource& random) {
  SHARDLM_CHECK(x >= 0 && static_cast<size_t>(x) < p.size(), "drafted token {} is outside the vocabulary", x);
  SHARDLM_CHECK(q.empty() || q.size() == p.size(), "draft and target distributions differ in size");
  const double q_x = q.empty() ? 1.0 : q[x];
  // q(x) > 0 since x was drawn from q; min(1, p/q) as u < p/q, which never needs the division.
  if (random.next() * q_x < p[x]) return {true, -1};
  // max(0, p - q): for a point mass, p with x removed.
  std::vector<float> residual(p.begin(), p.end());
  if (q.empty()) {
    residual[x] = 0.0f;
  } else {
    for (size_t i = 0; i < residual.size(); ++i) residual[i] = std::max(0.0f, p[i] - q[i]);
  }
  double total = 0.0;
  for (float value : residual) total += value;
  // Rejection implies p(x) < q(x), hence some other token with p > q: the residual has mass, up to
  // rounding when p and q nearly coincide, where p itself is the right fallback.
  if (total <= 0.0) return {false, sample_from(p, random.next())};
  return {false, sample_from(residual, random.next())};
}

}  // namespace shardlm
