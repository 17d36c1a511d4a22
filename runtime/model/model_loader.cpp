#include "runtime/model/model_loader.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"
#include "runtime/model/weights/gguf_reader.h"
#include "runtime/model/weights/hf_reader.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/tokenizer/gguf_tokenizer.h"
#include "runtime/tokenizer/hf_tokenizer.h"
#include "runtime/tokenizer/sentencepiece_bpe.h"

namespace shardlm {

namespace {

LoadedModel read_model_file(const std::string& path, std::optional<DType> matrix_dtype) {
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

}  // namespace

LoadedModel load_model(const std::string& path, std::optional<DType> matrix_dtype) {
  return read_model_file(path, matrix_dtype);
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

namespace {

GgufTokenizerData gguf_tokenizer_data(const GgufFile& g) {
  GgufTokenizerData data;
  data.model = g.string("tokenizer.ggml.model");
  data.pre = g.string_or("tokenizer.ggml.pre", "");
  data.tokens = g.strings("tokenizer.ggml.tokens");
  if (g.has("tokenizer.ggml.merges")) data.merges = g.strings("tokenizer.ggml.merges");
  if (g.has("tokenizer.ggml.scores")) {
    for (const auto& score : g.value("tokenizer.ggml.scores").array) {
      const auto* value = std::get_if<double>(&score);
      SHARDLM_CHECK(value != nullptr, "'{}': tokenizer.ggml.scores holds a non-number", g.path());
      data.scores.push_back(static_cast<float>(*value));
    }
  }
  if (g.has("tokenizer.ggml.token_type"))
    for (int64_t type : g.integers("tokenizer.ggml.token_type")) data.token_types.push_back(static_cast<int32_t>(type));
  data.bos_id = static_cast<int32_t>(g.integer_or("tokenizer.ggml.bos_token_id", -1));
  data.eos_id = static_cast<int32_t>(g.integer_or("tokenizer.ggml.eos_token_id", -1));
  data.unknown_id = static_cast<int32_t>(g.integer_or("tokenizer.ggml.unknown_token_id", -1));
  auto flag = [&](const std::string& key) -> std::optional<bool> {
    if (!g.has(key)) return std::nullopt;
    const auto* value = std::get_if<bool>(&g.value(key).scalar);
    SHARDLM_CHECK(value != nullptr, "'{}': {} is not a bool", g.path(), key);
    return *value;
  };
  data.add_bos = flag("tokenizer.ggml.add_bos_token");
  data.add_eos = flag("tokenizer.ggml.add_eos_token");
  data.add_space_prefix = flag("tokenizer.ggml.add_space_prefix");
  return data;
}

std::unique_ptr<Tokenizer> llama2c_tokenizer_beside(const std::string& model_path, const ModelSpec& spec) {
  namespace fs = std::filesystem;
  const fs::path directory =
      fs::path(model_path).parent_path().empty() ? fs::path(".") : fs::path(model_path).parent_path();
  fs::path found = directory / "tokenizer.bin";
  if (!fs::exists(found)) {
    std::vector<fs::path> candidates;
    for (const auto& entry : fs::directory_iterator(directory)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("tok", 0) == 0 && entry.path().extension() == ".bin") candidates.push_back(entry.path());
    }
    SHARDLM_CHECK(candidates.size() == 1,
                  "no tokenizer given and {} candidates beside the model in '{}' (looked for tokenizer.bin or one "
                  "tok*.bin); pass --tokenizer PATH",
                  candidates.size(), directory.string());
    found = candidates.front();
  }
  return std::make_unique<SentencePieceBpe>(SentencePieceBpe::read_llama2c(found.string(), spec.vocab_size));
}

}  // namespace

std::string read_chat_template_source(const std::string& model_path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(model_path)) {
    const fs::path config = fs::path(model_path) / "tokenizer_config.json";
    if (!fs::exists(config)) return "";
    std::ifstream in(config);
    const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    SHARDLM_CHECK(!json.is_discarded() && json.is_object(), "'{}' is not a JSON object", config.string());
    return json.contains("chat_template") && json["chat_template"].is_string() ? json["chat_template"].get<std::string>()
                                                                              : "";
  }
  if (GgufFile::has_magic(model_path)) return GgufFile::open(model_path).string_or("tokenizer.chat_template", "");
  return "";
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_path, const std::string& tokenizer_path,
                                          const ModelSpec& spec) {
  namespace fs = std::filesystem;
  HfTokenizerOptions options;
  options.bos = spec.bos_token;
  options.eos = spec.stop_tokens.empty() ? -1 : spec.stop_tokens.front();
  if (!tokenizer_path.empty()) {
    SHARDLM_CHECK(fs::exists(tokenizer_path), "tokenizer file '{}' does not exist", tokenizer_path);
    if (fs::path(tokenizer_path).extension() == ".json") return load_hf_tokenizer(tokenizer_path, options);
    if (GgufFile::has_magic(tokenizer_path))
      return make_bpe_tokenizer_from_gguf(gguf_tokenizer_data(GgufFile::open(tokenizer_path)));
    return std::make_unique<SentencePieceBpe>(SentencePieceBpe::read_llama2c(tokenizer_path, spec.vocab_size));
  }
  if (fs::is_directory(model_path)) {
    const fs::path json = fs::path(model_path) / "tokenizer.json";
    SHARDLM_CHECK(fs::exists(json), "'{}' has no tokenizer.json; pass --tokenizer PATH", model_path);
    return load_hf_tokenizer(json.string(), options);
  }
  if (GgufFile::has_magic(model_path))
    return make_bpe_tokenizer_from_gguf(gguf_tokenizer_data(GgufFile::open(model_path)));
  return llama2c_tokenizer_beside(model_path, spec);
}

}  // namespace shardlm
