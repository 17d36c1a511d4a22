// Read-only memory mapping of a whole file; weights are used in place, without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>

namespace shardlm {

class MappedFile {
 public:
  // Throws naming the path when the file is missing, unreadable or a directory.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

// Drops this process's copy of the whole pages of a mapped file's bytes [data, data + bytes) (madvise
// DONTNEED): once a tensor has been repacked or copied out of the file, its pages stop counting
// against the rank's memory. Reading them again faults them back in from the file, so a range some
// other tensor still views stays correct. Ranges outside any open mapping are left alone.
void release_mapped_pages(const void* data, size_t bytes);

// A cursor over a mapped file that reads little-endian values and fails, naming the file and offset,
// instead of reading past the end.
class ByteReader {
 public:
  ByteReader(const MappedFile& file, size_t offset = 0) : file_(file), offset_(offset) {}
  template <typename T>
  T read(const char* what) {
    T value;
    std::memcpy(&value, take(sizeof(T), what), sizeof(T));
    return value;
  }
  // Returns a pointer to the next `bytes` bytes and moves past them.
  const uint8_t* take(size_t bytes, const char* what);
  size_t offset() const { return offset_; }
  size_t remaining() const { return file_.size() - offset_; }

 private:
  const MappedFile& file_;
  size_t offset_;
};

}  // namespace shardlm
