#include "runtime/engine/json_grammar.h"

#include <algorithm>
#include <fmt/format.h>

namespace shardlm {
namespace {

using json = nlohmann::ordered_json;  // properties keep the schema's order
using Node = JsonSchemaNode;

constexpr int kMaxIntegerDigits = 15, kMaxFractionDigits = 15, kMaxExponentDigits = 2;  // within a double: 10^15 x 10^99

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

int64_t count_of(const json& schema, const char* key, const std::string& path) {
  const json& value = schema.at(key);
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > (int64_t{1} << 40))
    throw JsonSchemaError(join(path, key), "expected a count (an integer >= 0)");
  return value.get<int64_t>();
}

std::shared_ptr<const Node> compile(const json& schema, const std::string& path, int depth) {
  if (depth > 32) throw JsonSchemaError(path, "nested more than 32 deep");
  if (schema.is_boolean() && schema.get<bool>()) return std::make_shared<Node>();
  if (!schema.is_object()) throw JsonSchemaError(path.empty() ? "schema" : path, "a schema must be an object");
  auto node = std::make_shared<Node>();
  static const std::vector<std::string> ignored = {"title", "description", "$schema", "default", "examples", "strict"};
  for (const auto& [key, value] : schema.items()) {
    static const std::vector<std::string> known = {"type",     "enum",     "const",     "properties", "required",
                                                   "items",    "minItems", "maxItems",  "minLength",  "maxLength",
                                                   "additionalProperties"};
    if (std::find(known.begin(), known.end(), key) == known.end() &&
        std::find(ignored.begin(), ignored.end(), key) == ignored.end())
      throw JsonSchemaError(join(path, key), "not supported (see runtime/engine/json_grammar.h for what is)");
  }
  if (schema.contains("enum") || schema.contains("const")) {
    node->kind = Node::Kind::literals;
    if (schema.contains("const")) {
      node->literals.push_back(schema["const"].dump());
    } else {
      const json& values = schema["enum"];
      if (!values.is_array() || values.empty()) throw JsonSchemaError(join(path, "enum"), "expected a non-empty array");
      for (const json& value : values) node->literals.push_back(value.dump());
    }
    return node;
  }
  if (!schema.contains("type")) return node;  // any value
  const json& type = schema["type"];
  if (!type.is_string()) throw JsonSchemaError(join(path, "type"), "expected one type name (type lists are not supported)");
  const std::string name = type.get<std::string>();
  if (name == "object") {
    node->kind = Node::Kind::object;
    if (schema.contains("additionalProperties") && schema["additionalProperties"] != false)
      throw JsonSchemaError(join(path, "additionalProperties"), "only false is supported (properties are listed)");
    if (!schema.contains("properties")) {
      node->any_keys = true;
      return node;
    }
    const json& properties = schema["properties"];
    if (!properties.is_object()) throw JsonSchemaError(join(path, "properties"), "expected an object");
    std::vector<std::string> required;
    if (schema.contains("required")) {
      if (!schema["required"].is_array()) throw JsonSchemaError(join(path, "required"), "expected an array of names");
      for (const json& r : schema["required"]) {
        if (!r.is_string() || !properties.contains(r.get<std::string>()))
          throw JsonSchemaError(join(path, "required"), fmt::format("{} is not one of the properties", r.dump()));
        required.push_back(r.get<std::string>());
      }
    }
    for (const auto& [key, value] : properties.items()) {
      Node::Property property;
      property.name = json(key).dump();  // quoted and escaped as it will be written
      property.required = std::find(required.begin(), required.end(), key) != required.end();
      property.schema = compile(value, join(join(path, "properties"), key), depth + 1);
      node->properties.push_back(std::move(property));
    }
    for (size_t i = 0; i <= node->properties.size(); ++i) {
      std::vector<std::string> options;
      for (size_t j = i; j < node->properties.size(); ++j) {
        options.push_back(node->properties[j].name);
        if (node->properties[j].required) break;
      }
      node->key_options.push_back(std::move(options));
    }
  } else if (name == "array") {
    node->kind = Node::Kind::array;
    node->items = schema.contains("items") ? compile(schema["items"], join(path, "items"), depth + 1) : std::make_shared<Node>();
    if (schema.contains("minItems")) node->min_items = count_of(schema, "minItems", path);
    if (schema.contains("maxItems")) node->max_items = count_of(schema, "maxItems", path);
    if (node->max_items >= 0 && node->max_items < node->min_items)
      throw JsonSchemaError(join(path, "maxItems"), "is below minItems");
  } else if (name == "string") {
    node->kind = Node::Kind::string;
    if (schema.contains("minLength")) node->min_length = count_of(schema, "minLength", path);
    if (schema.contains("maxLength")) node->max_length = count_of(schema, "maxLength", path);
    if (node->max_length >= 0 && node->max_length < node->min_length)
      throw JsonSchemaError(join(path, "maxLength"), "is below minLength");
  } else if (name == "integer") {
    node->kind = Node::Kind::integer;
  } else if (name == "number") {
    node->kind = Node::Kind::number;
  } else if (name == "boolean") {
    node->kind = Node::Kind::literals;
    node->literals = {"true", "false"};
  } else if (name == "null") {
    node->kind = Node::Kind::literals;
    node->literals = {"null"};
  } else {
    throw JsonSchemaError(join(path, "type"), fmt::format("unknown type '{}'", name));
  }
  for (const char* key : {"properties", "required", "additionalProperties"})
    if (schema.contains(key) && name != "object") throw JsonSchemaError(join(path, key), "only for type object");
  for (const char* key : {"items", "minItems", "maxItems"})
    if (schema.contains(key) && name != "array") throw JsonSchemaError(join(path, key), "only for type array");
  for (const char* key : {"minLength", "maxLength"})
    if (schema.contains(key) && name != "string") throw JsonSchemaError(join(path, key), "only for type string");
  return node;
}

const Node* any_value() {
  static const Node any;
  return &any;
}
const std::vector<std::string>& keyword_literals() {
  static const std::vector<std::string> words = {"true", "false", "null"};
  return words;
}
bool is_digit(unsigned char byte) { return byte >= '0' && byte <= '9'; }
bool is_hex(unsigned char byte) { return is_digit(byte) || (byte >= 'a' && byte <= 'f') || (byte >= 'A' && byte <= 'F'); }

}  // namespace

