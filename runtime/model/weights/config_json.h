// A Hugging Face config.json, read with errors that name the file and the key.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shardlm {

class ConfigJson {
 public:
  static ConfigJson read(const std::string& path);
  ConfigJson(nlohmann::json json, std::string path);

  const std::string& path() const { return path_; }
  bool has(const std::string& key) const;  // present and not null
  std::vector<std::string> keys() const;   // every key, in the file's order or sorted
  // The first present key of several aliases (old and new names of the same field).
  int64_t integer(std::initializer_list<const char*> keys) const;
  int64_t integer_or(std::initializer_list<const char*> keys, int64_t fallback) const;
  double number_or(std::initializer_list<const char*> keys, double fallback) const;
  bool boolean_or(const std::string& key, bool fallback) const;
  std::string string_or(const std::string& key, const std::string& fallback) const;
  // A nested object (MPT's attn_config), or an empty one when absent.
  ConfigJson object(const std::string& key) const;
  // An id or a list of ids (eos_token_id may be either); empty when absent.
  std::vector<int32_t> ids(const std::string& key) const;
  // architectures[0], else model_type.
  std::string architecture() const;

 private:
  const nlohmann::json* find(std::initializer_list<const char*> keys, const char** found_key) const;
  nlohmann::json json_;
  std::string path_;
};

}  // namespace shardlm
