// The KV block manager: prefix sharing, eviction order, running out of blocks, and a random workload
// checked step by step against a brute-force model of the same rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/engine/block_manager.h"

namespace shardlm {
namespace {

using Tokens = std::vector<int32_t>;
using Table = std::vector<BlockManager::BlockId>;

Table table_of(const BlockManager& bm, int64_t seq) {
  auto t = bm.block_table(seq);
  return Table(t.begin(), t.end());
}

Tokens concat(Tokens a, const Tokens& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(BlockManager, SequencesWithTheSameSystemPromptShareItsFullBlocks) {
  BlockManager bm(16, 4);
  const Tokens system = {10, 11, 12, 13, 14, 15, 16, 17};  // two full blocks
  EXPECT_EQ(bm.allocate(1, concat(system, {1, 2, 3})), 0);
  EXPECT_EQ(bm.allocate(2, concat(system, {4, 5, 6, 7, 8})), 8);
  const Table a = table_of(bm, 1), b = table_of(bm, 2);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);
  EXPECT_EQ(bm.ref_count(a[0]), 2);
  EXPECT_EQ(bm.ref_count(a[1]), 2);
  EXPECT_EQ(bm.ref_count(a[2]), 1);
  EXPECT_EQ(bm.num_free_blocks(), 16 - 5);
  EXPECT_EQ(bm.stats().prompt_tokens, 11 + 13);
  EXPECT_EQ(bm.stats().cached_tokens, 8);

  bm.free(1);
  EXPECT_EQ(bm.ref_count(a[0]), 1);
  EXPECT_EQ(bm.ref_count(a[2]), 0);
  bm.free(2);
  EXPECT_EQ(bm.num_free_blocks(), 16);
}

TEST(BlockManager, SecondChatRoundReusesTheFirstRoundAfterItIsFreed) {
  BlockManager bm(16, 4);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const Tokens answer = {20, 21, 22, 23, 24, 25, 26};
  ASSERT_EQ(bm.allocate(1, prompt), 0);
  for (int32_t t : answer) ASSERT_TRUE(bm.append_token(1, t));
  EXPECT_EQ(bm.num_tokens(1), 17);
  const Table first = table_of(bm, 1);  // 4 full blocks and one holding a single token
  ASSERT_EQ(first.size(), 5u);
  bm.free(1);
  EXPECT_EQ(bm.num_cached_blocks(), 4);
  EXPECT_EQ(bm.num_free_blocks(), 16);

  const Tokens second = concat(concat(prompt, answer), {30, 31, 32, 33, 34});
  EXPECT_EQ(bm.allocate(2, second), 16);
  const Table again = table_of(bm, 2);
  ASSERT_EQ(again.size(), 6u);
  EXPECT_TRUE(std::equal(first.begin(), first.begin() + 4, again.begin()));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bm.ref_count(again[i]), 1);
}

TEST(BlockManager, AnIdenticalBlockAfterDifferentPrefixesIsNotShared) {
  BlockManager bm(16, 4);
  const Tokens a = {1, 2, 3, 4, 9, 9, 9, 9, 5};
  const Tokens b = {5, 6, 7, 8, 9, 9, 9, 9, 5};  // same second block, different first block
  ASSERT_EQ(bm.allocate(1, a), 0);
  EXPECT_EQ(bm.allocate(2, b), 0);
  EXPECT_NE(table_of(bm, 1)[1], table_of(bm, 2)[1]);
  EXPECT_EQ(bm.ref_count(table_of(bm, 1)[1]), 1);
  EXPECT_EQ(bm.num_cached_blocks(), 4);
  // The same whole prefix does match.
  EXPECT_EQ(bm.allocate(3, a), 8);
}

TEST(BlockManager, APromptOfWholeBlocksStillComputesItsLastToken) {
  // Rule: hits cover whole blocks within the first len - 1 tokens, so a fully cached prompt of k
  // blocks reuses k - 1 and recomputes the last block (at least the last token must give logits).
  BlockManager bm(8, 4);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_EQ(bm.allocate(1, prompt), 0);
  EXPECT_EQ(bm.num_cached_blocks(), 2);
  EXPECT_EQ(bm.allocate(2, prompt), 4);
  const Table a = table_of(bm, 1), b = table_of(bm, 2);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_NE(a[1], b[1]);
  // The recomputed copy is not cached a second time; freed, it goes straight back to the free blocks.
  EXPECT_EQ(bm.num_cached_blocks(), 2);
  bm.free(2);
  EXPECT_EQ(bm.num_cached_blocks(), 2);
  EXPECT_EQ(bm.num_free_blocks(), 8 - 2);

  // One token more and both blocks are reused; a single block or a single token reuses nothing.
  EXPECT_EQ(bm.allocate(3, concat(prompt, {9})), 8);
  EXPECT_EQ(bm.allocate(4, Tokens{1, 2, 3, 4}), 0);
  EXPECT_EQ(bm.allocate(5, Tokens{1}), 0);
  // The sequence whose last block is a recomputed copy still appends into a block of its own.
  ASSERT_TRUE(bm.append_token(4, 42));
  EXPECT_EQ(table_of(bm, 4).size(), 2u);
  EXPECT_EQ(bm.ref_count(table_of(bm, 4)[1]), 1);
}

TEST(BlockManager, BlockSizeOneReusesAllButTheLastToken) {
  BlockManager bm(8, 1);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2, 3}), 0);
  EXPECT_EQ(bm.allocate(2, Tokens{1, 2, 3}), 2);
  EXPECT_EQ(bm.allocate(3, Tokens{1, 2, 4, 5}), 2);
}

