// cpu::silu_gate against ref::silu_gate on every SIMD level and with 1 and 2 threads.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

// expf is within 1 ulp (2u); 1 + e, the division, the multiply by up and the reference's own rounding
// add u/2 each: at most 4u relative to the result.
constexpr double kRelativeTolerance = 4.0 * test::kUnitRoundoff;
// Where exp(-gate) overflows (gate < -88.7) the kernel returns -0 for a true value below 3e-37.
constexpr double kAbsoluteTolerance = 3e-37;

void expect_matches_reference(const std::vector<float>& gate, const std::vector<float>& up) {
  const int64_t n = static_cast<int64_t>(gate.size());
  SCOPED_TRACE(testing::Message() << "n=" << n);
  std::vector<float> expected(n);
  ref::silu_gate(gate.data(), up.data(), expected.data(), n);
  test::for_each_kernel_config([&](ThreadPool& pool) {
    std::vector<float> out(n, NAN);
    cpu::silu_gate(pool, gate.data(), up.data(), out.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(out[i], expected[i], kRelativeTolerance * std::abs(expected[i]) + kAbsoluteTolerance)
          << "gate " << gate[i] << " up " << up[i];
    }
  });
}

TEST(CpuSiluGate, MatchesReference) {
  std::mt19937 rng(8);
  // 40000 elements: enough (over 32 K) for two threads to share the work.
  for (int64_t n : {1, 7, 63, 64, 65, 769, 4097, 40000}) {
    expect_matches_reference(test::random_floats(rng, n, -10, 10), test::random_floats(rng, n, -2, 2));
  }
}

// Saturated gates: exp(-gate) overflows or vanishes, and nothing may turn into NaN.
TEST(CpuSiluGate, ExtremeGates) {
  const std::vector<float> gate = {-1000.0f, -100.0f, -88.0f, -20.0f, 0.0f, 1e-30f, 20.0f, 88.0f, 100.0f, 1000.0f};
  const std::vector<float> up(gate.size(), 1.5f);
  expect_matches_reference(gate, up);
}

}  // namespace
}  // namespace shardlm
