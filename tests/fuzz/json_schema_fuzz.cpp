// Structured output's schema compiler and matcher: the input is a schema (JSON) and, after the first
// NUL byte, a text fed to the matcher. A schema must compile or end in JsonSchemaError naming its
// path; and whatever text the matcher takes whole (complete()) must be JSON that nlohmann's parser
// reads: a text the matcher would let a model write but that is not JSON is a crash.
#include <cstdlib>
#include <cstdio>

#include "runtime/engine/json_grammar.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  const std::string_view input = fuzz::as_text(data, size);
  const size_t split = input.find('\0');
  const std::string_view schema_text = input.substr(0, split);
  const std::string_view text = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) return 0;
  std::shared_ptr<const JsonSchemaNode> node;
  try {
    node = compile_json_schema(schema);
  } catch (const JsonSchemaError&) {
    return 0;
  }
  JsonMatcher matcher(node);
  size_t taken = 0;
  for (; taken < text.size(); ++taken) {
    JsonMatcher next = matcher;
    if (!next.feed(text.substr(taken, 1))) break;
    matcher = std::move(next);
    if (matcher.complete() &&
        nlohmann::ordered_json::parse(text.substr(0, taken + 1), nullptr, /*allow_exceptions=*/false).is_discarded()) {
      std::fprintf(stderr, "the matcher took a text that is not JSON: %.*s\n", static_cast<int>(taken + 1), text.data());
      std::abort();
    }
  }
  (void)matcher.finished();
  return 0;
}
