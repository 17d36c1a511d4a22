// Structured output: a JSON schema compiled into a matcher that reads a JSON text one byte at a time
// and says, after each byte, whether the text so far can still become a value the schema accepts.
// The engine asks it which tokens may come next (runtime/engine/token_constraint.h), so that sampled
// output is always valid JSON for the schema.
//
// The schema subset (anything else is refused naming its path, never silently ignored):
//   {} or no "type": any JSON value; "type": "object" | "array" | "string" | "integer" | "number" |
//   "boolean" | "null"; "enum" and "const" (any JSON literals); objects: "properties", "required"
//   (properties come in the schema's order; optional ones may be left out; no other keys; an object
//   without "properties" takes any keys and values); arrays: "items", "minItems", "maxItems";
//   strings: "minLength", "maxLength" (in characters); "title", "description", "$schema", "default" and
//   "additionalProperties": false are accepted and change nothing.
// The text is compact: no whitespace outside strings. Numbers have at most 15 integer digits, 15
// fraction digits and 2 exponent digits, so every number can end and fits a double; \u escapes of
// UTF-16 surrogate halves are not written (a lone half is refused by strict parsers).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace shardlm {

class JsonSchemaError : public std::runtime_error {
 public:
  JsonSchemaError(const std::string& path, const std::string& problem)
      : std::runtime_error(path + ": " + problem), path_(path) {}
  const std::string& path() const { return path_; }  // e.g. "properties.name.maxLength"

 private:
  std::string path_;
};

// One compiled schema node.
struct JsonSchemaNode {
  enum class Kind { any, object, array, string, integer, number, boolean, null, literals };
  Kind kind = Kind::any;
  std::vector<std::string> literals;  // Kind::literals: each allowed value's compact JSON text
  struct Property {
    std::string name;  // as it appears between the quotes
    bool required = false;
    std::shared_ptr<const JsonSchemaNode> schema;
  };
  std::vector<Property> properties;  // Kind::object; empty with any_keys
  bool any_keys = false;
  // key_options[i]: the quoted names that may come when properties before i are done: i's and
  // each following one up to and including the first required one.
  std::vector<std::vector<std::string>> key_options;
  std::shared_ptr<const JsonSchemaNode> items;  // Kind::array
  int64_t min_items = 0, max_items = -1;         // -1: no limit
  int64_t min_length = 0, max_length = -1;       // Kind::string, in characters (code points)
};

// Throws JsonSchemaError naming the path of what it cannot honour.
std::shared_ptr<const JsonSchemaNode> compile_json_schema(const nlohmann::ordered_json& schema);

class JsonMatcher {
 public:
  explicit JsonMatcher(std::shared_ptr<const JsonSchemaNode> root);

  // Reads bytes in order; false when one is refused (the matcher is then left part-way: callers
  // that must not lose their state feed a copy).
  bool feed(std::string_view bytes);
  // The text so far is a whole value the schema accepts.
  bool complete() const;
  // No byte can follow (complete, and nothing could extend it): the output ends here.
  bool finished() const;
  // Values open now (an object holding an array holding a string: 3).
  size_t depth() const { return stack_.size(); }

  JsonMatcher(const JsonMatcher&) = default;
  JsonMatcher& operator=(const JsonMatcher&) = default;

 private:
  // One value being read. Only the fields of its kind are used.
  struct Frame {
    enum class Kind { object, array, string, number, literals };
    enum class At { first, key, colon, value, after_value };  // objects and arrays
    Kind kind = Kind::literals;
    const JsonSchemaNode* node = nullptr;
    At at = At::first;
    size_t next_property = 0;  // objects with properties
    int64_t count = 0;         // arrays: items so far; strings: characters so far
    bool is_key = false;       // a string that is an object's key (generic objects)
    int escape = 0;            // strings: 0 none, 1 after '\', 2..5 reading \u's hex digits
    unsigned char utf8_low = 0x80, utf8_high = 0xBF;  // strings: the next continuation byte's range
    int utf8_left = 0;                                // strings: continuation bytes still to come
    int number_state = 0, int_digits = 0, frac_digits = 0, exp_digits = 0;
    const std::vector<std::string>* options = nullptr;  // literals
    std::string typed;                                  // literals: the bytes so far
  };
  bool step(unsigned char byte);
  bool start_value(const JsonSchemaNode* node, unsigned char byte);
  // The top frame's value ended: pop it and move its parent on.
  void close_value();
  bool step_object(Frame& frame, unsigned char byte);
  bool step_array(Frame& frame, unsigned char byte);
  bool step_string(Frame& frame, unsigned char byte);
  // 1: taken; 0: refused; -1: the number ended before this byte (the parent reads it).
  int step_number(Frame& frame, unsigned char byte);
  int step_literals(Frame& frame, unsigned char byte);
  static bool number_complete(const Frame& frame);
  static bool literal_complete(const Frame& frame);

  std::shared_ptr<const JsonSchemaNode> root_;
  std::vector<Frame> stack_;
  bool done_ = false;  // the root value ended
};

}  // namespace shardlm
