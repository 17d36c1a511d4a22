#include "runtime/core/write_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "runtime/core/check.h"

namespace shardlm {

void write_file(const std::string& path, std::string_view bytes, const std::string& what) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SHARDLM_CHECK(fd >= 0, "{}: cannot write '{}': {}", what, path, std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t written = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int error = written < 0 ? errno : EIO;
      ::close(fd);
      SHARDLM_FAIL("{}: cannot write '{}': {}", what, path, std::strerror(error));
    }
    done += static_cast<size_t>(written);
  }
  // close reports what a network or quota-limited file system only knows at the end.
  SHARDLM_CHECK(::close(fd) == 0, "{}: cannot write '{}': {}", what, path, std::strerror(errno));
}

}  // namespace shardlm
