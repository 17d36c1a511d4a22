// Tokenizers built from GGUF-style metadata must encode exactly as the tokenizer.json they stand for.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/check.h"
#include "runtime/tokenizer/gguf_tokenizer.h"

namespace shardlm {
namespace {

const std::string kFixtures = std::string(SHARDLM_TEST_DATA) + "/../fixtures/tokenizers";

nlohmann::json read_json(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << path;
  std::stringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str());
}

// tokenizer.ggml.tokens and .merges as a GGUF stores them, taken from a tokenizer.json.
void fill_vocabulary(const nlohmann::json& tokenizer_json, GgufTokenizerData& data) {
  const auto& vocab = tokenizer_json.at("model").at("vocab");
  data.tokens.assign(vocab.size(), "");
  for (const auto& [token, id] : vocab.items()) data.tokens.at(id.get<size_t>()) = token;
  for (const auto& merge : tokenizer_json.at("model").at("merges")) {
    if (merge.is_string()) data.merges.push_back(merge.get<std::string>());
    else data.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
  }
}

TEST(GgufTokenizer, SmolLM2FromGgufMetadataMatchesTransformers) {
  const nlohmann::json metadata = read_json(kFixtures + "/smollm2/gguf_metadata.json");
  GgufTokenizerData data;
  fill_vocabulary(read_json(kFixtures + "/smollm2/tokenizer.json"), data);
  data.model = metadata.at("model").get<std::string>();
  data.pre = metadata.at("pre").get<std::string>();
  EXPECT_EQ(data.pre, "smollm");
  data.bos_id = metadata.at("bos_token_id").get<int32_t>();
  data.eos_id = metadata.at("eos_token_id").get<int32_t>();
  data.unknown_id = metadata.at("unknown_token_id").get<int32_t>();
  data.add_bos = metadata.at("add_bos_token").get<bool>();
  data.token_types.assign(data.tokens.size(), kGgufTokenNormal);
  for (const auto& [id, type] : metadata.at("token_types_not_normal").items())
    data.token_types.at(std::stoul(id)) = type.get<int32_t>();

  const auto tokenizer = make_bpe_tokenizer_from_gguf(data);
  EXPECT_EQ(tokenizer->vocab_size(), 49152);
  EXPECT_EQ(tokenizer->bos(), 1);
  EXPECT_EQ(tokenizer->eos(), 2);
  const nlohmann::json expected = read_json(kFixtures + "/smollm2/expected.json");
  const auto& strings = expected.at("strings");
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    EXPECT_EQ(tokenizer->encode(text, true), expected.at("ids")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
    EXPECT_EQ(tokenizer->encode(text, false), expected.at("ids_plain")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
  }
  // The chat markers are control tokens: their text is their id.
  EXPECT_EQ(tokenizer->encode("<|im_start|>user\nHi<|im_end|>", false).front(), 1);
  EXPECT_EQ(tokenizer->encode("<|im_start|>user\nHi<|im_end|>", false).back(), 2);
  EXPECT_EQ(tokenizer->decode(-1, 2), "<|im_end|>");
}

TEST(GgufTokenizer, LlamaVocabularyWithMergesMatchesItsTokenizerJson) {
  const nlohmann::json tokenizer_json = read_json(kFixtures + "/variants/llama_metaspace_first.tokenizer.json");
  GgufTokenizerData data;
  data.model = "llama";
  fill_vocabulary(tokenizer_json, data);
  data.token_types.assign(data.tokens.size(), kGgufTokenNormal);
  data.token_types[0] = kGgufTokenUnknown;
  data.token_types[1] = data.token_types[2] = kGgufTokenControl;
  for (int b = 0; b < 256; ++b) data.token_types[3 + b] = kGgufTokenByte;
  data.bos_id = 1;
  data.eos_id = 2;
  const auto tokenizer = make_bpe_tokenizer_from_gguf(data);

  const nlohmann::json expected = read_json(kFixtures + "/expected.json");
  const auto& cases = expected.at("variants").at("llama_metaspace_first");
  const auto& strings = expected.at("strings");
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    EXPECT_EQ(tokenizer->encode(text, true), cases.at("ids")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
    EXPECT_EQ(tokenizer->encode(text, false), cases.at("ids_plain")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
  }
  // Decoding drops the space the prefix added, only at the start.
  const auto ids = tokenizer->encode("the keeper", true);
  std::string text;
  for (size_t i = 1; i < ids.size(); ++i) text += tokenizer->decode(ids[i - 1], ids[i]);
  EXPECT_EQ(text, "the keeper");
}

TEST(GgufTokenizer, LlamaVocabularyWithoutMergesDerivesThemFromScores) {
  const nlohmann::json fixture = read_json(kFixtures + "/gguf_llama.json");
  GgufTokenizerData data;
  data.model = fixture.at("model").get<std::string>();
  data.tokens = fixture.at("tokens").get<std::vector<std::string>>();
  data.scores = fixture.at("scores").get<std::vector<float>>();
  data.token_types = fixture.at("token_type").get<std::vector<int32_t>>();
  data.bos_id = fixture.at("bos_token_id").get<int32_t>();
  data.eos_id = fixture.at("eos_token_id").get<int32_t>();
  data.unknown_id = fixture.at("unknown_token_id").get<int32_t>();
  const auto tokenizer = make_bpe_tokenizer_from_gguf(data);
  const auto& strings = fixture.at("strings");
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    EXPECT_EQ(tokenizer->encode(text, true), fixture.at("ids")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
    EXPECT_EQ(tokenizer->encode(text, false), fixture.at("ids_plain")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
  }
}

std::string error_of(const GgufTokenizerData& data) {
  try {
    make_bpe_tokenizer_from_gguf(data);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(GgufTokenizer, BadMetadataIsRefusedWithTheField) {
  GgufTokenizerData good;
  good.model = "gpt2";
  good.tokens = {"a", "b", "ab", "<|endoftext|>"};
  good.merges = {"a b"};
  good.token_types = {1, 1, 1, 3};
  good.bos_id = good.eos_id = 3;
  EXPECT_EQ(make_bpe_tokenizer_from_gguf(good)->encode("abab<|endoftext|>", false), (std::vector<int32_t>{2, 2, 3}));

  GgufTokenizerData bad = good;
  bad.model = "bert";
  EXPECT_NE(error_of(bad).find("tokenizer.ggml.model 'bert'"), std::string::npos) << error_of(bad);
  bad = good;
  bad.pre = "mystery";
  EXPECT_NE(error_of(bad).find("tokenizer.ggml.pre 'mystery'"), std::string::npos) << error_of(bad);
  bad = good;
  bad.merges = {"a c"};
  EXPECT_NE(error_of(bad).find("'c' is not in the vocabulary"), std::string::npos) << error_of(bad);
  bad = good;
  bad.merges = {"ab"};
  EXPECT_NE(error_of(bad).find("tokenizer.ggml.merges[0]"), std::string::npos) << error_of(bad);
  bad = good;
  bad.token_types = {1, 1};
  EXPECT_NE(error_of(bad).find("token_type has 2 entries for 4 tokens"), std::string::npos) << error_of(bad);
  bad = good;
  bad.bos_id = 9;
  EXPECT_NE(error_of(bad).find("bos_token_id 9"), std::string::npos) << error_of(bad);
  bad = good;
  bad.tokens.clear();
  EXPECT_NE(error_of(bad).find("tokens is empty"), std::string::npos) << error_of(bad);
}

}  // namespace
}  // namespace shardlm
