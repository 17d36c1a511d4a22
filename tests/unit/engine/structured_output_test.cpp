// Structured output through the engine: stories260K, a model that never writes JSON by itself,
// sampled at temperature 1 under a schema, always gives a JSON value the schema accepts (nlohmann's
// parser and explicit checks as the references) and stops where the value ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>

#include "runtime/engine/engine.h"
#include "runtime/engine/token_constraint.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

using json = nlohmann::ordered_json;

size_t code_points(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

TEST(StructuredOutput, SampledStoriesAreAlwaysJsonTheSchemaAccepts) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel model = load_model(path, std::nullopt);
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(path, "", model.spec);
  ThreadPool pool(2);
  Decoder decoder(model.spec, model.weights, pool);
  const auto vocabulary = std::make_shared<const TokenVocabulary>(*tokenizer);
  const json schema = json::parse(R"({"type": "object", "properties": {
      "name": {"type": "string", "maxLength": 16}, "age": {"type": "integer"},
      "friends": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 3},
      "pet": {"enum": ["cat", "dog", "bird"]}, "happy": {"type": "boolean"}},
      "required": ["name", "age", "happy"]})");
  const auto compiled = compile_json_schema(schema);

  EngineOptions options;
  options.max_batch = 8;
  options.num_blocks = 256;
  options.block_size = 16;
  Engine engine(decoder, options);
  constexpr int kRequests = 12;
  for (int i = 0; i < kRequests; ++i) {
    GenerationRequest request;
    request.prompt = tokenizer->encode("Once upon a time", true);
    request.max_new_tokens = 400;
    request.sampling.temperature = 1.0f;
    request.sampling.seed = static_cast<uint64_t>(i);
    request.constraint = std::make_shared<JsonConstraint>(compiled, vocabulary);
    engine.submit(std::move(request));
  }
  engine.run_to_completion();
  std::set<std::string> distinct;
  for (int i = 0; i < kRequests; ++i) {
    std::string text;
    int32_t previous = tokenizer->bos();
    for (int32_t token : engine.output(i)) text += tokenizer->decode(std::exchange(previous, token), token);
    EXPECT_EQ(engine.finish_reason(i), FinishReason::stop) << text;
    const json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(value.is_discarded()) << "not JSON: " << text;
    ASSERT_TRUE(value.is_object()) << text;
    EXPECT_TRUE(value["name"].is_string() && code_points(value["name"].get<std::string>()) <= 16) << text;
    EXPECT_TRUE(value["age"].is_number_integer()) << text;
    EXPECT_TRUE(value["happy"].is_boolean()) << text;
    if (value.contains("friends")) {
      EXPECT_TRUE(value["friends"].is_array() && value["friends"].size() <= 3) << text;
      for (const json& friend_name : value["friends"]) EXPECT_TRUE(friend_name.is_string() && code_points(friend_name.get<std::string>()) <= 10) << text;
    }
    if (value.contains("pet")) {
      EXPECT_TRUE(value["pet"] == "cat" || value["pet"] == "dog" || value["pet"] == "bird") << text;
    }
    for (const auto& [key, item] : value.items()) EXPECT_TRUE(schema["properties"].contains(key)) << text;
    distinct.insert(text);
  }
  // Sampling still chooses: the seeds did not all give one text.
  EXPECT_GT(distinct.size(), 1u);
}

}  // namespace
}  // namespace shardlm
