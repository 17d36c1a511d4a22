#include "runtime/plan/recommend.h"

#include <algorithm>

#include "runtime/core/check.h"

namespace shardlm::plan {

std::vector<Plan> feasible_layouts(const ModelSpec& spec, const Hardware& hardware, int devices,
                                   const std::vector<NumberFormat>& weights, NumberFormat kv, const Workload& workload,
                                   RankBy rank_by) {
  SHARDLM_CHECK(devices >= 1, "--gpus must be at least 1, got {}", devices);
  std::vector<Plan> plans;
  for (int tp = 1; tp <= devices; ++tp) {
    if (devices % tp != 0) continue;
    const int pp = devices / tp;
    if (tp > spec.heads || tp > spec.ffn_hidden || pp > spec.layers) continue;  // cannot be cut this way
    for (NumberFormat format : weights) {
      Layout layout;
      layout.tp = tp;
      layout.pp = pp;
      layout.weights = format;
      layout.kv = kv;
      Plan plan = make_plan(spec, hardware, layout, workload);
      if (plan.fits) plans.push_back(std::move(plan));
    }
  }
  std::stable_sort(plans.begin(), plans.end(), [&](const Plan& a, const Plan& b) {
    return rank_by == RankBy::throughput ? a.speed.throughput > b.speed.throughput : a.speed.itl_s < b.speed.itl_s;
  });
  return plans;
}

std::optional<Plan> fewest_devices(const ModelSpec& spec, const Hardware& hardware,
                                   const std::vector<NumberFormat>& weights, NumberFormat kv, const Workload& workload,
                                   const Target& target, RankBy rank_by, int max_devices) {
  for (int devices = 1; devices <= max_devices; ++devices) {
    for (Plan& plan : feasible_layouts(spec, hardware, devices, weights, kv, workload, rank_by)) {
      const bool fast = target.throughput <= 0 || plan.speed.throughput >= target.throughput;
      const bool prompt = target.itl_s <= 0 || plan.speed.itl_s <= target.itl_s;
      if (fast && prompt) return std::move(plan);
    }
  }
  return std::nullopt;
}

}  // namespace shardlm::plan
