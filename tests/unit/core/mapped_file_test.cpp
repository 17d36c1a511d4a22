#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"
#include "runtime/core/temp_dir.h"

namespace shardlm {
namespace {

TEST(MappedFile, ReadsLittleEndianValuesAndStopsAtTheEnd) {
  const TempDir scratch("mapped-file");
  const std::string path = scratch.file("mapped_file_test.bin");
  {
    std::ofstream out(path, std::ios::binary);
    const unsigned char bytes[] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3F, 0xAA};
    out.write(reinterpret_cast<const char*>(bytes), sizeof(bytes));
  }
  auto file = MappedFile::open(path);
  ASSERT_EQ(file->size(), 9u);
  ByteReader reader(*file);
  EXPECT_EQ(reader.read<int32_t>("first"), 1);
  EXPECT_EQ(reader.read<float>("second"), 1.0f);
  EXPECT_EQ(reader.remaining(), 1u);
  try {
    reader.read<int32_t>("third value");
    FAIL() << "read past the end";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("third value needs 4 bytes at offset 8, only 1 remain"), std::string::npos)
        << error.what();
  }
}

TEST(MappedFile, MissingFileNamesThePath) {
  try {
    MappedFile::open("/nonexistent/dir/model.bin");
    FAIL() << "opened a missing file";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/dir/model.bin"), std::string::npos);
  }
}

TEST(MappedFile, DirectoryIsRejected) {
  const TempDir scratch("mapped-file");
  EXPECT_THROW(MappedFile::open(scratch.path()), Error);
}

// A file of `bytes` bytes, byte i = i * 7 mod 251, written in one piece and read back once, so that its
// pages are in the page cache before it is mapped (a fault then maps cached pages around it too).
std::string patterned_file(const TempDir& scratch, size_t bytes) {
  const std::string path = scratch.file("patterned.bin");
  std::vector<char> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(i * 7 % 251);
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(bytes));
  std::ifstream(path, std::ios::binary).read(data.data(), static_cast<std::streamsize>(bytes));
  return path;
}

// Whether this process maps the page at `address` (/proc/self/pagemap's present bit), or nullopt where
// the kernel does not say.
std::optional<bool> page_mapped(const void* address) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  uint64_t entry = 0;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(address) / page * sizeof(entry));
  const bool read = ::pread(fd, &entry, sizeof(entry), at) == static_cast<ssize_t>(sizeof(entry));
  ::close(fd);
  if (!read) return std::nullopt;
  return (entry >> 63) != 0;
}

TEST(MappedFile, CopiedBytesComeFromTheFileWithoutMappingTheirPages) {
  const TempDir scratch("mapped-file");
  constexpr size_t kBytes = 4 << 20;
  auto file = MappedFile::open(patterned_file(scratch, kBytes));
  const size_t first = (1 << 20) + 123, count = 300000;
  std::vector<uint8_t> copy(count);
  copy_mapped_bytes(file->data() + first, count, copy.data());
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(copy[i], (first + i) * 7 % 251) << "byte " << first + i;
  const auto mapped = page_mapped(file->data() + first + count / 2);
  if (!mapped) GTEST_SKIP() << "no /proc/self/pagemap here";
  EXPECT_FALSE(*mapped) << "copy_mapped_bytes read through the mapping";
  // The control: reading the same bytes through the mapping maps them.
  volatile uint8_t sink = file->data()[first + count / 2];
  (void)sink;
  EXPECT_TRUE(page_mapped(file->data() + first + count / 2).value());
  // Bytes outside any mapping are copied as they are.
  const std::vector<uint8_t> heap = {1, 2, 3};
  std::vector<uint8_t> out(3);
  copy_mapped_bytes(heap.data(), 3, out.data());
  EXPECT_EQ(out, heap);
}

TEST(MappedFile, ReadingAnIsolatedViewMapsNoPageOutsideIt) {
  const TempDir scratch("mapped-file");
  constexpr size_t kBytes = 8 << 20;
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  auto file = MappedFile::open(patterned_file(scratch, kBytes));
  if (!page_mapped(file->data())) GTEST_SKIP() << "no /proc/self/pagemap here";
  // Two views, one isolated and one not, each [2 MiB + 100, 3 MiB - 100) of its own 4 MiB half.
  auto view_of = [&](size_t half) { return file->data() + half * (4 << 20) + (2 << 20) + 100; };
  const size_t view_bytes = (1 << 20) - 200;
  isolate_mapped_view(view_of(0), view_bytes);
  auto read_view_and_count_outside = [&](const uint8_t* view) {
    uint64_t sum = 0;
    for (size_t i = 0; i < view_bytes; i += 64) sum += view[i];
    EXPECT_GT(sum, 0u);
    // The pages around the view's first and last pages, 256 KiB on each side.
    int mapped_outside = 0;
    for (size_t k = 1; k <= 64; ++k) {
      mapped_outside += page_mapped(view - 100 - k * page).value();
      mapped_outside += page_mapped(view - 100 + (1 << 20) + (k - 1) * page).value();
    }
    return mapped_outside;
  };
  EXPECT_EQ(read_view_and_count_outside(view_of(0)), 0);
  // The control: without isolation the kernel maps cached pages around the faults too (fault-around;
  // on Linux 6.18, whole large folios). Where it maps none, the check above proved nothing.
  const int control = read_view_and_count_outside(view_of(1));
  if (control == 0) GTEST_SKIP() << "this kernel maps no page around a fault: the isolation is not exercised";
}

}  // namespace
}  // namespace shardlm
