// tokenizer.json reading: the ids must be exactly Hugging Face's (recorded by
// tests/fixtures/tokenizers/make_tokenizer_fixtures.py with tokenizers and transformers), decoding
// must give their text back, and a malformed file must raise shardlm::Error naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/check.h"
#include "runtime/core/temp_dir.h"
#include "runtime/tokenizer/hf_tokenizer.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(SHARDLM_TEST_DATA) + "/../fixtures/tokenizers";

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << path;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// What transformers' decode gives: the token bytes, invalid UTF-8 replaced by U+FFFD.
std::string decode_text(const BpeTokenizer& tokenizer, const std::vector<int32_t>& ids) {
  Utf8Streamer streamer;
  std::string text = streamer.push(tokenizer.decode_all(ids, /*skip_special=*/true));
  text += streamer.finish();
  return text;
}

std::string variant_path(const std::string& name) { return kFixtures + "/variants/" + name + ".tokenizer.json"; }

TEST(HfTokenizer, EncodesEveryFixtureVariantExactlyAsTransformers) {
  const nlohmann::json expected = nlohmann::json::parse(read_text(kFixtures + "/expected.json"));
  const auto& strings = expected.at("strings");
  ASSERT_GE(expected.at("variants").size(), 18u);
  for (const auto& [name, cases] : expected.at("variants").items()) {
    SCOPED_TRACE("variant " + name);
    const auto tokenizer = load_hf_tokenizer(variant_path(name));
    int mismatches = 0;
    for (size_t i = 0; i < strings.size() && mismatches < 5; ++i) {
      const std::string text = strings[i].get<std::string>();
      const auto ids = cases.at("ids")[i].get<std::vector<int32_t>>();
      const auto plain = cases.at("ids_plain")[i].get<std::vector<int32_t>>();
      const auto got = tokenizer->encode(text, true);
      const auto got_plain = tokenizer->encode(text, false);
      EXPECT_EQ(got, ids) << "string #" << i << " '" << text << "' with special tokens";
      EXPECT_EQ(got_plain, plain) << "string #" << i << " '" << text << "'";
      EXPECT_EQ(decode_text(*tokenizer, plain), cases.at("decoded")[i].get<std::string>()) << "decoding string #" << i;
      mismatches += (got != ids) + (got_plain != plain);
    }
  }
}

TEST(HfTokenizer, RealSmolLM2TokenizerMatchesTransformers) {
  const auto tokenizer = load_hf_tokenizer(kFixtures + "/smollm2/tokenizer.json");
  EXPECT_EQ(tokenizer->vocab_size(), 49152);
  const nlohmann::json expected = nlohmann::json::parse(read_text(kFixtures + "/smollm2/expected.json"));
  const auto& strings = expected.at("strings");
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    EXPECT_EQ(tokenizer->encode(text, true), expected.at("ids")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
    EXPECT_EQ(tokenizer->encode(text, false), expected.at("ids_plain")[i].get<std::vector<int32_t>>()) << "'" << text << "'";
    EXPECT_EQ(decode_text(*tokenizer, expected.at("ids_plain")[i].get<std::vector<int32_t>>()),
              expected.at("decoded")[i].get<std::string>());
  }
  // Digits are split one by one before GPT-2's pattern, as the checkpoint's pre-tokenizer says.
  EXPECT_EQ(tokenizer->encode("Hello world 12345", false),
            (std::vector<int32_t>{19556, 905, 216, 33, 34, 35, 36, 37}));
}

