// A rank's share of a Q4_0 GGUF: cut from views of the file (and, for the GPU, repacked by
// repack_file_formats), must hold exactly the values that the file means for that share (ggml's Q4_0 rule, dequantized
// by the reader independently of the repack), and the file's pages it read must stop counting
// against the process (release_mapped_pages).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "parallel/pipeline.h"
#include "parallel/shard.h"
#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"
#include "runtime/core/memory_usage.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/repack_file_formats.h"
#include "runtime/model/shard_weights.h"

namespace shardlm {
namespace {

constexpr int64_t kHidden = 64, kHeads = 4, kKvHeads = 2, kFfn = 128, kLayers = 3, kVocab = 96;

// A small Llama GGUF, every matrix Q4_0 with random nibbles and scales, norms f32; no tokenizer.
std::string write_q4_0_llama(const std::string& name) {
  std::string bytes, data;
  std::mt19937 random(7);
  auto put32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  auto put64 = [&](uint64_t v) { bytes.append(reinterpret_cast<const char*>(&v), 8); };
  auto str = [&](const std::string& s) {
    put64(s.size());
    bytes += s;
  };
  auto u32_entry = [&](const std::string& key, uint32_t v) {
    str(key);
    put32(4);
    put32(v);
  };
  struct Info {
    std::string name;
    int64_t rows, cols;  // rows = 0: a vector of cols
  };
  std::vector<Info> tensors = {{"token_embd.weight", kVocab, kHidden}, {"output.weight", kVocab, kHidden},
                               {"output_norm.weight", 0, kHidden}};
  const int64_t q = kHeads * (kHidden / kHeads), kv = kKvHeads * (kHidden / kHeads);
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const Info& info : std::vector<Info>{{"attn_norm.weight", 0, kHidden},
                                              {"ffn_norm.weight", 0, kHidden},
                                              {"attn_q.weight", q, kHidden},
                                              {"attn_k.weight", kv, kHidden},
                                              {"attn_v.weight", kv, kHidden},
                                              {"attn_output.weight", kHidden, q},
                                              {"ffn_gate.weight", kFfn, kHidden},
                                              {"ffn_up.weight", kFfn, kHidden},
                                              {"ffn_down.weight", kHidden, kFfn}})
      tensors.push_back({p + info.name, info.rows, info.cols});
  }
  put32(0x46554747);
  put32(3);
  put64(tensors.size());
  put64(8);
  str("general.architecture");
  put32(8);
  str("llama");
  u32_entry("llama.embedding_length", kHidden);
  u32_entry("llama.block_count", kLayers);
  u32_entry("llama.attention.head_count", kHeads);
  u32_entry("llama.attention.head_count_kv", kKvHeads);
  u32_entry("llama.feed_forward_length", kFfn);
  u32_entry("llama.context_length", 256);
  u32_entry("llama.vocab_size", kVocab);
  for (const Info& t : tensors) {
    str(t.name);
    if (t.rows == 0) {
      put32(1);
      put64(t.cols);
      put32(0);  // f32
    } else {
      put32(2);
      put64(t.cols);  // GGUF lists the innermost dimension first
      put64(t.rows);
      put32(2);  // Q4_0
    }
    put64(data.size());
    if (t.rows == 0) {
      for (int64_t i = 0; i < t.cols; ++i) {
        const float one = 1.0f + 0.01f * static_cast<float>(i % 7);
        data.append(reinterpret_cast<const char*>(&one), 4);
      }
    } else {
      for (int64_t b = 0; b < t.rows * t.cols / kQuantBlock; ++b) {
        const uint16_t scale = f32_to_f16(0.002f + 0.001f * static_cast<float>(random() % 17));
        data.append(reinterpret_cast<const char*>(&scale), 2);
        for (int j = 0; j < 16; ++j) data += static_cast<char>(random() & 0xFF);
      }
    }
    while (data.size() % 32 != 0) data += '\0';
  }
  while (bytes.size() % 32 != 0) bytes += '\0';
  const std::string path = ::testing::TempDir() + "/share_loading_" + name + ".gguf";
  std::ofstream(path, std::ios::binary) << bytes << data;
  return path;
}

// Every value of `got` equals `want`'s (f32, read by the reader from ggml's Q4_0 rule).
void expect_same_values(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(want.dtype(), DType::f32) << what;
  EXPECT_NE(got.dtype(), DType::q4_0) << what << " was left in the file's format";
  int64_t differ = 0;
  for (int64_t i = 0; i < got.numel(); ++i) differ += load_as_f32(got.data(), got.dtype(), i) != want.data_as<float>()[i];
  EXPECT_EQ(differ, 0) << what << ": " << differ << " of " << got.numel() << " values differ";
}

void expect_same_model(const LoadedModel& got, const LoadedModel& want) {
  ASSERT_EQ(got.weights.layers.size(), want.weights.layers.size());
  EXPECT_EQ(got.weights.token_embedding.defined(), want.weights.token_embedding.defined());
  EXPECT_EQ(got.weights.lm_head.defined(), want.weights.lm_head.defined());
  if (want.weights.token_embedding.defined())
    expect_same_values(got.weights.token_embedding, want.weights.token_embedding, "token_embd");
  if (want.weights.lm_head.defined()) expect_same_values(got.weights.lm_head, want.weights.lm_head, "lm_head");
  for (size_t l = 0; l < want.weights.layers.size(); ++l) {
    const LayerWeights &g = got.weights.layers[l], &w = want.weights.layers[l];
    const std::string at = "layer " + std::to_string(l) + " ";
    expect_same_values(g.q.weight, w.q.weight, at + "q");
    expect_same_values(g.k.weight, w.k.weight, at + "k");
    expect_same_values(g.v.weight, w.v.weight, at + "v");
    expect_same_values(g.o.weight, w.o.weight, at + "o");
    expect_same_values(g.gate.weight, w.gate.weight, at + "gate");
    expect_same_values(g.up.weight, w.up.weight, at + "up");
    expect_same_values(g.down.weight, w.down.weight, at + "down");
  }
}

