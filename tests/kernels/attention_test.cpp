// cpu::attention (the flash-attention recurrence) against ref::attention (scores, softmax, weighted
// sum), for MHA, GQA and MQA, decode and prefill, padded kv rows, contiguous and paged K/V, f32 and
// bf16 K/V, on every SIMD level and with 1 and 2 threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "runtime/core/check.h"
#include "runtime/core/dtype.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

using test::kLambda;
using test::kUnitRoundoff;

struct AttentionCase {
  int64_t tokens, start_pos, heads, kv_heads, head_dim;
  int64_t kv_padding;     // kv_stride - kv_heads * head_dim
  float query_magnitude;  // large values spread the scores, so the running max moves a lot
  bool rising_keys;       // keys grow with position, so later tiles keep raising the running max
  bool alibi = false;     // add ALiBi distance penalties with the usual slopes 2^(-8 (h + 1) / heads)
};

struct Inputs {
  AttentionShape shape;
  std::vector<float> q, k, v;
  std::vector<float> alibi_slopes;  // shape.alibi_slopes points here when the case uses ALiBi
};

Inputs make_inputs(const AttentionCase& c, std::mt19937& rng) {
  const int64_t kv_stride = c.kv_heads * c.head_dim + c.kv_padding;
  const int64_t positions = c.start_pos + c.tokens;
  Inputs in{{c.tokens, c.start_pos, c.heads, c.kv_heads, c.head_dim, kv_stride, 1.0f / std::sqrt(float(c.head_dim))},
            test::random_floats(rng, c.tokens * c.heads * c.head_dim, -c.query_magnitude, c.query_magnitude),
            test::random_floats(rng, positions * kv_stride, -1, 1),
            test::random_floats(rng, positions * kv_stride, -1, 1),
            {}};
  if (c.rising_keys) {
    for (int64_t p = 0; p < positions; ++p) {
      for (int64_t i = 0; i < kv_stride; ++i) in.k[p * kv_stride + i] *= 1.0f + 0.02f * static_cast<float>(p);
    }
  }
  if (c.alibi) {
    for (int64_t h = 0; h < c.heads; ++h) in.alibi_slopes.push_back(std::exp2(-8.0f * (h + 1) / c.heads));
    in.shape.alibi_slopes = in.alibi_slopes.data();  // moving `in` out keeps the vector's buffer
  }
  return in;
}

// Error bounds for the head_dim outputs of query token t, head h, to first order in u.
//  - Score p = scale * q.k_p - slope * distance: the dot product of head_dim terms is off by
//    sum_error_bound (the kernel may scale q before the dot product, which only moves each term by
//    u/2, inside that bound); scaling, the ALiBi product and their sum add u/2 of |scale q.k| +
//    |alibi| each, at most; subtracting the running max adds u/2 of |s_p - max|, and exp 4u (the
//    SIMD levels use a polynomial within 2 ulp, 4u, where libm's expf is within 1). Together E_p.
//  - Perturbing the log-weights by E_p moves each normalised weight w_p by at most
//    w_p (E_p + sum_q w_q E_q), so the output, a weighted mean of values, moves by at most
//    2 sum_p w_p E_p max|v_i|.
//  - The kernel's f32 accumulation of visible weighted values, each also rescaled at most once when
//    the running max grows, is off by lambda * sqrt(2 visible) u max|v_i|; so is the running sum.
//  - The final division and the reference's own rounding add u.
std::vector<double> head_tolerances(const Inputs& in, int64_t t, int64_t h) {
  const AttentionShape& s = in.shape;
  const int64_t visible = s.start_pos + t + 1;
  const int64_t kv_head = h / (s.heads / s.kv_heads);
  const float* query = in.q.data() + (t * s.heads + h) * s.head_dim;
  std::vector<double> scores(visible), errors(visible);
  std::vector<double> max_value(s.head_dim, 0.0);
  for (int64_t p = 0; p < visible; ++p) {
    const float* key = in.k.data() + p * s.kv_stride + kv_head * s.head_dim;
    double abs_sum = 0.0, dot = 0.0;
    for (int64_t d = 0; d < s.head_dim; ++d) {
      abs_sum += std::abs(static_cast<double>(query[d]) * key[d]);
      dot += static_cast<double>(query[d]) * key[d];
    }
    const double alibi = s.alibi_slopes != nullptr ? -s.alibi_slopes[h] * double(s.start_pos + t - p) : 0.0;
    scores[p] = dot * s.scale + alibi;
    errors[p] = test::sum_error_bound(s.head_dim, abs_sum) * s.scale +
                1.5 * kUnitRoundoff * (std::abs(dot * s.scale) + std::abs(alibi)) + 4.0 * kUnitRoundoff;
    const float* value = in.v.data() + p * s.kv_stride + kv_head * s.head_dim;
    for (int64_t d = 0; d < s.head_dim; ++d) max_value[d] = std::max(max_value[d], std::abs(double{value[d]}));
  }
  const double max_score = *std::max_element(scores.begin(), scores.end());
  double weight_sum = 0.0, weighted_error = 0.0;
  for (int64_t p = 0; p < visible; ++p) {
    const double weight = std::exp(scores[p] - max_score);
    weight_sum += weight;
    weighted_error += weight * (errors[p] + 0.5 * kUnitRoundoff * (max_score - scores[p]));
  }
  weighted_error /= weight_sum;
  const double accumulation = 2.0 * kLambda * std::sqrt(2.0 * visible) * kUnitRoundoff;
  std::vector<double> tolerances(s.head_dim);
  for (int64_t d = 0; d < s.head_dim; ++d) {
    tolerances[d] = max_value[d] * (2.0 * weighted_error + accumulation + kUnitRoundoff);
  }
  return tolerances;
}

