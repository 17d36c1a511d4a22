#include "runtime/engine/block_manager.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// The parent hash of a sequence's first block.
constexpr uint64_t kRootHash = 0x6a09e667f3bcc908ull;

// SplitMix64's finalizer: every input bit affects every output bit.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Our own function rather than std::hash, whose values may differ between builds and so between ranks.
uint64_t block_hash(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ull);
  for (int32_t token : tokens) h = mix64(h + static_cast<uint32_t>(token) + 0x9e3779b97f4a7c15ull);
  return h;
}

}  // namespace

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool reuse_prefixes)
    : reuse_prefixes_(reuse_prefixes), block_size_(block_size) {
  SHARDLM_CHECK(num_blocks > 0, "block manager: the KV cache needs at least one block (got {})", num_blocks);
  SHARDLM_CHECK(num_blocks <= std::numeric_limits<BlockId>::max(),
                "block manager: {} blocks is more than block ids (int32) can name", num_blocks);
  SHARDLM_CHECK(block_size > 0, "block manager: block size must be at least one token (got {})", block_size);
  int64_t slots = 0;
  SHARDLM_CHECK(!__builtin_mul_overflow(num_blocks, block_size, &slots),
                "block manager: {} blocks x {} tokens overflows", num_blocks, block_size);
  blocks_.resize(static_cast<size_t>(num_blocks));
  tokens_.resize(static_cast<size_t>(slots));
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(static_cast<BlockId>(b));
}

BlockManager::PrefixMatch BlockManager::match_prefix(std::span<const int32_t> prompt) const {
  PrefixMatch match;
  const int64_t len = static_cast<int64_t>(prompt.size());
  const int64_t full_blocks = len / block_size_;
  const int64_t max_hits = len > 0 ? (len - 1) / block_size_ : 0;  // the last token is always computed
  bool matching = true;
  uint64_t parent = kRootHash;
  for (int64_t i = 0; i < full_blocks; ++i) {
    auto tokens = prompt.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    const uint64_t hash = block_hash(parent, tokens);
    match.hashes.push_back(hash);
    if (matching && i < max_hits) {
      auto it = cache_.find(hash);
      matching = it != cache_.end() && blocks_[it->second].parent_hash == parent &&
                 std::ranges::equal(stored_tokens(it->second), tokens);
      if (matching) {
        match.hits.push_back(it->second);
        if (blocks_[it->second].ref_count == 0) ++match.evictable_hits;
      }
    } else {
      matching = false;
    }
    parent = hash;
  }
  return match;
}

int64_t BlockManager::blocks_short(std::span<const int32_t> prompt, const PrefixMatch& match) const {
  const int64_t fresh = blocks_for_tokens(static_cast<int64_t>(prompt.size())) - static_cast<int64_t>(match.hits.size());
  // Hits on evictable blocks leave the LRU list, so they are no longer room for fresh blocks.
  const int64_t room = num_free_blocks() - match.evictable_hits;
  return std::max<int64_t>(0, fresh - room);
}

bool BlockManager::can_allocate(std::span<const int32_t> prompt_tokens) const {
  return !prompt_tokens.empty() && blocks_short(prompt_tokens, match_prefix(prompt_tokens)) == 0;
}

int64_t BlockManager::allocate(SeqId seq_id, std::span<const int32_t> prompt_tokens) {
  SHARDLM_CHECK(!prompt_tokens.empty(), "block manager: sequence {} has an empty prompt", seq_id);
  SHARDLM_CHECK(!seqs_.contains(seq_id), "block manager: sequence {} is already allocated", seq_id);
  const PrefixMatch match = match_prefix(prompt_tokens);
  const int64_t short_by = blocks_short(prompt_tokens, match);
  SHARDLM_CHECK(short_by == 0,
                "block manager: sequence {} needs {} more KV blocks than are free ({} free of {}); check can_allocate",
                seq_id, short_by, num_free_blocks(), num_blocks());

  Sequence seq;
  const int64_t len = static_cast<int64_t>(prompt_tokens.size());
  const int64_t total = blocks_for_tokens(len);
  const int64_t full = len / block_size_;
  seq.table.reserve(static_cast<size_t>(total));
  // Pin the hits before taking fresh blocks, so eviction cannot take a block this prompt is reusing.
  for (BlockId block : match.hits) {
    acquire(block);
    seq.table.push_back(block);
  }
  for (int64_t i = static_cast<int64_t>(match.hits.size()); i < total; ++i) {
    const BlockId block = take_block();
    blocks_[block].ref_count = 1;
    seq.table.push_back(block);
    if (i < full) {
      auto tokens = prompt_tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
      register_full(block, i == 0 ? kRootHash : match.hashes[i - 1], match.hashes[i], tokens);
    }
  }
  seq.num_tokens = len;
  seq.full_hash = full > 0 ? match.hashes.back() : kRootHash;
  seq.partial.assign(prompt_tokens.begin() + full * block_size_, prompt_tokens.end());
  seqs_.emplace(seq_id, std::move(seq));

  const int64_t cached = static_cast<int64_t>(match.hits.size()) * block_size_;
  stats_.prompt_tokens += len;
  stats_.cached_tokens += cached;
  return cached;
}

bool BlockManager::can_append(SeqId seq_id) const {
  return sequence(seq_id).num_tokens % block_size_ != 0 || num_free_blocks() > 0;
}

