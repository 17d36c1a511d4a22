#include "runtime/tokenizer/sentencepiece_bpe.h"

#include <queue>

#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"

namespace shardlm {

SentencePieceBpe SentencePieceBpe::read_llama2c(const std::string& path, int64_t vocab_size) {
  auto file = MappedFile::open(path);
  ByteReader reader(*file);
  const int32_t max_token_length = reader.read<int32_t>("max_token_length");
  SHARDLM_CHECK(max_token_length > 0 && max_token_length <= 65536,
                "'{}' is not a llama2.c tokenizer: max_token_length {} is out of range", path, max_token_length);
  std::vector<std::string> pieces;
  std::vector<float> scores;
  pieces.reserve(vocab_size);
  for (int64_t id = 0; id < vocab_size; ++id) {
    SHARDLM_CHECK(reader.remaining() > 0, "'{}' is truncated: it holds {} pieces, the model's vocabulary has {}", path, id, vocab_size);
    scores.push_back(reader.read<float>("a piece score"));
    const int32_t length = reader.read<int32_t>("a piece length");
    SHARDLM_CHECK(length >= 0 && length <= max_token_length,
                  "'{}': piece {} has length {}, outside 0..{} (max_token_length)", path, id, length, max_token_length);
    const uint8_t* bytes = reader.take(length, "piece bytes");
    pieces.emplace_back(reinterpret_cast<const char*>(bytes), length);
  }
  SHARDLM_CHECK(reader.remaining() == 0, "'{}' has {} bytes after its {} pieces: wrong vocabulary size or not a tokenizer",
                path, reader.remaining(), vocab_size);
  return SentencePieceBpe(std::move(pieces), std::move(scores));
}

SentencePieceBpe::SentencePieceBpe(std::vector<std::string> pieces, std::vector<float> scores)
    : pieces_(std::move(pieces)), scores_(std::move(scores)) {
  SHARDLM_CHECK(pieces_.size() == scores_.size(), "{} pieces but {} scores", pieces_.size(), scores_.size());
  for (int32_t id = 0; id < static_cast<int32_t>(pieces_.size()); ++id) ids_.emplace(pieces_[id], id);  // first wins
  const int32_t byte_zero = lookup("<0x00>");
  if (byte_zero >= 0) byte_base_ = byte_zero;
  SHARDLM_CHECK(byte_base_ + 256 <= static_cast<int32_t>(pieces_.size()),
                "tokenizer of {} pieces has no room for the 256 byte pieces", pieces_.size());
}

int32_t SentencePieceBpe::lookup(std::string_view piece) const {
  const auto found = ids_.find(piece);
  return found == ids_.end() ? -1 : found->second;
}

std::vector<int32_t> SentencePieceBpe::encode(std::string_view text, bool add_bos) const {
  // Symbols: one per UTF-8 character, or per byte for characters that are not pieces. They form a
  // linked list so merges are O(1); a max-heap of candidate pairs, ordered by score then leftmost
  // position, reproduces the "best pair first" scan in O(n log n) instead of O(n^2).
  struct Symbol {
    int32_t id;
    size_t begin, end;  // bytes of the original text (with its dummy space) it covers
    int prev, next;
    bool alive;
  };
  std::string input;
  if (!text.empty()) input.append(1, ' ').append(text);  // SentencePiece's dummy prefix
  std::vector<Symbol> symbols;
  for (size_t at = 0; at < input.size();) {
    size_t length = 1;
    const auto lead = static_cast<uint8_t>(input[at]);
    if (lead >= 0xC0) length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    // A malformed sequence (truncated, or continuation bytes missing) falls back to single bytes.
    bool valid = at + length <= input.size();
    for (size_t i = 1; valid && i < length; ++i) valid = (static_cast<uint8_t>(input[at + i]) & 0xC0) == 0x80;
    if (!valid) length = 1;
    const int32_t id = lookup(std::string_view(input).substr(at, length));
    if (id >= 0) {
      symbols.push_back({id, at, at + length, 0, 0, true});
    } else {
      for (size_t i = 0; i < length; ++i)
        symbols.push_back({byte_base_ + static_cast<uint8_t>(input[at + i]), at + i, at + i + 1, 0, 0, true});
    }
    at += length;
  }
  const int count = static_cast<int>(symbols.size());
  for (int i = 0; i < count; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < count ? i + 1 : -1;
  }

  struct Candidate {
    float score;
    int left;
    int32_t merged;
    size_t left_end, right_end;  // detects a stale pair: either side changed since it was pushed
    bool operator<(const Candidate& other) const {
      return score != other.score ? score < other.score : left > other.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto push_pair = [&](int left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Symbol& a = symbols[left];
    const Symbol& b = symbols[a.next];
    const int32_t merged = lookup(std::string_view(input).substr(a.begin, b.end - a.begin));
    if (merged >= 0) queue.push({scores_[merged], left, merged, a.end, b.end});
  };
  for (int i = 0; i < count; ++i) push_pair(i);
  while (!queue.empty()) {
    const Candidate best = queue.top();
    queue.pop();
    Symbol& a = symbols[best.left];
    if (!a.alive || a.end != best.left_end || a.next < 0 || symbols[a.next].end != best.right_end) continue;
    Symbol& b = symbols[a.next];
    a.id = best.merged;
    a.end = b.end;
    b.alive = false;
    a.next = b.next;
    if (b.next >= 0) symbols[b.next].prev = best.left;
    push_pair(a.prev);
    push_pair(best.left);
  }

  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(bos());
  for (int i = count > 0 ? 0 : -1; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

std::string SentencePieceBpe::decode(int32_t previous, int32_t token) const {
  SHARDLM_CHECK(token >= 0 && token < vocab_size(), "token id {} is outside the vocabulary of {}", token, vocab_size());
  std::string_view piece = pieces_[token];
  if (previous == bos() && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
  if (token >= byte_base_ && token < byte_base_ + 256) return std::string(1, static_cast<char>(token - byte_base_));
  return std::string(piece);
}

}  // namespace shardlm
