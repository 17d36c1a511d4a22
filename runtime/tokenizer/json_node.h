// Reading a JSON document with errors that name the file and the field: "'tokenizer.json':
// model.merges[12]: expected a string, got a number". Every accessor checks the type it reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace shardlm {

class JsonNode {
 public:
  JsonNode(const nlohmann::json& value, std::string path, const std::string& file)
      : value_(&value), path_(std::move(path)), file_(&file) {}

  const nlohmann::json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  bool is_null() const { return value_->is_null(); }
  // Throws "'<file>': <path>: <problem>".
  [[noreturn]] void fail(std::string_view problem) const;
  // "an object", "a string", ... for messages.
  std::string kind() const;

  // A member that must be present (null counts as present); the node must be an object.
  JsonNode at(std::string_view key) const;
  // A member that may be absent or null.
  std::optional<JsonNode> find(std::string_view key) const;
  // An element; the node must be an array with more than `index` elements.
  JsonNode at(size_t index) const;
  // The number of elements of an array.
  size_t size() const;

  void expect_object() const;
  void expect_array() const;
  std::string string() const;
  bool boolean() const;
  // An integer in [low, high].
  int64_t integer(int64_t low, int64_t high) const;
  double number() const;

  // Optional members with a default when absent or null.
  std::string string_or(std::string_view key, std::string_view otherwise) const;
  bool boolean_or(std::string_view key, bool otherwise) const;
  // The object's "type" member, which must be a string.
  std::string type() const;

 private:
  std::string child_path(std::string_view key) const;
  const nlohmann::json* value_;
  std::string path_;
  const std::string* file_;
};

// Parses text as JSON, refusing nesting deeper than max_depth (a hostile file must not exhaust the
// stack). Throws naming `file` and where the syntax broke.
nlohmann::json parse_json(std::string_view text, const std::string& file, int max_depth = 64);

}  // namespace shardlm
