// Checks that carry their context: every failure names file, line and a formatted message.
#pragma once

#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace shardlm {

// Raised for every failed check. The message is one line, ready to show a user.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace shardlm

// SHARDLM_CHECK(cond, "fmt", args...): throws shardlm::Error "<file>:<line>: <message>" when cond is false.
#define SHARDLM_CHECK(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond)) [[unlikely]]                                                           \
      ::shardlm::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__));             \
  } while (0)

#define SHARDLM_FAIL(...) ::shardlm::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
