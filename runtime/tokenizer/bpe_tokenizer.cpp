#include "runtime/tokenizer/bpe_tokenizer.h"

#include <algorithm>

#include "runtime/core/check.h"

namespace shardlm {

BpeTokenizer::BpeTokenizer(BpeTokenizerParts parts)
    : model_(std::move(parts.model)),
      added_tokens_(std::move(parts.added_tokens)),
      normalizer_(std::move(parts.normalizer)),
      pre_tokenizer_(std::move(parts.pre_tokenizer)),
      post_processor_(std::move(parts.post_processor)),
      decoder_(std::move(parts.decoder)),
      bos_(parts.bos),
      eos_(parts.eos) {
  SHARDLM_CHECK(model_ != nullptr, "a BPE tokenizer needs a model");
  int64_t highest = -1;
  for (const auto& [text, id] : model_->vocab()) {
    SHARDLM_CHECK(id >= 0, "token '{}' has the negative id {}", text, id);
    highest = std::max<int64_t>(highest, id);
  }
  for (const AddedToken& token : added_tokens_) {
    SHARDLM_CHECK(token.id >= 0, "added token '{}' has the negative id {}", token.content, token.id);
    highest = std::max<int64_t>(highest, token.id);
  }
  SHARDLM_CHECK(highest < (int64_t{1} << 26), "token id {} is implausibly large for a vocabulary", highest);
  token_texts_.resize(static_cast<size_t>(highest + 1));
  special_.resize(token_texts_.size());
  for (const auto& [text, id] : model_->vocab())
    if (token_texts_[id].empty()) token_texts_[id] = text;
  for (const AddedToken& token : added_tokens_) {  // an added token's content wins over the vocabulary's
    token_texts_[token.id] = token.content;
    special_[token.id] = special_[token.id] || token.special;
    added_ids_.emplace(token.content, token.id);
  }
  for (const int32_t id : post_processor_.prefix)
    SHARDLM_CHECK(id >= 0 && id < vocab_size(), "the post-processor adds id {}, outside the vocabulary of {}", id, vocab_size());
  for (const int32_t id : post_processor_.suffix)
    SHARDLM_CHECK(id >= 0 && id < vocab_size(), "the post-processor adds id {}, outside the vocabulary of {}", id, vocab_size());
  SHARDLM_CHECK(bos_ < vocab_size() && eos_ < vocab_size(), "BOS {} / EOS {} outside the vocabulary of {}", bos_, eos_,
                vocab_size());

  // Normalized added tokens are matched as the normalizer spells them.
  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> raw_patterns, normalized_patterns;
  for (const AddedToken& token : added_tokens_) {
    if (token.normalized) {
      normalized.push_back(token);
      normalized_patterns.push_back(normalizer_ ? normalizer_->apply(token.content) : token.content);
    } else {
      raw.push_back(token);
      raw_patterns.push_back(token.content);
    }
  }
  raw_matcher_ = AddedTokenMatcher(raw, raw_patterns);
  normalized_matcher_ = AddedTokenMatcher(normalized, normalized_patterns);
}

void BpeTokenizer::encode_stretch(std::string_view text, bool at_start, std::vector<int32_t>& ids) const {
  const std::string normalized = normalizer_ ? normalizer_->apply(text) : std::string(text);
  for (const TextSegment& segment : normalized_matcher_.split(normalized)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    std::vector<Piece> pieces;
    pieces.push_back({normalized.substr(segment.begin, segment.end - segment.begin), at_start && segment.begin == 0});
    if (pre_tokenizer_) pre_tokenizer_->apply(pieces);
    for (const Piece& piece : pieces) model_->encode_word(piece.text, ids);
  }
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  return encode_literal(text, add_bos, {});
}

std::vector<int32_t> BpeTokenizer::encode_literal(std::string_view text, bool add_bos,
                                                  std::span<const TextRange> literal) const {
  auto in_literal = [&](const TextSegment& s) {
    return std::any_of(literal.begin(), literal.end(), [&](const TextRange& r) { return s.begin < r.end && r.begin < s.end; });
  };
  // A special token matched inside literal text stays text, joined to the text around it so that it
  // is encoded as one stretch, as if the token did not exist.
  std::vector<TextSegment> segments;
  for (TextSegment segment : raw_matcher_.split(text)) {
    if (segment.id >= 0 && is_special(segment.id) && in_literal(segment)) segment.id = -1;
    if (segment.id < 0 && !segments.empty() && segments.back().id < 0 && segments.back().end == segment.begin) {
      segments.back().end = segment.end;
    } else {
      segments.push_back(segment);
    }
  }
  std::vector<int32_t> ids;
  if (add_bos) ids = post_processor_.prefix;
  for (const TextSegment& segment : segments) {
    if (segment.id >= 0) ids.push_back(segment.id);
    else encode_stretch(text.substr(segment.begin, segment.end - segment.begin), segment.begin == 0, ids);
  }
  if (add_bos) ids.insert(ids.end(), post_processor_.suffix.begin(), post_processor_.suffix.end());
  return ids;
}

std::string BpeTokenizer::decode_piece(int32_t token, bool first) const {
  SHARDLM_CHECK(token >= 0 && token < vocab_size(), "token id {} is outside the vocabulary of {}", token, vocab_size());
  if (!decoder_) return first ? token_texts_[token] : " " + token_texts_[token];
  return decoder_->apply(token_texts_[token], first);
}

std::string BpeTokenizer::decode(int32_t previous, int32_t token) const {
  return decode_piece(token, previous < 0 || previous == bos_);
}

std::string BpeTokenizer::decode_all(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  bool first = true;
  for (const int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    out += decode_piece(id, first);
    first = false;
  }
  return out;
}

int32_t BpeTokenizer::token_id(std::string_view token) const {
  if (const auto found = added_ids_.find(token); found != added_ids_.end()) return found->second;
  return model_->token_id(token);
}

const std::string& BpeTokenizer::token_text(int32_t id) const {
  static const std::string none;
  return id >= 0 && id < vocab_size() ? token_texts_[id] : none;
}

bool BpeTokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && special_[id]; }

}  // namespace shardlm
