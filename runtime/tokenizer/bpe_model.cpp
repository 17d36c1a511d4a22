#include "runtime/tokenizer/bpe_model.h"

#include <queue>

#include "runtime/core/check.h"
#include "runtime/tokenizer/unicode.h"

namespace shardlm {

BpeModel::BpeModel(TokenIds vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
                   const std::string& origin)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  const size_t prefix_length = options_.continuing_subword_prefix.size();
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int32_t left_id = token_id(left);
    const int32_t right_id = token_id(right);
    SHARDLM_CHECK(left_id >= 0, "{}[{}] ('{} {}'): '{}' is not in the vocabulary", origin, rank, left, right, left);
    SHARDLM_CHECK(right_id >= 0, "{}[{}] ('{} {}'): '{}' is not in the vocabulary", origin, rank, left, right, right);
    // With a continuing-subword prefix the right part carries it, and the merged token does not.
    SHARDLM_CHECK(right.size() >= prefix_length, "{}[{}] ('{} {}'): '{}' is shorter than the continuing_subword_prefix",
                  origin, rank, left, right, right);
    const std::string merged = left + right.substr(prefix_length);
    const int32_t merged_id = token_id(merged);
    SHARDLM_CHECK(merged_id >= 0, "{}[{}] ('{} {}'): the merged token '{}' is not in the vocabulary", origin, rank, left,
                  right, merged);
    merges_[pair_key(left_id, right_id)] = {static_cast<uint32_t>(rank), merged_id};  // a repeated pair: the last wins
  }
  if (options_.unk_token) {
    unk_id_ = token_id(*options_.unk_token);
    SHARDLM_CHECK(unk_id_ >= 0, "{}: unk_token '{}' is not in the vocabulary", origin, *options_.unk_token);
  }
  for (int b = 0; b < 256; ++b) byte_ids_[b] = token_id(fmt::format("<0x{:02X}>", b));
}

int32_t BpeModel::token_id(std::string_view token) const {
  const auto found = vocab_.find(token);
  return found == vocab_.end() ? -1 : found->second;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const auto found = merges_.find(pair_key(left, right));
  return found == merges_.end() ? nullptr : &found->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const int32_t id = token_id(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }

  // Symbols in word order; merging folds the right symbol into the left and marks it removed (length
  // 0). prev/next link the live ones.
  struct Symbol {
    int32_t id;
    int prev, next;
    size_t length;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&](int32_t id, size_t length) {
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({id, index - 1, -1, length});
    if (index > 0) symbols[index - 1].next = index;
  };

  int32_t pending_unk = -1;  // an unk token not yet added, and the bytes it covers
  size_t pending_unk_length = 0;
  const auto flush_unk = [&] {
    if (pending_unk >= 0) add(pending_unk, pending_unk_length);
    pending_unk = -1;
  };
  std::string spelled;
  for (size_t at = 0; at < word.size();) {
    const size_t length = utf8_decode(word, at).length;
    const bool first = at == 0, last = at + length == word.size();
    spelled.clear();
    if (!first) spelled += options_.continuing_subword_prefix;
    spelled.append(word.substr(at, length));
    if (last) spelled += options_.end_of_word_suffix;
    at += length;

    if (const int32_t id = token_id(spelled); id >= 0) {
      flush_unk();
      add(id, length);
      continue;
    }
    if (options_.byte_fallback) {
      // As tokenizers does, byte tokens go in without flushing a pending unk first.
      bool all_bytes = true;
      for (const char b : spelled) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(b)] >= 0;
      if (all_bytes) {
        for (const char b : spelled) add(byte_ids_[static_cast<uint8_t>(b)], 1);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk >= 0 && options_.fuse_unk) {
        pending_unk_length += length;
      } else {
        flush_unk();
        pending_unk = unk_id_;
        pending_unk_length = length;
      }
    }
  }
  flush_unk();

  // Candidate merges: lowest rank first, then leftmost. An entry goes stale when either side has
  // changed since it was pushed; it is skipped unless the pair now there merges into the same token.
  struct Candidate {
    uint32_t rank;
    int position;
    int32_t merged;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push = [&](int left) {
    const int right = symbols[left].next;
    if (right < 0) return;
    if (const Merge* merge = find_merge(symbols[left].id, symbols[right].id))
      queue.push({merge->rank, left, merge->merged});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) push(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const Merge* current = find_merge(left.id, right.id);
    if (current == nullptr || current->merged != top.merged) continue;
    left.id = top.merged;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.position;
    if (left.prev >= 0) push(left.prev);
    push(top.position);
  }
  for (const Symbol& symbol : symbols)
    if (symbol.length != 0) out.push_back(symbol.id);
}

}  // namespace shardlm
