// CUDA kernels against kernels/ref. Skips, saying why, where the build has no CUDA or the machine no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ref/ops.h"
#include "runtime/backend/cuda/cuda_backend.h"
#ifdef SHARDLM_HAVE_CUDA
#include "kernels/cuda/ops.h"
#endif

namespace shardlm {
namespace {

TEST(CudaKernels, SiluGateMatchesReference) {
  const CudaStatus status = cuda_status();
  if (status.device_count == 0) GTEST_SKIP() << status.message;
#ifdef SHARDLM_HAVE_CUDA
  auto backend = make_cuda_backend(0);
  for (int64_t n : {1, 7, 63, 64, 65, 769, 4097, 1 << 20}) {
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> gate(n), up(n), expected(n), actual(n);
    for (int64_t i = 0; i < n; ++i) gate[i] = normal(rng), up[i] = normal(rng);
    ref::silu_gate(gate.data(), up.data(), expected.data(), n);
    Tensor g = backend->empty({n}, DType::f32), u = backend->empty({n}, DType::f32), o = backend->empty({n}, DType::f32);
    backend->copy(g.data(), gate.data(), n * 4);
    backend->copy(u.data(), up.data(), n * 4);
    ASSERT_EQ(cuda::silu_gate(g.data_as<float>(), u.data_as<float>(), o.data_as<float>(), n, nullptr), cudaSuccess);
    backend->copy(actual.data(), o.data(), n * 4);
    // __expf is accurate to ~2 ulp; with the division and product, 1e-5 relative covers it.
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(actual[i], expected[i], 1e-5f * (1 + std::fabs(expected[i]))) << i;
  }
#endif
}

}  // namespace
}  // namespace shardlm
