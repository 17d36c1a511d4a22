#include "runtime/core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace shardlm::log {
namespace {

Level level_from_env() {
  const char* env = std::getenv("SHARDLM_LOG");
  if (env == nullptr) return Level::warn;
  const std::string value = env;
  if (value == "debug") return Level::debug;
  if (value == "info") return Level::info;
  if (value == "error") return Level::error;
  return Level::warn;
}

std::atomic<Level>& current() {
  static std::atomic<Level> level{level_from_env()};
  return level;
}

}  // namespace

Level threshold() { return current().load(std::memory_order_relaxed); }
void set_threshold(Level level) { current().store(level, std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
  static constexpr const char* names[] = {"debug", "info", "warning", "error"};
  std::fprintf(stderr, "shardlm %s: %.*s\n", names[static_cast<int>(level)], static_cast<int>(message.size()),
               message.data());
}

}  // namespace shardlm::log
