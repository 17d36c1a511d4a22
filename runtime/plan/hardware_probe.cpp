#include "runtime/plan/hardware_probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/backend/backend.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::plan {
namespace {

// The fastest of `runs` calls of `body`, after one warm-up call: other work on the machine only
// ever slows a call down.
template <typename Body>
double fastest_seconds(int runs, Body&& body) {
  body();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return *std::min_element(times.begin(), times.end());
}

// n rows of k weights in `dtype` with small values (int8 rows: bytes, for scales of 0.01): what a
// kernel's speed does not depend on.
std::vector<uint8_t> synthetic_weights(DType dtype, int64_t n, int64_t k) {
  std::vector<uint8_t> weights(dtype_bytes(dtype, n * k));
  if (dtype == DType::i8) {
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<uint8_t>(i % 251);
    return weights;
  }
  std::vector<float> source(n * k);
  for (int64_t i = 0; i < n * k; ++i) source[i] = 0.001f * static_cast<float>(i % 13) - 0.006f;
  convert_from_f32(source.data(), weights.data(), dtype, source.size());
  return weights;
}

}  // namespace

AttentionKeyCost probe_attention_key_cost(int64_t head_dim, int64_t block_size) {
  constexpr int64_t kShortContext = 64, kLongContext = 576, kHeads = 8;
  ThreadPool pool(1);
  const int64_t blocks = (kLongContext + block_size - 1) / block_size;
  std::vector<float> q(kHeads * head_dim, 0.1f), out(kHeads * head_dim);
  std::vector<float> keys(blocks * kHeads * block_size * head_dim, 0.01f), values(keys.size(), 0.02f);
  std::vector<int32_t> table(blocks);
  for (int64_t b = 0; b < blocks; ++b) table[b] = static_cast<int32_t>(b);
  // Seconds per key beyond the short context's, for kv_heads kv heads under the same query heads.
  auto per_key = [&](int64_t kv_heads) {
    auto seconds = [&](int64_t context) {
      AttentionShape shape{1, context - 1, kHeads, kv_heads, head_dim, kv_heads * head_dim,
                           1.0f / std::sqrt(static_cast<float>(head_dim))};
      shape.block_table = table.data();
      shape.block_size = block_size;
      return fastest_seconds(200, [&] { cpu::attention(pool, q.data(), keys.data(), values.data(), out.data(), shape); });
    };
    return std::max(0.0, seconds(kLongContext) - seconds(kShortContext)) / (kLongContext - kShortContext);
  };
  // Grouped query heads share their kv head's tiles: eight query heads over 8 kv heads, then over 2.
  const double all_kv = per_key(kHeads), grouped = per_key(2);
  AttentionKeyCost cost;
  cost.per_kv_head = std::max(0.0, (all_kv - grouped) / (kHeads - 2));
  cost.per_head = std::max(0.0, (all_kv - kHeads * cost.per_kv_head) / kHeads);
  return cost;
}

double probe_matmul_flops(int threads, DType dtype) {
  constexpr int64_t kM = 256, kN = 1024, kK = 1024;
  ThreadPool pool(threads);
  std::vector<float> x(kM * kK, 0.5f), y(kM * kN), row_scales(kN, 0.01f);
  const std::vector<uint8_t> weights = synthetic_weights(dtype, kN, kK);
  const double seconds = fastest_seconds(
      7, [&] { cpu::matmul(pool, x.data(), weights.data(), dtype, y.data(), kM, kN, kK, row_scales.data()); });
  return 2.0 * kM * kN * kK / seconds;
}

double probe_decode_kernel_rate(int threads, DType dtype, int64_t working_set_bytes, int64_t row_inputs) {
  // Rows of row_inputs, as many as make the working set (64 to 4,096 of them), in copies enough to
  // hold all of it: one matrix of 256 KiB a thread stays in the cache, while hundreds of MiB of
  // copies, each multiplied in turn as a decode's layers are, stream from memory.
  const int64_t k = row_inputs;
  const auto row_bytes = static_cast<int64_t>(dtype_bytes(dtype, k));
  const int64_t n = std::clamp<int64_t>(working_set_bytes / row_bytes / 4 * 4, 64, 4096);
  const int64_t matrix_bytes = n * row_bytes;
  const int64_t copies = std::max<int64_t>(1, (working_set_bytes + matrix_bytes - 1) / matrix_bytes);
  ThreadPool pool(threads);
  std::vector<float> x(k), y(n), row_scales(n, 0.01f);
  for (int64_t i = 0; i < k; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  const std::vector<uint8_t> matrix = synthetic_weights(dtype, n, k);
  std::vector<uint8_t> weights(copies * matrix_bytes);
  for (int64_t copy = 0; copy < copies; ++copy) std::copy(matrix.begin(), matrix.end(), weights.begin() + copy * matrix_bytes);
  // A round multiplies by every copy, and by a cached matrix often enough to last milliseconds, so
  // that the pool's hand-offs count as a decode pays them.
  const int64_t calls = std::max<int64_t>(copies, 64);
  std::vector<double> rounds;
  for (int round = 0; round < 6; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t call = 0; call < calls; ++call) {
      cpu::matmul(pool, x.data(), weights.data() + (call % copies) * matrix_bytes, dtype, y.data(), 1, n, k,
                  row_scales.data());
    }
    if (round > 0) rounds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // The cached rate is the fastest round (other work only slows a round down); the streamed one the
  // median, as the memory's rate varies both ways with what the machine's other cores do.
  std::sort(rounds.begin(), rounds.end());
  const double seconds = copies > 1 ? rounds[rounds.size() / 2] : rounds.front();
  return static_cast<double>(calls * matrix_bytes) / seconds;
}

}  // namespace shardlm::plan
