// llama2.c's tokenizer for stories260K, checked against ids llama2.c itself produces.
#include <gtest/gtest.h>

#include <string>

#include "runtime/tokenizer/sentencepiece_bpe.h"

namespace shardlm {
namespace {

const std::string kTokenizer = std::string(SHARDLM_TEST_DATA) + "/stories260K/tok512.bin";

std::string decode_all(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::string text;
  for (size_t i = 1; i < ids.size(); ++i) text += tokenizer.decode(ids[i - 1], ids[i]);
  return text;
}

TEST(SentencePieceBpe, EncodesThePromptAsLlama2cDoes) {
  const auto tokenizer = SentencePieceBpe::read_llama2c(kTokenizer, 512);
  // From the model's README: run.c encodes "Once upon a time" to these ids.
  EXPECT_EQ(tokenizer.encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tokenizer.encode("Once upon a time", false), (std::vector<int32_t>{403, 407, 261, 378}));
}

TEST(SentencePieceBpe, EmptyTextIsJustBos) {
  const auto tokenizer = SentencePieceBpe::read_llama2c(kTokenizer, 512);
  EXPECT_EQ(tokenizer.encode("", true), (std::vector<int32_t>{1}));
  EXPECT_TRUE(tokenizer.encode("", false).empty());
}

TEST(SentencePieceBpe, DecodingGivesTheTextBack) {
  const auto tokenizer = SentencePieceBpe::read_llama2c(kTokenizer, 512);
  for (const std::string text : {"Once upon a time, there was a little girl.", "Hello\nworld\t!",
                                 "  two leading spaces", "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80 \xE4\xB8\xAD"}) {
    EXPECT_EQ(decode_all(tokenizer, tokenizer.encode(text, true)), text);
  }
}

TEST(SentencePieceBpe, CharactersOutsideTheVocabularyFallBackToBytes) {
  const auto tokenizer = SentencePieceBpe::read_llama2c(kTokenizer, 512);
  // U+1F600 is not among 512 pieces: its four UTF-8 bytes become <0xF0> <0x9F> <0x98> <0x80>,
  // which are ids 3 + byte in llama2.c's layout.
  const auto ids = tokenizer.encode("\xF0\x9F\x98\x80", false);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(std::vector<int32_t>(ids.end() - 4, ids.end()), (std::vector<int32_t>{3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}));
}

TEST(SentencePieceBpe, MalformedUtf8IsEncodedByteByByte) {
  const auto tokenizer = SentencePieceBpe::read_llama2c(kTokenizer, 512);
  const std::string broken = "a\xE2\x9C";  // a three-byte character cut short
  EXPECT_EQ(decode_all(tokenizer, tokenizer.encode(broken, true)), broken);
}

TEST(SentencePieceBpe, MergesTheBestScoringPairFirst) {
  // Scores make "bc" the best merge although "ab" comes first: " abc" must become " a" + "bc", never
  // " " + "ab" + "c".
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) pieces.push_back("<0x" + std::string(1, "0123456789ABCDEF"[b / 16]) +
                                                 std::string(1, "0123456789ABCDEF"[b % 16]) + ">");
  std::vector<float> scores(pieces.size(), 0.0f);
  auto add = [&](const std::string& piece, float score) {
    pieces.push_back(piece);
    scores.push_back(score);
    return static_cast<int32_t>(pieces.size() - 1);
  };
  for (const char* single : {" ", "a", "b", "c"}) add(single, -10);
  add("ab", -5);
  const int32_t bc = add("bc", -1);
  const int32_t space_a = add(" a", -20);
  const SentencePieceBpe tokenizer(pieces, scores);
  EXPECT_EQ(tokenizer.encode("abc", false), (std::vector<int32_t>{space_a, bc}));
}

TEST(SentencePieceBpe, RejectsAWrongVocabularySize) {
  EXPECT_THROW(SentencePieceBpe::read_llama2c(kTokenizer, 1000), std::runtime_error);
  EXPECT_THROW(SentencePieceBpe::read_llama2c(kTokenizer, 100), std::runtime_error);
}

}  // namespace
}  // namespace shardlm
