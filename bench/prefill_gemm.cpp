// Prefill's matrix products (y = x w^T, x [m, k] activations, w [n, k] weights) against a BLAS from
// Debian: ShardLM's cpu::matmul with f32 and bf16 weights vs OpenBLAS's cblas_sgemm (Debian's 0.3.21
// has no bf16 GEMM), on SmolLM2-135M's projection shapes and a 7B one, for 512 prompt tokens, at 1
// and 2 threads; GFLOP/s, the median of several runs, and ShardLM / OpenBLAS. OpenBLAS
// (libopenblas0-pthread, from launch/install-deps.sh) is loaded at run time, so nothing links it
// and the bench says so where it is missing. OpenBLAS 0.3.21 predates Zen 4 and 5 and would pick its
// SSE3 kernels there; unless OPENBLAS_CORETYPE is set, the bench names the best kernel the CPU can run
// (SkylakeX with AVX-512, Haswell with AVX2), so the peer runs at its best.
//   usage: shardlm_prefill_gemm [tokens] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/core/dtype.h"
#include "runtime/core/thread_pool.h"

namespace {

using namespace shardlm;
using Clock = std::chrono::steady_clock;

// CBLAS's enum values (cblas.h): row-major storage, and whether an operand is transposed.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using SetThreads = void (*)(int);

struct OpenBlas {
  Sgemm sgemm = nullptr;
  SetThreads set_threads = nullptr;
  const char* (*config)() = nullptr;
};

OpenBlas load_openblas() {
  OpenBlas blas;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);  // 0: a value the user set wins
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    setenv("OPENBLAS_CORETYPE", "Haswell", 0);
  }
  void* library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return blas;
  blas.sgemm = reinterpret_cast<Sgemm>(dlsym(library, "cblas_sgemm"));
  blas.set_threads = reinterpret_cast<SetThreads>(dlsym(library, "openblas_set_num_threads"));
  blas.config = reinterpret_cast<const char* (*)()>(dlsym(library, "openblas_get_config"));
  return blas;
}

template <class Run>
double median_seconds(int runs, Run run) {
  run();  // warm: caches, pages, the library's threads
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Shape {
  const char* name;
  int64_t k, n;
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t m = argc > 1 ? std::atoll(argv[1]) : 512;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  if (m < 1 || runs < 1) {
    std::fprintf(stderr, "usage: shardlm_prefill_gemm [tokens >= 1] [runs >= 1]\n");
    return 2;
  }
  const Shape shapes[] = {{"SmolLM2 q/o 576x576", 576, 576},
                          {"SmolLM2 gate/up 576->1536", 576, 1536},
                          {"SmolLM2 down 1536->576", 1536, 576},
                          {"7B gate/up 4096->11008", 4096, 11008}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  struct Row {
    double ours_f32, ours_bf16, blas_f32 = 0;
  };
  std::vector<Row> rows;
  struct Operands {
    std::vector<float> x, w, y;
    std::vector<uint16_t> w_bf16;
  };
  auto operands = [&](const Shape& shape) {
    Operands o{std::vector<float>(m * shape.k), std::vector<float>(shape.n * shape.k), std::vector<float>(m * shape.n),
               std::vector<uint16_t>(shape.n * shape.k)};
    for (float& v : o.x) v = uniform(rng);
    for (float& v : o.w) v = uniform(rng);
    convert_from_f32(o.w.data(), o.w_bf16.data(), DType::bf16, o.w.size());
    return o;
  };
  // ShardLM first, all of it: OpenBLAS's threads keep spinning for a while after each call, and would
  // take the cores from ShardLM's.
  for (const Shape& shape : shapes) {
    Operands o = operands(shape);
    const double flops = 2.0 * m * shape.n * shape.k;
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      Row row;
      row.ours_f32 = flops / median_seconds(runs, [&] {
        cpu::matmul(pool, o.x.data(), o.w.data(), DType::f32, o.y.data(), m, shape.n, shape.k);
      }) * 1e-9;
      row.ours_bf16 = flops / median_seconds(runs, [&] {
        cpu::matmul(pool, o.x.data(), o.w_bf16.data(), DType::bf16, o.y.data(), m, shape.n, shape.k);
      }) * 1e-9;
      rows.push_back(row);
    }
  }
  // Loaded only now: its threads start spinning as it loads.
  const OpenBlas blas = load_openblas();
  std::printf("prefill GEMM: %lld tokens, median of %d runs, SIMD %s; OpenBLAS: %s\n", static_cast<long long>(m),
              runs, std::string(cpu::simd_level()).c_str(),
              blas.sgemm == nullptr ? "not installed (libopenblas.so.0)" : blas.config ? blas.config() : "loaded");
  size_t index = 0;
  for (const Shape& shape : shapes) {
    Operands o = operands(shape);
    const double flops = 2.0 * m * shape.n * shape.k;
    for (int threads : {1, 2}) {
      Row& row = rows[index++];
      if (blas.sgemm) {
        blas.set_threads(threads);
        const int M = static_cast<int>(m), N = static_cast<int>(shape.n), K = static_cast<int>(shape.k);
        row.blas_f32 = flops / median_seconds(runs, [&] {
          blas.sgemm(kRowMajor, kNoTrans, kTrans, M, N, K, 1.0f, o.x.data(), K, o.w.data(), K, 0.0f, o.y.data(), N);
        }) * 1e-9;
      }
      std::printf("  %-26s %d thread%s | f32: ShardLM %6.1f GFLOP/s, OpenBLAS %6.1f: %.2fx | bf16: ShardLM %6.1f, "
                  "%.2fx OpenBLAS's f32\n",
                  shape.name, threads, threads == 1 ? " " : "s", row.ours_f32, row.blas_f32,
                  row.blas_f32 > 0 ? row.ours_f32 / row.blas_f32 : 0.0, row.ours_bf16,
                  row.blas_f32 > 0 ? row.ours_bf16 / row.blas_f32 : 0.0);
    }
  }
  return 0;
}