// head_tolerances for every output element, in out's [tokens, heads, head_dim] order.
std::vector<double> output_tolerances(const Inputs& in) {
  const AttentionShape& s = in.shape;
  std::vector<double> tolerances;
  for (int64_t t = 0; t < s.tokens; ++t) {
    for (int64_t h = 0; h < s.heads; ++h) {
      const std::vector<double> head = head_tolerances(in, t, h);
      tolerances.insert(tolerances.end(), head.begin(), head.end());
    }
  }
  return tolerances;
}

testing::Message describe(const AttentionCase& c) {
  return testing::Message() << "tokens=" << c.tokens << " start_pos=" << c.start_pos << " heads=" << c.heads
                            << " kv_heads=" << c.kv_heads << " head_dim=" << c.head_dim
                            << " kv_padding=" << c.kv_padding << " query_magnitude=" << c.query_magnitude
                            << (c.rising_keys ? " rising keys" : "") << (c.alibi ? " alibi" : "");
}

// Runs cpu::attention on every kernel configuration and checks each element against expected.
void expect_cpu_within(const Inputs& in, const void* k, const void* v, const AttentionShape& s,
                       const std::vector<float>& expected, const std::vector<double>& tolerances) {
  const int64_t size = s.tokens * s.heads * s.head_dim;
  test::for_each_kernel_config([&](ThreadPool& pool) {
    std::vector<float> out(size, NAN);
    cpu::attention(pool, in.q.data(), k, v, out.data(), s);
    for (int64_t j = 0; j < size; ++j) {
      ASSERT_NEAR(out[j], expected[j], tolerances[j])
          << "token " << j / (s.heads * s.head_dim) << " head " << (j / s.head_dim) % s.heads << " element "
          << j % s.head_dim;
    }
  });
}

void expect_matches_reference(const AttentionCase& c, std::mt19937& rng) {
  SCOPED_TRACE(describe(c));
  const Inputs in = make_inputs(c, rng);
  const AttentionShape& s = in.shape;
  std::vector<float> expected(s.tokens * s.heads * s.head_dim);
  ref::attention(in.q.data(), in.k.data(), in.v.data(), expected.data(), s);
  expect_cpu_within(in, in.k.data(), in.v.data(), s, expected, output_tolerances(in));
}

