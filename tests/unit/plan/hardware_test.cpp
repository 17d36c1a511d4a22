// Hardware files: the presets read, and every bad key or value is an error naming it.
#include "runtime/plan/hardware.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "runtime/cli/plan_model.h"
#include "runtime/core/check.h"
#include "runtime/core/temp_dir.h"
#include "runtime/plan/capacity.h"

namespace shardlm::plan {
namespace {

std::string write_yaml(const std::string& name, const std::string& text) {
  const std::string path = process_temp_dir().file("shardlm_hw_" + name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

void expect_error(const std::string& yaml, const std::string& part) {
  try {
    read_hardware(write_yaml(std::to_string(std::hash<std::string>{}(yaml)), yaml));
    FAIL() << "accepted:\n" << yaml;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
  }
}

const std::string kGood =
    "kind: gpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: 2039\nflops_tflops: {bf16: 312}\n"
    "intra_node_bandwidth_gb_s: 300\n";

TEST(Hardware, PresetsMatchTheirDatasheets) {
  const Hardware a100 = find_hardware("a100-80g");
  EXPECT_EQ(a100.memory_bytes, int64_t{80} << 30);
  EXPECT_DOUBLE_EQ(a100.memory_bandwidth, 2039e9);
  EXPECT_DOUBLE_EQ(a100.flops_for(NumberFormat::bf16), 312e12);
  EXPECT_EQ(find_hardware("h200").memory_bytes, int64_t{141'000'000'000});
  EXPECT_EQ(find_hardware("a100-40g").memory_bytes, int64_t{40} << 30);
  EXPECT_TRUE(find_hardware("cpu").cpu);
  EXPECT_DOUBLE_EQ(find_hardware("h100-80g").memory_bandwidth, 3350e9);
}

// The names cudaGetDeviceProperties gives these parts (NVIDIA's own, as nvidia-smi lists them),
// with their memory: each SXM part finds its preset; parts whose clocks and bandwidth differ from
// every preset (PCIe, NVL) and unknown GPUs find none, so that gpu_bench falls back to the clock.
TEST(Hardware, GpuNamesFindTheirDatasheetPreset) {
  const int64_t gib = int64_t{1} << 30;
  EXPECT_EQ(gpu_preset_for("NVIDIA H100 80GB HBM3", 79 * gib), "h100-80g");
  EXPECT_EQ(gpu_preset_for("NVIDIA H200", 140 * gib), "h200");
  EXPECT_EQ(gpu_preset_for("NVIDIA A100-SXM4-80GB", 79 * gib), "a100-80g");
  EXPECT_EQ(gpu_preset_for("NVIDIA A100-SXM4-40GB", 39 * gib), "a100-40g");
  EXPECT_EQ(gpu_preset_for("NVIDIA H100 PCIe", 79 * gib), "");
  EXPECT_EQ(gpu_preset_for("NVIDIA H100 NVL", 93 * gib), "");
  EXPECT_EQ(gpu_preset_for("NVIDIA H200 NVL", 140 * gib), "");
  EXPECT_EQ(gpu_preset_for("NVIDIA A100 80GB PCIe", 79 * gib), "");
  EXPECT_EQ(gpu_preset_for("NVIDIA L40S", 44 * gib), "");
  // The datasheet's dense bf16 peak, not the boost clock's (H100 SXM: 989 TFLOP/s, where 132
  // multiprocessors x 1,980 MHz x 4,096 FLOP a clock give 1,070).
  EXPECT_DOUBLE_EQ(find_hardware(gpu_preset_for("NVIDIA H100 80GB HBM3", 79 * gib)).flops_for(NumberFormat::bf16),
                   989e12);
}

TEST(Hardware, SizesTakeUnits) {
  EXPECT_EQ(parse_size("80GiB", "x"), int64_t{80} << 30);
  EXPECT_EQ(parse_size("141 GB", "x"), int64_t{141'000'000'000});
  EXPECT_EQ(parse_size("512M", "x"), int64_t{512} << 20);
  EXPECT_EQ(parse_size("1e9", "x"), 1'000'000'000);
  EXPECT_THROW(parse_size("-5GB", "x"), Error);
  EXPECT_THROW(parse_size("lots", "x"), Error);
  EXPECT_THROW(parse_size("5 parsecs", "x"), Error);
}

TEST(Hardware, BadFilesNameTheKey) {
  EXPECT_NO_THROW(read_hardware(write_yaml("good", kGood)));
  expect_error(kGood + "memroy: 4GiB\n", "unknown key 'memroy'");
  expect_error("kind: gpu\nmemory_bandwidth_gb_s: 1\nflops_tflops: {bf16: 1}\nintra_node_bandwidth_gb_s: 1\n",
               "missing required key 'memory'");
  expect_error("kind: gpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: -3\nflops_tflops: {bf16: 1}\n",
               "memory_bandwidth_gb_s must be positive");
  expect_error("kind: tpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: 1\nflops_tflops: {bf16: 1}\n",
               "kind must be gpu or cpu");
  expect_error("kind: gpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: 1\nflops_tflops: {fp8: 1}\n", "flops_tflops key");
  expect_error("kind: gpu\nmemory: eighty\nmemory_bandwidth_gb_s: 1\nflops_tflops: {bf16: 1}\n", "memory");
  expect_error("kind: [gpu\n", "not valid YAML");
  EXPECT_THROW(find_hardware("tpu-v9"), Error);
}

TEST(Hardware, CpuFiguresFollowTheThreadCount) {
  const Hardware cpu = read_hardware(
      write_yaml("cpu",
                 "kind: cpu\nmemory: 16GiB\nmemory_bandwidth_gb_s: 20\nbandwidth_by_threads_gb_s: {1: 12, 4: 20}\n"
                 "flops_tflops: {f32: 0.2}\nthreads: 4\n"));
  EXPECT_DOUBLE_EQ(cpu.bandwidth_for(1), 12e9);
  EXPECT_DOUBLE_EQ(cpu.bandwidth_for(3), 12e9);  // not measured: the nearest count below
  EXPECT_DOUBLE_EQ(cpu.bandwidth_for(8), 20e9);
}

const std::string kCpu = "kind: cpu\nmemory: 16GiB\nmemory_bandwidth_gb_s: 20\nflops_tflops: {f32: 0.2}\nthreads: 4\n";

TEST(Hardware, MatrixBandwidthIsInterpolatedInTheLogOfTheSize) {
  const Hardware cpu = read_hardware(write_yaml(
      "cpu_matrix", kCpu + "bandwidth_by_threads_gb_s: {1: 12, 4: 20}\n"
                           "bandwidth_by_matrix_gb_s:\n  1: {1MiB: 10, 4MiB: 20}\n  2: {256KiB: 8, 16MiB: 32}\n"));
  const double mib = 1048576.0;
  EXPECT_DOUBLE_EQ(cpu.matrix_bandwidth_for(1, 1 * mib), 10e9);
  EXPECT_DOUBLE_EQ(cpu.matrix_bandwidth_for(1, 4 * mib), 20e9);
  EXPECT_NEAR(cpu.matrix_bandwidth_for(1, 2 * mib), 15e9, 1e3);    // 2 MiB: halfway between 1 and 4 in the log
  EXPECT_DOUBLE_EQ(cpu.matrix_bandwidth_for(1, 0.1 * mib), 10e9);  // below the smallest size: its rate
  EXPECT_DOUBLE_EQ(cpu.matrix_bandwidth_for(1, 900 * mib), 20e9);  // above the largest: its rate
  // 1 MiB is a third of the way from 256 KiB to 16 MiB in the log (factors 4 and 64).
  EXPECT_NEAR(cpu.matrix_bandwidth_for(2, 1 * mib), 16e9, 1e3);
  EXPECT_NEAR(cpu.matrix_bandwidth_for(3, 1 * mib), 16e9, 1e3);  // not measured: the nearest count below
  // A file without the table (every GPU preset, older probed files) keeps one rate for every size.
  const Hardware flat = read_hardware(write_yaml("cpu_flat", kCpu + "bandwidth_by_threads_gb_s: {1: 12, 4: 20}\n"));
  EXPECT_DOUBLE_EQ(flat.matrix_bandwidth_for(1, 0.1 * mib), 12e9);
  EXPECT_DOUBLE_EQ(flat.matrix_bandwidth_for(4, 900 * mib), 20e9);
  EXPECT_DOUBLE_EQ(find_hardware("a100-80g").matrix_bandwidth_for(1, mib), 2039e9);
}

TEST(Hardware, BadMatrixBandwidthTablesAreErrorsNamingTheKey) {
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: 20\n", "bandwidth_by_matrix_gb_s must map thread counts");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {}\n", "bandwidth_by_matrix_gb_s must map thread counts");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {two: {1MiB: 3}}\n",
               "bandwidth_by_matrix_gb_s has a key 'two' that is not a thread count");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {1: 3}\n", "bandwidth_by_matrix_gb_s.1 must map matrix sizes");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {1: {big: 3}}\n", "bandwidth_by_matrix_gb_s.1 key");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {1: {0MiB: 3}}\n", "bandwidth_by_matrix_gb_s.1 has a matrix size");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {1: {1MiB: 3, 1024KiB: 4}}\n",
               "gives the matrix size '1024KiB' twice");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {1: {1MiB: -3}}\n",
               "bandwidth_by_matrix_gb_s.1.1MiB must be positive");
  expect_error(kCpu + "bandwidth_by_matrix_gb_s: {1: {1MiB: fast}}\n",
               "bandwidth_by_matrix_gb_s.1.1MiB must be a number");
}

// SmolLM2's decode step on the hardware file `yaml` with `weights` at tp `tp`: 8 prompt tokens and
// `output_tokens` new ones.
double smollm2_step(const std::string& name, const std::string& yaml, NumberFormat weights, int tp,
                    int64_t output_tokens) {
  Workload w;
  w.prompt_tokens = 8;
  w.output_tokens = output_tokens;
  Layout layout;
  layout.weights = weights;
  layout.tp = tp;
  return make_plan(cli::read_plan_model("smollm2-135m").spec, read_hardware(write_yaml(name, yaml)), layout, w)
      .speed.decode_step_s;
}

TEST(Hardware, DecodeTimeSumsEachMatrixAtTheRateForItsSize) {
  auto step = [&](const std::string& name, const std::string& extra, int tp) {
    return smollm2_step(name, kCpu + extra, NumberFormat::f32, tp, 100);
  };
  // A table that gives every size and thread count the same rate plans what the single rate does.
  const std::string flat = "bandwidth_by_threads_gb_s: {1: 20}\n";
  const std::string same = flat + "bandwidth_by_matrix_gb_s: {1: {64KiB: 20, 1GiB: 20}, 4: {4MiB: 20}}\n";
  for (int tp : {1, 2}) EXPECT_NEAR(step("flat", flat, tp), step("same", same, tp), 1e-12 * step("flat", flat, tp));
  // cpu::matmul gives a thread at least 64 K multiply-adds: SmolLM2's k and v ([192 x 576], 110,592)
  // run on one of the 4 threads, every other matrix on all 4. At 10 GB/s on one thread instead of 20,
  // its 60 k / v matrices of 442,368 bytes take 60 x 442,368 x (1/10 - 1/20) / 1e9 s longer.
  const std::string one_slow = "bandwidth_by_matrix_gb_s: {1: {1MiB: 10}, 4: {1MiB: 20}}\n";
  const std::string none_slow = "bandwidth_by_matrix_gb_s: {4: {1MiB: 20}}\n";
  EXPECT_NEAR(step("one_slow", one_slow, 1) - step("none_slow", none_slow, 1), 60 * 442'368 * 0.05e-9, 1e-12);
  // Slower small matrices: SmolLM2's 0.4 to 3.5 MB layer matrices lie between the two rates, its 113 MB
  // LM head at the larger one, so the step takes longer than at the larger rate alone but not as long
  // as at the smaller.
  const std::string at20 = "bandwidth_by_threads_gb_s: {4: 20}\n";
  const std::string at10 = "bandwidth_by_threads_gb_s: {4: 10}\n";
  const std::string slow_small = at20 + "bandwidth_by_matrix_gb_s: {4: {256KiB: 10, 64MiB: 20}}\n";
  EXPECT_GT(step("slow_small", slow_small, 1), 1.1 * step("at20", at20, 1));
  EXPECT_LT(step("slow_small", slow_small, 1), 0.9 * step("at10", at10, 1));
}

TEST(Hardware, AttentionCostIsInterpolatedInTheHeadDim) {
  const Hardware cpu = read_hardware(write_yaml("cpu_attention", kCpu + "attention_ns_per_key: {8: [1, 3], 64: [5, 7]}\n"));
  EXPECT_DOUBLE_EQ(cpu.attention_cost_for(8).per_kv_head, 1e-9);
  EXPECT_DOUBLE_EQ(cpu.attention_cost_for(8).per_head, 3e-9);
  EXPECT_NEAR(cpu.attention_cost_for(36).per_kv_head, 3e-9, 1e-18);  // halfway from 8 to 64
  EXPECT_NEAR(cpu.attention_cost_for(36).per_head, 5e-9, 1e-18);
  EXPECT_DOUBLE_EQ(cpu.attention_cost_for(4).per_head, 3e-9);    // below the smallest: its cost
  EXPECT_DOUBLE_EQ(cpu.attention_cost_for(256).per_head, 7e-9);  // above the largest: its cost
  expect_error(kCpu + "attention_ns_per_key: 3\n", "attention_ns_per_key must map head dims");
  expect_error(kCpu + "attention_ns_per_key: {eight: [1, 2]}\n", "has a key 'eight' that is not a head dim");
  expect_error(kCpu + "attention_ns_per_key: {8: 2}\n", "attention_ns_per_key.8 must be [per kv head, per query head]");
  expect_error(kCpu + "attention_ns_per_key: {8: [1, 2, 3]}\n", "attention_ns_per_key.8 must be");
  expect_error(kCpu + "attention_ns_per_key: {8: [1, -2]}\n", "attention_ns_per_key.8[1] must be zero or more");
  expect_error(kCpu + "pass_overhead_us_by_threads: {1: -1}\n", "pass_overhead_us_by_threads.1 must be zero or more");
}

// stories260K (5 layers, 8 heads over 4 kv heads of 8, 1,280 K/V bytes a token) decoding on one thread.
const std::string kOneThread = "kind: cpu\nmemory: 16GiB\nmemory_bandwidth_gb_s: 20\nflops_tflops: {f32: 0.2}\nthreads: 1\n";

double stories_step(const std::string& name, const std::string& hardware, int64_t prompt_tokens) {
  Workload w;
  w.prompt_tokens = prompt_tokens;
  w.output_tokens = 2;  // the decode context is the prompt and half the output: prompt + 1
  Layout layout;
  layout.weights = NumberFormat::f32;
  layout.kv = NumberFormat::f32;
  return make_plan(cli::read_plan_model("stories260k").spec, read_hardware(write_yaml(name, hardware)), layout, w)
      .speed.decode_step_s;
}

TEST(Hardware, DecodeAttentionCostsItsMeasuredTimePerKey) {
  // 200 more keys cost each of 5 layers 200 x (4 kv heads x 1 ns + 8 heads x 3 ns): 28 us in all.
  const std::string costly = kOneThread + "attention_ns_per_key: {8: [1, 3]}\n";
  EXPECT_NEAR(stories_step("costly", costly, 300) - stories_step("costly", costly, 100), 5 * 200 * 28e-9, 1e-12);
  // Where the kernel costs next to nothing, the K/V still has to stream: 200 x 1,280 bytes at 20 GB/s.
  const std::string cheap = kOneThread + "attention_ns_per_key: {8: [0.0001, 0.0001]}\n";
  EXPECT_NEAR(stories_step("cheap", cheap, 300) - stories_step("cheap", cheap, 100), 200 * 1280 / 20e9, 1e-12);
}

TEST(Hardware, CachedWeightsStreamAtTheCacheRateForTheirSize) {
  // Every weight stories260K's decode reads (5 layers of 181,248 matrix bytes and 512 norm bytes, the
  // tied 131,072-byte head, a 256-byte final norm) and the K/V of a 2-token context (2,560 bytes), at
  // 25 GB/s rather than 50.
  const std::string cached = kOneThread + "cache: 32MiB\ncache_bandwidth_by_threads_gb_s: {1: 50}\n";
  const std::string table = cached + "cache_bandwidth_by_matrix_gb_s: {1: {4KiB: 25, 1MiB: 25}}\n";
  const double bytes = 5 * (181'248 + 512) + 131'072 + 256 + 2'560;
  EXPECT_NEAR(stories_step("table", table, 1) - stories_step("cached", cached, 1), bytes * (1 / 25e9 - 1 / 50e9),
              1e-12);
}

TEST(Hardware, DecodeMatricesRunAtTheSlowerOfMemoryAndKernel) {
  // stories260K's matrices (5 layers of 181,248 bytes and the tied 131,072-byte head) at 20 GB/s from
  // memory: a kernel that streams f32 at 40 GB/s leaves the step as it is; one at 10 GB/s makes the
  // matrices take twice as long, and a figure for another dtype, or for the cache, changes nothing.
  const double matrices = 5 * 181'248 + 131'072;
  const double plain = stories_step("no_kernel", kOneThread, 1);
  EXPECT_DOUBLE_EQ(stories_step("fast_kernel", kOneThread + "kernel_streamed_gb_s: {f32: {1: 40}}\n", 1), plain);
  EXPECT_NEAR(stories_step("slow_kernel", kOneThread + "kernel_streamed_gb_s: {f32: {1: 10}, q4_1: {1: 1}}\n", 1) - plain,
              matrices * (1 / 10e9 - 1 / 20e9), 1e-12);
  EXPECT_DOUBLE_EQ(stories_step("other_kernel", kOneThread + "kernel_streamed_gb_s: {q4_1: {1: 1}}\n", 1), plain);
  EXPECT_DOUBLE_EQ(stories_step("cached_kernel", kOneThread + "kernel_gb_s: {f32: {1: 1}}\n", 1), plain);
  // Within the cache (50 GB/s), the cached figure is the ceiling and the streamed one is not.
  const std::string cached = kOneThread + "cache: 32MiB\ncache_bandwidth_by_threads_gb_s: {1: 50}\n";
  const double in_cache = stories_step("in_cache", cached, 1);
  EXPECT_NEAR(stories_step("in_cache_slow", cached + "kernel_gb_s: {f32: {1: 25}}\n", 1) - in_cache,
              matrices * (1 / 25e9 - 1 / 50e9), 1e-12);
  EXPECT_DOUBLE_EQ(stories_step("in_cache_streamed", cached + "kernel_streamed_gb_s: {f32: {1: 1}}\n", 1), in_cache);
}

TEST(Hardware, KernelRatesFollowEachTensorsDtype) {
  // SmolLM2 in int4 holds its layers in q4_1 and its tied embedding (the LM head) in q8_0: a q8_0
  // kernel slow on weights streaming from memory slows the head alone, its 576 x 49,152 in 34-byte
  // blocks of 32 (30,081,024 bytes).
  const std::string base = kOneThread + "bandwidth_by_threads_gb_s: {1: 20}\n";
  auto step = [&](const std::string& name, const std::string& extra) {
    return smollm2_step(name, base + extra, NumberFormat::int4, 1, 2);
  };
  EXPECT_NEAR(step("slow_head", "kernel_streamed_gb_s: {q8_0: {1: 5}}\n") - step("plain_head", ""),
              30'081'024 * (1 / 5e9 - 1 / 20e9), 1e-12);
  // Weights beyond the cache: the streamed figure is the ceiling, not the cached one. A q4_1 kernel
  // that streams at 10 GB/s slows the 30 layers' q4_1 matrices (3,538,944 weights a layer, 20 bytes
  // per 32) from the memory's 20 GB/s to 10, however fast it is in the cache; the q8_0 head keeps
  // the memory's rate.
  EXPECT_NEAR(step("slow_streamed", "kernel_gb_s: {q4_1: {1: 50}}\nkernel_streamed_gb_s: {q4_1: {1: 10}}\n") -
                  step("plain", ""),
              30 * 3'538'944 / 32 * 20 * (1 / 10e9 - 1 / 20e9), 1e-12);
  expect_error(kCpu + "kernel_gb_s: 3\n", "kernel_gb_s must map weight dtypes");
  expect_error(kCpu + "kernel_gb_s: {q5: {1: 3}}\n", "kernel_gb_s has a key 'q5' that is not a weight dtype");
  expect_error(kCpu + "kernel_gb_s: {q4_1: 3}\n", "kernel_gb_s.q4_1 must map thread counts");
  expect_error(kCpu + "kernel_gb_s: {q4_1: {one: 3}}\n", "kernel_gb_s.q4_1 has a key 'one' that is not a thread count");
  expect_error(kCpu + "kernel_gb_s: {q4_1: {1: -3}}\n", "kernel_gb_s.q4_1.1 must be positive");
  expect_error(kCpu + "kernel_streamed_gb_s: {bf8: {1: 3}}\n", "kernel_streamed_gb_s has a key 'bf8'");
}

TEST(Hardware, WrittenFilesReadBack) {
  Hardware h = find_hardware("a100-80g");
  const Hardware back = read_hardware(write_yaml("roundtrip", hardware_yaml(h, "test")));
  EXPECT_EQ(back.memory_bytes, h.memory_bytes);
  EXPECT_NEAR(back.memory_bandwidth, h.memory_bandwidth, 1e7);
  EXPECT_NEAR(back.flops_for(NumberFormat::bf16), h.flops_for(NumberFormat::bf16), 1e9);
  h.cpu = true;
  h.bandwidth_by_matrix[1] = {{262144, 11.5e9}, {3 << 20, 20.25e9}, {1000, 5e9}};
  h.bandwidth_by_matrix[2] = {{67108864, 30e9}};
  const Hardware cpu = read_hardware(write_yaml("roundtrip_cpu", hardware_yaml(h, "test")));
  EXPECT_EQ(cpu.bandwidth_by_matrix, h.bandwidth_by_matrix);
  h.cache_bandwidth_by_matrix[1] = {{4096, 60e9}, {1 << 20, 40e9}};
  h.attention_by_head_dim[8] = {0.75e-9, 3.25e-9};
  h.pass_overhead_by_threads[2] = 0.5e-6;
  h.kernel_rate[DType::q4_1] = {{1, 12.5e9}, {2, 24e9}};
  h.kernel_rate[DType::f32] = {{1, 80e9}};
  h.kernel_streamed_rate[DType::f32] = {{1, 20e9}, {2, 30e9}};
  h.kernel_streamed_rate[DType::i8] = {{1, 15e9}, {2, 15e9}};
  h.kernel_streamed_long_rate[DType::i8] = {{2, 20e9}};
  const Hardware more = read_hardware(write_yaml("roundtrip_more", hardware_yaml(h, "test")));
  EXPECT_EQ(more.cache_bandwidth_by_matrix, h.cache_bandwidth_by_matrix);
  EXPECT_DOUBLE_EQ(more.attention_cost_for(8).per_kv_head, 0.75e-9);
  EXPECT_DOUBLE_EQ(more.attention_cost_for(8).per_head, 3.25e-9);
  EXPECT_DOUBLE_EQ(more.pass_overhead_for(2), 0.5e-6);
  EXPECT_EQ(more.kernel_rate, h.kernel_rate);
  EXPECT_EQ(more.kernel_streamed_rate, h.kernel_streamed_rate);
  EXPECT_EQ(more.kernel_streamed_long_rate, h.kernel_streamed_long_rate);
  EXPECT_DOUBLE_EQ(more.kernel_rate_for(DType::i8, 2, /*streamed=*/true), 15e9);
  EXPECT_DOUBLE_EQ(more.kernel_rate_for(DType::f32, 2, /*streamed=*/false), 80e9);
  EXPECT_DOUBLE_EQ(more.kernel_rate_for(DType::q4_1, 4), 24e9);  // more threads than measured: the most measured
  EXPECT_EQ(more.kernel_rate_for(DType::bf16, 1), std::numeric_limits<double>::infinity());
}

// Streamed rows longer than 1,024 inputs: a row's time is a fixed cost plus a cost per input through
// the two measured rows. int8 rows of k bytes (one a value): 1,024 at 10 GB/s is 102.4 ns, 4,096 at
// 16 GB/s 256 ns, so 0.05 ns an input and 51.2 ns fixed; 11,008 inputs take 601.6 ns.
TEST(Hardware, LongRowsStreamAtTheFittedRate) {
  Hardware h;
  h.cpu = true;
  h.kernel_streamed_rate[DType::i8] = {{1, 10e9}};
  h.kernel_streamed_long_rate[DType::i8] = {{1, 16e9}};
  EXPECT_DOUBLE_EQ(h.kernel_rate_for(DType::i8, 1, true, 576), 10e9);  // shorter rows: the short figure
  EXPECT_NEAR(h.kernel_rate_for(DType::i8, 1, true, 1024), 10e9, 1e3);
  EXPECT_NEAR(h.kernel_rate_for(DType::i8, 1, true, 4096), 16e9, 1e3);
  EXPECT_NEAR(h.kernel_rate_for(DType::i8, 1, true, 11008), 11008 / 601.6e-9, 1e3);
  EXPECT_DOUBLE_EQ(h.kernel_rate_for(DType::i8, 1, false, 4096), std::numeric_limits<double>::infinity());
  // Long rows measured slower a byte than short ones (noise): no fixed cost to fit, their own rate.
  h.kernel_streamed_long_rate[DType::i8] = {{1, 9e9}};
  EXPECT_DOUBLE_EQ(h.kernel_rate_for(DType::i8, 1, true, 8192), 9e9);
  // Q4_0 takes q4_1's kernel figures, 18 bytes a block where q4_1 has 20.
  h.kernel_streamed_rate[DType::q4_1] = {{1, 20e9}};
  EXPECT_DOUBLE_EQ(h.kernel_rate_for(DType::q4_0, 1, true, 1024), 18e9);
}

}  // namespace
}  // namespace shardlm::plan
