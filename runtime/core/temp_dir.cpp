#include "runtime/core/temp_dir.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <unistd.h>
#include <vector>

#include "runtime/core/check.h"

namespace fs = std::filesystem;

namespace shardlm {
namespace {

// The directories of the TempDirs alive now, for the terminate handler: an uncaught exception ends
// the process without running any destructor.
struct LiveDir {
  const TempDir* owner;
  fs::path path, root;
  pid_t pid;
};

struct LiveDirs {
  std::mutex mutex;
  std::vector<LiveDir> dirs;
  std::terminate_handler previous = nullptr;
};

void remove_live_dirs_then_terminate();

// Never destroyed, so that it outlives every TempDir, static ones included; it only ever holds the
// paths of TempDirs still alive.
LiveDirs& live_dirs() {
  static LiveDirs* const dirs = [] {
    auto* made = new LiveDirs;
    made->previous = std::set_terminate(remove_live_dirs_then_terminate);
    return made;
  }();
  return *dirs;
}

void remove_live_dirs_then_terminate() {
  LiveDirs& live = live_dirs();
  // try_lock: terminate may come from a thread that holds the lock.
  if (live.mutex.try_lock()) {
    for (const LiveDir& dir : live.dirs) {
      if (dir.pid != getpid()) continue;
      try {
        remove_owned_temp_dir(dir.path, dir.root);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "temp_dir: %s\n", error.what());
      }
    }
    live.mutex.unlock();
  }
  if (live.previous != nullptr) live.previous();
  std::abort();
}

}  // namespace

void remove_owned_temp_dir(const fs::path& dir, const fs::path& root) {
  const std::string name = dir.filename().string();
  SHARDLM_CHECK(dir.is_absolute() && root.is_absolute() && !name.empty() && dir.lexically_normal() == dir,
                "refusing to remove '{}': not a plain absolute path of a directory under '{}'", dir.string(),
                root.string());
  SHARDLM_CHECK(name.starts_with(kTempDirPrefix), "refusing to remove '{}': its name does not start with '{}'",
                dir.string(), kTempDirPrefix);
  std::error_code error;
  const fs::file_type type = fs::symlink_status(dir, error).type();
  if (type == fs::file_type::not_found) return;
  SHARDLM_CHECK(type == fs::file_type::directory, "refusing to remove '{}': not a directory (a link or a file)",
                dir.string());
  const fs::path real_root = fs::canonical(root);
  SHARDLM_CHECK(fs::canonical(dir.parent_path()) == real_root && fs::canonical(dir) != real_root,
                "refusing to remove '{}': not directly under the temporary root '{}'", dir.string(),
                real_root.string());
  fs::remove_all(dir);
}

TempDir::TempDir(const std::string& purpose) : root_(fs::temp_directory_path()), owner_(getpid()) {
  SHARDLM_CHECK(purpose.find('/') == std::string::npos, "a temporary directory's purpose '{}' holds a '/'", purpose);
  std::string pattern = (root_ / (kTempDirPrefix + purpose + "-XXXXXX")).string();
  SHARDLM_CHECK(mkdtemp(pattern.data()) != nullptr, "cannot make a temporary directory in '{}'", root_.string());
  path_ = pattern;
  LiveDirs& live = live_dirs();
  std::lock_guard lock(live.mutex);
  live.dirs.push_back({this, path_, root_, owner_});
}

TempDir::~TempDir() {
  {
    LiveDirs& live = live_dirs();
    std::lock_guard lock(live.mutex);
    std::erase_if(live.dirs, [this](const LiveDir& dir) { return dir.owner == this; });
  }
  if (getpid() != owner_) return;
  try {
    remove_owned_temp_dir(path_, root_);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "temp_dir: %s\n", error.what());
  }
}

const TempDir& process_temp_dir() {
  static const TempDir dir("process");
  return dir;
}

}  // namespace shardlm
