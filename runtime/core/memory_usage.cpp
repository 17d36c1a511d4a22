#include "runtime/core/memory_usage.h"

#include <fstream>
#include <string>

namespace shardlm {

static size_t status_field_bytes(const std::string& field, const char* file = "/proc/self/status") {
  std::ifstream status(file);
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;  // reported in kB
  }
  return 0;
}

size_t peak_resident_bytes() { return status_field_bytes("VmHWM"); }
size_t current_resident_bytes() { return status_field_bytes("VmRSS"); }
size_t available_memory_bytes() { return status_field_bytes("MemAvailable", "/proc/meminfo"); }

}  // namespace shardlm
