// Reading the golden fixtures of tests/fixtures/ (written by tests/reference/make_fixtures.py from
// Hugging Face transformers) and running ShardLM's decoder the way transformers' generate does.
#pragma once

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/model/decoder.h"
#include "runtime/ops/cuda_ops.h"
#include "runtime/ops/upload_weights.h"

namespace shardlm::golden {

inline const std::string kFixtures = std::string(SHARDLM_TEST_DATA) + "/../fixtures";
inline const std::string kModels = SHARDLM_MODELS_DIR;

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Greedy continuation: one forward over the prompt, then one token at a time through the KV cache,
// argmax each time, for exactly `count` tokens (or until a stop token when stop_at is given).
inline std::vector<int32_t> greedy(Decoder& decoder, const std::vector<int32_t>& prompt, int count,
                                   int32_t stop_at = -1) {
  KvCache cache(decoder.spec(), static_cast<int64_t>(prompt.size()) + count, decoder.ops().memory());
  std::vector<int32_t> generated;
  auto logits = decoder.forward(prompt, 0, cache);
  for (int i = 0; i < count; ++i) {
    const auto next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    generated.push_back(next);
    if (next == stop_at || i + 1 == count) break;
    const int32_t step[] = {next};
    logits = decoder.forward(step, static_cast<int64_t>(prompt.size()) + i, cache);
  }
  return generated;
}

// The model's decoder on GPU 0, its weights uploaded as they are (any stored dtype), for the golden
// tests' GPU cases; `why_not` says why there is none (no CUDA build, no GPU), for their skip.
struct GpuDecoder {
  std::unique_ptr<DeviceOps> ops;
  std::unique_ptr<Decoder> decoder;
  std::string why_not;
};
inline GpuDecoder gpu_decoder(const LoadedModel& model) {
  GpuDecoder gpu;
  const CudaStatus status = cuda_status();
  if (status.device_count == 0) {
    gpu.why_not = status.message;
    return gpu;
  }
  gpu.ops = make_cuda_ops(0);
  const DType every[] = {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1};
  gpu.decoder = std::make_unique<Decoder>(model.spec, upload_weights(model.weights, gpu.ops->memory(), every), *gpu.ops);
  return gpu;
}

}  // namespace shardlm::golden
