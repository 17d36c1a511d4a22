// The paged K/V pool: f32 stores values as given, bf16 stores each rounded to nearest even (checked
// against hand-worked bit patterns and runtime/core's conversion) at the place the layout
// [num_blocks][kv_heads][block_size][head_dim] gives, and its bytes are half of f32's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/core/dtype.h"
#include "runtime/model/kv_pool.h"

namespace shardlm {
namespace {

ModelSpec small_spec() {
  ModelSpec spec;
  spec.layers = 2;
  spec.heads = 6;
  spec.kv_heads = 3;
  spec.head_dim = 5;
  return spec;
}

// Element (block, head, slot, i) of a layer's pool, by the documented layout.
int64_t pool_index(const ModelSpec& spec, int64_t block_size, int64_t block, int64_t head, int64_t slot, int64_t i) {
  return ((block * spec.kv_heads + head) * block_size + slot) * spec.head_dim + i;
}

TEST(KvPool, Bf16RoundsEveryValueToNearestEvenInPlace) {
  const ModelSpec spec = small_spec();
  const int64_t block_size = 3, tokens = 7, start = 2, width = spec.kv_heads * spec.head_dim;
  KvPool pool(spec, 6, block_size, DType::bf16);
  EXPECT_EQ(pool.dtype(), DType::bf16);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-40.0f, 40.0f);
  std::vector<float> k(tokens * width), v(tokens * width);
  for (float& value : k) value = uniform(rng);
  for (float& value : v) value = uniform(rng);
  // Ties and near-ties: 1 + 2^-8 lies halfway between bf16's 1 and 1 + 2^-7 and rounds to the even 1
  // (0x3f80); 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6 and rounds to the even
  // 1 + 2^-6 (0x3f82); just above the first tie rounds up (0x3f81); -2 - 2^-7 (halfway) rounds to -2.
  k[0] = 1.0f + 0x1p-8f;
  k[1] = 1.0f + 3 * 0x1p-8f;
  k[2] = 1.0f + 0x1p-8f + 0x1p-20f;
  v[0] = -2.0f - 0x1p-7f;
  const std::vector<int32_t> table = {4, 0, 5};  // positions 2..8: blocks 4 (slot 2), 0, 5
  pool.write(1, k.data(), v.data(), tokens, start, table);

  const auto* keys = static_cast<const uint16_t*>(pool.keys(1));
  const auto* values = static_cast<const uint16_t*>(pool.values(1));
  const int64_t first = pool_index(spec, block_size, 4, 0, 2, 0);
  EXPECT_EQ(keys[first + 0], 0x3f80);
  EXPECT_EQ(keys[first + 1], 0x3f82);
  EXPECT_EQ(keys[first + 2], 0x3f81);
  EXPECT_EQ(values[first + 0], 0xc000);
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t position = start + t;
    for (int64_t h = 0; h < spec.kv_heads; ++h) {
      for (int64_t i = 0; i < spec.head_dim; ++i) {
        const int64_t at = pool_index(spec, block_size, table[position / block_size], h, position % block_size, i);
        const int64_t from = t * width + h * spec.head_dim + i;
        ASSERT_EQ(keys[at], f32_to_bf16(k[from])) << "token " << t << " head " << h << " element " << i;
        ASSERT_EQ(values[at], f32_to_bf16(v[from])) << "token " << t << " head " << h << " element " << i;
        // Round to nearest: within half a bf16 spacing (8 significand bits), i.e. 2^-8 of the value.
        ASSERT_LE(std::abs(bf16_to_f32(keys[at]) - k[from]), 0x1p-8f * std::abs(k[from]));
      }
    }
  }
}

TEST(KvPool, F32StoresValuesExactly) {
  const ModelSpec spec = small_spec();
  KvPool pool(spec, 4, 2, DType::f32);
  const int64_t width = spec.kv_heads * spec.head_dim;
  std::vector<float> k(3 * width), v(3 * width);
  for (size_t i = 0; i < k.size(); ++i) k[i] = 1.0f + 0x1p-20f * static_cast<float>(i), v[i] = -k[i];
  const std::vector<int32_t> table = {3, 1};
  pool.write(0, k.data(), v.data(), 3, 0, table);
  const auto* keys = static_cast<const float*>(pool.keys(0));
  const auto* values = static_cast<const float*>(pool.values(0));
  for (int64_t t = 0; t < 3; ++t) {
    for (int64_t h = 0; h < spec.kv_heads; ++h) {
      for (int64_t i = 0; i < spec.head_dim; ++i) {
        const int64_t at = pool_index(spec, 2, table[t / 2], h, t % 2, i);
        ASSERT_EQ(keys[at], k[t * width + h * spec.head_dim + i]);
        ASSERT_EQ(values[at], v[t * width + h * spec.head_dim + i]);
      }
    }
  }
}

TEST(KvPool, Bf16HalvesTheBytes) {
  const ModelSpec spec = small_spec();
  // 2 (K and V) x 2 layers x 10 blocks x 3 heads x 4 slots x 5 elements = 2400 elements.
  EXPECT_EQ(KvPool(spec, 10, 4, DType::f32).bytes(), 2400u * 4);
  EXPECT_EQ(KvPool(spec, 10, 4, DType::bf16).bytes(), 2400u * 2);
}

TEST(KvPool, RefusesOtherDtypes) {
  EXPECT_THROW(KvPool(small_spec(), 4, 2, DType::f16), Error);
}

// A write's block ids are checked before anything is stored, on the CPU as by the CUDA ops (which
// call check_write before their kernel indexes the pool with the ids): a bad id names itself and the
// pool's size, and leaves the pool as it was.
TEST(KvPool, RefusesBlocksOutsideThePoolBeforeWriting) {
  const ModelSpec spec = small_spec();
  const int64_t block_size = 2, width = spec.kv_heads * spec.head_dim;
  KvPool pool(spec, 4, block_size, DType::f32);
  const std::vector<float> sevens(block_size * width, 7.0f);
  pool.write(0, sevens.data(), sevens.data(), block_size, 0, std::vector<int32_t>{0});
  const std::vector<float> k(3 * width, 1.0f), v(3 * width, 2.0f);
  auto message_of = [&](const std::vector<int32_t>& table, int64_t tokens, int64_t start) -> std::string {
    try {
      pool.write(0, k.data(), v.data(), tokens, start, table);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message_of({0, 4}, 3, 0).find("block 4 is outside the pool of 4"), std::string::npos);
  EXPECT_NE(message_of({-1, 2}, 1, 0).find("block -1 is outside the pool of 4"), std::string::npos);
  EXPECT_NE(message_of({0, 1}, 3, 2).find("beyond the 2 blocks"), std::string::npos);
  EXPECT_NE(message_of({0, 1}, 1, -1).find("beyond the 2 blocks"), std::string::npos);
  // Positions 2..3 use the table's second block only: a bad first block does not matter.
  EXPECT_EQ(message_of({9, 3}, 2, 2), "");
  const auto* keys = static_cast<const float*>(pool.keys(0));
  // Nothing of the refused writes landed: block 0 (the first id of two refused tables) holds its 7s.
  for (int64_t i = 0; i < block_size * width; ++i) ASSERT_EQ(keys[i], 7.0f) << i;
  EXPECT_EQ(keys[pool_index(spec, block_size, 3, 0, 0, 0)], 1.0f);
}

}  // namespace
}  // namespace shardlm
