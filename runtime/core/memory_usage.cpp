#include "runtime/core/memory_usage.h"

#include <fstream>
#include <string>

namespace shardlm {

static size_t status_field_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;  // reported in kB
  }
  return 0;
}

size_t peak_resident_bytes() { return status_field_bytes("VmHWM"); }
size_t current_resident_bytes() { return status_field_bytes("VmRSS"); }

}  // namespace shardlm
