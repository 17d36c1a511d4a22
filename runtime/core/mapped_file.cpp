#include "runtime/core/mapped_file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// Mapped files by address, for the SIGBUS handler: a mapping whose file shrinks on disk (truncated,
// or rewritten in place by a copy) faults on the pages past its new end, wherever the weights are
// read. The handler names the file and ends the process in one line instead of dying of a signal.
// Slots are published with an atomic begin (written last, cleared first), so the handler can read
// them without a lock.
struct MappingSlot {
  std::atomic<const uint8_t*> begin{nullptr};
  std::atomic<size_t> size{0};
  int fd = -1;  // the mapped file, open for copy_mapped_bytes; owned by the MappedFile
  char path[512] = {};
};
constexpr int kMappingSlots = 64;
MappingSlot g_mappings[kMappingSlots];
std::mutex g_mappings_mutex;  // between open and close; the handler reads without it

void write_all(const char* text, size_t length) {
  while (length > 0) {
    const ssize_t written = ::write(STDERR_FILENO, text, length);
    if (written <= 0) return;
    text += written, length -= static_cast<size_t>(written);
  }
}

void on_bus_error(int signal, siginfo_t* info, void*) {
  const auto* address = static_cast<const uint8_t*>(info->si_addr);
  for (const MappingSlot& slot : g_mappings) {
    const uint8_t* begin = slot.begin.load(std::memory_order_acquire);
    if (begin == nullptr || address < begin || address >= begin + slot.size.load(std::memory_order_relaxed)) continue;
    static const char kPrefix[] = "error: the file '";
    static const char kSuffix[] = "' changed on disk while in use (truncated or overwritten?): stopping\n";
    write_all(kPrefix, sizeof(kPrefix) - 1);
    write_all(slot.path, ::strnlen(slot.path, sizeof(slot.path)));
    write_all(kSuffix, sizeof(kSuffix) - 1);
    ::_exit(1);
  }
  // Not a mapped file: the usual death, with the signal.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

void register_mapping(const uint8_t* begin, size_t size, int fd, const std::string& path) {
  std::lock_guard lock(g_mappings_mutex);
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return ::sigaction(SIGBUS, &action, nullptr) == 0;
  }();
  (void)installed;
  for (MappingSlot& slot : g_mappings) {
    if (slot.begin.load(std::memory_order_relaxed) != nullptr) continue;
    const size_t length = std::min(path.size(), sizeof(slot.path) - 1);
    std::memcpy(slot.path, path.data(), length);
    slot.path[length] = '\0';
    slot.fd = fd;
    slot.size.store(size, std::memory_order_relaxed);
    slot.begin.store(begin, std::memory_order_release);
    return;
  }
  // More files mapped at once than slots: this one faults as any other memory would.
}

void unregister_mapping(const uint8_t* begin) {
  std::lock_guard lock(g_mappings_mutex);
  for (MappingSlot& slot : g_mappings)
    if (slot.begin.load(std::memory_order_relaxed) == begin) slot.begin.store(nullptr, std::memory_order_release);
}

}  // namespace

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
    if (mapped == MAP_FAILED) ::close(fd);
    SHARDLM_CHECK(mapped != MAP_FAILED, "cannot map '{}': {}", path, std::strerror(mmap_errno));
    data = static_cast<const uint8_t*>(mapped);
    register_mapping(data, size, fd, path);
  } else {
    ::close(fd);
  }
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size, fd));
}

namespace {

// The open mapping that holds all of [begin, begin + bytes), or null; the caller holds the mutex.
const MappingSlot* mapping_holding(const uint8_t* begin, size_t bytes) {
  for (const MappingSlot& slot : g_mappings) {
    const uint8_t* start = slot.begin.load(std::memory_order_relaxed);
    if (start != nullptr && begin >= start && begin + bytes <= start + slot.size.load(std::memory_order_relaxed))
      return &slot;
  }
  return nullptr;
}

bool inside_open_mapping(const uint8_t* begin, size_t bytes) {
  std::lock_guard lock(g_mappings_mutex);
  return mapping_holding(begin, bytes) != nullptr;
}

uintptr_t page_size() { return static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

void release_mapped_pages(const void* data, size_t bytes) {
  const auto* begin = static_cast<const uint8_t*>(data);
  if (!inside_open_mapping(begin, bytes)) return;
  // Whole pages only: a page shared with a neighbouring tensor stays.
  const uintptr_t page = page_size();
  const uintptr_t first = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(begin) + bytes) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void isolate_mapped_view(const void* data, size_t bytes) {
  const auto* begin = static_cast<const uint8_t*>(data);
  if (bytes == 0 || !inside_open_mapping(begin, bytes)) return;
  // Every page the view touches, the edge pages shared with neighbours included.
  const uintptr_t page = page_size();
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) / page * page;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(begin) + bytes + page - 1) / page * page;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTDUMP);
}

void copy_mapped_bytes(const void* data, size_t bytes, void* out) {
  const auto* begin = static_cast<const uint8_t*>(data);
  std::lock_guard lock(g_mappings_mutex);  // the file stays open while it is read
  const MappingSlot* slot = mapping_holding(begin, bytes);
  if (slot == nullptr) {
    std::memcpy(out, data, bytes);
    return;
  }
  auto* to = static_cast<uint8_t*>(out);
  auto offset = static_cast<off_t>(begin - slot->begin.load(std::memory_order_relaxed));
  for (size_t left = bytes; left > 0;) {
    const ssize_t got = ::pread(slot->fd, to, left, offset);
    if (got < 0 && errno == EINTR) continue;
    SHARDLM_CHECK(got > 0, "cannot read '{}' at offset {}: {}", slot->path, offset,
                  got == 0 ? "the file is shorter than when it was mapped" : std::strerror(errno));
    to += got, offset += got, left -= static_cast<size_t>(got);
  }
}

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  unregister_mapping(data_);
  ::munmap(const_cast<uint8_t*>(data_), size_);
  ::close(fd_);
}

const uint8_t* ByteReader::take(size_t bytes, const char* what) {
  SHARDLM_CHECK(bytes <= remaining(), "'{}' is truncated: {} needs {} bytes at offset {}, only {} remain", file_.path(),
                what, bytes, offset_, remaining());
  const uint8_t* at = file_.data() + offset_;
  offset_ += bytes;
  return at;
}

}  // namespace shardlm
