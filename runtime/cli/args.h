// Command-line flags: `--name value` pairs and `--switch`es, parsed strictly. Every bad value is
// an error that names the flag and says what would be accepted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shardlm::cli {

class Args {
 public:
  // `switches` are the flags that take no value; `repeatable` those that may be given several times.
  Args(const std::vector<std::string>& argv, const std::vector<std::string>& switches,
       const std::vector<std::string>& repeatable = {});

  std::optional<std::string> text(const std::string& name);
  std::vector<std::string> texts(const std::string& name);  // every value of a repeatable flag
  std::string required_text(const std::string& name);
  int64_t integer(const std::string& name, int64_t fallback, int64_t min, int64_t max);
  double real(const std::string& name, double fallback, double min, double max);
  bool has_switch(const std::string& name);
  // Throws naming any flag that no one asked for: a typo must not be silently ignored.
  void reject_unused() const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, bool> used_;
};

}  // namespace shardlm::cli
