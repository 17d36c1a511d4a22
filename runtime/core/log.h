// Logging to stderr with a level set once per process (SHARDLM_LOG=debug|info|warn|error).
#pragma once

#include <fmt/format.h>
#include <string_view>

namespace shardlm::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

Level threshold();
void set_threshold(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void info(fmt::format_string<Args...> pattern, Args&&... args) {
  if (threshold() <= Level::info) write(Level::info, fmt::format(pattern, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> pattern, Args&&... args) {
  if (threshold() <= Level::warn) write(Level::warn, fmt::format(pattern, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> pattern, Args&&... args) {
  if (threshold() <= Level::debug) write(Level::debug, fmt::format(pattern, std::forward<Args>(args)...));
}

}  // namespace shardlm::log
