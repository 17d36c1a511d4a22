#include "runtime/cli/plan_model.h"

#include <malloc.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/core/check.h"
#include "runtime/model/checkpoint_contents.h"
#include "runtime/model/families/family.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/weights/gguf_file.h"
#include "runtime/plan/hardware.h"

namespace shardlm::cli {
namespace {

namespace fs = std::filesystem;

// The config.json keys the family readers understand (runtime/model/families/), and the descriptive
// ones published configs carry. A preset key outside this list is a typo, not something to ignore.
const std::set<std::string> kPresetKeys = {"architectures",
                                           "model_type",
                                           "_name_or_path",
                                           "torch_dtype",
                                           "transformers_version",
                                           "use_cache",
                                           "vocab_size",
                                           "hidden_size",
                                           "n_embed",
                                           "n_embd",
                                           "num_hidden_layers",
                                           "n_layer",
                                           "n_layers",
                                           "num_attention_heads",
                                           "n_head",
                                           "n_heads",
                                           "num_key_value_heads",
                                           "num_kv_heads",
                                           "n_head_kv",
                                           "head_dim",
                                           "intermediate_size",
                                           "ffn_hidden_size",
                                           "n_inner",
                                           "d_model",
                                           "expansion_ratio",
                                           "max_position_embeddings",
                                           "n_positions",
                                           "seq_length",
                                           "max_seq_len",
                                           "rms_norm_eps",
                                           "layer_norm_epsilon",
                                           "layer_norm_eps",
                                           "rope_theta",
                                           "rope_scaling",
                                           "hidden_act",
                                           "activation_function",
                                           "multi_query",
                                           "new_decoder_architecture",
                                           "parallel_attn",
                                           "num_ln_in_parallel_attn",
                                           "bias",
                                           "alibi",
                                           "no_bias",
                                           "attn_config",
                                           "tie_word_embeddings",
                                           "bos_token_id",
                                           "eos_token_id",
                                           "pad_token_id",
                                           "initializer_range",
                                           "pretraining_tp",
                                           "scale_attn_weights",
                                           "scale_attn_by_inverse_layer_idx",
                                           "reorder_and_upcast_attn",
                                           "attention_dropout",
                                           "hidden_dropout",
                                           "attention_softmax_in_fp32",
                                           "apply_residual_connection_post_layernorm",
                                           "slow_but_exact",
                                           "n_ctx",
                                           "resid_pdrop",
                                           "embd_pdrop",
                                           "attn_pdrop",
                                           "summary_type",
                                           "summary_use_proj",
                                           "summary_activation",
                                           "summary_proj_to_labels",
                                           "summary_first_dropout",
                                           "learned_pos_emb",
                                           "logit_scale",
                                           "norm_type",
                                           "emb_pdrop",
                                           "init_device",
                                           "init_config",
                                           "verbose",
                                           "attention_bias",
                                           "mlp_bias",
                                           "shardlm_note"};

// A YAML scalar as the JSON value config.json would hold: plain true/false, numbers and null as such,
// anything quoted or else as a string.
nlohmann::json to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& entry : node) object[entry.first.as<std::string>()] = to_json(entry.second);
    return object;
  }
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : node) array.push_back(to_json(item));
    return array;
  }
  if (node.IsNull()) return nullptr;
  const std::string text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted
  if (text == "true") return true;
  if (text == "false") return false;
  if (text == "null" || text == "~") return nullptr;
  char* end = nullptr;
  const long long integer = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0') return integer;
  const double number = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0') return number;
  return text;
}

std::string known_presets() {
  std::string known;
  const fs::path dir = fs::path(plan::config_dir()) / "models";
  std::set<std::string> names;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".yaml") names.insert(entry.path().stem().string());
  for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
  return known;
}