// The CPU reads Q4_0 where it lies in the mapped file: loading copies nothing.
TEST(ShareLoading, Q4_0StaysAViewOfTheFileAndMultipliesInPlace) {
  const std::string path = write_q4_0_llama("views");
  const LoadedModel stored = load_model(path, std::nullopt);
  const Tensor& w = stored.weights.layers[0].q.weight;
  EXPECT_EQ(w.dtype(), DType::q4_0);
  EXPECT_TRUE(w.file_backed());
  // Inputs of ones are exact at every input precision the kernels use; the reference sums in double.
  std::vector<float> x(kHidden, 1.0f), y(w.dim(0)), want(w.dim(0));
  ThreadPool pool(1);
  cpu::matmul(pool, x.data(), w.data(), w.dtype(), y.data(), 1, w.dim(0), w.dim(1));
  ref::matmul(x.data(), w.data(), w.dtype(), want.data(), 1, w.dim(0), w.dim(1));
  for (int64_t i = 0; i < w.dim(0); ++i) EXPECT_NEAR(y[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << i;
}

// For the GPU, whose kernels read q4_1: the same values exactly.
TEST(ShareLoading, AWholeModelRepacksToTheValuesTheFileMeans) {
  const std::string path = write_q4_0_llama("whole");
  LoadedModel loaded = load_model(path, std::nullopt);
  ThreadPool pool(2);
  repack_file_formats(loaded.weights, pool);
  EXPECT_EQ(loaded.weights.layers[1].down.weight.dtype(), DType::q4_1);
  expect_same_model(loaded, load_model(path, DType::f32));
}

// Each tensor-parallel rank of each pipeline stage, cut from the views and then repacked on two
// threads, holds exactly the f32 model's share (cut by the same shard_model from dequantized weights).
TEST(ShareLoading, EachRanksShareCutFromTheFileEqualsTheDequantizedShare) {
  const std::string path = write_q4_0_llama("shares");
  const LoadedModel exact = load_model(path, DType::f32);
  ThreadPool pool(2);
  for (int tp : {1, 2}) {
    for (int pp : {1, 2}) {
      const auto stages = partition_layers(kLayers, pp);
      for (int stage = 0; stage < pp; ++stage) {
        for (int rank = 0; rank < tp; ++rank) {
          SCOPED_TRACE("tp " + std::to_string(tp) + " rank " + std::to_string(rank) + ", stage " +
                       std::to_string(stage) + " of " + std::to_string(pp));
          const auto shard = TensorParallelShard::plan("llama", kHeads, kKvHeads, kFfn, kVocab, tp, rank);
          const bool first = stage == 0, last = stage == pp - 1;
          LoadedModel mine = shard_model(stage_model(load_model(path, std::nullopt), stages[stage], first, last), shard);
          repack_file_formats(mine.weights, pool);
          const LoadedModel want = stage_model(shard_model(exact, shard), stages[stage], first, last);
          EXPECT_EQ(mine.spec.layers, want.spec.layers);
          EXPECT_EQ(mine.weights.lm_head.defined(), last);
          expect_same_model(mine, want);
        }
      }
    }
  }
}

// A mapped file's pages count against the process once read; released, they stop counting, and a
// later read still sees the file's bytes.
TEST(ShareLoading, ReleasedFilePagesLeaveTheResidentSet) {
  constexpr size_t kBytes = 64u << 20;
  const std::string path = ::testing::TempDir() + "/share_loading_pages.bin";
  {
    std::ofstream out(path, std::ios::binary);
    std::string chunk(1 << 20, '\0');
    for (size_t i = 0; i < kBytes / chunk.size(); ++i) {
      chunk[0] = static_cast<char>(i);
      out << chunk;
    }
  }
  const auto file = MappedFile::open(path);
  const size_t before = current_resident_bytes();
  if (before == 0) GTEST_SKIP() << "no /proc here";
  uint64_t sum = 0;
  for (size_t at = 0; at < kBytes; at += 4096) sum += file->data()[at];
  const size_t touched = current_resident_bytes();
  release_mapped_pages(file->data(), kBytes);
  const size_t released = current_resident_bytes();
  EXPECT_GT(touched, before + kBytes * 9 / 10) << "reading the mapping did not make it resident";
  EXPECT_LT(released + kBytes * 9 / 10, touched) << "released pages still count";
  EXPECT_EQ(file->data()[3 << 20], 3) << "the file's bytes after release";
  EXPECT_GT(sum, 0u);
  // Memory that is not a mapped file is left alone.
  std::vector<uint8_t> heap(1 << 20, 5);
  release_mapped_pages(heap.data(), heap.size());
  EXPECT_EQ(heap[4096 * 3], 5);
}

}  // namespace
}  // namespace shardlm