TEST(CpuAttention, DecodeOneToken) {
  std::mt19937 rng(9);
  expect_matches_reference({1, 0, 4, 4, 64, 0, 1.0f, false}, rng);      // MHA, first position
  expect_matches_reference({1, 200, 9, 3, 64, 5, 1.0f, false}, rng);    // GQA (3 per kv head), 4 tiles
  expect_matches_reference({1, 768, 6, 1, 65, 3, 4.0f, true}, rng);     // MQA, 769 keys
  expect_matches_reference({1, 4096, 2, 2, 7, 1, 1.0f, false}, rng);    // 4097 keys, odd head_dim
  expect_matches_reference({1, 2047, 8, 2, 64, 0, 1.0f, false}, rng);   // GQA, enough work for 2 threads
  expect_matches_reference({1, 599, 8, 4, 8, 0, 1.0f, false}, rng);     // stories260K's heads, 2 threads
}

TEST(CpuAttention, ThreadsFollowTheWorkIncludingTheSoftmax) {
  AttentionShape shape{1, 15, 8, 4, 8, 32, 1.0f};
  EXPECT_EQ(cpu::attention_threads(shape, 2), 1);  // 16 keys: not worth a hand-off
  // stories260K's heads (8 over 4 kv heads of 8) at 600 keys: 76,800 multiply-adds alone would
  // stay on one thread, but each of the 4,800 scores also pays its softmax, as much again and more.
  shape.start_pos = 599;
  EXPECT_EQ(cpu::attention_threads(shape, 2), 2);
  EXPECT_EQ(cpu::attention_threads(shape, 1), 1);
  shape.tokens = 0;
  EXPECT_EQ(cpu::attention_threads(shape, 2), 0);
}

TEST(CpuAttention, PrefillSeveralTokens) {
  std::mt19937 rng(10);
  expect_matches_reference({7, 0, 16, 2, 63, 1, 1.0f, false}, rng);    // GQA, 8 per kv head
  expect_matches_reference({65, 63, 6, 1, 64, 0, 2.0f, false}, rng);   // MQA, 2 threads, tiles straddled
  expect_matches_reference({3, 130, 10, 2, 7, 2, 1.0f, false}, rng);   // GQA, 5 per kv head
  expect_matches_reference({17, 5, 4, 4, 1, 0, 1.0f, false}, rng);     // head_dim 1
  // Verify passes over a long context: keys split across threads, causal rows within the last tile.
  expect_matches_reference({2, 1200, 9, 3, 64, 0, 1.0f, false}, rng);   // 2 tokens, 3 kv heads
  expect_matches_reference({9, 2000, 9, 3, 64, 0, 2.0f, true}, rng);    // 9 tokens, rising keys
}

// Scores spread over tens of units and keys that rise along the sequence: the running max grows in
// nearly every tile, so the rescaling of the sum and the accumulator is exercised and must be right.
TEST(CpuAttention, RunningMaxRescaling) {
  std::mt19937 rng(11);
  expect_matches_reference({2, 300, 4, 2, 128, 0, 8.0f, true}, rng);
  expect_matches_reference({9, 200, 8, 8, 64, 4, 8.0f, true}, rng);  // enough work for 2 threads
}

// ALiBi (BLOOM, MPT) penalises scores by distance, per head: decode and prefill, with GQA.
TEST(CpuAttention, AlibiSlopes) {
  std::mt19937 rng(12);
  expect_matches_reference({1, 150, 8, 8, 64, 0, 1.0f, false, true}, rng);
  expect_matches_reference({9, 200, 12, 4, 32, 3, 2.0f, false, true}, rng);  // 2 threads
}

// A paged copy of an Inputs' K/V: pools [num_blocks][kv_heads][block_size][head_dim] and the table
// that maps each logical block of the sequence to a pool block.
struct PagedKv {
  std::vector<int32_t> block_table;
  std::vector<float> k, v;
  AttentionShape shape;  // in.shape with the table and block size set
};

