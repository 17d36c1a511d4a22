// The GPU's speed and memory on a published shape (default Llama-2-7B, configs/models), with random
// bf16 weights made on the device (nothing read from disk), through the same decoder, CudaOps and
// paged KV pool a served model uses. Prints, with the ratio to each limit:
//   the device's limits: memory bandwidth (nominal: clock x bus; measured: a device-to-device copy)
//     and bf16 dense peak (nominal: multiprocessors x clock x tensor-core rate; measured: a cuBLAS
//     bf16 GEMM of 8192 x 8192 x 16384 through CudaOps);
//   decode at batch 1 after the prompt: tokens/s, and the fraction of the bandwidth roofline (the
//     weights and K/V a token reads, over the measured bandwidth);
//   prefill of the prompt: tokens/s and TFLOP/s;
//   attention alone (bf16 paged K/V, the model's heads) over 4k, 8k and 16k tokens: TFLOP/s and the
//     fraction of bf16 dense peak;
//   peak GPU memory (the allocation counters) against the planner's figure for the same run.
// Usage: shardlm_gpu_bench [preset.yaml] [prompt tokens] [decode tokens]     (launch/gpu-check.sh)
#include <cuda_runtime.h>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda/ops.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/cli/plan_model.h"
#include "runtime/core/check.h"
#include "runtime/model/decoder.h"
#include "runtime/model/kv_pool.h"
#include "runtime/ops/cuda_ops.h"
#include "runtime/plan/capacity.h"

