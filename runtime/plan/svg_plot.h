// A plan drawn as one SVG (plain text, no library): memory per rank as stacked bars, and decode
// throughput against concurrency.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/plan/capacity.h"

namespace shardlm::plan {

// curve: (concurrency, generated tokens/s) points.
std::string plan_svg(const std::string& title, const Plan& plan, int64_t memory_bytes,
                     const std::vector<std::pair<int64_t, double>>& curve);

}  // namespace shardlm::plan
