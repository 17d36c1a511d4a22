#include "runtime/core/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/core/check.h"

namespace shardlm {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SHARDLM_CHECK(fd >= 0, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    SHARDLM_FAIL("'{}' is not a regular file", path);
  }
  const size_t size = static_cast<size_t>(info.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mmap_errno = errno;
    ::close(fd);
    SHARDLM_CHECK(mapped != MAP_FAILED, "cannot map '{}': {}", path, std::strerror(mmap_errno));
    data = static_cast<const uint8_t*>(mapped);
  } else {
    ::close(fd);
  }
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

const uint8_t* ByteReader::take(size_t bytes, const char* what) {
  SHARDLM_CHECK(bytes <= remaining(), "'{}' is truncated: {} needs {} bytes at offset {}, only {} remain", file_.path(),
                what, bytes, offset_, remaining());
  const uint8_t* at = file_.data() + offset_;
  offset_ += bytes;
  return at;
}

}  // namespace shardlm