TEST(BlockManager, AppendedTokensThatFillABlockBecomeReusable) {
  BlockManager bm(8, 4);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2, 3}), 0);
  EXPECT_EQ(bm.num_cached_blocks(), 0);
  ASSERT_TRUE(bm.append_token(1, 4));
  EXPECT_EQ(bm.num_cached_blocks(), 1);
  EXPECT_EQ(table_of(bm, 1).size(), 1u);
  ASSERT_TRUE(bm.append_token(1, 5));  // the first token of a second block
  EXPECT_EQ(table_of(bm, 1).size(), 2u);
  EXPECT_EQ(bm.allocate(2, Tokens{1, 2, 3, 4, 7}), 4);
  EXPECT_EQ(table_of(bm, 2)[0], table_of(bm, 1)[0]);
}

TEST(BlockManager, EvictsTheLeastRecentlyReleasedCachedBlock) {
  BlockManager bm(5, 2);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2}), 0);  // block 0, cached
  ASSERT_EQ(bm.allocate(2, Tokens{3, 4}), 0);  // block 1, cached
  const auto a = table_of(bm, 1)[0], b = table_of(bm, 2)[0];
  bm.free(1);
  bm.free(2);  // LRU: a, then b
  EXPECT_EQ(bm.num_free_blocks(), 5);

  // Never-used blocks go first: no eviction yet.
  ASSERT_EQ(bm.allocate(3, Tokens{5, 6, 7, 8, 9, 10}), 0);
  EXPECT_EQ(bm.stats().evictions, 0);
  // Then the least recently released cached block.
  ASSERT_EQ(bm.allocate(4, Tokens{11, 12}), 0);
  EXPECT_EQ(table_of(bm, 4), Table{a});
  EXPECT_EQ(bm.stats().evictions, 1);

  // Reusing b takes it off the LRU list, so it is no longer room for the prompt's fresh block.
  EXPECT_EQ(bm.num_free_blocks(), 1);
  EXPECT_FALSE(bm.can_allocate(Tokens{3, 4, 13}));
  EXPECT_TRUE(bm.can_allocate(Tokens{3, 4}));  // no hit possible: its one fresh block may evict b

  bm.free(4);  // LRU: b, then block a (now holding {11, 12})
  EXPECT_EQ(bm.allocate(6, Tokens{3, 4, 13}), 2);
  // b was pinned before the fresh block was taken, so the eviction took the next one.
  EXPECT_EQ(table_of(bm, 6), (Table{b, a}));
  EXPECT_EQ(bm.stats().evictions, 2);
  bm.free(3);
  EXPECT_EQ(bm.allocate(7, Tokens{1, 2, 13}), 0);  // a's prefix was evicted
}

