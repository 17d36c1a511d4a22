#include "runtime/model/repack_file_formats.h"

#include <map>
#include <utility>

#include "runtime/backend/backend.h"
#include "runtime/core/mapped_file.h"
#include "runtime/model/weights/ggml_dequantize.h"

namespace shardlm {

std::vector<Tensor*> weight_matrices(ModelWeights& w) {
  std::vector<Tensor*> matrices = {&w.token_embedding, &w.position_embedding, &w.lm_head};
  for (LayerWeights& layer : w.layers) {
    for (Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down})
      matrices.push_back(&linear->weight);
  }
  return matrices;
}

void repack_file_formats(ModelWeights& weights, ThreadPool& pool) {
  // Same start and shape: one tensor in two roles, repacked once.
  std::map<std::pair<const void*, std::vector<int64_t>>, Tensor> done;
  for (Tensor* matrix : weight_matrices(weights)) {
    if (!matrix->defined() || matrix->dtype() != DType::q4_0) continue;
    auto [at, inserted] = done.try_emplace({matrix->data(), matrix->shape()});
    if (inserted) {
      const Tensor& source = *matrix;
      Tensor repacked = cpu_backend().empty(source.shape(), DType::q4_1);
      const auto* blocks = static_cast<const uint8_t*>(source.data());
      auto* out = repacked.data_as<BlockQ4_1>();
      // Chunks of at least 16K blocks (288 KiB read): enough to pay for waking a thread.
      pool.parallel_for(source.numel() / kQuantBlock, 1 << 14, [&](int64_t begin, int64_t end) {
        repack_q4_0_as_q4_1(blocks + begin * sizeof(BlockQ4_0), end - begin, out + begin);
      });
      if (source.file_backed()) release_mapped_pages(source.data(), source.bytes());
      at->second = std::move(repacked);
    }
    *matrix = at->second;
  }
}

}  // namespace shardlm
