#include "runtime/cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "runtime/core/check.h"

namespace shardlm::cli {

Args::Args(const std::vector<std::string>& argv, const std::vector<std::string>& switches,
           const std::vector<std::string>& repeatable) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    SHARDLM_CHECK(arg.rfind("--", 0) == 0 && arg.size() > 2, "unexpected argument '{}': flags look like --name", arg);
    std::string name = arg.substr(2), value;
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    } else if (std::find(switches.begin(), switches.end(), name) != switches.end()) {
      value = "true";
    } else {
      SHARDLM_CHECK(i + 1 < argv.size(), "flag --{} needs a value", name);
      value = argv[++i];
    }
    const bool repeats = std::find(repeatable.begin(), repeatable.end(), name) != repeatable.end();
    SHARDLM_CHECK(repeats || !values_.contains(name), "flag --{} is given twice", name);
    values_[name].push_back(value);
    used_[name] = false;
  }
}

std::optional<std::string> Args::text(const std::string& name) {
  const auto found = values_.find(name);
  if (found == values_.end()) return std::nullopt;
  used_[name] = true;
  return found->second.front();
}

std::vector<std::string> Args::texts(const std::string& name) {
  const auto found = values_.find(name);
  if (found == values_.end()) return {};
  used_[name] = true;
  return found->second;
}

std::string Args::required_text(const std::string& name) {
  auto value = text(name);
  SHARDLM_CHECK(value.has_value(), "missing required flag --{}", name);
  return *value;
}

int64_t Args::integer(const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  const auto value = text(name);
  if (!value) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(value->c_str(), &end, 10);
  SHARDLM_CHECK(!value->empty() && *end == '\0' && errno == 0, "--{} expects an integer, got '{}'", name, *value);
  SHARDLM_CHECK(parsed >= min && parsed <= max, "--{} must be between {} and {}, got {}", name, min, max, parsed);
  return parsed;
}

double Args::real(const std::string& name, double fallback, double min, double max) {
  const auto value = text(name);
  if (!value) return fallback;
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(value->c_str(), &end);
  SHARDLM_CHECK(!value->empty() && *end == '\0' && errno == 0 && std::isfinite(parsed),
                "--{} expects a finite number, got '{}'", name, *value);
  SHARDLM_CHECK(parsed >= min && parsed <= max, "--{} must be between {} and {}, got {}", name, min, max, parsed);
  return parsed;
}

bool Args::has_switch(const std::string& name) { return text(name).has_value(); }

void Args::reject_unused() const {
  for (const auto& [name, used] : used_) SHARDLM_CHECK(used, "unknown flag --{} (see --help)", name);
}

}  // namespace shardlm::cli
