// The hand-written split regexes against the pieces Hugging Face tokenizers (Oniguruma) cuts the same
// strings into: tests/fixtures/tokenizers/pretokenize.json, made by make_tokenizer_fixtures.py.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/check.h"
#include "runtime/tokenizer/pre_tokenizer.h"
#include "runtime/tokenizer/split_pattern.h"

namespace shardlm {
namespace {

const std::string kFixtures = std::string(SHARDLM_TEST_DATA) + "/../fixtures/tokenizers";

nlohmann::json read_json(const std::string& path) {
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << path;
  std::stringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str());
}

std::vector<std::string> isolated_pieces(const SplitPattern& pattern, const std::string& text) {
  std::vector<std::string> pieces;
  for (const TextMatch& range : split_at_matches(text.size(), pattern.find_all(text), SplitBehavior::Isolated, false))
    pieces.push_back(text.substr(range.begin, range.end - range.begin));
  return pieces;
}

TEST(TokenizerSplitPattern, EveryKnownRegexCutsLikeOniguruma) {
  const nlohmann::json fixture = read_json(kFixtures + "/pretokenize.json");
  const auto& strings = fixture.at("strings");
  size_t checked = 0;
  for (const auto& [name, regex] : fixture.at("patterns").items()) {
    const SplitPattern pattern = SplitPattern::from_regex(regex.get<std::string>());
    const auto& expected = fixture.at("splits").at(name);
    ASSERT_EQ(expected.size(), strings.size());
    for (size_t i = 0; i < strings.size(); ++i) {
      const std::string text = strings[i].get<std::string>();
      EXPECT_EQ(isolated_pieces(pattern, text), expected[i].get<std::vector<std::string>>())
          << "pattern " << name << ", string #" << i << ": '" << text << "'";
      ++checked;
    }
  }
  EXPECT_GE(checked, 1000u);
}

TEST(TokenizerSplitPattern, Gpt2LeavesTheLastSpaceToTheNextWord) {
  const SplitPattern gpt2 = SplitPattern::gpt2();
  EXPECT_EQ(isolated_pieces(gpt2, "a   b"), (std::vector<std::string>{"a", "  ", " b"}));
  EXPECT_EQ(isolated_pieces(gpt2, "don't stop"), (std::vector<std::string>{"don", "'t", " stop"}));
  EXPECT_EQ(isolated_pieces(gpt2, "x  "), (std::vector<std::string>{"x", "  "}));
}

TEST(TokenizerSplitPattern, Llama3GroupsDigitsInThreesAndFoldsContractions) {
  const SplitPattern llama3 = SplitPattern::from_regex(
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  EXPECT_EQ(isolated_pieces(llama3, "1234567"), (std::vector<std::string>{"123", "456", "7"}));
  EXPECT_EQ(isolated_pieces(llama3, "I'LL go"), (std::vector<std::string>{"I", "'LL", " go"}));
  EXPECT_EQ(isolated_pieces(llama3, "a \n\n b"), (std::vector<std::string>{"a", " \n\n", " b"}));
}

TEST(TokenizerSplitPattern, UnknownRegexIsRefusedWithItsText) {
  try {
    SplitPattern::from_regex(R"(\w+|\d)");
    FAIL() << "an unknown regex was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(R"('\w+|\d')"), std::string::npos) << e.what();
  }
}

TEST(TokenizerSplitPattern, BehaviorsCombineMatchesAsTokenizersDoes) {
  // "a1b22c": matches of \p{N} at "1", "2", "2".
  const std::string text = "a1b22c";
  const std::vector<TextMatch> matches = SplitPattern::from_regex(R"(\p{N})").find_all(text);
  const auto cut = [&](SplitBehavior behavior, bool invert) {
    std::vector<std::string> pieces;
    for (const TextMatch& r : split_at_matches(text.size(), matches, behavior, invert))
      pieces.push_back(text.substr(r.begin, r.end - r.begin));
    return pieces;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(cut(SplitBehavior::Isolated, false), (V{"a", "1", "b", "2", "2", "c"}));
  EXPECT_EQ(cut(SplitBehavior::Removed, false), (V{"a", "b", "c"}));
  EXPECT_EQ(cut(SplitBehavior::Contiguous, false), (V{"a", "1", "b", "22", "c"}));
  EXPECT_EQ(cut(SplitBehavior::MergedWithPrevious, false), (V{"a1", "b2", "2", "c"}));
  EXPECT_EQ(cut(SplitBehavior::MergedWithNext, false), (V{"a", "1b", "2", "2c"}));
  EXPECT_EQ(cut(SplitBehavior::Removed, true), (V{"1", "2", "2"}));
}

}  // namespace
}  // namespace shardlm