// Scatters in's contiguous K/V into pools through a shuffled block table that leaves some pool
// blocks unused. Everything the sequence does not own (unused blocks, the slots past the last
// position in its last block, and the kv_padding columns, which the pool does not have) is NaN, so
// a kernel that reads outside the sequence's rows poisons its output.
PagedKv scatter_into_pool(const Inputs& in, int64_t block_size, std::mt19937& rng) {
  const AttentionShape& s = in.shape;
  const int64_t positions = s.start_pos + s.tokens;
  const int64_t used_blocks = (positions + block_size - 1) / block_size;
  const int64_t num_blocks = used_blocks + used_blocks / 2 + 2;
  std::vector<int32_t> order(num_blocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  PagedKv paged{{order.begin(), order.begin() + used_blocks},
                std::vector<float>(num_blocks * s.kv_heads * block_size * s.head_dim, NAN),
                std::vector<float>(num_blocks * s.kv_heads * block_size * s.head_dim, NAN),
                s};
  for (int64_t p = 0; p < positions; ++p) {
    const int64_t block = paged.block_table[p / block_size];
    for (int64_t j = 0; j < s.kv_heads; ++j) {
      const int64_t to = ((block * s.kv_heads + j) * block_size + p % block_size) * s.head_dim;
      const int64_t from = p * s.kv_stride + j * s.head_dim;
      std::copy_n(in.k.begin() + from, s.head_dim, paged.k.begin() + to);
      std::copy_n(in.v.begin() + from, s.head_dim, paged.v.begin() + to);
    }
  }
  paged.shape.block_table = paged.block_table.data();  // moving `paged` out keeps the vector's buffer
  paged.shape.block_size = block_size;
  paged.shape.kv_stride = 0;  // unused when paged; 0 would fail the contiguous path's stride check
  return paged;
}

// For each block size: ref paged == ref contiguous exactly (the oracle does the same arithmetic in the
// same order, only the addresses differ), and cpu paged == ref contiguous within the tolerances of
// the contiguous test, which depend only on the values, not on where they are stored.
void expect_paged_matches_reference(const AttentionCase& c, std::mt19937& rng) {
  SCOPED_TRACE(describe(c));
  const Inputs in = make_inputs(c, rng);
  const int64_t size = in.shape.tokens * in.shape.heads * in.shape.head_dim;
  std::vector<float> expected(size);
  ref::attention(in.q.data(), in.k.data(), in.v.data(), expected.data(), in.shape);
  const std::vector<double> tolerances = output_tolerances(in);
  for (int64_t block_size : {1, 3, 16, 64}) {
    SCOPED_TRACE(testing::Message() << "block_size=" << block_size);
    const PagedKv paged = scatter_into_pool(in, block_size, rng);
    std::vector<float> ref_paged(size, NAN);
    ref::attention(in.q.data(), paged.k.data(), paged.v.data(), ref_paged.data(), paged.shape);
    for (int64_t j = 0; j < size; ++j) ASSERT_EQ(ref_paged[j], expected[j]) << "element " << j;
    expect_cpu_within(in, paged.k.data(), paged.v.data(), paged.shape, expected, tolerances);
  }
}

TEST(CpuAttention, PagedDecode) {
  std::mt19937 rng(13);
  expect_paged_matches_reference({1, 0, 4, 4, 64, 0, 1.0f, false}, rng);     // MHA, one key
  expect_paged_matches_reference({1, 200, 4, 4, 64, 3, 1.0f, false}, rng);   // MHA, padded source rows
  expect_paged_matches_reference({1, 300, 9, 3, 32, 0, 1.0f, false}, rng);   // GQA, 3 per kv head
  expect_paged_matches_reference({1, 769, 6, 1, 65, 0, 4.0f, true}, rng);    // MQA, odd head_dim, rescaling
  expect_paged_matches_reference({1, 1023, 8, 2, 64, 0, 1.0f, false}, rng);  // GQA, enough work for 2 threads
}

TEST(CpuAttention, PagedPrefill) {
  std::mt19937 rng(14);
  expect_paged_matches_reference({7, 0, 16, 2, 63, 0, 1.0f, false}, rng);    // GQA from position 0
  expect_paged_matches_reference({65, 63, 6, 1, 32, 0, 2.0f, false}, rng);   // MQA, 2 threads, tiles straddled
  expect_paged_matches_reference({9, 130, 8, 8, 16, 0, 8.0f, true}, rng);    // MHA, rescaling
  expect_paged_matches_reference({17, 5, 4, 4, 1, 0, 1.0f, false}, rng);     // head_dim 1
}

TEST(CpuAttention, PagedAlibi) {
  std::mt19937 rng(15);
  expect_paged_matches_reference({1, 150, 8, 8, 64, 0, 1.0f, false, true}, rng);   // MHA decode
  expect_paged_matches_reference({1, 400, 8, 1, 32, 0, 1.0f, false, true}, rng);   // MQA decode
  expect_paged_matches_reference({9, 200, 12, 4, 32, 0, 2.0f, false, true}, rng);  // GQA prefill, 2 threads
}

// Query tiling: several query tokens of one sequence (a verify pass of speculative decoding, a prefill
// chunk) share each K/V tile, each with its own causal limit inside the tile. Key counts around the
// tile size (1, 7, 63, 64, 65, 769), query counts that split unevenly into blocks and threads, GQA
// groups of 1 to 9 and an MQA group larger than one unit's rows (so heads are chunked as well).
TEST(CpuAttention, QueryTiledBlocks) {
  std::mt19937 rng(16);
  for (int64_t keys : {1, 7, 63, 64, 65, 769}) {
    for (int64_t tokens : {1, 2, 5, 9, 17}) {
      if (tokens > keys) continue;
      expect_matches_reference({tokens, keys - tokens, 9, 3, 64, 0, 2.0f, false}, rng);  // SmolLM2's GQA
      expect_matches_reference({tokens, keys - tokens, 4, 4, 33, 2, 1.0f, true}, rng);   // MHA, rescaling
    }
  }
  expect_matches_reference({40, 729, 8, 1, 16, 0, 1.0f, false}, rng);   // MQA: 4 blocks of 8 tokens x 8 heads
  expect_matches_reference({3, 66, 40, 1, 8, 0, 1.0f, false}, rng);     // a group of 40 runs as 2 chunks of 20
  expect_matches_reference({33, 100, 6, 2, 32, 0, 1.0f, false, true}, rng);  // ALiBi per row
}

TEST(CpuAttention, QueryTiledPaged) {
  std::mt19937 rng(17);
  for (int64_t keys : {7, 64, 65, 769}) {
    for (int64_t tokens : {2, 7}) {
      SCOPED_TRACE(testing::Message() << "keys=" << keys);
      const AttentionCase c{tokens, keys - tokens, 9, 3, 64, 0, 2.0f, false};
      const Inputs in = make_inputs(c, rng);
      const int64_t size = in.shape.tokens * in.shape.heads * in.shape.head_dim;
      std::vector<float> expected(size);
      ref::attention(in.q.data(), in.k.data(), in.v.data(), expected.data(), in.shape);
      const std::vector<double> tolerances = output_tolerances(in);
      for (int64_t block_size : {5, 7, 13, 31}) {  // blocks that never line up with the 64-key tiles
        SCOPED_TRACE(testing::Message() << "block_size=" << block_size << " tokens=" << tokens);
        const PagedKv paged = scatter_into_pool(in, block_size, rng);
        expect_cpu_within(in, paged.k.data(), paged.v.data(), paged.shape, expected, tolerances);
      }
    }
  }
}

TEST(CpuAttention, PagedRejectsBadBlockTable) {
  const int64_t heads = 2, head_dim = 4, positions = 5;
  std::vector<float> q(heads * head_dim, 0.5f), pool(8 * heads * head_dim, 1.0f), out(heads * head_dim);
  std::vector<int32_t> table = {3, 1, 0, 2, 4};
  AttentionShape shape{1, positions - 1, heads, heads, head_dim, 0, 0.5f};
  shape.block_table = table.data();
  ThreadPool threads(1);
  shape.block_size = 0;
  EXPECT_THROW(cpu::attention(threads, q.data(), pool.data(), pool.data(), out.data(), shape), Error);
  shape.block_size = 1;
  table[4] = -1;  // an unassigned entry among those the sequence uses
  EXPECT_THROW(cpu::attention(threads, q.data(), pool.data(), pool.data(), out.data(), shape), Error);
  table[4] = 4;
  EXPECT_NO_THROW(cpu::attention(threads, q.data(), pool.data(), pool.data(), out.data(), shape));
  EXPECT_FLOAT_EQ(out[0], 1.0f);  // every value row is 1
}

// A bf16 or int8 (q8_0) K/V cache. The f32 inputs are first rounded to what the dtype stores (bf16:
// round to nearest even; q8_0: each row of head_dim quantized per block of 32 and dequantized, exact
// in f32), so the f32 copy holds exactly the values the stored copy holds: the reference on the f32
// copy is then the exact answer for the stored data, and the f32 tolerances above, which depend only
// on the values, hold unchanged (widening either to f32 is exact, so the kernel rounds no more than
// with f32 K/V). What is tested is that the stored path reads the right elements, strides, blocks
// and scales.
std::vector<uint8_t> stored(const std::vector<float>& values, DType dtype, int64_t head_dim) {
  std::vector<uint8_t> out(dtype_bytes(dtype, static_cast<int64_t>(values.size())));
  for (size_t row = 0; row < values.size() / head_dim; ++row) {
    const float* in = values.data() + row * head_dim;
    uint8_t* to = out.data() + dtype_bytes(dtype, static_cast<int64_t>(row) * head_dim);
    if (dtype == DType::q8_0 && std::isnan(in[0])) {
      // A pool slot outside the sequence: NaN scales, so that reading it would show.
      for (int64_t b = 0; b < head_dim / kQuantBlock; ++b) reinterpret_cast<BlockQ8_0*>(to)[b] = {0x7E00, {}};
      continue;
    }
    convert_from_f32(in, to, dtype, head_dim);
  }
  return out;
}

void round_through(std::vector<float>& values, DType dtype, int64_t head_dim) {
  const std::vector<uint8_t> bytes = stored(values, dtype, head_dim);
  for (size_t i = 0; i < values.size(); ++i) values[i] = load_as_f32(bytes.data(), dtype, i);
}

// Contiguous (with the case's padded rows) and paged through shuffled tables at block sizes that do
// and do not line up with the kernel's 64-key tiles: ref on the stored data equals ref on the rounded
// f32 data exactly, and cpu on the stored data is within the tolerances of that.
void expect_stored_kv_matches_reference(const AttentionCase& c, std::mt19937& rng, DType dtype) {
  SCOPED_TRACE(describe(c));
  SCOPED_TRACE(dtype_name(dtype));
  Inputs in = make_inputs(c, rng);
  const int64_t d = in.shape.head_dim;
  round_through(in.k, dtype, d);
  round_through(in.v, dtype, d);
  const int64_t size = in.shape.tokens * in.shape.heads * in.shape.head_dim;
  std::vector<float> expected(size);
  ref::attention(in.q.data(), in.k.data(), in.v.data(), expected.data(), in.shape);
  const std::vector<double> tolerances = output_tolerances(in);

  AttentionShape shape = in.shape;
  shape.kv_dtype = dtype;
  const std::vector<uint8_t> k = stored(in.k, dtype, d), v = stored(in.v, dtype, d);
  std::vector<float> ref_stored(size, NAN);
  ref::attention(in.q.data(), k.data(), v.data(), ref_stored.data(), shape);
  for (int64_t j = 0; j < size; ++j) ASSERT_EQ(ref_stored[j], expected[j]) << "contiguous, element " << j;
  expect_cpu_within(in, k.data(), v.data(), shape, expected, tolerances);

  for (int64_t block_size : {1, 5, 16, 64}) {
    SCOPED_TRACE(testing::Message() << "block_size=" << block_size);
    PagedKv paged = scatter_into_pool(in, block_size, rng);  // NaN outside the sequence: still NaN stored
    paged.shape.kv_dtype = dtype;
    const std::vector<uint8_t> paged_k = stored(paged.k, dtype, d), paged_v = stored(paged.v, dtype, d);
    std::vector<float> ref_paged(size, NAN);
    ref::attention(in.q.data(), paged_k.data(), paged_v.data(), ref_paged.data(), paged.shape);
    for (int64_t j = 0; j < size; ++j) ASSERT_EQ(ref_paged[j], expected[j]) << "paged, element " << j;
    expect_cpu_within(in, paged_k.data(), paged_v.data(), paged.shape, expected, tolerances);
  }
}

void expect_bf16_matches_reference(const AttentionCase& c, std::mt19937& rng) {
  expect_stored_kv_matches_reference(c, rng, DType::bf16);
}

// int8 (q8_0) K/V: head_dim and the contiguous padding in whole blocks of 32, as the pool requires.
TEST(CpuAttentionInt8, DecodePrefillAndAlibi) {
  std::mt19937 rng(34);
  expect_stored_kv_matches_reference({1, 0, 4, 4, 64, 0, 1.0f, false}, rng, DType::q8_0);      // MHA, one key
  expect_stored_kv_matches_reference({1, 200, 9, 3, 64, 32, 1.0f, false}, rng, DType::q8_0);   // SmolLM2's GQA
  expect_stored_kv_matches_reference({1, 768, 6, 1, 128, 0, 4.0f, true}, rng, DType::q8_0);    // MQA, 769 keys
  expect_stored_kv_matches_reference({1, 1023, 8, 2, 32, 0, 1.0f, false}, rng, DType::q8_0);   // 2 threads
  for (int64_t keys : {7, 64, 65, 769}) {
    for (int64_t tokens : {2, 9, 17}) {
      if (tokens > keys) continue;
      expect_stored_kv_matches_reference({tokens, keys - tokens, 9, 3, 64, 0, 2.0f, false}, rng, DType::q8_0);
    }
  }
  expect_stored_kv_matches_reference({9, 200, 8, 8, 64, 32, 8.0f, true}, rng, DType::q8_0);        // rising max
  expect_stored_kv_matches_reference({9, 200, 12, 4, 32, 0, 2.0f, false, true}, rng, DType::q8_0);  // ALiBi GQA
}

TEST(CpuAttentionBf16, Decode) {
  std::mt19937 rng(31);
  expect_bf16_matches_reference({1, 0, 4, 4, 64, 0, 1.0f, false}, rng);     // MHA, one key
  expect_bf16_matches_reference({1, 200, 9, 3, 64, 5, 1.0f, false}, rng);   // SmolLM2's GQA, padded rows
  expect_bf16_matches_reference({1, 768, 6, 1, 65, 3, 4.0f, true}, rng);    // MQA, 769 keys, odd head_dim
  expect_bf16_matches_reference({1, 4096, 2, 2, 7, 1, 1.0f, false}, rng);   // 4097 keys, head_dim 7
  expect_bf16_matches_reference({1, 1023, 8, 2, 63, 0, 1.0f, false}, rng);  // GQA, enough work for 2 threads
}

TEST(CpuAttentionBf16, PrefillAndQueryTiles) {
  std::mt19937 rng(32);
  for (int64_t keys : {1, 7, 63, 64, 65, 769}) {
    for (int64_t tokens : {1, 2, 9, 17}) {
      if (tokens > keys) continue;
      expect_bf16_matches_reference({tokens, keys - tokens, 9, 3, 64, 0, 2.0f, false}, rng);  // SmolLM2's GQA
    }
  }
  expect_bf16_matches_reference({7, 0, 16, 2, 63, 1, 1.0f, false}, rng);   // GQA, 8 per kv head, padded
  expect_bf16_matches_reference({65, 63, 6, 1, 33, 0, 2.0f, false}, rng);  // MQA, 2 threads, tiles straddled
  expect_bf16_matches_reference({17, 5, 4, 4, 1, 0, 1.0f, false}, rng);    // head_dim 1
}

TEST(CpuAttentionBf16, RescalingAndAlibi) {
  std::mt19937 rng(33);
  expect_bf16_matches_reference({9, 200, 8, 8, 64, 4, 8.0f, true}, rng);          // running max keeps rising
  expect_bf16_matches_reference({1, 150, 8, 8, 64, 0, 1.0f, false, true}, rng);   // ALiBi decode
  expect_bf16_matches_reference({9, 200, 12, 4, 32, 3, 2.0f, false, true}, rng);  // ALiBi GQA prefill
}

// The pool and kernels hold f32 and bf16 only; f16 K/V would be read as the wrong values.
TEST(CpuAttentionBf16, RejectsOtherKvDtypes) {
  std::vector<float> q(8, 0.5f), out(8);
  std::vector<uint16_t> kv(8, 0);
  AttentionShape shape{1, 0, 2, 2, 4, 8, 0.5f};
  shape.kv_dtype = DType::f16;
  ThreadPool threads(1);
  EXPECT_THROW(cpu::attention(threads, q.data(), kv.data(), kv.data(), out.data(), shape), Error);
}

}  // namespace
}  // namespace shardlm
