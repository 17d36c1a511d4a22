// Picks the instruction set once per process: the best the CPU supports, or a lower one named by
// SHARDLM_SIMD (generic|avx2|avx512) so a level can be tested or compared on a machine that has more.
#include <cpuid.h>

#include <atomic>
#include <cstdlib>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd.h"
#include "runtime/core/check.h"
#include "runtime/core/dtype.h"

namespace shardlm::cpu::simd {
namespace {

static_assert(static_cast<int>(DType::f32) == 0 && static_cast<int>(DType::f16) == 1 &&
                  static_cast<int>(DType::bf16) == 2 && static_cast<int>(DType::i8) == 3 &&
                  static_cast<int>(DType::q8_0) == 4 && static_cast<int>(DType::q4_1) == 5 &&
                  static_cast<int>(DType::q4_0) == 6,
              "Kernels::dot_rows is indexed by DType");

// A CPUID feature bit, for the features some compilers' __builtin_cpu_supports does not name (Clang
// 14 knows neither "f16c" nor "avx512bf16"); registers 0-3 are EAX, EBX, ECX, EDX.
bool cpuid_bit(unsigned leaf, unsigned subleaf, int reg, int bit) {
  unsigned registers[4] = {};
  if (__get_cpuid_count(leaf, subleaf, &registers[0], &registers[1], &registers[2], &registers[3]) == 0) return false;
  return ((registers[reg] >> bit) & 1u) != 0;
}

// Every feature each file is compiled for (see the top-level CMakeLists.txt), not just the ones its
// intrinsics use: the compiler may use any enabled feature anywhere in that file. __builtin_cpu_supports
// also checks that the OS saves the wide registers (the CPUID bits ride on AVX2's and AVX-512F's checks).

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuid_bit(1, 0, 2, 29);  // F16C
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         cpuid_bit(7, 1, 0, 5) /* AVX512_BF16 */ && __builtin_cpu_supports("avx512vnni");
}

const Kernels& kernels_for(std::string_view level) {
  if (level == "avx512") return avx512_kernels();
  if (level == "avx2") return avx2_kernels();
  return generic_kernels();
}

// Null until first use. An atomic because ops on pool threads read it while the first caller may be
// storing it; relaxed is enough since the tables themselves are constants.
std::atomic<const Kernels*> g_active{nullptr};

}  // namespace

std::vector<std::string_view> supported_levels() {
  std::vector<std::string_view> levels{"generic"};
  if (cpu_has_avx2()) levels.push_back("avx2");
  if (cpu_has_avx512()) levels.push_back("avx512");
  return levels;
}

std::string_view choose_level(const char* requested) {
  const std::vector<std::string_view> levels = supported_levels();
  if (requested == nullptr || *requested == '\0') return levels.back();
  const std::string_view name = requested;
  SHARDLM_CHECK(name == "generic" || name == "avx2" || name == "avx512",
                "SHARDLM_SIMD='{}' is not a SIMD level: expected generic, avx2 or avx512", name);
  for (std::string_view level : levels) {
    if (level == name) return level;
  }
  SHARDLM_FAIL("SHARDLM_SIMD={} but this CPU does not support it; it supports up to {}", name, levels.back());
}

const Kernels& active_kernels() {
  const Kernels* current = g_active.load(std::memory_order_relaxed);
  if (current == nullptr) [[unlikely]] {
    current = &kernels_for(choose_level(std::getenv("SHARDLM_SIMD")));
    g_active.store(current, std::memory_order_relaxed);
  }
  return *current;
}

void set_simd_level_for_testing(std::string_view level) {
  for (std::string_view supported : supported_levels()) {
    if (supported == level) {
      g_active.store(&kernels_for(level), std::memory_order_relaxed);
      return;
    }
  }
  SHARDLM_FAIL("SIMD level '{}' is not supported on this CPU", level);
}

}  // namespace shardlm::cpu::simd

namespace shardlm::cpu {

std::string_view simd_level() { return simd::active_kernels().name; }

}  // namespace shardlm::cpu
