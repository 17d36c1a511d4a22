// A plan as people read it (a table) and as tools read it (JSON).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/plan/capacity.h"

namespace shardlm::plan {

std::string plan_table(const std::string& model_name, const ModelSpec& spec, const Hardware& hardware,
                       const Plan& plan);
std::string layouts_table(const std::vector<Plan>& plans, int shown);
nlohmann::json plan_json(const std::string& model_name, const ModelSpec& spec, const Hardware& hardware,
                         const Plan& plan);
nlohmann::json layout_summary_json(const Plan& plan);

// "1.23 GiB", "512.0 MiB": sizes as the table shows them.
std::string human_bytes(double bytes);

}  // namespace shardlm::plan
