#include "runtime/core/check.h"

#include <cstring>

namespace shardlm {

void throw_error(const char* file, int line, const std::string& message) {
  // Keep only the path below the project root: users read these messages, not compilers.
  const char* shown = file;
  for (const char* root : {"runtime/", "kernels/", "parallel/", "rpc/", "tests/", "bench/"}) {
    if (const char* at = std::strstr(file, root)) {
      shown = at;
      break;
    }
  }
  throw Error(fmt::format("{} ({}:{})", message, shown, line));
}

}  // namespace shardlm
