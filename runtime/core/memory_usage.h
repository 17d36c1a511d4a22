// What the operating system says this process holds in memory.
#pragma once

#include <cstddef>

namespace shardlm {

// Peak resident set size (VmHWM) in bytes; 0 where /proc is unavailable.
size_t peak_resident_bytes();
// Current resident set size (VmRSS) in bytes; 0 where /proc is unavailable.
size_t current_resident_bytes();
// Memory the system could give this process now (MemAvailable); 0 where /proc is unavailable.
size_t available_memory_bytes();

}  // namespace shardlm
