// What a device offers a deployment, read from a YAML file (configs/hardware/*.yaml, or one the user
// or `shardlm plan --probe-hardware` writes): memory, memory bandwidth, dense FLOP/s per dtype, and
// the links between devices within and between nodes. configs/hardware/README.md lists the keys.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "runtime/core/dtype.h"
#include "runtime/plan/number_format.h"

namespace shardlm::plan {

// cpu: seconds one thread spends per key of context in a decode step's attention, for each kv head
// and for each query head (see configs/hardware/README.md, attention_ns_per_key).
struct AttentionKeyCost {
  double per_kv_head = 0, per_head = 0;
};

struct Hardware {
  std::string name;
  bool cpu = false;                                  // kind: cpu (ranks are processes sharing one machine's memory)
  int64_t memory_bytes = 0;                          // per device (cpu: the machine's)
  int64_t runtime_overhead_bytes = 0;                // per rank, before any weight: CUDA context and allocator slack,
                                                     // or a CPU process's binary, libraries, heap and stacks
  int64_t rank_overhead_bytes = 0;                   // more per rank when ranks > 1 (NCCL / MPI buffers, MPI runtime)
  double memory_bandwidth = 0;                       // bytes/s a full device streams
  std::map<int, double> bandwidth_by_threads;        // cpu: bytes/s one rank streams with this many threads
  int64_t cache_bytes = 0;                           // cpu: last-level cache; working sets within it stream faster
  std::map<int, double> cache_bandwidth_by_threads;  // cpu: bytes/s when the weights fit in that cache
  std::map<NumberFormat, double> flops;              // dense matmul FLOP/s by compute precision
  double step_overhead_s = 0;                      // fixed cost of one decoder layer's ops (launches, thread wake-ups)
  std::map<int, double> step_overhead_by_threads;  // cpu: the same, measured with this many threads
  std::map<int, double> pass_overhead_by_threads;  // cpu: fixed cost of a forward pass besides its layers'
  int devices_per_node = 1;
  int threads = 1;                  // cpu: cores one machine has
  double intra_node_bandwidth = 0;  // bytes/s one device sends another in the same node
  double inter_node_bandwidth = 0;  // bytes/s one device sends one in another node
  double link_latency_s = 0;        // per message
  // cpu: threads -> (matrix bytes -> bytes/s) a decode step streams weight matrices of that size with.
  // Small matrices stream slower (each matmul's thread hand-off and prefetch ramp are paid on fewer
  // bytes), so a model's decode speed depends on its matrices' sizes, not only on its total bytes.
  std::map<int, std::map<int64_t, double>> bandwidth_by_matrix;
  // cpu: the same for matrices read from the last-level cache (every rank's weights fit in it),
  // where a small matrix's per-row costs, not the memory, set the rate.
  std::map<int, std::map<int64_t, double>> cache_bandwidth_by_matrix;
  // cpu: weight dtype -> threads -> weight bytes/s the decode product (one input row, cpu::matmul)
  // multiplies with its weights already in the cache: the kernel's own ceiling, whatever the memory.
  // Widening bf16 and unpacking int8 / q8_0 / q4_1 cost instructions per byte, so on some CPUs a
  // format's decode is bound by them rather than by the memory; a matrix is planned at the slower
  // of the two. Empty where the memory alone is the bound (GPUs).
  std::map<DType, std::map<int, double>> kernel_rate;
  // cpu: the same with large matrices streaming from memory: where a kernel keeps the core busy, it
  // reaches less than the memory's rate and less than its cached rate (the two do not overlap
  // fully), so this, not either of those, is its ceiling for weights that do not fit the cache.
  std::map<DType, std::map<int, double>> kernel_streamed_rate;
  // cpu: the same with rows of kLongKernelRow inputs (kernel_streamed_rate's have kShortKernelRow):
  // a row's fixed cost (its sums reduced and stored, the inputs' scales read) weighs less on long
  // rows, so a 7B model's 4,096-wide rows stream faster than a small model's. Between and beyond the
  // two, a row's time is planned as fixed cost + cost per input, fitted through both.
  std::map<DType, std::map<int, double>> kernel_streamed_long_rate;
  static constexpr int64_t kShortKernelRow = 1024, kLongKernelRow = 4096;
  // cpu: head_dim -> attention cost per key; empty where attention is planned by bytes and FLOPs.
  std::map<int64_t, AttentionKeyCost> attention_by_head_dim;

  // kernel_rate's (or, `streamed`, kernel_streamed_rate's) figure for weights in `dtype` with
  // `threads` threads, for rows of `row_inputs` (streamed rows longer than kShortKernelRow follow the
  // fit above where the long rows were measured); infinity when absent.
  double kernel_rate_for(DType dtype, int threads, bool streamed = false,
                         int64_t row_inputs = kShortKernelRow) const;
  // FLOP/s for a compute precision; throws naming the missing key.
  double flops_for(NumberFormat format) const;
  // Bandwidth one rank sees with `threads` threads (cpu), else the device's; `cached`: its working set
  // fits in the cache (cpu files that give cache figures).
  double bandwidth_for(int threads, bool cached = false) const;
  // Bandwidth one rank streams a matrix of `matrix_bytes` with, interpolated log-linearly in the bytes
  // between the sizes measured and clamped beyond them; bandwidth_for(threads, cached) without a table.
  // `cached`: from cache_bandwidth_by_matrix.
  double matrix_bandwidth_for(int threads, double matrix_bytes, bool cached = false) const;
  // Attention cost per key at `head_dim`, interpolated linearly between the head dims measured and
  // held at the end values beyond them; zeros without a table.
  AttentionKeyCost attention_cost_for(int64_t head_dim) const;
  // Per-layer fixed cost with `threads` threads (cpu), else the device's.
  double step_overhead_for(int threads) const;
  // A forward pass's fixed cost outside its layers with `threads` threads (cpu); 0 without a table.
  double pass_overhead_for(int threads) const;
};

// Reads and validates a hardware YAML file; every error names the file and the key.
Hardware read_hardware(const std::string& path);
// A preset name (configs/hardware/<name>.yaml) or a path to a YAML file.
Hardware find_hardware(const std::string& name_or_path);
// The preset (configs/hardware/<name>.yaml) whose datasheet figures are those of a GPU the CUDA runtime
// names `device_name` (cudaDeviceProp::name, "NVIDIA H100 80GB HBM3") with `memory_bytes` of memory:
// "h100-80g", "h200", "a100-80g" or "a100-40g" (the SXM parts); "" for any other (the PCIe and NVL
// parts run at other clocks and bandwidths, which no preset holds).
std::string gpu_preset_for(std::string_view device_name, int64_t memory_bytes);
// The YAML text of `hardware`, in the form read_hardware reads (the probe writes it).
std::string hardware_yaml(const Hardware& hardware, const std::string& comment);

// Where presets live: $SHARDLM_CONFIG_DIR, else configs/ beside the source tree this was built from.
std::string config_dir();
// "80GiB", "141 GB", "512MiB", "1e9": bytes; throws naming `what` when it is not a size.
int64_t parse_size(const std::string& text, const std::string& what);

}  // namespace shardlm::plan