std::shared_ptr<const JsonSchemaNode> compile_json_schema(const nlohmann::ordered_json& schema) { return compile(schema, "", 0); }

JsonMatcher::JsonMatcher(std::shared_ptr<const JsonSchemaNode> root) : root_(std::move(root)) {}

bool JsonMatcher::feed(std::string_view bytes) {
  for (char c : bytes)
    if (!step(static_cast<unsigned char>(c))) return false;
  return true;
}

bool JsonMatcher::complete() const {
  if (done_) return true;
  if (stack_.size() != 1) return false;
  const Frame& top = stack_.back();
  return (top.kind == Frame::Kind::number && number_complete(top)) || (top.kind == Frame::Kind::literals && literal_complete(top));
}

bool JsonMatcher::finished() const {
  if (done_) return true;
  if (!complete()) return false;
  // A whole number or literal at the root ends when no byte can extend it (digit limits, "true").
  for (int byte = 0; byte < 256; ++byte) {
    JsonMatcher trial = *this;
    if (trial.step(static_cast<unsigned char>(byte))) return false;
  }
  return true;
}

bool JsonMatcher::step(unsigned char byte) {
  if (done_) return false;
  if (stack_.empty()) return start_value(root_.get(), byte);
  Frame& top = stack_.back();
  switch (top.kind) {
    case Frame::Kind::object: return step_object(top, byte);
    case Frame::Kind::array: return step_array(top, byte);
    case Frame::Kind::string: return step_string(top, byte);
    case Frame::Kind::number:
    case Frame::Kind::literals: {
      const int taken = top.kind == Frame::Kind::number ? step_number(top, byte) : step_literals(top, byte);
      if (taken >= 0) return taken == 1;
      // The value ended just before this byte, which belongs to the parent (a root value has none).
      if (stack_.size() == 1) return false;
      close_value();
      return step(byte);
    }
  }
  return false;
}

