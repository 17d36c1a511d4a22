// Decode tokens/s of one model (SmolLM2-135M-Instruct by default) by weight precision, f32, bf16, int8,
// int4 and the checkpoint's own tensors as stored, at 1 and 2 threads: one token per forward pass, greedy, the median of several runs. Decode
// reads every weight once a token, so each figure is also set against this machine's read bandwidth
// for that many bytes, measured here by streaming a buffer of the same size again and again (and the
// memory's own, past every cache, is printed too): (bytes a token reads) x (tokens/s) / bandwidth. The goals: int8 >= 1.6x bf16, int4 >= 2.5x bf16, and >= 0.75 of the bandwidth.
//   usage: shardlm_weights_decode [model] [tokens] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <immintrin.h>

#include "bench/decode_timing.h"
#include "kernels/cpu/ops.h"
#include "runtime/model/decoder.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/weight_dtype.h"

namespace {

using namespace shardlm;
using Clock = std::chrono::steady_clock;

// Sums n floats (n a multiple of 256) with the widest loads the CPU has, reading four quarters of the
// range at once: narrow loads cannot keep enough reads in flight to reach the memory's bandwidth on
// one core (measured here: 9 GB/s with 8-byte loads, 15 GB/s with 64-byte ones), and neither can one
// stream, where a matmul tile reads four weight rows side by side (one stream measured 15-18 GB/s at
// one thread, below what f32 decode itself reached).
__attribute__((target("avx512f"))) float stream_sum_avx512(const float* p, size_t n) {
  const size_t quarter = n / 4;
  __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
  for (size_t i = 0; i < quarter; i += 32) {
    a = _mm512_add_ps(a, _mm512_add_ps(_mm512_loadu_ps(p + i), _mm512_loadu_ps(p + i + 16)));
    b = _mm512_add_ps(b, _mm512_add_ps(_mm512_loadu_ps(p + quarter + i), _mm512_loadu_ps(p + quarter + i + 16)));
    c = _mm512_add_ps(c, _mm512_add_ps(_mm512_loadu_ps(p + 2 * quarter + i), _mm512_loadu_ps(p + 2 * quarter + i + 16)));
    d = _mm512_add_ps(d, _mm512_add_ps(_mm512_loadu_ps(p + 3 * quarter + i), _mm512_loadu_ps(p + 3 * quarter + i + 16)));
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

__attribute__((target("avx2"))) float stream_sum_avx2(const float* p, size_t n) {
  const size_t quarter = n / 4;
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  for (size_t i = 0; i < quarter; i += 16) {
    a = _mm256_add_ps(a, _mm256_add_ps(_mm256_loadu_ps(p + i), _mm256_loadu_ps(p + i + 8)));
    b = _mm256_add_ps(b, _mm256_add_ps(_mm256_loadu_ps(p + quarter + i), _mm256_loadu_ps(p + quarter + i + 8)));
    c = _mm256_add_ps(c, _mm256_add_ps(_mm256_loadu_ps(p + 2 * quarter + i), _mm256_loadu_ps(p + 2 * quarter + i + 8)));
    d = _mm256_add_ps(d, _mm256_add_ps(_mm256_loadu_ps(p + 3 * quarter + i), _mm256_loadu_ps(p + 3 * quarter + i + 8)));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

float stream_sum(const float* p, size_t n) {
  if (__builtin_cpu_supports("avx512f")) return stream_sum_avx512(p, n);
  if (__builtin_cpu_supports("avx2")) return stream_sum_avx2(p, n);
  float sums[8] = {};
  for (size_t i = 0; i < n; i += 8)
    for (int j = 0; j < 8; ++j) sums[j] += p[i + j];
  float sum = 0;
  for (float s : sums) sum += s;
  return sum;
}

// Read bandwidth in GB/s with `threads` threads for a working set of `bytes`: the best of several
// passes over a buffer of that size, each thread summing its own contiguous part. 1 GiB is beyond
// any cache (the memory's bandwidth); a model's own size says what reading that many bytes again and
// again can reach, caches included, which is the roofline its decode faces: this VM reports 300 MiB
// of L3, which holds a 97 MB int4 model whole.
double read_bandwidth(int threads, double bytes) {
  ThreadPool pool(threads);
  const size_t per_thread = (static_cast<size_t>(bytes) / sizeof(float) / threads) / 256 * 256;
  std::vector<float> buffer(per_thread * threads, 1.0f);
  double best = 0, total = 0;
  for (int pass = 0; pass < 6; ++pass) {
    std::vector<float> sums(threads, 0.0f);
    const auto start = Clock::now();
    pool.parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) sums[t] = stream_sum(buffer.data() + t * per_thread, per_thread);
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (float s : sums) total += s;
    if (pass > 0) best = std::max(best, static_cast<double>(buffer.size() * sizeof(float)) / seconds / 1e9);
  }
  if (total == 0) std::printf("(empty buffer)\n");  // uses the sums, so the reads cannot be left out
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  const int tokens = argc > 2 ? std::atoi(argv[2]) : 64;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  const LoadedModel stored = load_model(path, std::nullopt);
  std::printf("weights decode benchmark: %s, %d tokens per run, median of %d runs, SIMD %s\n", path.c_str(), tokens,
              runs, std::string(cpu::simd_level()).c_str());
  constexpr double kBeyondCaches = 1 << 30;
  const double memory[2] = {read_bandwidth(1, kBeyondCaches), read_bandwidth(2, kBeyondCaches)};
  std::printf("memory read bandwidth (1 GiB): %.1f GB/s (1 thread), %.1f GB/s (2 threads). Each figure is set against\n"
              "it (mem) and against the bandwidth of reading the precision's own bytes a token again and again,\n"
              "caches included (set; measured per precision, in brackets)\n",
              memory[0], memory[1]);
  // Each precision converted from an f32 copy, as from a full-precision checkpoint; then the file's
  // own tensors as stored (for the SmolLM2 GGUF: Q4_1 layers and a Q8_0 embedding, read in place).
  LoadedModel full = stored;
  convert_matrices(full.weights, DType::f32);
  struct Variant {
    const char* name;
    LoadedModel model;
  };
  std::vector<Variant> variants;
  for (auto [name, dtype] : {std::pair{"f32", DType::f32}, std::pair{"bf16", DType::bf16}, std::pair{"int8", DType::i8},
                             std::pair{"int4", DType::q4_1}}) {
    variants.push_back({name, full});
    convert_matrices(variants.back().model.weights, dtype);
  }
  variants.push_back({"stored", stored});
  double bf16_rate[2] = {0, 0};
  for (const Variant& variant : variants) {
    const double bytes = decode_weight_bytes_per_token(variant.model);
    const double bandwidth[2] = {read_bandwidth(1, bytes), read_bandwidth(2, bytes)};
    std::printf("  %-6s %6.1f MB/token (%4.1f / %4.1f GB/s)", variant.name, bytes / 1e6, bandwidth[0], bandwidth[1]);
    const bool is_bf16 = std::string(variant.name) == "bf16";
    for (int threads : {1, 2}) {
      const double rate = greedy_decode_tokens_per_second(variant.model, threads, tokens, runs);
      if (is_bf16) bf16_rate[threads - 1] = rate;
      std::printf(" | %d thread%s %6.1f tokens/s, %.2f mem, %.2f set", threads, threads > 1 ? "s" : " ", rate,
                  rate * bytes / 1e9 / memory[threads - 1], rate * bytes / 1e9 / bandwidth[threads - 1]);
      if (bf16_rate[threads - 1] > 0 && !is_bf16) std::printf(", %.2fx bf16", rate / bf16_rate[threads - 1]);
    }
    std::printf("\n");
  }
  return 0;
}
