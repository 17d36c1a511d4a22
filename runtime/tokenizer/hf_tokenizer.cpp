#include "runtime/tokenizer/hf_tokenizer.h"

#include <filesystem>

#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"
#include "runtime/tokenizer/hf_components.h"
#include "runtime/tokenizer/json_node.h"

namespace shardlm {
namespace {

std::pair<std::string, std::string> read_merge(const JsonNode& entry) {
  if (entry.value().is_string()) {
    const std::string line = entry.string();
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos || space == 0 ||
        space + 1 == line.size())
      entry.fail(fmt::format("'{}' is not two tokens separated by one space", line));
    return {line.substr(0, space), line.substr(space + 1)};
  }
  if (entry.value().is_array()) {
    if (entry.size() != 2) entry.fail(fmt::format("expected a pair of tokens, got {} elements", entry.size()));
    return {entry.at(size_t{0}).string(), entry.at(size_t{1}).string()};
  }
  entry.fail(fmt::format(R"(expected "a b" or ["a", "b"], got {})", entry.kind()));
}

std::vector<AddedToken> read_added_tokens(const JsonNode& root, int64_t id_limit) {
  std::vector<AddedToken> tokens;
  const auto list = root.find("added_tokens");
  if (!list) return tokens;
  for (size_t i = 0; i < list->size(); ++i) {
    const JsonNode entry = list->at(i);
    AddedToken token;
    token.id = static_cast<int32_t>(entry.at("id").integer(0, id_limit));
    token.content = entry.at("content").string();
    if (token.content.empty()) entry.at("content").fail("an added token must not be empty");
    token.special = entry.boolean_or("special", false);
    token.lstrip = entry.boolean_or("lstrip", false);
    token.rstrip = entry.boolean_or("rstrip", false);
    token.single_word = entry.boolean_or("single_word", false);
    token.normalized = entry.boolean_or("normalized", !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

std::unique_ptr<BpeModel> read_bpe_model(const JsonNode& model, int64_t id_limit) {
  model.expect_object();
  const auto type = model.find("type");
  if (type) {
    if (type->string() != "BPE") type->fail(fmt::format("model type '{}' is not supported (ShardLM reads BPE models)", type->string()));
  } else if (!model.find("merges")) {
    model.fail("has no 'type' and no 'merges'; not a BPE model");
  }

  const JsonNode vocab_node = model.at("vocab");
  vocab_node.expect_object();
  TokenIds vocab;
  vocab.reserve(vocab_node.value().size());
  for (const auto& [text, id] : vocab_node.value().items()) {
    if (id.is_number_unsigned() && id.get<uint64_t>() <= static_cast<uint64_t>(id_limit)) {
      vocab[text] = static_cast<int32_t>(id.get<uint64_t>());
      continue;
    }
    // Only a bad entry pays for its path.
    const JsonNode entry(id, fmt::format("{}[\"{}\"]", vocab_node.path(), text), model.file());
    vocab[text] = static_cast<int32_t>(entry.integer(0, id_limit));
  }

  std::vector<std::pair<std::string, std::string>> merges;
  if (const auto list = model.find("merges")) {
    merges.reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) merges.push_back(read_merge(list->at(i)));
  }

  BpeOptions options;
  if (const auto unk = model.find("unk_token")) options.unk_token = unk->string();
  options.continuing_subword_prefix = model.string_or("continuing_subword_prefix", "");
  options.end_of_word_suffix = model.string_or("end_of_word_suffix", "");
  options.fuse_unk = model.boolean_or("fuse_unk", false);
  options.byte_fallback = model.boolean_or("byte_fallback", false);
  options.ignore_merges = model.boolean_or("ignore_merges", false);
  if (const auto dropout = model.find("dropout")) {
    const double p = dropout->number();
    if (p > 0.0) dropout->fail(fmt::format("dropout {} makes encoding random; inference tokenizers have none", p));
  }
  return std::make_unique<BpeModel>(std::move(vocab), merges, std::move(options), fmt::format("'{}': model.merges", model.file()));
}

// The content a tokenizer_config.json gives for "bos_token" / "eos_token": a string or {"content": ...}.
std::string configured_token(const JsonNode& config, std::string_view key) {
  const auto member = config.find(key);
  if (!member) return "";
  if (member->value().is_string()) return member->string();
  if (member->value().is_object()) return member->string_or("content", "");
  member->fail(fmt::format("expected a string or an object, got {}", member->kind()));
}

}  // namespace

std::unique_ptr<BpeTokenizer> parse_hf_tokenizer(std::string_view json_text, const std::string& origin,
                                                 const HfTokenizerOptions& options) {
  const nlohmann::json document = parse_json(json_text, origin);
  const JsonNode root(document, "", origin);
  if (!document.is_object())
    root.fail(fmt::format("expected a tokenizer.json object, got {}", root.kind()));
  const JsonNode model = root.at("model");
  model.expect_object();

  // Ids index tables, so bound them by the number of tokens (with room for padded vocabularies).
  size_t entries = 0;
  if (const auto vocab = model.find("vocab"); vocab && vocab->value().is_object()) entries += vocab->value().size();
  if (const auto added = root.find("added_tokens"); added && added->value().is_array()) entries += added->value().size();
  const int64_t id_limit = std::min<int64_t>(4 * static_cast<int64_t>(entries) + 65536, (int64_t{1} << 26) - 1);

  BpeTokenizerParts parts;
  try {
    parts.model = read_bpe_model(model, id_limit);
    parts.added_tokens = read_added_tokens(root, id_limit);
    if (const auto normalizer = root.find("normalizer")) parts.normalizer = read_normalizer(*normalizer);
    if (const auto pre_tokenizer = root.find("pre_tokenizer")) parts.pre_tokenizer = read_pre_tokenizer(*pre_tokenizer);
    if (const auto post_processor = root.find("post_processor")) parts.post_processor = read_post_processor(*post_processor);
    if (const auto decoder = root.find("decoder")) parts.decoder = read_decoder(*decoder);
  } catch (const nlohmann::json::exception& e) {
    SHARDLM_FAIL("'{}' is not a valid tokenizer.json: {}", origin, e.what());
  }

  const auto id_of = [&](std::string_view content) -> int32_t {
    for (const AddedToken& token : parts.added_tokens)
      if (token.content == content) return token.id;
    return content.empty() ? -1 : parts.model->token_id(content);
  };
  parts.bos = options.bos;
  parts.eos = options.eos;
  if ((parts.bos < 0 || parts.eos < 0) && options.read_tokenizer_config) {
    const std::filesystem::path config_path = std::filesystem::path(origin).parent_path() / "tokenizer_config.json";
    std::error_code error;
    if (std::filesystem::is_regular_file(config_path, error)) {
      const auto file = MappedFile::open(config_path.string());
      const nlohmann::json config_document =
          parse_json(std::string_view(reinterpret_cast<const char*>(file->data()), file->size()), config_path.string());
      const JsonNode config(config_document, "", file->path());
      config.expect_object();
      if (parts.bos < 0) parts.bos = id_of(configured_token(config, "bos_token"));
      if (parts.eos < 0) parts.eos = id_of(configured_token(config, "eos_token"));
    }
  }
  if (parts.bos < 0 && parts.post_processor.prefix.size() == 1) parts.bos = parts.post_processor.prefix[0];
  if (parts.eos < 0 && parts.post_processor.suffix.size() == 1) parts.eos = parts.post_processor.suffix[0];
  for (const char* name : {"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "<|endoftext|>"})
    if (parts.bos < 0) parts.bos = id_of(name);
  for (const char* name : {"<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>", "<|im_end|>"})
    if (parts.eos < 0) parts.eos = id_of(name);

  try {
    return std::make_unique<BpeTokenizer>(std::move(parts));
  } catch (const Error& e) {
    SHARDLM_FAIL("'{}': {}", origin, e.what());
  }
}

std::unique_ptr<BpeTokenizer> load_hf_tokenizer(const std::string& path, const HfTokenizerOptions& options) {
  const auto file = MappedFile::open(path);
  return parse_hf_tokenizer(std::string_view(reinterpret_cast<const char*>(file->data()), file->size()), path, options);
}

}  // namespace shardlm