// The other fixtures under tests/fixtures/<model>/ (tokenizer.json + expected.json "encodings"),
// when they are there.
TEST(HfTokenizer, ModelFixturesEncodeAsRecorded) {
  const fs::path root = fs::path(SHARDLM_TEST_DATA) / ".." / "fixtures";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path tokenizer_path = entry.path() / "tokenizer.json", expected_path = entry.path() / "expected.json";
    if (!fs::exists(tokenizer_path) || !fs::exists(expected_path)) continue;
    const nlohmann::json expected = nlohmann::json::parse(read_text(expected_path.string()), nullptr, false);
    if (!expected.is_object() || !expected.contains("encodings") || !expected["encodings"].is_array()) continue;
    SCOPED_TRACE(tokenizer_path.string());
    const auto tokenizer = load_hf_tokenizer(tokenizer_path.string());
    for (const auto& encoding : expected["encodings"]) {
      const std::string text = encoding.at("text").get<std::string>();
      if (encoding.contains("ids")) {
        EXPECT_EQ(tokenizer->encode(text, true), encoding["ids"].get<std::vector<int32_t>>()) << "'" << text << "'";
      }
      if (encoding.contains("ids_plain")) {
        const auto plain = encoding["ids_plain"].get<std::vector<int32_t>>();
        EXPECT_EQ(tokenizer->encode(text, false), plain) << "'" << text << "'";
        if (encoding.contains("decoded_plain")) {  // decoded with skip_special_tokens=False
          Utf8Streamer streamer;
          std::string decoded = streamer.push(tokenizer->decode_all(plain, /*skip_special=*/false));
          decoded += streamer.finish();
          EXPECT_EQ(decoded, encoding["decoded_plain"].get<std::string>());
        }
      }
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no model fixtures with recorded encodings";
}

TEST(HfTokenizer, ByteLevelDecodingGivesTheTextBack) {
  const auto tokenizer = load_hf_tokenizer(variant_path("gpt2"));
  for (const std::string text : {"Hello world", "  two spaces\tand a tab\n\nnew lines\r\n", "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87",
                                 "emoji \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "a\xE2\x82", "\xFF\xFE bytes", ""}) {
    const auto ids = tokenizer->encode(text, false);
    EXPECT_EQ(tokenizer->decode_all(ids, false), text);  // raw bytes, invalid UTF-8 included
  }
}

TEST(HfTokenizer, LlamaStyleDecodingDropsOnlyTheFirstSpace) {
  const auto tokenizer = load_hf_tokenizer(variant_path("llama_prepend"));
  EXPECT_EQ(tokenizer->bos(), 1);
  EXPECT_EQ(tokenizer->eos(), 2);
  const std::string text = "The keeper's caf\xC3\xA9 \xF0\x9F\x98\x80 \xE4\xB8\xAD";
  const auto ids = tokenizer->encode(text, true);
  ASSERT_EQ(ids.front(), 1);
  std::string decoded;
  for (size_t i = 1; i < ids.size(); ++i) decoded += tokenizer->decode(ids[i - 1], ids[i]);
  EXPECT_EQ(decoded, text);
  // Emoji are not in the tiny vocabulary: they fall back to <0xF0> <0x9F> <0x98> <0x80>.
  const auto emoji = tokenizer->encode("\xF0\x9F\x98\x80", false);
  ASSERT_EQ(emoji.size(), 5u);  // "▁" then four bytes
  EXPECT_EQ(tokenizer->token_text(emoji[1]), "<0xF0>");
  EXPECT_EQ(tokenizer->decode(emoji[0], emoji[1]), "\xF0");
}

TEST(HfTokenizer, StreamingHoldsMultibyteCharactersSplitAcrossTokens) {
  const auto tokenizer = load_hf_tokenizer(variant_path("gpt2"));
  const std::string text = "x\xF0\x9F\x98\x80y\xE4\xB8\xAD";  // x😀y中, neither character in the tiny vocabulary
  const auto ids = tokenizer->encode(text, false);
  ASSERT_GT(ids.size(), 4u);
  TokenTextStream stream(*tokenizer);
  std::vector<std::string> pieces;
  for (const int32_t id : ids) pieces.push_back(stream.push(id));
  pieces.push_back(stream.finish());
  std::string joined;
  for (const std::string& piece : pieces) {
    // Every piece handed out is whole characters.
    Utf8Streamer check;
    EXPECT_EQ(check.push(piece), piece);
    EXPECT_FALSE(check.holding());
    joined += piece;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(pieces.front(), "x");
  EXPECT_TRUE(std::find(pieces.begin(), pieces.end(), "\xF0\x9F\x98\x80") != pieces.end());
}

TEST(HfTokenizer, SpecialTokenTextBecomesItsId) {
  const auto tokenizer = load_hf_tokenizer(variant_path("added_token_options"));
  const int32_t endoftext = tokenizer->token_id("<|endoftext|>"), im_end = tokenizer->token_id("<|im_end|>");
  const int32_t tool = tokenizer->token_id("<tool>"), user = tokenizer->token_id("<|im_start|>user");
  ASSERT_GE(endoftext, 0);
  ASSERT_GE(tool, 0);
  ASSERT_GE(user, 0);
  EXPECT_TRUE(tokenizer->is_special(endoftext));
  EXPECT_FALSE(tokenizer->is_special(tokenizer->token_id("keeper")));
  // The template adds <|endoftext|> ... <|im_end|>.
  const auto ids = tokenizer->encode("hi<|endoftext|>", true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), endoftext);
  EXPECT_EQ(ids[ids.size() - 2], endoftext);
  EXPECT_EQ(ids.back(), im_end);
  // Longest match wins: "<|im_start|>user" over "<|im_start|>"; lstrip/rstrip swallow the spaces around <tool>.
  EXPECT_EQ(tokenizer->encode("<|im_start|>user", false), (std::vector<int32_t>{user}));
  const auto stripped = tokenizer->encode("a  <tool>  b", false);
  EXPECT_EQ(stripped, tokenizer->encode("a<tool>b", false));
  EXPECT_EQ(tokenizer->decode(-1, tool), "<tool>");
}

TEST(HfTokenizer, BosAndEosComeFromTokenizerConfigWhenPresent) {
  const TempDir scratch("tokenizer-config");
  const fs::path dir = scratch.path();
  fs::copy_file(variant_path("gpt2"), dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "tokenizer_config.json") << R"({"bos_token": {"content": "<|im_start|>"}, "eos_token": "<|im_end|>"})";
  const auto configured = load_hf_tokenizer((dir / "tokenizer.json").string());
  EXPECT_EQ(configured->bos(), configured->token_id("<|im_start|>"));
  EXPECT_EQ(configured->eos(), configured->token_id("<|im_end|>"));
  const auto overridden = load_hf_tokenizer((dir / "tokenizer.json").string(), {.bos = 5, .eos = 6});
  EXPECT_EQ(overridden->bos(), 5);
  EXPECT_EQ(overridden->eos(), 6);
  const auto guessed = load_hf_tokenizer(variant_path("gpt2"));  // no config beside it: the well-known names
  EXPECT_EQ(guessed->bos(), guessed->token_id("<|endoftext|>"));
  EXPECT_EQ(guessed->eos(), guessed->token_id("<|endoftext|>"));
}

TEST(HfTokenizer, DecodeRefusesIdsOutsideTheVocabulary) {
  const auto tokenizer = load_hf_tokenizer(variant_path("gpt2"));
  EXPECT_THROW(tokenizer->decode(-1, static_cast<int32_t>(tokenizer->vocab_size())), Error);
  EXPECT_THROW(tokenizer->decode(-1, -3), Error);
}

TEST(HfTokenizer, LongInputsEncodeQuickly) {
  const auto tokenizer = load_hf_tokenizer(kFixtures + "/smollm2/tokenizer.json");
  // One 200 000-letter word exercises the merge heap; quadratic merging would take minutes.
  const std::string word(200000, 'a');
  const auto ids = tokenizer->encode(word, false);
  EXPECT_EQ(tokenizer->decode_all(ids, false), word);
}

// --- malformed files -------------------------------------------------------------------------

std::string error_of(const std::string& json_text) {
  try {
    parse_hf_tokenizer(json_text, "/nowhere/bad/tokenizer.json", {.read_tokenizer_config = false});
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no error";
}

nlohmann::json good_json() { return nlohmann::json::parse(read_text(variant_path("gpt2"))); }

void expect_error(const std::string& json_text, std::initializer_list<std::string_view> fragments) {
  const std::string message = error_of(json_text);
  EXPECT_NE(message, "no error");
  EXPECT_EQ(message.find("wrong exception type"), std::string::npos) << message;
  EXPECT_NE(message.find("/nowhere/bad/tokenizer.json"), std::string::npos) << message;
  for (const std::string_view fragment : fragments) EXPECT_NE(message.find(fragment), std::string::npos) << message;
}

TEST(HfTokenizerMalformed, NonObjectAndTruncatedJsonAreRefused) {
  expect_error("[1, 2, 3]", {"expected a tokenizer.json object, got an array"});
  expect_error("\"just a string\"", {"got a string"});
  expect_error("", {"not valid JSON"});
  const std::string text = good_json().dump();
  expect_error(text.substr(0, text.size() / 2), {"not valid JSON"});
  expect_error(std::string(100000, '[') + std::string(100000, ']'), {"deeper than"});
}

TEST(HfTokenizerMalformed, MissingOrWrongModelIsRefused) {
  nlohmann::json j = good_json();
  j.erase("model");
  expect_error(j.dump(), {"'model' is missing"});
  j = good_json();
  j["model"] = 7;
  expect_error(j.dump(), {"model", "expected an object"});
  j = good_json();
  j["model"]["type"] = "Unigram";
  expect_error(j.dump(), {"model.type", "Unigram", "not supported"});
  j = good_json();
  j["model"].erase("vocab");
  expect_error(j.dump(), {"'vocab' is missing"});
  j = good_json();
  j["model"]["vocab"]["Ġthe"] = "seven";
  expect_error(j.dump(), {"model.vocab[\"Ġthe\"]", "expected an integer"});
  j = good_json();
  j["model"]["vocab"]["Ġthe"] = -4;
  expect_error(j.dump(), {"model.vocab[\"Ġthe\"]", "outside"});
  j = good_json();
  j["model"]["dropout"] = 0.1;
  expect_error(j.dump(), {"model.dropout", "random"});
}

TEST(HfTokenizerMalformed, BadMergesAreRefused) {
  nlohmann::json j = good_json();
  j["model"]["merges"][3] = "onlyone";
  expect_error(j.dump(), {"model.merges[3]", "two tokens separated by one space"});
  j = good_json();
  j["model"]["merges"][4] = 12;
  expect_error(j.dump(), {"model.merges[4]", "got an integer"});
  j = good_json();
  j["model"]["merges"][5] = nlohmann::json::array({"a", "b", "c"});
  expect_error(j.dump(), {"model.merges[5]", "pair"});
  j = good_json();
  j["model"]["merges"][6] = nlohmann::json::array({"Ġzzqx", "t"});
  expect_error(j.dump(), {"model.merges[6]", "'Ġzzqx' is not in the vocabulary"});
  j = good_json();
  j["model"]["merges"][7] = "q q";  // both known, but "qq" is not a token
  expect_error(j.dump(), {"model.merges[7]", "merged token 'qq' is not in the vocabulary"});
}

TEST(HfTokenizerMalformed, UnsupportedPartsAreNamed) {
  nlohmann::json j = good_json();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}, {"invert", false}};
  expect_error(j.dump(), {"pre_tokenizer.pattern.Regex", "'\\w+'", "not one ShardLM knows"});
  j = good_json();
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  expect_error(j.dump(), {"pre_tokenizer", "BertPreTokenizer"});
  j = good_json();
  j["normalizer"] = {{"type", "NFC"}};
  expect_error(j.dump(), {"normalizer", "'NFC' is not supported"});
  j = good_json();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_error(j.dump(), {"decoder", "WordPiece"});
  j = good_json();
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", nlohmann::json::array({{{"SpecialToken", {{"id", "<x>"}, {"type_id", 0}}}},
                                                           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                         {"special_tokens", nlohmann::json::object()}};
  expect_error(j.dump(), {"post_processor.single[0].SpecialToken", "'<x>'"});
  j = good_json();
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array({{{"type", 3}}})}};
  expect_error(j.dump(), {"pre_tokenizer.pretokenizers[0].type", "expected a string"});
}

TEST(HfTokenizerMalformed, BadAddedTokensAreRefused) {
  nlohmann::json j = good_json();
  j["added_tokens"][0]["id"] = 1 << 30;
  expect_error(j.dump(), {"added_tokens[0].id", "outside"});
  j = good_json();
  j["added_tokens"][1].erase("content");
  expect_error(j.dump(), {"added_tokens[1]", "'content' is missing"});
  j = good_json();
  j["added_tokens"][0]["content"] = "";
  expect_error(j.dump(), {"added_tokens[0].content", "must not be empty"});
}

TEST(HfTokenizerMalformed, MissingFileIsNamed) {
  try {
    load_hf_tokenizer("/nowhere/at/all/tokenizer.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nowhere/at/all/tokenizer.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace shardlm
