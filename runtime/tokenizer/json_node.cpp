#include "runtime/tokenizer/json_node.h"

#include "runtime/core/check.h"

namespace shardlm {

void JsonNode::fail(std::string_view problem) const {
  SHARDLM_FAIL("'{}': {}: {}", *file_, path_.empty() ? "top level" : path_, problem);
}

std::string JsonNode::kind() const {
  switch (value_->type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unexpected value";
  }
}

std::string JsonNode::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void JsonNode::expect_object() const {
  if (!value_->is_object()) fail(fmt::format("expected an object, got {}", kind()));
}

void JsonNode::expect_array() const {
  if (!value_->is_array()) fail(fmt::format("expected an array, got {}", kind()));
}

JsonNode JsonNode::at(std::string_view key) const {
  expect_object();
  const auto found = value_->find(key);
  if (found == value_->end()) fail(fmt::format("the field '{}' is missing", key));
  return JsonNode(*found, child_path(key), *file_);
}

std::optional<JsonNode> JsonNode::find(std::string_view key) const {
  expect_object();
  const auto found = value_->find(key);
  if (found == value_->end() || found->is_null()) return std::nullopt;
  return JsonNode(*found, child_path(key), *file_);
}

JsonNode JsonNode::at(size_t index) const {
  expect_array();
  if (index >= value_->size()) fail(fmt::format("has {} elements, needs more than {}", value_->size(), index));
  return JsonNode((*value_)[index], fmt::format("{}[{}]", path_, index), *file_);
}

size_t JsonNode::size() const {
  expect_array();
  return value_->size();
}

std::string JsonNode::string() const {
  if (!value_->is_string()) fail(fmt::format("expected a string, got {}", kind()));
  return value_->get<std::string>();
}

bool JsonNode::boolean() const {
  if (!value_->is_boolean()) fail(fmt::format("expected true or false, got {}", kind()));
  return value_->get<bool>();
}

int64_t JsonNode::integer(int64_t low, int64_t high) const {
  int64_t result = 0;
  if (value_->is_number_unsigned()) {
    const uint64_t u = value_->get<uint64_t>();
    if (u > static_cast<uint64_t>(high)) fail(fmt::format("{} is outside {}..{}", u, low, high));
    result = static_cast<int64_t>(u);
  } else if (value_->is_number_integer()) {
    result = value_->get<int64_t>();
  } else {
    fail(fmt::format("expected an integer, got {}", kind()));
  }
  if (result < low || result > high) fail(fmt::format("{} is outside {}..{}", result, low, high));
  return result;
}

double JsonNode::number() const {
  if (!value_->is_number()) fail(fmt::format("expected a number, got {}", kind()));
  return value_->get<double>();
}

std::string JsonNode::string_or(std::string_view key, std::string_view otherwise) const {
  const auto member = find(key);
  return member ? member->string() : std::string(otherwise);
}

bool JsonNode::boolean_or(std::string_view key, bool otherwise) const {
  const auto member = find(key);
  return member ? member->boolean() : otherwise;
}

std::string JsonNode::type() const { return at("type").string(); }

nlohmann::json parse_json(std::string_view text, const std::string& file, int max_depth) {
  // Check the nesting first: nlohmann's parser is iterative, but deep values still cost stack when
  // they are destroyed or walked.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      SHARDLM_CHECK(++depth <= max_depth, "'{}' nests JSON deeper than {} levels; not a tokenizer file", file, max_depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    SHARDLM_FAIL("'{}' is not valid JSON: {}", file, e.what());
  }
}

}  // namespace shardlm
