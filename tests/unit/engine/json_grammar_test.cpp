// Structured output's JSON matcher, against independent references: nlohmann's JSON parser decides
// what is valid JSON, and a plain checker written here from the schema's rules (schema_accepts)
// decides what the schema accepts. Random walks through what the matcher allows must always end in
// text both accept; texts either refuses must be refused by the matcher too.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "runtime/engine/json_grammar.h"
#include "tests/unit/support/json_schema_check.h"

namespace shardlm {
namespace {

using json = nlohmann::ordered_json;
using test::schema_accepts;

// The matcher's verdict on a whole text.
bool matches(const std::shared_ptr<const JsonSchemaNode>& node, const std::string& text) {
  JsonMatcher matcher(node);
  return matcher.feed(text) && matcher.complete();
}

const std::vector<std::string> kSchemas = {
    R"({})",
    R"({"type": "object"})",
    R"({"type": "integer"})",
    R"({"type": "number"})",
    R"({"type": "string", "minLength": 2, "maxLength": 6})",
    R"({"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 3})",
    R"({"enum": ["red", "green", 10, 1, null, {"a": [1]}]})",
    R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 3},
        "pet": {"enum": ["cat", "dog"]}, "ok": {"type": "boolean"}, "none": {"type": "null"},
        "score": {"type": "number"}, "extra": {}}, "required": ["name", "ok"]})",
    R"({"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"const": "k"}},
        "required": ["y"]}, "maxItems": 4})",
};

TEST(JsonGrammar, RandomWalksAlwaysEndInJsonTheSchemaAccepts) {
  std::mt19937 random(7);
  for (const std::string& text : kSchemas) {
    const json schema = json::parse(text);
    const auto node = compile_json_schema(schema);
    for (int walk = 0; walk < 300; ++walk) {
      JsonMatcher matcher(node);
      std::string out;
      // Bytes chosen at random among those the matcher takes; once the value could end, it ends with
      // some chance each step. Past 400 bytes the walk heads for the end: it takes a byte that leaves
      // the fewest values open, and ends at the first chance.
      for (int step = 0; step < 4000 && !matcher.finished(); ++step) {
        if (matcher.complete() && (out.size() > 400 || random() % 4 == 0)) break;
        std::vector<unsigned char> allowed;
        for (int byte = 0; byte < 256; ++byte) {
          JsonMatcher trial = matcher;
          if (trial.feed(std::string(1, static_cast<char>(byte)))) allowed.push_back(static_cast<unsigned char>(byte));
        }
        ASSERT_FALSE(allowed.empty()) << "stuck after " << out << " (schema " << text << ")";
        unsigned char byte = allowed[random() % allowed.size()];
        if (out.size() > 400) {
          size_t least = SIZE_MAX;
          for (unsigned char candidate : allowed) {
            JsonMatcher trial = matcher;
            trial.feed(std::string(1, static_cast<char>(candidate)));
            if (trial.depth() < least) least = trial.depth(), byte = candidate;
          }
        }
        ASSERT_TRUE(matcher.feed(std::string(1, static_cast<char>(byte))));
        out.push_back(static_cast<char>(byte));
      }
      ASSERT_TRUE(matcher.complete()) << out;
      const json parsed = json::parse(out, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(parsed.is_discarded()) << "not JSON: " << out << " (schema " << text << ")";
      EXPECT_TRUE(schema_accepts(schema, parsed)) << out << " (schema " << text << ")";
    }
  }
}

TEST(JsonGrammar, AgreesWithTheReferencesOnValidAndInvalidTexts) {
  struct Case {
    const char* schema;
    const char* text;
  };
  const std::vector<Case> cases = {
      {R"({})", R"({"a":[1,2.5,-0.5e+10,"x\n\u00e9",true,null,{}]})"},
      {R"({})", R"({"a":[1,2.5,]})"},
      {R"({})", R"(01)"},
      {R"({})", R"(-)"},
      {R"({})", R"("\x")"},
      {R"({})", "\"tab\there\""},
      {R"({})", "\"caf\xc3\xa9\""},
      {R"({})", "\"bad \xc3\x28\""},
      {R"({})", "\"overlong \xe0\x80\xaf\""},
      {R"({})", "\"surrogate \xed\xa0\x80\""},
      {R"({})", R"(tru)"},
      {R"({})", R"(nul)"},
      {R"({"type": "integer"})", R"(42)"},
      {R"({"type": "integer"})", R"(4.2)"},
      {R"({"type": "integer"})", R"(-0)"},
      {R"({"type": "number"})", R"(4.2e-3)"},
      {R"({"type": "number"})", R"(4.)"},
      {R"({"type": "number"})", R"(.5)"},
      {R"({"type": "string", "maxLength": 3})", R"("abc")"},
      {R"({"type": "string", "maxLength": 3})", R"("abcd")"},
      {R"({"type": "string", "minLength": 2})", R"("a")"},
      {R"({"type": "array", "items": {"type": "integer"}, "maxItems": 2})", R"([1,2])"},
      {R"({"type": "array", "items": {"type": "integer"}, "maxItems": 2})", R"([1,2,3])"},
      {R"({"type": "array", "items": {"type": "integer"}, "minItems": 1})", R"([])"},
      {R"({"type": "array", "items": {"type": "integer"}})", R"([1,"2"])"},
      {R"({"enum": ["red", 10, 1]})", R"(1)"},
      {R"({"enum": ["red", 10, 1]})", R"(10)"},
      {R"({"enum": ["red", 10, 1]})", R"(100)"},
      {R"({"enum": ["red", 10, 1]})", R"("re")"},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["b"]})", R"({"b":"x"})"},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["b"]})", R"({"a":1,"b":"x"})"},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["b"]})", R"({"a":1})"},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["b"]})", R"({"b":"x","c":1})"},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["b"]})", R"({"a":"1","b":"x"})"},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}}})", R"({})"},
      {R"({"type": "object"})", R"({"k":[{"z":null}],"j":-1})"},
      {R"({"type": "object"})", R"([])"},
  };
  for (const Case& c : cases) {
    const json schema = json::parse(c.schema);
    const json parsed = json::parse(c.text, nullptr, /*allow_exceptions=*/false);
    const bool reference = !parsed.is_discarded() && schema_accepts(schema, parsed);
    EXPECT_EQ(matches(compile_json_schema(schema), c.text), reference) << c.text << " against " << c.schema;
  }
}

