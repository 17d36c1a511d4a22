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

// The weights one rank holds (tp x pp, rank 0's share) in each --weights choice, and what each saves
// against f32 and against 16 bits (the guide's OctoCoder table: 29 / 15.2 / 9.5 GB), the `chosen`
// row marked: a block of lines, for plan's and inspect's reports.
std::string weight_choices_table(const ModelSpec& spec, int tp, int pp, NumberFormat chosen);

// "1.23 GiB", "512.0 MiB": sizes as the table shows them.
std::string human_bytes(double bytes);

}  // namespace shardlm::plan