namespace shardlm {
namespace {

void check(cudaError_t status, const char* what) {
  SHARDLM_CHECK(status == cudaSuccess, "{}: {}", what, cudaGetErrorString(status));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Tensors made in the ops' memory and filled on their stream.
class DeviceTensors {
 public:
  explicit DeviceTensors(DeviceOps& ops) : ops_(ops), stream_(static_cast<cudaStream_t>(ops.queue())) {}
  // Uniform in +-1/sqrt(cols): products keep the scale of their inputs, so activations stay finite.
  Tensor matrix(int64_t rows, int64_t cols) {
    Tensor t = ops_.memory().empty({rows, cols}, DType::bf16);
    check(cuda::fill_random_bf16(t.data_as<uint16_t>(), t.numel(), ++seed_, 1.0f / std::sqrt(static_cast<float>(cols)),
                                 stream_),
          "fill_random_bf16");
    return t;
  }
  Tensor ones(int64_t n) {
    Tensor t = ops_.memory().empty({n}, DType::f32);
    check(cuda::fill(t.data_as<float>(), n, 1.0f, stream_), "fill");
    return t;
  }

 private:
  DeviceOps& ops_;
  cudaStream_t stream_;
  uint64_t seed_ = 0;
};

// A Llama-layout model's weights (separate q/k/v, SwiGLU, RMSNorm, no biases) on the device.
ModelWeights random_llama_weights(const ModelSpec& spec, DeviceOps& ops) {
  SHARDLM_CHECK(spec.qkv_layout == QkvLayout::separate && spec.ffn == FfnKind::swiglu && spec.norm == NormKind::rmsnorm &&
                    !spec.attention_bias && !spec.mlp_bias && spec.position == PositionKind::rope,
                "gpu_bench makes Llama-layout weights (separate q/k/v, SwiGLU, RMSNorm, RoPE, no biases); {} is not",
                spec.summary());
  DeviceTensors make(ops);
  ModelWeights w;
  w.token_embedding = make.matrix(spec.vocab_size, spec.hidden);
  for (int64_t l = 0; l < spec.layers; ++l) {
    LayerWeights layer;
    layer.attn_norm.weight = make.ones(spec.hidden);
    layer.ffn_norm.weight = make.ones(spec.hidden);
    layer.q.weight = make.matrix(spec.q_dim(), spec.hidden);
    layer.k.weight = make.matrix(spec.kv_dim(), spec.hidden);
    layer.v.weight = make.matrix(spec.kv_dim(), spec.hidden);
    layer.o.weight = make.matrix(spec.hidden, spec.q_dim());
    layer.gate.weight = make.matrix(spec.ffn_hidden, spec.hidden);
    layer.up.weight = make.matrix(spec.ffn_hidden, spec.hidden);
    layer.down.weight = make.matrix(spec.hidden, spec.ffn_hidden);
    w.layers.push_back(std::move(layer));
  }
  w.final_norm.weight = make.ones(spec.hidden);
  w.lm_head = spec.tied_embeddings ? w.token_embedding : make.matrix(spec.vocab_size, spec.hidden);
  return w;
}

struct DeviceLimits {
  double nominal_bandwidth = 0, measured_bandwidth = 0;  // bytes/s
  double nominal_bf16 = 0, measured_bf16 = 0;            // FLOP/s
};

// Dense bf16 tensor-core FLOPs per clock per multiprocessor: A100 (8.0) 2048, H100/H200 (9.0) 4096.
double bf16_flops_per_clock(int major) { return major >= 9 ? 4096.0 : major == 8 ? 2048.0 : 1024.0; }

// datasheet_bf16: the GPU's preset's dense bf16 peak (FLOP/s), or 0 where it has no preset: then the
// peak at the clock the device reports, its boost clock (H100 SXM: 1,070 TFLOP/s for a datasheet 989).
DeviceLimits measure_limits(DeviceOps& ops, int device, double datasheet_bf16) {
  DeviceLimits limits;
  int memory_khz = 0, bus_bits = 0, clock_khz = 0, sms = 0, major = 0;
  check(cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device), "memory clock");
  check(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device), "bus width");
  check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device), "clock");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "multiprocessors");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "compute capability");
  limits.nominal_bandwidth = 2.0 * memory_khz * 1e3 * bus_bits / 8;  // double data rate
  limits.nominal_bf16 = datasheet_bf16 > 0 ? datasheet_bf16 : sms * clock_khz * 1e3 * bf16_flops_per_clock(major);

  // A copy of 2 GiB reads and writes each byte once; the best of 5.
  const int64_t bytes = int64_t{2} << 30;
  Tensor from = ops.memory().empty({bytes}, DType::i8), to = ops.memory().empty({bytes}, DType::i8);
  float sync = 0;
  double best = 1e30;
  for (int round = 0; round < 6; ++round) {
    const auto start = std::chrono::steady_clock::now();
    ops.copy(to.data(), from.data(), bytes);
    ops.to_host(&sync, to.data(), sizeof(sync));
    if (round > 0) best = std::min(best, seconds_since(start));  // the first warms up
  }
  limits.measured_bandwidth = 2.0 * bytes / best;

  // A GEMM of 8192 rows x 8192 deep x 16384 columns through CudaOps: rounding the f32 inputs to bf16
  // is included (about 5% of the time at this shape).
  const int64_t m = 8192, k = 8192, n = 16384;
  DeviceTensors make(ops);
  Tensor weight = make.matrix(n, k), x = ops.memory().empty({m * k}, DType::f32), y = ops.memory().empty({m * n}, DType::f32);
  check(cuda::fill(x.data_as<float>(), m * k, 0.5f, static_cast<cudaStream_t>(ops.queue())), "fill");
  best = 1e30;
  for (int round = 0; round < 6; ++round) {
    const auto start = std::chrono::steady_clock::now();
    ops.matmul(x.data_as<float>(), weight, Tensor(), y.data_as<float>(), m);
    ops.to_host(&sync, y.data(), sizeof(sync));
    if (round > 0) best = std::min(best, seconds_since(start));
  }
  limits.measured_bf16 = 2.0 * m * n * k / best;
  return limits;
}

