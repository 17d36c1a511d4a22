#include "runtime/model/weights/config_json.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>

#include "runtime/core/check.h"

namespace shardlm {

ConfigJson ConfigJson::read(const std::string& path) {
  std::ifstream in(path);
  SHARDLM_CHECK(in.good(), "cannot read '{}'", path);
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  SHARDLM_CHECK(!json.is_discarded(), "'{}' is not valid JSON (NaN and Infinity are not JSON either)", path);
  SHARDLM_CHECK(json.is_object(), "'{}' is not a JSON object", path);
  return ConfigJson(std::move(json), path);
}

ConfigJson::ConfigJson(nlohmann::json json, std::string path) : json_(std::move(json)), path_(std::move(path)) {}

bool ConfigJson::has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }

std::vector<std::string> ConfigJson::keys() const {
  std::vector<std::string> result;
  for (const auto& [key, value] : json_.items()) result.push_back(key);
  return result;
}

const nlohmann::json* ConfigJson::find(std::initializer_list<const char*> keys, const char** found_key) const {
  for (const char* key : keys) {
    if (has(key)) {
      *found_key = key;
      return &json_[key];
    }
  }
  return nullptr;
}

int64_t ConfigJson::integer(std::initializer_list<const char*> keys) const {
  const char* key = nullptr;
  const nlohmann::json* value = find(keys, &key);
  SHARDLM_CHECK(value != nullptr, "'{}' has no {}", path_, fmt::join(keys, " / "));
  SHARDLM_CHECK(value->is_number_integer(), "'{}': {} must be an integer, got {}", path_, key, value->dump());
  return value->get<int64_t>();
}

int64_t ConfigJson::integer_or(std::initializer_list<const char*> keys, int64_t fallback) const {
  const char* key = nullptr;
  return find(keys, &key) != nullptr ? integer(keys) : fallback;
}

double ConfigJson::number_or(std::initializer_list<const char*> keys, double fallback) const {
  const char* key = nullptr;
  const nlohmann::json* value = find(keys, &key);
  if (value == nullptr) return fallback;
  SHARDLM_CHECK(value->is_number(), "'{}': {} must be a number, got {}", path_, key, value->dump());
  return value->get<double>();
}

bool ConfigJson::boolean_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  SHARDLM_CHECK(json_[key].is_boolean(), "'{}': {} must be true or false, got {}", path_, key, json_[key].dump());
  return json_[key].get<bool>();
}

std::string ConfigJson::string_or(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  SHARDLM_CHECK(json_[key].is_string(), "'{}': {} must be a string, got {}", path_, key, json_[key].dump());
  return json_[key].get<std::string>();
}

ConfigJson ConfigJson::object(const std::string& key) const {
  if (!has(key)) return ConfigJson(nlohmann::json::object(), path_ + ":" + key);
  SHARDLM_CHECK(json_[key].is_object(), "'{}': {} must be an object", path_, key);
  return ConfigJson(json_[key], path_ + ":" + key);
}

std::vector<int32_t> ConfigJson::ids(const std::string& key) const {
  if (!has(key)) return {};
  const nlohmann::json& value = json_[key];
  std::vector<int32_t> result;
  for (const auto& id : value.is_array() ? value : nlohmann::json::array({value})) {
    SHARDLM_CHECK(id.is_number_integer(), "'{}': {} must hold integer ids, got {}", path_, key, value.dump());
    result.push_back(id.get<int32_t>());
  }
  return result;
}

std::string ConfigJson::architecture() const {
  if (has("architectures") && json_["architectures"].is_array() && !json_["architectures"].empty() &&
      json_["architectures"][0].is_string())
    return json_["architectures"][0].get<std::string>();
  return string_or("model_type", "");
}

}  // namespace shardlm
