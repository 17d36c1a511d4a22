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
  MappedFile(std::string path, const uint8_t* data, size_t size, int fd)
      : path_(std::move(path)), data_(data), size_(size), fd_(fd) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
  int fd_;  // open while mapped, for copy_mapped_bytes
};

// Drops this process's copy of the whole pages of a mapped file's bytes [data, data + bytes) (madvise
// DONTNEED): once a tensor has been repacked or copied out of the file, its pages stop counting
// against the rank's memory. Reading them again faults them back in from the file, so a range some
// other tensor still views stays correct. Ranges outside any open mapping are left alone.
void release_mapped_pages(const void* data, size_t bytes);

// Makes the whole pages under a view [data, data + bytes) of a mapped file a mapping area (VMA) of their
// own (madvise DONTDUMP, which splits the area and also keeps the weights out of core dumps). Linux
// 6.18 maps a whole large page-cache folio on a read fault when the folio lies within the faulting
// area: a rank reading its half of a matrix took megabytes of the other rank's half into its resident
// memory at each edge (tp 2 on a 7B model: +120 MiB a rank). Within an area of its own a fault maps
// at most the pages around it that the area holds. Ranges outside any open mapping are left alone.
void isolate_mapped_view(const void* data, size_t bytes);

// Copies [data, data + bytes) to out: read from the file (pread) where the bytes lie in an open
// mapping, so that their pages are not mapped into this process; a plain copy elsewhere. A token's
// embedding row read through the mapping took its whole large folio (see isolate_mapped_view) into
// the rank's resident memory: after a 400-token prompt, half of a 7B model's table.
void copy_mapped_bytes(const void* data, size_t bytes, void* out);

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