void run(const std::string& preset, int64_t prompt_tokens, int64_t decode_tokens) {
  const CudaStatus status = cuda_status();
  SHARDLM_CHECK(status.device_count > 0, "gpu_bench needs a GPU: {}", status.message);
  const ModelSpec spec = cli::read_model_preset(preset);
  SHARDLM_CHECK(prompt_tokens > 0 && decode_tokens > 0 && prompt_tokens + decode_tokens <= spec.max_seq_len,
                "prompt {} + decode {} tokens must fit the model's {} positions", prompt_tokens, decode_tokens,
                spec.max_seq_len);
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  fmt::print("gpu_bench: {} ({} multiprocessors, {:.1f} GiB), model {}\n", properties.name,
             properties.multiProcessorCount, properties.totalGlobalMem / 1073741824.0, spec.summary());

  const std::string gpu_preset = plan::gpu_preset_for(properties.name, static_cast<int64_t>(properties.totalGlobalMem));
  if (gpu_preset.empty()) {
    fmt::print("no hardware preset for this GPU: nominal figures are from its reported clocks, and the memory plan uses "
               "h100-80g's overheads\n");
  }
  const plan::Hardware hardware = plan::find_hardware(gpu_preset.empty() ? "h100-80g" : gpu_preset);
  std::unique_ptr<DeviceOps> ops = make_cuda_ops(0);
  const DeviceLimits limits =
      measure_limits(*ops, 0, gpu_preset.empty() ? 0.0 : hardware.flops_for(plan::NumberFormat::bf16));
  fmt::print("memory bandwidth: nominal {:.0f} GB/s, measured (copy) {:.0f} GB/s = {:.2f} of nominal\n",
             limits.nominal_bandwidth / 1e9, limits.measured_bandwidth / 1e9,
             limits.measured_bandwidth / limits.nominal_bandwidth);
  fmt::print("bf16 dense: nominal ({}) {:.0f} TFLOP/s, measured (cuBLAS GEMM) {:.0f} TFLOP/s = {:.2f} of nominal\n",
             gpu_preset.empty() ? std::string("at the reported clock") : "datasheet, " + gpu_preset,
             limits.nominal_bf16 / 1e12, limits.measured_bf16 / 1e12, limits.measured_bf16 / limits.nominal_bf16);

  // The model's run, on fresh allocation counters so its peak is the model's alone.
  ops = make_cuda_ops(0);
  plan::Workload workload;
  workload.prompt_tokens = prompt_tokens;
  workload.output_tokens = decode_tokens;
  plan::Layout layout;  // bf16 weights and K/V, one rank
  const plan::RankMemory planned = plan::make_plan(spec, hardware, layout, workload).ranks[0];
  {
    Decoder decoder(spec, random_llama_weights(spec, *ops), *ops);
    KvPool pool(spec, planned.kv_blocks, workload.block_size, DType::bf16, ops->memory());
    std::vector<int32_t> blocks(planned.kv_blocks);
    for (int64_t b = 0; b < planned.kv_blocks; ++b) blocks[b] = static_cast<int32_t>(b);
    std::vector<int32_t> prompt(prompt_tokens);
    for (int64_t i = 0; i < prompt_tokens; ++i) prompt[i] = static_cast<int32_t>((17 + 101 * i) % spec.vocab_size);

    decoder.forward_batch(std::vector<SequenceSlice>{{prompt, 0, nullptr, &pool, blocks}});  // warm-up
    auto start = std::chrono::steady_clock::now();
    decoder.forward_batch(std::vector<SequenceSlice>{{prompt, 0, nullptr, &pool, blocks}});
    const double prefill_s = seconds_since(start);
    double layer_parameters = 0;
    for (const LayerWeights& l : decoder.weights().layers)
      for (const Linear* x : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) layer_parameters += x->weight.numel();
    // Every token through the layers, the last one through the LM head, causal attention over half.
    const double attention_flops = 4.0 * spec.layers * spec.q_dim() * prompt_tokens * (prompt_tokens + 1) / 2.0;
    const double prefill_flops = 2.0 * layer_parameters * prompt_tokens +
                                 2.0 * static_cast<double>(decoder.weights().lm_head.numel()) + attention_flops;
    fmt::print("prefill {} tokens: {:.1f} ms, {:.0f} tokens/s, {:.0f} TFLOP/s = {:.2f} of measured bf16 GEMM, {:.2f} of "
               "nominal\n",
               prompt_tokens, prefill_s * 1e3, prompt_tokens / prefill_s, prefill_flops / prefill_s / 1e12,
               prefill_flops / prefill_s / limits.measured_bf16, prefill_flops / prefill_s / limits.nominal_bf16);

    start = std::chrono::steady_clock::now();
    int32_t token = 1;
    for (int64_t i = 0; i < decode_tokens; ++i) {
      const auto logits = decoder.forward_batch(
          std::vector<SequenceSlice>{{std::span<const int32_t>(&token, 1), prompt_tokens + i, nullptr, &pool, blocks}});
      token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const double step_s = seconds_since(start) / decode_tokens;
    // What one token reads: every matrix but the embedding table (one row of it), and the K/V so far.
    const double weight_bytes = static_cast<double>(decoder.weight_bytes()) -
                                (spec.tied_embeddings ? 0.0 : decoder.weights().token_embedding.bytes());
    const double kv_bytes = (prompt_tokens + decode_tokens / 2.0) * planned.kv_bytes_per_token;
    const double roofline_s = (weight_bytes + kv_bytes) / limits.measured_bandwidth;
    fmt::print("decode at batch 1: {:.2f} ms/token, {:.1f} tokens/s; reads {:.2f} GB a token: {:.2f} of the measured "
               "bandwidth's roofline ({:.1f} tokens/s), {:.2f} of nominal's\n",
               step_s * 1e3, 1.0 / step_s, (weight_bytes + kv_bytes) / 1e9, roofline_s / step_s, 1.0 / roofline_s,
               (weight_bytes + kv_bytes) / limits.nominal_bandwidth / step_s);

    const MemoryStats used = ops->memory().memory();
    const double planned_bytes = static_cast<double>(planned.weights.total() + planned.kv_bytes + planned.activation_bytes);
    fmt::print("peak GPU memory: {:.3f} GiB allocated; planned {:.3f} GiB (weights {:.3f}, KV {:.3f}, activations "
               "{:.3f}): measured / planned = {:.3f}\n",
               used.peak_bytes / 1073741824.0, planned_bytes / 1073741824.0, planned.weights.total() / 1073741824.0,
               planned.kv_bytes / 1073741824.0, planned.activation_bytes / 1073741824.0, used.peak_bytes / planned_bytes);
  }

  // Attention alone: a prefill of T tokens over a bf16 paged pool of one layer, the model's heads.
  ModelSpec one_layer = spec;
  one_layer.layers = 1;
  one_layer.max_seq_len = 16384;
  DeviceTensors make(*ops);
  for (const int64_t tokens : {4096, 8192, 16384}) {
    const int64_t blocks = tokens / workload.block_size;
    KvPool pool(one_layer, blocks, workload.block_size, DType::bf16, ops->memory());
    std::vector<int32_t> table(blocks);
    for (int64_t b = 0; b < blocks; ++b) table[b] = static_cast<int32_t>(b);
    Tensor k = ops->memory().empty({tokens * spec.kv_dim()}, DType::f32), q = ops->memory().empty({tokens * spec.q_dim()}, DType::f32);
    Tensor out = ops->memory().empty({tokens * spec.q_dim()}, DType::f32);
    check(cuda::fill(k.data_as<float>(), k.numel(), 0.01f, static_cast<cudaStream_t>(ops->queue())), "fill");
    check(cuda::fill(q.data_as<float>(), q.numel(), 0.01f, static_cast<cudaStream_t>(ops->queue())), "fill");
    ops->write_kv(pool, 0, k.data_as<float>(), k.data_as<float>(), tokens, 0, table);
    AttentionShape shape{tokens, 0, spec.heads, spec.kv_heads, spec.head_dim, spec.kv_dim(),
                         1.0f / std::sqrt(static_cast<float>(spec.head_dim))};
    shape.block_table = table.data();
    shape.block_size = workload.block_size;
    shape.kv_dtype = DType::bf16;
    float sync = 0;
    double best = 1e30;
    for (int round = 0; round < 3; ++round) {
      const auto start = std::chrono::steady_clock::now();
      ops->attention(q.data_as<float>(), pool.keys(0), pool.values(0), out.data_as<float>(), shape);
      ops->to_host(&sync, out.data(), sizeof(sync));
      if (round > 0) best = std::min(best, seconds_since(start));
    }
    const double flops = 4.0 * spec.q_dim() * tokens * (tokens + 1) / 2.0;  // causal: QK^T and PV over half
    fmt::print("attention prefill {} tokens (head dim {}, {} heads, bf16 K/V): {:.1f} ms, {:.1f} TFLOP/s = {:.3f} of "
               "nominal bf16 peak, {:.3f} of measured GEMM\n",
               tokens, spec.head_dim, spec.heads, best * 1e3, flops / best / 1e12, flops / best / limits.nominal_bf16,
               flops / best / limits.measured_bf16);
  }
}

}  // namespace
}  // namespace shardlm

int main(int argc, char** argv) {
  try {
    const std::string preset = argc > 1 ? argv[1] : std::string(SHARDLM_CONFIGS_DIR) + "/models/llama-2-7b.yaml";
    shardlm::run(preset, argc > 2 ? std::atoll(argv[2]) : 512, argc > 3 ? std::atoll(argv[3]) : 128);
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "gpu_bench: {}\n", error.what());
    return 1;
  }
}