TEST(BlockManager, FreeingReleasesTheTailFirst) {
  // A sequence's head is the part other prompts share; its tail should be evicted before it.
  BlockManager bm(3, 2);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2, 3, 4, 5}), 0);
  const Table s = table_of(bm, 1);
  bm.free(1);  // the partial block is freed outright; the two full ones are cached
  ASSERT_EQ(bm.allocate(2, Tokens{7, 8, 9, 10}), 0);
  EXPECT_EQ(table_of(bm, 2), (Table{s[2], s[1]}));
  EXPECT_FALSE(bm.can_allocate(Tokens{1, 2, 6}));  // no room left...
  bm.free(2);
  EXPECT_EQ(bm.allocate(4, Tokens{1, 2, 6}), 2);  // ...but the head block survived
  EXPECT_EQ(table_of(bm, 4)[0], s[0]);
}

TEST(BlockManager, RecentReuseProtectsABlockFromEviction) {
  BlockManager bm(3, 2);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2}), 0);
  ASSERT_EQ(bm.allocate(2, Tokens{3, 4}), 0);
  bm.free(1);
  bm.free(2);  // LRU: {1,2}, {3,4}; one block never used
  ASSERT_EQ(bm.allocate(3, Tokens{1, 2, 9}), 2);
  bm.free(3);  // {1,2} used again: LRU {3,4}, {1,2} (the partial block went back to the free list)
  ASSERT_EQ(bm.allocate(4, Tokens{5, 6}), 0);  // takes the free block
  ASSERT_EQ(bm.allocate(5, Tokens{7, 8}), 0);  // evicts {3,4}
  EXPECT_EQ(bm.stats().evictions, 1);
  bm.free(4);
  bm.free(5);
  EXPECT_EQ(bm.allocate(6, Tokens{1, 2, 9}), 2);
}

TEST(BlockManager, RunningOutOfBlocks) {
  BlockManager bm(2, 2);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2, 3}), 0);
  EXPECT_TRUE(bm.can_append(1));
  ASSERT_TRUE(bm.append_token(1, 4));  // fills the second block
  EXPECT_EQ(bm.num_free_blocks(), 0);
  EXPECT_FALSE(bm.can_append(1));
  EXPECT_FALSE(bm.append_token(1, 5));  // nothing changes
  EXPECT_EQ(bm.num_tokens(1), 4);
  EXPECT_EQ(table_of(bm, 1).size(), 2u);

  EXPECT_FALSE(bm.can_allocate(Tokens{9}));
  const std::string message = error_of([&] { bm.allocate(2, Tokens{9}); });
  EXPECT_NE(message.find("sequence 2 needs 1 more KV blocks"), std::string::npos) << message;
  EXPECT_FALSE(bm.contains(2));
  EXPECT_EQ(bm.num_sequences(), 1);

  // Preempting the sequence makes room again.
  bm.free(1);
  EXPECT_TRUE(bm.can_allocate(Tokens{9}));
  EXPECT_EQ(bm.allocate(2, Tokens{9}), 0);
}

TEST(BlockManager, FreeThenReuse) {
  BlockManager bm(4, 4);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(bm.allocate(7, Tokens{100 + round, 1, 2, 3, 4, 5}), 0) << round;
    EXPECT_EQ(bm.num_free_blocks(), 2);
    bm.free(7);
    EXPECT_FALSE(bm.contains(7));
    EXPECT_EQ(bm.num_free_blocks(), 4);
  }
  // Three distinct first blocks were cached; a fourth prompt evicts the oldest of them.
  EXPECT_EQ(bm.num_cached_blocks(), 3);
  ASSERT_EQ(bm.allocate(8, Tokens{1, 1, 1, 1, 1}), 0);
  EXPECT_EQ(bm.stats().evictions, 1);
  // The most recently released prompt is still there; its fresh block evicts the next oldest.
  EXPECT_EQ(bm.allocate(9, Tokens{102, 1, 2, 3, 9}), 4);
  EXPECT_EQ(bm.stats().evictions, 2);
}