TEST(JsonGrammar, OutputIsCompactAndNumbersAreBounded) {
  const auto any = compile_json_schema(json::object());
  EXPECT_FALSE(matches(any, R"({"a": 1})"));  // valid JSON, but no whitespace is generated
  EXPECT_TRUE(matches(any, R"({"a":1})"));
  EXPECT_TRUE(matches(any, "123456789012345"));
  EXPECT_FALSE(matches(any, "1234567890123456"));  // more than 15 integer digits
}

TEST(JsonGrammar, UnsupportedSchemasAreRefusedNamingThePath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type": "object", "properties": {"x": {"type": "integer", "minimum": 1}}})", "properties.x.minimum"},
      {R"({"anyOf": [{"type": "string"}]})", "anyOf"},
      {R"({"type": ["string", "null"]})", "type"},
      {R"({"type": "banana"})", "type"},
      {R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})", "required"},
      {R"({"type": "object", "additionalProperties": true})", "additionalProperties"},
      {R"({"type": "string", "maxItems": 3})", "maxItems"},
      {R"({"type": "array", "minItems": 3, "maxItems": 2})", "maxItems"},
      {R"({"enum": []})", "enum"},
      {R"(7)", "schema"},
  };
  for (const auto& [text, path] : cases) {
    try {
      compile_json_schema(json::parse(text));
      ADD_FAILURE() << text << " was accepted";
    } catch (const JsonSchemaError& error) {
      EXPECT_EQ(error.path(), path) << text << ": " << error.what();
    }
  }
}

}  // namespace
}  // namespace shardlm
