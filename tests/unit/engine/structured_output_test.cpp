// Structured output through the engine: stories260K, a model that never writes JSON by itself,
// sampled at temperature 1 under a schema, always gives a JSON value the schema accepts (nlohmann's
// parser and explicit checks as the references) and stops where the value ends.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "runtime/engine/engine.h"
#include "runtime/engine/token_constraint.h"
#include "runtime/model/model_loader.h"
#include "tests/unit/support/json_schema_check.h"

namespace shardlm {
namespace {

using json = nlohmann::ordered_json;

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
    EXPECT_TRUE(test::schema_accepts(schema, value)) << text;
    distinct.insert(text);
  }
  // Sampling still chooses: the seeds did not all give one text.
  EXPECT_GT(distinct.size(), 1u);
}

}  // namespace
}  // namespace shardlm