TEST(BlockManager, ErrorsNameTheProblem) {
  EXPECT_NE(error_of([] { BlockManager(0, 16); }).find("at least one block"), std::string::npos);
  EXPECT_NE(error_of([] { BlockManager(8, 0); }).find("block size"), std::string::npos);
  EXPECT_NE(error_of([] { BlockManager(int64_t{1} << 40, 16); }).find("int32"), std::string::npos);

  BlockManager bm(4, 4);
  ASSERT_EQ(bm.allocate(1, Tokens{1, 2}), 0);
  EXPECT_NE(error_of([&] { bm.allocate(1, Tokens{3}); }).find("sequence 1 is already allocated"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.allocate(2, Tokens{}); }).find("empty prompt"), std::string::npos);
  EXPECT_FALSE(bm.can_allocate(Tokens{}));
  EXPECT_NE(error_of([&] { bm.append_token(5, 1); }).find("no sequence 5"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.free(5); }).find("no sequence 5"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.block_table(5); }).find("no sequence 5"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.num_tokens(5); }).find("no sequence 5"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.can_append(5); }).find("no sequence 5"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.ref_count(4); }).find("block 4 is not in 0..3"), std::string::npos);
  EXPECT_NE(error_of([&] { bm.ref_count(-1); }).find("block -1"), std::string::npos);
  // Failed calls changed nothing.
  EXPECT_EQ(bm.num_sequences(), 1);
  EXPECT_EQ(bm.num_free_blocks(), 3);
}

// ---- Random workload against a brute-force model ----------------------------------------------
//
// The model keeps whole token prefixes (no hashing), finds the least recently released block by a
// scan, and checks each block the manager hands out is one the rules allow: any free block while
// one exists, otherwise exactly the LRU cached one. A shadow K/V pool stands in for the engine's: each
// computed slot holds a fingerprint of the prefix up to that position, so reading a sequence back
// through its table proves shared blocks hold what that sequence would have computed.

struct ModelBlock {
  int ref = 0;
  bool cached = false;
  Tokens prefix;          // every token from the start of the sequence through this block, when cached
  uint64_t released = 0;  // when it last became evictable
};

struct ModelSeq {
  Tokens tokens;
  Table table;
};

uint64_t fingerprint(const Tokens& tokens, size_t end) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < end; ++i) h = (h ^ static_cast<uint32_t>(tokens[i] + 7)) * 1099511628211ull;
  return h;
}

class Reference {
 public:
  Reference(int64_t num_blocks, int64_t block_size)
      : bs_(block_size), blocks_(num_blocks), shadow_(num_blocks * block_size, 0) {}

  int64_t evictions = 0, cached_tokens = 0, append_failures = 0, allocate_refusals = 0;
  std::map<int64_t, ModelSeq> seqs;

  int64_t free_count() const {
    return std::count_if(blocks_.begin(), blocks_.end(), [](const ModelBlock& b) { return b.ref == 0 && !b.cached; });
  }
  int64_t unreferenced() const {
    return std::count_if(blocks_.begin(), blocks_.end(), [](const ModelBlock& b) { return b.ref == 0; });
  }
  int64_t cached_count() const { return static_cast<int64_t>(cache_.size()); }

  Table hits(const Tokens& prompt) const {
    Table out;
    const int64_t max_hits = (static_cast<int64_t>(prompt.size()) - 1) / bs_;
    for (int64_t i = 0; i < max_hits; ++i) {
      auto it = cache_.find(Tokens(prompt.begin(), prompt.begin() + (i + 1) * bs_));
      if (it == cache_.end()) break;
      out.push_back(it->second);
    }
    return out;
  }

  bool can_allocate(const Tokens& prompt) const {
    const Table h = hits(prompt);
    const int64_t evictable_hits = std::count_if(h.begin(), h.end(), [&](int b) { return blocks_[b].ref == 0; });
    const int64_t fresh = (static_cast<int64_t>(prompt.size()) + bs_ - 1) / bs_ - static_cast<int64_t>(h.size());
    return fresh <= unreferenced() - evictable_hits;
  }

  // Replays a successful allocate, checking the manager's answer and table.
  void allocate(int64_t id, const Tokens& prompt, int64_t cached, const Table& table) {
    const Table h = hits(prompt);
    ASSERT_EQ(cached, static_cast<int64_t>(h.size()) * bs_);
    ASSERT_EQ(table.size(), static_cast<size_t>((prompt.size() + bs_ - 1) / bs_));
    ASSERT_TRUE(std::equal(h.begin(), h.end(), table.begin()));
    for (int b : h) ++blocks_[b].ref;
    for (size_t i = h.size(); i < table.size(); ++i) {
      take(table[i]);
      if (static_cast<int64_t>((i + 1) * bs_) <= static_cast<int64_t>(prompt.size())) {
        register_full(table[i], Tokens(prompt.begin(), prompt.begin() + (i + 1) * bs_));
      }
    }
    seqs[id] = ModelSeq{prompt, table};
    for (size_t pos = cached; pos < prompt.size(); ++pos) write(seqs[id], pos);
    cached_tokens += cached;
  }