bool JsonMatcher::start_value(const JsonSchemaNode* node, unsigned char byte) {
  Frame frame;
  frame.node = node;
  switch (node->kind) {
    case Node::Kind::any:
      if (byte == '{') {
        static const Node generic_object = [] {
          Node n;
          n.kind = Node::Kind::object;
          n.any_keys = true;
          return n;
        }();
        frame.node = &generic_object;
        frame.kind = Frame::Kind::object;
      } else if (byte == '[') {
        static const Node generic_array = [] {
          Node n;
          n.kind = Node::Kind::array;
          n.items = std::make_shared<Node>();
          return n;
        }();
        frame.node = &generic_array;
        frame.kind = Frame::Kind::array;
      } else if (byte == '"') {
        frame.kind = Frame::Kind::string;
      } else if (byte == '-' || is_digit(byte)) {
        frame.kind = Frame::Kind::number;
        stack_.push_back(frame);
        return step_number(stack_.back(), byte) == 1 || (stack_.pop_back(), false);
      } else {
        frame.kind = Frame::Kind::literals;
        frame.options = &keyword_literals();
        stack_.push_back(frame);
        return step_literals(stack_.back(), byte) == 1 || (stack_.pop_back(), false);
      }
      stack_.push_back(frame);
      return true;
    case Node::Kind::object:
      if (byte != '{') return false;
      frame.kind = Frame::Kind::object;
      stack_.push_back(frame);
      return true;
    case Node::Kind::array:
      if (byte != '[') return false;
      frame.kind = Frame::Kind::array;
      stack_.push_back(frame);
      return true;
    case Node::Kind::string:
      if (byte != '"') return false;
      frame.kind = Frame::Kind::string;
      stack_.push_back(frame);
      return true;
    case Node::Kind::integer:
    case Node::Kind::number:
      frame.kind = Frame::Kind::number;
      stack_.push_back(frame);
      return step_number(stack_.back(), byte) == 1 || (stack_.pop_back(), false);
    case Node::Kind::boolean:
    case Node::Kind::null:
    case Node::Kind::literals:
      frame.kind = Frame::Kind::literals;
      frame.options = &node->literals;
      stack_.push_back(frame);
      return step_literals(stack_.back(), byte) == 1 || (stack_.pop_back(), false);
  }
  return false;
}

void JsonMatcher::close_value() {
  const Frame closed = std::move(stack_.back());
  stack_.pop_back();
  if (stack_.empty()) {
    done_ = true;
    return;
  }
  Frame& parent = stack_.back();
  if (parent.kind == Frame::Kind::object && parent.at == Frame::At::key) {
    // A key ended: which property it names decides the value's schema.
    if (!parent.node->any_keys) {
      const auto& properties = parent.node->properties;
      for (size_t j = parent.next_property; j < properties.size(); ++j)
        if (properties[j].name == closed.typed) {
          parent.next_property = j;
          break;
        }
    }
    parent.at = Frame::At::colon;
  } else {
    if (parent.kind == Frame::Kind::object && !parent.node->any_keys) ++parent.next_property;
    if (parent.kind == Frame::Kind::array) ++parent.count;
    parent.at = Frame::At::after_value;
  }
}

