// Block tables for a paged KV cache that reuses prompt prefixes (as vLLM does). Pure bookkeeping:
// the K/V pools ([num_blocks][kv_heads_local][block_size][head_dim] per layer) live elsewhere and
// are indexed by these tables, the same on every rank. Every decision depends only on the sequence
// of calls (no addresses, no std::hash), so ranks replaying the same calls get the same tables.
//
// Every block is in exactly one state:
//  - free: holds nothing reusable;
//  - referenced: in the table of one or more sequences (ref_count = number of such tables);
//  - evictable: ref_count 0 but still cached under its prefix hash, on an LRU list.
// New blocks come from the free blocks first, then by evicting the least recently released cached one.
//
// Prefix reuse: a full block is cached under hash(parent hash, its block_size tokens), a chain over
// every token from the start of the sequence, so two blocks match only when the whole prefixes up to
// and including them are equal. Only full blocks are shared; a sequence writes to its own last,
// partial block only, so shared blocks are never written and no copy-on-write is needed.
//
// Rules the engine keeps:
//  - The cached count returned by allocate() covers whole blocks lying within the first len - 1
//    prompt tokens: the last prompt token is always computed so the model yields logits. A prompt of
//    exactly k full blocks reuses at most k - 1 of them.
//  - A block is cached as soon as its tokens are known (at allocate() for full prompt blocks, at the
//    append_token() that fills it), before the forward pass writes its K/V. So run prefills in the
//    order their sequences were allocated, or in one batch that writes each layer's new K/V before
//    attention reads it (the usual paged-attention order).
//  - append_token() only for a token the next forward pass computes: a finished sequence's final
//    sampled token has no K/V and must not be appended, or it could fill and publish a block with a
//    missing slot.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace shardlm {

struct BlockManagerStats {
  int64_t prompt_tokens = 0;  // tokens of all prompts given to allocate()
  int64_t cached_tokens = 0;  // of those, tokens found in the cache (not computed again)
  int64_t evictions = 0;      // cached blocks dropped to make room
};

class BlockManager {
 public:
  using BlockId = int32_t;  // int32: the form attention kernels read block tables in
  using SeqId = int64_t;

  // Throws when num_blocks or block_size is not positive, or num_blocks exceeds the int32 range.
  BlockManager(int64_t num_blocks, int64_t block_size, bool reuse_prefixes = true);

  // Whether allocate() would succeed now, counting blocks the prompt finds in the cache.
  bool can_allocate(std::span<const int32_t> prompt_tokens) const;
  // Builds seq_id's block table for its prompt; returns how many leading tokens are cached (a multiple
  // of block_size, below the prompt length). Throws, changing nothing, for an empty prompt, a seq_id
  // already allocated, or too few blocks (check can_allocate first).
  int64_t allocate(SeqId seq_id, std::span<const int32_t> prompt_tokens);
  // Whether append_token() would succeed now (it needs a block when the last one is full).
  bool can_append(SeqId seq_id) const;
  // Adds one token to the sequence; false, changing nothing, when it needs a block and none is left
  // (the scheduler then preempts someone). A block that becomes full is cached under its prefix hash.
  bool append_token(SeqId seq_id, int32_t token);
  // Releases the sequence's blocks. Cached ones stay reusable until evicted; the table is released
  // from its end so that a sequence's tail is evicted before its (more widely shared) head.
  void free(SeqId seq_id);
  // The same, for a sequence whose K/V exists only for its first computed_tokens tokens (preempted
  // mid-prefill, or with a fed-back token not yet computed): blocks reaching past them leave the
  // cache, so no later prompt can reuse slots that were never written.
  void free(SeqId seq_id, int64_t computed_tokens);

  bool contains(SeqId seq_id) const { return seqs_.contains(seq_id); }
  // Valid until the next call that changes this manager.
  std::span<const BlockId> block_table(SeqId seq_id) const;
  int64_t num_tokens(SeqId seq_id) const;
  int32_t ref_count(BlockId block) const;

  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t block_size() const { return block_size_; }
  int64_t blocks_for_tokens(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  int64_t num_free_blocks() const { return static_cast<int64_t>(free_.size()) + evictable_; }  // free + evictable
  int64_t num_cached_blocks() const { return static_cast<int64_t>(cache_.size()); }  // referenced or evictable
  int64_t num_sequences() const { return static_cast<int64_t>(seqs_.size()); }
  const BlockManagerStats& stats() const { return stats_; }

 private:
  static constexpr BlockId kNone = -1;
  bool reuse_prefixes_ = true;  // false: nothing is cached, every prompt is computed in full
  struct Block {
    int32_t ref_count = 0;
    bool cached = false;       // registered in cache_ under `hash`
    uint64_t hash = 0;
    uint64_t parent_hash = 0;  // with the tokens, checked on a hit so a hash collision is not a silent hit
    BlockId lru_prev = kNone, lru_next = kNone;  // links while evictable
  };
  struct Sequence {
    std::vector<BlockId> table;
    int64_t num_tokens = 0;
    uint64_t full_hash = 0;          // chain hash of the last full block (the root seed when none)
    std::vector<int32_t> partial;    // tokens of the last block while it is not full
  };
  struct PrefixMatch {
    std::vector<BlockId> hits;       // cached blocks for the leading full blocks
    std::vector<uint64_t> hashes;    // chain hash of every full block of the prompt
    int64_t evictable_hits = 0;      // hits that now sit on the LRU list (reusing them uses up free room)
  };

  PrefixMatch match_prefix(std::span<const int32_t> prompt_tokens) const;
  int64_t blocks_short(std::span<const int32_t> prompt_tokens, const PrefixMatch& match) const;
  const Sequence& sequence(SeqId seq_id) const;
  Sequence& sequence(SeqId seq_id);
  std::span<const int32_t> stored_tokens(BlockId block) const;
  BlockId take_block();
  void acquire(BlockId block);
  void release(BlockId block);
  void register_full(BlockId block, uint64_t parent_hash, uint64_t hash, std::span<const int32_t> tokens);
  void lru_push_back(BlockId block);
  void lru_remove(BlockId block);

  int64_t block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> tokens_;         // [num_blocks][block_size]: a cached block's tokens, for the hit check
  std::vector<BlockId> free_;           // a stack; initially hands out block 0 first
  BlockId lru_head_ = kNone, lru_tail_ = kNone;  // head = least recently released
  int64_t evictable_ = 0;
  std::unordered_map<uint64_t, BlockId> cache_;
  std::unordered_map<SeqId, Sequence> seqs_;
  BlockManagerStats stats_;
};

}  // namespace shardlm