bool BlockManager::append_token(SeqId seq_id, int32_t token) {
  Sequence& seq = sequence(seq_id);
  if (seq.num_tokens % block_size_ == 0) {
    if (num_free_blocks() == 0) return false;
    const BlockId block = take_block();
    blocks_[block].ref_count = 1;
    seq.table.push_back(block);
  }
  // Only full blocks are shared or cached, so the block written here is this sequence's alone.
  const Block& last = blocks_[seq.table.back()];
  SHARDLM_CHECK(last.ref_count == 1 && !last.cached,
                "block manager: sequence {} would write block {} (ref count {}, cached {}), which is shared", seq_id,
                seq.table.back(), last.ref_count, last.cached);
  seq.partial.push_back(token);
  ++seq.num_tokens;
  if (static_cast<int64_t>(seq.partial.size()) == block_size_) {
    const uint64_t hash = block_hash(seq.full_hash, seq.partial);
    register_full(seq.table.back(), seq.full_hash, hash, seq.partial);
    seq.full_hash = hash;
    seq.partial.clear();
  }
  return true;
}

void BlockManager::free(SeqId seq_id) {
  auto it = seqs_.find(seq_id);
  SHARDLM_CHECK(it != seqs_.end(), "block manager: no sequence {} to free", seq_id);
  const auto& table = it->second.table;
  for (auto block = table.rbegin(); block != table.rend(); ++block) release(*block);
  seqs_.erase(it);
}

void BlockManager::free(SeqId seq_id, int64_t computed_tokens) {
  const auto& table = sequence(seq_id).table;
  for (size_t i = 0; i < table.size(); ++i) {
    Block& b = blocks_[table[i]];
    if (static_cast<int64_t>(i + 1) * block_size_ <= computed_tokens || !b.cached) continue;
    SHARDLM_CHECK(b.ref_count == 1, "block manager: block {} is shared before its K/V is computed", table[i]);
    cache_.erase(b.hash);
    b.cached = false;
  }
  free(seq_id);
}

std::span<const BlockManager::BlockId> BlockManager::block_table(SeqId seq_id) const { return sequence(seq_id).table; }

int64_t BlockManager::num_tokens(SeqId seq_id) const { return sequence(seq_id).num_tokens; }

int32_t BlockManager::ref_count(BlockId block) const {
  SHARDLM_CHECK(block >= 0 && block < num_blocks(), "block manager: block {} is not in 0..{}", block,
                num_blocks() - 1);
  return blocks_[block].ref_count;
}

const BlockManager::Sequence& BlockManager::sequence(SeqId seq_id) const {
  auto it = seqs_.find(seq_id);
  SHARDLM_CHECK(it != seqs_.end(), "block manager: no sequence {}", seq_id);
  return it->second;
}

BlockManager::Sequence& BlockManager::sequence(SeqId seq_id) {
  return const_cast<Sequence&>(std::as_const(*this).sequence(seq_id));
}

std::span<const int32_t> BlockManager::stored_tokens(BlockId block) const {
  return std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(block * block_size_),
                                                  static_cast<size_t>(block_size_));
}

BlockManager::BlockId BlockManager::take_block() {
  if (!free_.empty()) {
    const BlockId block = free_.back();
    free_.pop_back();
    return block;
  }
  const BlockId block = lru_head_;
  SHARDLM_CHECK(block != kNone, "block manager: no free or evictable KV block left");
  lru_remove(block);
  cache_.erase(blocks_[block].hash);
  blocks_[block].cached = false;
  ++stats_.evictions;
  return block;
}

void BlockManager::acquire(BlockId block) {
  if (blocks_[block].ref_count == 0) lru_remove(block);
  ++blocks_[block].ref_count;
}

void BlockManager::release(BlockId block) {
  Block& b = blocks_[block];
  if (--b.ref_count > 0) return;
  if (b.cached) {
    lru_push_back(block);
  } else {
    free_.push_back(block);
  }
}

void BlockManager::register_full(BlockId block, uint64_t parent_hash, uint64_t hash, std::span<const int32_t> tokens) {
  if (!reuse_prefixes_) return;
  // Another block already holds this prefix (a prompt of whole blocks recomputes its last one, or two
  // sequences generated the same text): keep that one; this block stays uncached and is freed outright.
  if (!cache_.emplace(hash, block).second) return;
  Block& b = blocks_[block];
  b.cached = true;
  b.hash = hash;
  b.parent_hash = parent_hash;
  std::ranges::copy(tokens, tokens_.begin() + block * block_size_);
}

void BlockManager::lru_push_back(BlockId block) {
  Block& b = blocks_[block];
  b.lru_prev = lru_tail_;
  b.lru_next = kNone;
  if (lru_tail_ != kNone) {
    blocks_[lru_tail_].lru_next = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
  ++evictable_;
}

void BlockManager::lru_remove(BlockId block) {
  Block& b = blocks_[block];
  if (b.lru_prev != kNone) {
    blocks_[b.lru_prev].lru_next = b.lru_next;
  } else {
    lru_head_ = b.lru_next;
  }
  if (b.lru_next != kNone) {
    blocks_[b.lru_next].lru_prev = b.lru_prev;
  } else {
    lru_tail_ = b.lru_prev;
  }
  b.lru_prev = b.lru_next = kNone;
  --evictable_;
}

}  // namespace shardlm
