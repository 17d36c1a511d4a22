// The BPE merge loop on hand-made vocabularies: rank order, leftmost ties, unknown characters.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "runtime/core/check.h"
#include "runtime/tokenizer/bpe_model.h"

namespace shardlm {
namespace {

TokenIds ids_of(std::initializer_list<const char*> tokens) {
  TokenIds vocab;
  int32_t id = 0;
  for (const char* token : tokens) vocab.emplace(token, id++);
  return vocab;
}

std::vector<int32_t> encode(const BpeModel& model, std::string_view word) {
  std::vector<int32_t> ids;
  model.encode_word(word, ids);
  return ids;
}

TEST(BpeModel, MergesByRankNotPosition) {
  // "abc": "b c" ranks before "a b", so the result is a + bc, not ab + c.
  const BpeModel model(ids_of({"a", "b", "c", "ab", "bc"}), {{"b", "c"}, {"a", "b"}}, {}, "test");
  EXPECT_EQ(encode(model, "abc"), (std::vector<int32_t>{0, 4}));
}

TEST(BpeModel, EqualRanksMergeLeftmostFirst) {
  const BpeModel model(ids_of({"a", "aa", "aaaa"}), {{"a", "a"}, {"aa", "aa"}}, {}, "test");
  EXPECT_EQ(encode(model, "aaa"), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(encode(model, "aaaaa"), (std::vector<int32_t>{2, 0}));
}

TEST(BpeModel, UnknownCharactersUseUnkByteFallbackOrVanish) {
  const TokenIds vocab = ids_of({"<unk>", "a", "<0xC3>", "<0xA9>"});
  BpeOptions fused;
  fused.unk_token = "<unk>";
  fused.fuse_unk = true;
  EXPECT_EQ(encode(BpeModel(vocab, {}, fused, "test"), "axyza"), (std::vector<int32_t>{1, 0, 1}));
  BpeOptions separate;
  separate.unk_token = "<unk>";
  EXPECT_EQ(encode(BpeModel(vocab, {}, separate, "test"), "axya"), (std::vector<int32_t>{1, 0, 0, 1}));
  BpeOptions bytes = fused;
  bytes.byte_fallback = true;
  EXPECT_EQ(encode(BpeModel(vocab, {}, bytes, "test"), "a\xC3\xA9z"), (std::vector<int32_t>{1, 2, 3, 0}));
  EXPECT_EQ(encode(BpeModel(vocab, {}, {}, "test"), "xay"), (std::vector<int32_t>{1}));
}

TEST(BpeModel, ContinuingSubwordPrefixAndSuffix) {
  BpeOptions options;
  options.continuing_subword_prefix = "##";
  options.end_of_word_suffix = "</w>";
  const BpeModel model(ids_of({"a", "##b", "##c</w>", "ab", "ab##c</w>", "abc</w>"}), {{"a", "##b"}, {"ab", "##c</w>"}},
                       options, "test");
  EXPECT_EQ(encode(model, "abc"), (std::vector<int32_t>{5}));
}

TEST(BpeModel, IgnoreMergesTakesWholeWordTokens) {
  BpeOptions options;
  options.ignore_merges = true;
  const BpeModel model(ids_of({"a", "b", "ab", "ba", "aba"}), {{"a", "b"}}, options, "test");
  EXPECT_EQ(encode(model, "aba"), (std::vector<int32_t>{4}));   // a token itself, no merging
  EXPECT_EQ(encode(model, "abab"), (std::vector<int32_t>{2, 2}));
}

TEST(BpeModel, MergesNamingUnknownTokensAreRefused) {
  EXPECT_THROW(BpeModel(ids_of({"a", "b"}), {{"a", "x"}}, {}, "test"), Error);
  EXPECT_THROW(BpeModel(ids_of({"a", "b"}), {{"a", "b"}}, {}, "test"), Error);  // "ab" missing
  BpeOptions options;
  options.unk_token = "<unk>";
  EXPECT_THROW(BpeModel(ids_of({"a"}), {}, options, "test"), Error);
}

TEST(BpeModel, LongWordsMergeInNearLinearTime) {
  // Merges that build "a" * 2^k: a word of 100 000 letters needs ~100 000 merges.
  TokenIds vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::string piece = "a";
  vocab.emplace(piece, 0);
  for (int k = 1; k <= 16; ++k) {
    merges.emplace_back(piece, piece);
    piece += piece;
    vocab.emplace(piece, k);
  }
  const BpeModel model(std::move(vocab), merges, {}, "test");
  const auto start = std::chrono::steady_clock::now();
  const auto ids = encode(model, std::string(100000, 'a'));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t letters = 0;
  for (const int32_t id : ids) letters += size_t{1} << id;
  EXPECT_EQ(letters, 100000u);
  EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace shardlm
