// Which layouts work: every (tp, pp, weight precision) for a number of devices that fits, ranked,
// and the fewest devices that meet a target.
#pragma once

#include <optional>
#include <vector>

#include "runtime/plan/capacity.h"

namespace shardlm::plan {

enum class RankBy { throughput, latency };

// Plans of every layout of `devices` ranks (tp x pp = devices) and every weight format that fit,
// best first. Layouts the model cannot take (more ranks than heads, more stages than layers) are left out.
std::vector<Plan> feasible_layouts(const ModelSpec& spec, const Hardware& hardware, int devices,
                                   const std::vector<NumberFormat>& weights, NumberFormat kv, const Workload& workload,
                                   RankBy rank_by);

struct Target {
  double throughput = 0;  // generated tokens/s at the workload's concurrency (0: any)
  double itl_s = 0;       // inter-token latency at most (0: any)
};
// The smallest device count up to max_devices with a fitting layout that meets the target, and its
// best plan; nullopt when none does.
std::optional<Plan> fewest_devices(const ModelSpec& spec, const Hardware& hardware,
                                   const std::vector<NumberFormat>& weights, NumberFormat kv, const Workload& workload,
                                   const Target& target, RankBy rank_by, int max_devices);

}  // namespace shardlm::plan