  bool append_possible(int64_t id) const {
    return seqs.at(id).tokens.size() % bs_ != 0 || unreferenced() > 0;
  }

  void append(int64_t id, int32_t token, const Table& table) {
    ModelSeq& s = seqs.at(id);
    if (s.tokens.size() % bs_ == 0) {
      ASSERT_EQ(table.size(), s.table.size() + 1);
      take(table.back());
      s.table.push_back(table.back());
    }
    ASSERT_EQ(table, s.table);
    s.tokens.push_back(token);
    write(s, s.tokens.size() - 1);
    if (s.tokens.size() % bs_ == 0) register_full(s.table.back(), s.tokens);
  }

  void free(int64_t id) {
    const ModelSeq& s = seqs.at(id);
    for (auto b = s.table.rbegin(); b != s.table.rend(); ++b) {
      if (--blocks_[*b].ref == 0) blocks_[*b].released = ++clock_;
    }
    seqs.erase(id);
  }

  void check(const BlockManager& bm) const {
    ASSERT_EQ(bm.num_sequences(), static_cast<int64_t>(seqs.size()));
    std::vector<int> in_tables(blocks_.size(), 0);
    for (const auto& [id, s] : seqs) {
      ASSERT_EQ(table_of(bm, id), s.table) << "sequence " << id;
      ASSERT_EQ(bm.num_tokens(id), static_cast<int64_t>(s.tokens.size()));
      ASSERT_EQ(s.table.size(), (s.tokens.size() + bs_ - 1) / bs_);
      for (int b : s.table) ++in_tables[b];
      for (size_t pos = 0; pos < s.tokens.size(); ++pos) {
        ASSERT_EQ(shadow_[s.table[pos / bs_] * bs_ + pos % bs_], fingerprint(s.tokens, pos + 1))
            << "sequence " << id << " reads a wrong K/V at position " << pos;
      }
    }
    for (size_t b = 0; b < blocks_.size(); ++b) {
      ASSERT_EQ(bm.ref_count(static_cast<int>(b)), in_tables[b]) << "block " << b;
      ASSERT_EQ(blocks_[b].ref, in_tables[b]) << "block " << b;
    }
    // Each block is exactly one of free, evictable, referenced.
    const int64_t referenced = std::count_if(in_tables.begin(), in_tables.end(), [](int n) { return n > 0; });
    ASSERT_EQ(bm.num_free_blocks(), bm.num_blocks() - referenced);
    ASSERT_EQ(bm.num_free_blocks(), unreferenced());
    ASSERT_EQ(bm.num_cached_blocks(), cached_count());
    ASSERT_EQ(bm.stats().evictions, evictions);
    ASSERT_EQ(bm.stats().cached_tokens, cached_tokens);
  }

 private:
  // The manager chose `got` for a fresh block: it must be a free one if any exist, else the LRU one.
  void take(int got) {
    ModelBlock& b = blocks_[got];
    ASSERT_EQ(b.ref, 0) << "block " << got << " is referenced";
    if (free_count() > 0) {
      ASSERT_FALSE(b.cached) << "evicted block " << got << " while free blocks remain";
    } else {
      int oldest = -1;
      for (size_t i = 0; i < blocks_.size(); ++i) {
        if (blocks_[i].ref == 0 && blocks_[i].cached && (oldest < 0 || blocks_[i].released < blocks_[oldest].released))
          oldest = static_cast<int>(i);
      }
      ASSERT_EQ(got, oldest) << "not the least recently released block";
      cache_.erase(b.prefix);
      b.cached = false;
      b.prefix.clear();
      ++evictions;
    }
    b.ref = 1;
  }

  void register_full(int block, Tokens prefix) {
    if (cache_.contains(prefix)) return;  // an equal block is already cached
    blocks_[block].cached = true;
    blocks_[block].prefix = prefix;
    cache_.emplace(std::move(prefix), block);
  }

