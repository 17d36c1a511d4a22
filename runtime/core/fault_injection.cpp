#include "runtime/core/fault_injection.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace shardlm {
namespace {

// "<phase>:<rank>" from the environment when this process is that rank (Open MPI, or PMI/PMIx
// launchers), else empty.
std::string armed_phase() {
  const char* spec = std::getenv("SHARDLM_TEST_KILL_AT");
  if (spec == nullptr) return "";
  const std::string text = spec;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return "";
  std::string rank = "0";
  for (const char* variable : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* value = std::getenv(variable)) {
      rank = value;
      break;
    }
  return text.substr(colon + 1) == rank ? text.substr(0, colon) : "";
}

}  // namespace

void fault_point(const char* phase) {
  static const std::string armed = armed_phase();
  if (!armed.empty() && armed == phase) std::raise(SIGKILL);
}

}  // namespace shardlm
