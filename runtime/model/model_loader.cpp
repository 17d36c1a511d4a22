#include "runtime/model/model_loader.h"

#include <filesystem>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"
#include "runtime/model/weights/gguf_reader.h"
#include "runtime/model/weights/hf_reader.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/tokenizer/sentencepiece_bpe.h"

namespace shardlm {

LoadedModel load_model(const std::string& path, std::optional<DType> matrix_dtype) {
  namespace fs = std::filesystem;
  SHARDLM_CHECK(fs::exists(path), "model file '{}' does not exist", path);
  if (fs::is_directory(path)) {
    SHARDLM_CHECK(fs::exists(fs::path(path) / "config.json"),
                  "'{}' is a directory without config.json; pass a Hugging Face checkpoint directory or a model file",
                  path);
    return read_hf_model(path, matrix_dtype);
  }
  if (GgufFile::has_magic(path)) return read_gguf_model(path, matrix_dtype);
  return read_llama2c_model(path, matrix_dtype.value_or(DType::f32));
}

ModelSpec read_model_spec(const std::string& path) {
  namespace fs = std::filesystem;
  SHARDLM_CHECK(fs::exists(path), "model file '{}' does not exist", path);
  if (fs::is_directory(path)) {
    const ConfigJson config = ConfigJson::read((fs::path(path) / "config.json").string());
    ModelSpec spec = family_for(config).read_config(config);
    spec.validate();
    return spec;
  }
  if (GgufFile::has_magic(path)) return gguf_model_spec(GgufFile::open(path));
  return read_llama2c_model(path).spec;  // f32 tensors are views of the mapping: nothing is read
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_path, const std::string& tokenizer_path,
                                          const ModelSpec& spec) {
  namespace fs = std::filesystem;
  std::string path = tokenizer_path;
  if (path.empty()) {
    const fs::path directory = fs::path(model_path).parent_path().empty() ? fs::path(".") : fs::path(model_path).parent_path();
    if (fs::exists(directory / "tokenizer.bin")) {
      path = (directory / "tokenizer.bin").string();
    } else {
      std::vector<fs::path> candidates;
      for (const auto& entry : fs::directory_iterator(directory)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("tok", 0) == 0 && entry.path().extension() == ".bin") candidates.push_back(entry.path());
      }
      SHARDLM_CHECK(candidates.size() == 1,
                    "no tokenizer given and {} candidates beside the model in '{}' (looked for tokenizer.bin or one "
                    "tok*.bin); pass --tokenizer PATH",
                    candidates.size(), directory.string());
      path = candidates.front().string();
    }
  }
  SHARDLM_CHECK(fs::exists(path), "tokenizer file '{}' does not exist", path);
  return std::make_unique<SentencePieceBpe>(SentencePieceBpe::read_llama2c(path, spec.vocab_size));
}

}  // namespace shardlm
