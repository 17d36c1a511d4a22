// An independent check of structured output: what a JSON schema (the subset runtime/engine/
// json_grammar.h takes) accepts, written from the schema's rules without the matcher's code.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace shardlm::test {

// Characters of UTF-8 text: the bytes that are not continuation bytes.
inline size_t code_points(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The schema's rules applied to a parsed value (the subset json_grammar.h documents), written
// without the matcher's code.
inline bool schema_accepts(const nlohmann::ordered_json& schema, const nlohmann::ordered_json& value) {
  if (schema.contains("const")) return value == schema["const"];
  if (schema.contains("enum")) {
    for (const nlohmann::ordered_json& option : schema["enum"])
      if (option == value) return true;
    return false;
  }
  if (!schema.contains("type")) return true;
  const std::string type = schema["type"];
  if (type == "object") {
    if (!value.is_object()) return false;
    if (!schema.contains("properties")) return true;
    for (const auto& [key, item] : value.items())
      if (!schema["properties"].contains(key) || !schema_accepts(schema["properties"][key], item)) return false;
    for (const nlohmann::ordered_json& name : schema.value("required", nlohmann::ordered_json::array()))
      if (!value.contains(name.get<std::string>())) return false;
    return true;
  }
  if (type == "array") {
    if (!value.is_array()) return false;
    if (value.size() < schema.value("minItems", size_t{0}) || value.size() > schema.value("maxItems", SIZE_MAX)) return false;
    for (const nlohmann::ordered_json& item : value)
      if (!schema_accepts(schema.value("items", nlohmann::ordered_json::object()), item)) return false;
    return true;
  }
  if (type == "string") {
    if (!value.is_string()) return false;
    const size_t characters = code_points(value.get<std::string>());
    return characters >= schema.value("minLength", size_t{0}) && characters <= schema.value("maxLength", SIZE_MAX);
  }
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

}  // namespace shardlm::test
