// What the fuzz targets share: every parser of outside input must end in ShardLM's clear error
// (shardlm::Error, or the request validator's InvalidArgument naming the field) or succeed. Any other
// exception escapes the target, and libFuzzer reports it as a crash, as it does the sanitizers' findings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "runtime/core/check.h"
#include "runtime/core/temp_dir.h"

namespace shardlm::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input as a file of the process's own temporary directory, for parsers that read paths.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = process_temp_dir().file(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                               static_cast<std::streamsize>(size));
  return path;
}

template <class Parse>
int accept_clear_errors(Parse parse) {
  try {
    parse();
  } catch (const Error&) {
    // The clear error outside input must get.
  }
  return 0;
}

}  // namespace shardlm::fuzz
