// A temporary directory that belongs to one object and is removed with it: the only way tests and
// benchmarks make scratch space. They run as root, so a removal that could reach any other path is
// the most dangerous bug they can have; every removal goes through remove_owned_temp_dir(), which
// refuses anything but a directory made by mkdtemp directly under the temporary root.
#pragma once

#include <filesystem>
#include <string>
#include <sys/types.h>

namespace shardlm {

// The prefix of every directory TempDir makes; remove_owned_temp_dir() removes nothing else.
inline constexpr const char* kTempDirPrefix = "shardlm-";

class TempDir {
 public:
  // mkdtemp("<temp root>/shardlm-<purpose>-XXXXXX"), the root being $TMPDIR or /tmp at this moment.
  // Throws naming the root when the directory cannot be made.
  explicit TempDir(const std::string& purpose);
  // Removes the directory and everything in it, but only in the process that made it: a forked
  // child that exits must not take its parent's directory with it.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::filesystem::path root_;
  std::string path_;
  pid_t owner_;
};

// One directory for the whole process, made on first use. It goes when the process ends by
// returning from main or by std::exit (a static's destructor), and when an uncaught exception ends
// it (a terminate handler removes every live TempDir before the usual report and abort).
const TempDir& process_temp_dir();

// Removes `dir` and what is in it when it is a real directory (not a symlink) directly under
// `root`, named shardlm-*, and not `root` itself; does nothing when it no longer exists; throws
// naming the reason for any other path.
void remove_owned_temp_dir(const std::filesystem::path& dir, const std::filesystem::path& root);

}  // namespace shardlm
