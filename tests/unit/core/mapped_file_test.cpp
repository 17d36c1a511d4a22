#include <gtest/gtest.h>

#include <fstream>
#include <string>

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

}  // namespace
}  // namespace shardlm
