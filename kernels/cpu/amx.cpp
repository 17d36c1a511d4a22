#include "kernels/cpu/amx.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

namespace shardlm::cpu {
namespace {

constexpr int kXfeatureTileData = 18;  // XTILEDATA's bit in XCR0 and in the kernel's permission masks

bool cpu_lists_amx() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  return ((d >> 24) & 1u) != 0 && ((d >> 25) & 1u) != 0;  // AMX-TILE, AMX-INT8
}

// One 16 x 64 by 64 x 16 int8 tile product (TDPBUSD: unsigned rows times signed columns, four bytes
// at a time), compared with the scalar sum. Runs in the probe's child only.
__attribute__((target("amx-tile,amx-int8"))) bool tile_product_is_right() {
  alignas(64) uint8_t config[64] = {};
  config[0] = 1;  // palette 1
  for (int tile = 0; tile < 3; ++tile) {
    const uint16_t bytes_per_row = 64;
    std::memcpy(config + 16 + 2 * tile, &bytes_per_row, 2);
    config[48 + tile] = 16;  // rows
  }
  alignas(64) uint8_t a[16][64];
  alignas(64) int8_t b[16][64];  // row k/4 holds column n's four bytes k..k+3 at 4n
  alignas(64) int32_t c[16][16];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 64; ++j) {
      a[i][j] = static_cast<uint8_t>((i * 7 + j * 3) % 251);
      b[i][j] = static_cast<int8_t>((i * 5 + j * 11) % 255 - 127);
    }
  }
  _tile_loadconfig(config);
  _tile_zero(0);
  _tile_loadd(1, a, 64);
  _tile_loadd(2, b, 64);
  _tile_dpbusd(0, 1, 2);
  _tile_stored(0, c, 64);
  _tile_release();
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 16; ++n) {
      int32_t want = 0;
      for (int k = 0; k < 64; ++k) want += static_cast<int32_t>(a[m][k]) * b[k / 4][4 * n + k % 4];
      if (c[m][n] != want) return false;
    }
  }
  return true;
}

AmxStatus probe() {
  if (!cpu_lists_amx()) return {false, "the CPU does not list AMX-TILE and AMX-INT8"};
  if (::syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, kXfeatureTileData) != 0)
    return {false, fmt::format("the kernel refused the tile state (arch_prctl ARCH_REQ_XCOMP_PERM: {})",
                               std::strerror(errno))};
  std::string failure;
  if (!passes_in_child(tile_product_is_right, failure))
    return {false, fmt::format("the CPU lists AMX and the kernel allows it, but a tile product {}", failure)};
  return {true, "a tile product ran and was right"};
}

}  // namespace

bool passes_in_child(const std::function<bool()>& body, std::string& failure) {
  const pid_t child = ::fork();
  if (child < 0) {
    failure = fmt::format("could not start (fork: {})", std::strerror(errno));
    return false;
  }
  if (child == 0) {
    // A fault must end the child by its signal, even where a handler was installed for the parent
    // (a sanitizer's, which would report the fault and exit with a status instead).
    for (int fault : {SIGSEGV, SIGILL, SIGBUS, SIGFPE}) std::signal(fault, SIG_DFL);
    ::_exit(body() ? 0 : 1);  // the child touches nothing of the parent's but its own stack
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      failure = fmt::format("could not be waited for (waitpid: {})", std::strerror(errno));
      return false;
    }
  }
  if (WIFSIGNALED(status)) {
    failure = fmt::format("was killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return false;
  }
  if (WEXITSTATUS(status) != 0) {
    failure = "returned a wrong result";
    return false;
  }
  return true;
}

const AmxStatus& amx_status() {
  static const AmxStatus status = probe();
  return status;
}

}  // namespace shardlm::cpu