bool JsonMatcher::step_object(Frame& frame, unsigned char byte) {
  const Node& node = *frame.node;
  auto required_left = [&] {
    for (size_t j = frame.next_property; j < node.properties.size(); ++j)
      if (node.properties[j].required) return true;
    return false;
  };
  auto start_key = [&] {
    Frame key;
    key.node = frame.node;
    if (node.any_keys) {
      key.kind = Frame::Kind::string;
      key.is_key = true;
      stack_.push_back(key);
      return true;
    }
    key.kind = Frame::Kind::literals;
    key.options = &node.key_options[frame.next_property];
    if (key.options->empty()) return false;
    stack_.push_back(key);
    const bool taken = step_literals(stack_.back(), byte) == 1;
    if (!taken) stack_.pop_back();
    return taken;
  };
  switch (frame.at) {
    case Frame::At::first:
      if (byte == '}' && !required_left()) return close_value(), true;
      if (byte != '"') return false;
      frame.at = Frame::At::key;
      // (start_key may grow the stack, so `frame` is not used after it.)
      if (!start_key()) return stack_.back().at = Frame::At::first, false;
      return true;
    case Frame::At::colon:
      if (byte != ':') return false;
      frame.at = Frame::At::value;
      return true;
    case Frame::At::value: {
      const Node* schema = node.any_keys ? any_value() : node.properties[frame.next_property].schema.get();
      return start_value(schema, byte);
    }
    case Frame::At::after_value:
      if (byte == '}' && !required_left()) return close_value(), true;
      if (byte != ',') return false;
      if (!node.any_keys && node.key_options[frame.next_property].empty()) return false;
      frame.at = Frame::At::key;
      // The key's opening quote comes next; a literal key frame reads it.
      {
        Frame key;
        key.node = frame.node;
        if (node.any_keys) {
          key.kind = Frame::Kind::string;
          key.is_key = true;
          key.escape = -1;  // the opening quote is still to come
        } else {
          key.kind = Frame::Kind::literals;
          key.options = &node.key_options[frame.next_property];
        }
        stack_.push_back(key);
      }
      return true;
    case Frame::At::key: return false;  // a key frame is on top while a key is read
  }
  return false;
}

bool JsonMatcher::step_array(Frame& frame, unsigned char byte) {
  const Node& node = *frame.node;
  const bool room = node.max_items < 0 || frame.count < node.max_items;
  switch (frame.at) {
    case Frame::At::first:
      if (byte == ']' && node.min_items == 0) return close_value(), true;
      if (!room) return false;
      frame.at = Frame::At::value;
      // (start_value may grow the stack, so `frame` is not used after it.)
      if (!start_value(node.items.get(), byte)) return stack_.back().at = Frame::At::first, false;
      return true;
    case Frame::At::value: return start_value(node.items.get(), byte);
    case Frame::At::after_value:
      if (byte == ']' && frame.count >= node.min_items) return close_value(), true;
      if (byte != ',' || !room) return false;
      frame.at = Frame::At::value;
      return true;
    default: return false;
  }
}

bool JsonMatcher::step_string(Frame& frame, unsigned char byte) {
  if (frame.escape == -1) {  // a generic key's opening quote
    if (byte != '"') return false;
    frame.escape = 0;
    return true;
  }
  const Node& node = *frame.node;
  const int64_t max_length = frame.is_key ? -1 : node.max_length;
  const int64_t min_length = frame.is_key ? 0 : node.min_length;
  if (frame.utf8_left > 0) {
    if (byte < frame.utf8_low || byte > frame.utf8_high) return false;
    frame.utf8_low = 0x80;
    frame.utf8_high = 0xBF;
    --frame.utf8_left;
    return true;
  }
  if (frame.escape == 1) {
    if (byte == 'u') {
      frame.escape = 2;
    } else if (byte == '"' || byte == '\\' || byte == '/' || byte == 'b' || byte == 'f' || byte == 'n' || byte == 'r' ||
               byte == 't') {
      frame.escape = 0;
    } else {
      return false;
    }
    return true;
  }
  if (frame.escape == 6) {  // \uD's second digit: 0-7, as D800-DFFF are UTF-16 surrogate halves
    if (byte < '0' || byte > '7') return false;
    frame.escape = 4;
    return true;
  }
  if (frame.escape >= 2) {
    if (!is_hex(byte)) return false;
    if (frame.escape == 2 && (byte == 'd' || byte == 'D')) return frame.escape = 6, true;
    frame.escape = frame.escape == 5 ? 0 : frame.escape + 1;
    return true;
  }
  if (byte == '"') {
    if (frame.count < min_length) return false;
    close_value();
    return true;
  }
  // Room for one more character (lengths count code points, as JSON Schema's do; an escape is one).
  if (max_length >= 0 && frame.count >= max_length) return false;
  if (byte < 0x20) return false;  // control characters must be escaped
  if (byte == '\\') {
    frame.escape = 1;
    ++frame.count;
    return true;
  }
  if (byte < 0x80) {
    ++frame.count;
    return true;
  }
  // A UTF-8 lead byte, and the range its first continuation byte must fall in (no overlong forms,
  // no surrogates, nothing above U+10FFFF).
  if (byte >= 0xC2 && byte <= 0xDF) {
    frame.utf8_left = 1;
  } else if (byte >= 0xE0 && byte <= 0xEF) {
    frame.utf8_left = 2;
    if (byte == 0xE0) frame.utf8_low = 0xA0;
    if (byte == 0xED) frame.utf8_high = 0x9F;
  } else if (byte >= 0xF0 && byte <= 0xF4) {
    frame.utf8_left = 3;
    if (byte == 0xF0) frame.utf8_low = 0x90;
    if (byte == 0xF4) frame.utf8_high = 0x8F;
  } else {
    return false;
  }
  ++frame.count;
  return true;
}