// Heap bytes in use, counted by the allocator itself (exact, unlike resident pages).
size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// What loading the checkpoint at `path` holds besides the weights, read from what it stores.
plan::CheckpointLoad checkpoint_load(const std::string& path, const ModelSpec& spec, plan::NumberFormat& runtime) {
  plan::CheckpointLoad load;
  load.present = true;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.path().extension() == ".safetensors") load.file_bytes += static_cast<int64_t>(entry.file_size());
  } else {
    load.file_bytes = static_cast<int64_t>(fs::file_size(path));
  }
  const CheckpointContents contents = read_checkpoint_contents(path);
  const bool gguf = !fs::is_directory(path) && GgufFile::has_magic(path);
  std::string layer_type;  // the type of the layers' matrices (the first matrix is the embedding)
  for (const StoredTensor& t : contents.tensors) {
    const bool matrix = t.shape.size() == 2;
    const bool embedding = t.name.find("embd") != std::string::npos || t.name.find("embed") != std::string::npos;
    if (matrix && !embedding && layer_type.empty()) layer_type = t.type;
    if (matrix && (t.name == "token_embd.weight" || t.name.ends_with("embed_tokens.weight") || t.name.ends_with("wte.weight") ||
                   t.name.ends_with("word_embeddings.weight")))
      load.embedding_viewed = !(gguf && (t.type == "Q4_K" || t.type == "Q6_K"));
    // GGUF keeps every tensor as stored (a view of the mapping; Q4_0 too, which the CPU multiplies in
    // place) but repacks Q4_K into q4_1 and Q6_K into q8_0 blocks on the heap before the cut; a
    // Hugging Face checkpoint keeps matrices as stored and converts only norms and biases to f32;
    // llama2.c is f32 throughout.
    const bool repacked_whole = t.type == "Q4_K" || t.type == "Q6_K";
    const bool converted = gguf ? repacked_whole : (!matrix && t.type != "F32");
    // Repacked GGUF blocks: q4_1's 20 bytes per 32 values (Q4_K) or q8_0's 34 (Q6_K).
    const int64_t converted_bytes = gguf ? t.elements() / 32 * (t.type == "Q6_K" ? 34 : 20) : t.elements() * 4;
    if (converted) load.converted_bytes += converted_bytes;
    const bool lm_head = t.name == "output.weight" || t.name == "lm_head.weight";
    if (converted && matrix && lm_head) load.converted_lm_head_bytes += converted_bytes;
    if (converted && matrix && (lm_head || (spec.tied_embeddings && embedding))) load.lm_head_converted = true;
    if (converted && matrix) load.matrices_converted = true;
  }
  runtime = plan::NumberFormat::f32;
  if (layer_type == "BF16") runtime = plan::NumberFormat::bf16;
  if (layer_type == "F16") runtime = plan::NumberFormat::f16;
  // Q4_1 / Q4_K layers are the runtime's int4 (q4_1, with q8_0 tables), Q4_0 ones run as stored;
  // Q8_0 / Q6_K count as int8.
  if (gguf && (layer_type == "Q4_1" || layer_type == "Q4_K")) runtime = plan::NumberFormat::int4;
  if (gguf && layer_type == "Q4_0") runtime = plan::NumberFormat::q4_0;
  if (gguf && (layer_type == "Q8_0" || layer_type == "Q6_K")) runtime = plan::NumberFormat::int8;
  const size_t before = heap_in_use();
  {
    const auto tokenizer = load_tokenizer(path, "", spec);
    load.tokenizer_bytes = static_cast<int64_t>(heap_in_use() - before);
  }
  return load;
}

}  // namespace

ModelSpec read_model_preset(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& error) {
    SHARDLM_FAIL("'{}' is not valid YAML: {}", path, error.what());
  }
  SHARDLM_CHECK(root.IsMap(), "'{}' must be a YAML map of config.json keys", path);
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    SHARDLM_CHECK(kPresetKeys.count(key) == 1, "'{}': unknown key '{}' (see configs/models/README.md)", path, key);
  }
  const ConfigJson config(to_json(root), path);
  ModelSpec spec = family_for(config).read_config(config);
  spec.validate();
  return spec;
}

PlanModel read_plan_model(const std::string& model) {
  PlanModel m;
  const fs::path given(model);
  if (fs::exists(given)) {
    m.name = given.filename().string();
    const std::string extension = given.extension().string();
    if (!fs::is_directory(given) && (extension == ".yaml" || extension == ".yml")) {
      m.name = given.stem().string();
      m.spec = read_model_preset(model);
      return m;
    }
    m.spec = read_model_spec(model);
    m.load = checkpoint_load(model, m.spec, m.runtime_weights);
    return m;
  }
  const fs::path preset = fs::path(plan::config_dir()) / "models" / (model + ".yaml");
  SHARDLM_CHECK(model.find('/') == std::string::npos && fs::is_regular_file(preset),
                "--model '{}' is neither a preset ({}) nor an existing checkpoint or YAML file", model,
                known_presets());
  m.name = model;
  m.spec = read_model_preset(preset.string());
  return m;
}

}  // namespace shardlm::cli