  void write(const ModelSeq& s, size_t pos) {
    ASSERT_EQ(blocks_[s.table[pos / bs_]].ref, 1) << "computing into a shared block";
    shadow_[s.table[pos / bs_] * bs_ + pos % bs_] = fingerprint(s.tokens, pos + 1);
  }

  int64_t bs_;
  std::vector<ModelBlock> blocks_;
  std::map<Tokens, int> cache_;
  std::vector<uint64_t> shadow_;
  uint64_t clock_ = 0;
};

void run_random_workload(int64_t num_blocks, int64_t bs, uint64_t seed, int steps) {
  SCOPED_TRACE("num_blocks " + std::to_string(num_blocks) + ", block_size " + std::to_string(bs));
  std::mt19937_64 rng(seed);
  auto below = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
  // A vocabulary of three tokens makes equal blocks after different prefixes common.
  auto random_tokens = [&](int64_t n) {
    Tokens t;
    for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>(below(3)));
    return t;
  };
  const std::vector<Tokens> systems = {random_tokens(bs + 1), random_tokens(2 * bs), random_tokens(3 * bs - 1)};
  std::vector<Tokens> finished;  // conversations to continue, as a second chat round would

  BlockManager bm(num_blocks, bs);
  Reference ref(num_blocks, bs);
  int64_t next_id = 0;
  auto random_live = [&] {
    auto it = ref.seqs.begin();
    std::advance(it, below(static_cast<int64_t>(ref.seqs.size())));
    return it->first;
  };

  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const int64_t op = below(10);
    if (op < 3 && ref.seqs.size() < 8) {
      Tokens prompt;
      const int64_t kind = below(4);
      if (kind < 2) {
        prompt = concat(systems[below(3)], random_tokens(below(2 * bs)));
      } else if (kind == 2 && !finished.empty()) {
        prompt = concat(finished[below(static_cast<int64_t>(finished.size()))], random_tokens(1 + below(bs)));
      } else {
        prompt = random_tokens(1 + below(3 * bs));
      }
      const bool expected = ref.can_allocate(prompt);
      ASSERT_EQ(bm.can_allocate(prompt), expected);
      const int64_t id = next_id++;
      if (expected) {
        const int64_t cached = bm.allocate(id, prompt);
        ASSERT_NO_FATAL_FAILURE(ref.allocate(id, prompt, cached, table_of(bm, id)));
      } else {
        ASSERT_THROW(bm.allocate(id, prompt), Error);
        ++ref.allocate_refusals;
      }
    } else if (op < 8 && !ref.seqs.empty()) {
      const int64_t id = random_live();
      const int32_t token = static_cast<int32_t>(below(3));
      const bool expected = ref.append_possible(id);
      ASSERT_EQ(bm.can_append(id), expected);
      ASSERT_EQ(bm.append_token(id, token), expected);
      if (expected) {
        ASSERT_NO_FATAL_FAILURE(ref.append(id, token, table_of(bm, id)));
      } else {
        // Out of blocks: the scheduler preempts a sequence.
        ++ref.append_failures;
        const int64_t victim = random_live();
        bm.free(victim);
        ref.free(victim);
      }
    } else if (!ref.seqs.empty()) {
      const int64_t id = random_live();
      if (finished.size() < 6) {
        finished.push_back(ref.seqs.at(id).tokens);
      } else {
        finished[below(6)] = ref.seqs.at(id).tokens;
      }
      bm.free(id);
      ref.free(id);
    }
    ASSERT_NO_FATAL_FAILURE(ref.check(bm));
  }
  // The workload reached every path it is meant to test.
  EXPECT_GT(ref.cached_tokens, 0);
  EXPECT_GT(ref.evictions, 0);
  EXPECT_GT(ref.append_failures, 0);
  EXPECT_GT(ref.allocate_refusals, 0);
}

TEST(BlockManager, RandomWorkloadMatchesABruteForceModel) {
  run_random_workload(24, 4, 1, 4000);
  run_random_workload(12, 1, 2, 4000);
  run_random_workload(16, 3, 3, 4000);
  run_random_workload(6, 16, 4, 2000);
}

}  // namespace
}  // namespace shardlm