// States: 0 start, 1 after '-', 2 a leading 0, 3 integer digits, 4 after '.', 5 fraction digits,
// 6 after 'e', 7 after the exponent's sign, 8 exponent digits.
bool JsonMatcher::number_complete(const Frame& frame) {
  return frame.number_state == 2 || frame.number_state == 3 || frame.number_state == 5 || frame.number_state == 8;
}

int JsonMatcher::step_number(Frame& frame, unsigned char byte) {
  const bool integer = frame.node->kind == Node::Kind::integer;
  int& state = frame.number_state;
  switch (state) {
    case 0:
      if (byte == '-') return state = 1, 1;
      [[fallthrough]];
    case 1:
      if (byte == '0') return state = 2, frame.int_digits = 1, 1;
      if (byte >= '1' && byte <= '9') return state = 3, frame.int_digits = 1, 1;
      return 0;
    case 3:
      if (is_digit(byte)) return frame.int_digits < kMaxIntegerDigits ? (++frame.int_digits, 1) : -1;
      [[fallthrough]];
    case 2:
      if (byte == '.' && !integer) return state = 4, 1;
      if ((byte == 'e' || byte == 'E') && !integer) return state = 6, 1;
      return -1;
    case 4:
      if (is_digit(byte)) return state = 5, frame.frac_digits = 1, 1;
      return 0;
    case 5:
      if (is_digit(byte)) return frame.frac_digits < kMaxFractionDigits ? (++frame.frac_digits, 1) : -1;
      if (byte == 'e' || byte == 'E') return state = 6, 1;
      return -1;
    case 6:
      if (byte == '+' || byte == '-') return state = 7, 1;
      [[fallthrough]];
    case 7:
      if (is_digit(byte)) return state = 8, frame.exp_digits = 1, 1;
      return 0;
    case 8:
      if (is_digit(byte)) return frame.exp_digits < kMaxExponentDigits ? (++frame.exp_digits, 1) : -1;
      return -1;
  }
  return 0;
}

bool JsonMatcher::literal_complete(const Frame& frame) {
  return std::find(frame.options->begin(), frame.options->end(), frame.typed) != frame.options->end();
}

int JsonMatcher::step_literals(Frame& frame, unsigned char byte) {
  std::string longer = frame.typed;
  longer.push_back(static_cast<char>(byte));
  bool extends = false, extends_further = false;
  for (const std::string& option : *frame.options) {
    if (option.compare(0, longer.size(), longer) != 0 || option.size() < longer.size()) continue;
    extends = true;
    if (option.size() > longer.size()) extends_further = true;
  }
  if (!extends) return literal_complete(frame) ? -1 : 0;
  frame.typed = std::move(longer);
  // A literal no other can extend ends here (a quoted key or string, true, false, null).
  if (!extends_further && literal_complete(frame)) close_value();
  return 1;
}

}  // namespace shardlm
