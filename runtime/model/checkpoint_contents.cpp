#include "runtime/model/checkpoint_contents.h"

#include <filesystem>
#include <fmt/format.h>

#include "runtime/model/weights/gguf_file.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/model/weights/safetensors.h"

namespace shardlm {

int64_t StoredTensor::elements() const {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

CheckpointContents read_checkpoint_contents(const std::string& path) {
  CheckpointContents contents;
  if (std::filesystem::is_directory(path)) {
    contents.format = "safetensors";
    const auto checkpoint = SafetensorsCheckpoint::open(path);
    for (const auto& name : checkpoint.names()) {
      const auto& e = checkpoint.entry(name);
      contents.tensors.push_back({name, e.dtype == DType::f32 ? "F32" : e.dtype == DType::f16 ? "F16" : "BF16", e.shape,
                                  e.bytes});
    }
  } else if (GgufFile::has_magic(path)) {
    const auto gguf = GgufFile::open(path);
    contents.format = fmt::format("gguf v{}", gguf.version());
    for (const auto& [name, t] : gguf.tensors()) contents.tensors.push_back({name, ggml_type_name(t.type), t.shape, t.bytes});
  } else {
    contents.format = "llama2.c";
    const LoadedModel model = read_llama2c_model(path);
    auto add = [&](const std::string& name, const Tensor& t) {
      if (t.defined()) contents.tensors.push_back({name, "F32", t.shape(), t.bytes()});
    };
    add("token_embedding", model.weights.token_embedding);
    for (size_t l = 0; l < model.weights.layers.size(); ++l) {
      const LayerWeights& w = model.weights.layers[l];
      const std::string p = fmt::format("layers.{}.", l);
      add(p + "attn_norm", w.attn_norm.weight);
      add(p + "wq", w.q.weight);
      add(p + "wk", w.k.weight);
      add(p + "wv", w.v.weight);
      add(p + "wo", w.o.weight);
      add(p + "ffn_norm", w.ffn_norm.weight);
      add(p + "w1", w.gate.weight);
      add(p + "w2", w.down.weight);
      add(p + "w3", w.up.weight);
    }
    add("final_norm", model.weights.final_norm.weight);
    if (!model.spec.tied_embeddings) add("classifier", model.weights.lm_head);
  }
  return contents;
}

}  // namespace shardlm
