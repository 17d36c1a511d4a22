#include "runtime/tokenizer/gguf_tokenizer.h"

#include <algorithm>
#include <set>

#include "runtime/core/check.h"
#include "runtime/tokenizer/byte_level.h"
#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

bool one_of(const std::string& name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A regex split, then ByteLevel spelling without its own regex: how Llama 3-style files pre-tokenize.
std::unique_ptr<PreTokenizer> split_then_bytes(std::string_view regex) {
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  steps.push_back(make_split_pre_tokenizer(SplitPattern::from_regex(regex), SplitBehavior::Isolated, false));
  steps.push_back(make_byte_level_pre_tokenizer(false, false));
  return make_sequence_pre_tokenizer(std::move(steps));
}

int32_t token_type(const GgufTokenizerData& data, size_t id) {
  return data.token_types.empty() ? kGgufTokenNormal : data.token_types[id];
}

// Merges from the vocabulary and its scores, as transformers' generate_merges derives them for a
// SentencePiece vocabulary that lists none: every split of a token into two tokens, best score first,
// then longer left part, then longer right part; ties keep vocabulary order.
std::vector<std::pair<std::string, std::string>> merges_from_scores(const GgufTokenizerData& data, const TokenIds& vocab) {
  struct Candidate {
    std::string left, right;
    float score;
    size_t left_chars, right_chars;
  };
  std::vector<Candidate> candidates;
  std::set<std::string_view> seen;  // each distinct token once, at its first position, with its last score
  std::unordered_map<std::string_view, float> score_of;
  for (size_t id = 0; id < data.tokens.size(); ++id) score_of[data.tokens[id]] = data.scores[id];
  for (size_t id = 0; id < data.tokens.size(); ++id) {
    const std::string& token = data.tokens[id];
    if (!seen.insert(token).second) continue;
    std::vector<Candidate> local;
    size_t left_chars = 0;
    const size_t total_chars = utf8_length(token);
    for (size_t at = 0; at < token.size();) {
      if (at > 0) {
        const std::string left = token.substr(0, at), right = token.substr(at);
        const auto l = vocab.find(left), r = vocab.find(right);
        if (l != vocab.end() && r != vocab.end()) local.push_back({left, right, score_of[token], left_chars, total_chars - left_chars});
      }
      at += utf8_decode(token, at).length;
      ++left_chars;
    }
    std::stable_sort(local.begin(), local.end(), [&](const Candidate& a, const Candidate& b) {
      const int32_t al = vocab.find(a.left)->second, bl = vocab.find(b.left)->second;
      if (al != bl) return al < bl;
      return vocab.find(a.right)->second < vocab.find(b.right)->second;
    });
    for (auto& candidate : local) candidates.push_back(std::move(candidate));
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_chars != b.left_chars) return a.left_chars > b.left_chars;
    return a.right_chars > b.right_chars;
  });
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(candidates.size());
  for (auto& candidate : candidates) merges.emplace_back(std::move(candidate.left), std::move(candidate.right));
  return merges;
}

std::vector<std::pair<std::string, std::string>> split_merges(const GgufTokenizerData& data) {
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(data.merges.size());
  for (size_t i = 0; i < data.merges.size(); ++i) {
    const std::string& line = data.merges[i];
    const size_t space = line.find(' ');
    SHARDLM_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                      line.find(' ', space + 1) == std::string::npos,
                  "GGUF tokenizer.ggml.merges[{}] '{}' is not two tokens separated by one space", i, line);
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return merges;
}

}  // namespace

std::unique_ptr<PreTokenizer> make_gguf_pre_tokenizer(const std::string& pre) {
  if (one_of(pre, {"", "default", "gpt2", "gpt-2", "mpt", "olmo", "phi-2"}))
    return make_byte_level_pre_tokenizer(false, true);
  if (one_of(pre, {"smollm", "starcoder", "refact"})) {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(make_digits_pre_tokenizer(true));
    steps.push_back(make_byte_level_pre_tokenizer(false, true));
    return make_sequence_pre_tokenizer(std::move(steps));
  }
  if (one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                   "jina-v5-nano", "dbrx", "smaug-bpe"}))
    return split_then_bytes(known_regex::kLlama3);
  if (one_of(pre, {"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"})) return split_then_bytes(known_regex::kQwen2);
  if (pre == "qwen35") return split_then_bytes(known_regex::kQwen35);
  if (one_of(pre, {"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"})) return split_then_bytes(known_regex::kGpt4o);
  if (pre == "tekken") return split_then_bytes(known_regex::kTekken);
  if (pre == "bloom") return split_then_bytes(known_regex::kBloom);
  if (pre == "falcon") {
    // Falcon's tokenizer.json: punctuation runs, GPT-2 splitting, digit runs cut into threes.
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(make_punctuation_pre_tokenizer(SplitBehavior::Contiguous));
    steps.push_back(make_byte_level_pre_tokenizer(false, true));
    steps.push_back(make_digits_pre_tokenizer(false));
    steps.push_back(make_split_pre_tokenizer(SplitPattern::from_regex("[0-9][0-9][0-9]"), SplitBehavior::Isolated, false));
    return make_sequence_pre_tokenizer(std::move(steps));
  }
  SHARDLM_FAIL("GGUF tokenizer.ggml.pre '{}' is not a pre-tokenizer ShardLM knows", pre);
}

std::unique_ptr<BpeTokenizer> make_bpe_tokenizer_from_gguf(const GgufTokenizerData& data) {
  const size_t count = data.tokens.size();
  SHARDLM_CHECK(count > 0, "GGUF tokenizer.ggml.tokens is empty");
  SHARDLM_CHECK(count < (size_t{1} << 26), "GGUF tokenizer.ggml.tokens holds {} tokens, implausibly many", count);
  SHARDLM_CHECK(data.token_types.empty() || data.token_types.size() == count,
                "GGUF tokenizer.ggml.token_type has {} entries for {} tokens", data.token_types.size(), count);
  SHARDLM_CHECK(data.scores.empty() || data.scores.size() == count, "GGUF tokenizer.ggml.scores has {} entries for {} tokens",
                data.scores.size(), count);
  const auto check_id = [&](int32_t id, const char* key) {
    SHARDLM_CHECK(id >= -1 && id < static_cast<int64_t>(count), "GGUF {} {} is outside the {} tokens", key, id, count);
  };
  check_id(data.bos_id, "tokenizer.ggml.bos_token_id");
  check_id(data.eos_id, "tokenizer.ggml.eos_token_id");
  check_id(data.unknown_id, "tokenizer.ggml.unknown_token_id");

  const bool byte_level = data.model == "gpt2";
  SHARDLM_CHECK(byte_level || data.model == "llama",
                "GGUF tokenizer.ggml.model '{}' is not supported (ShardLM builds \"gpt2\" and \"llama\" BPE tokenizers)",
                data.model);

  BpeTokenizerParts parts;
  TokenIds vocab;
  vocab.reserve(count);
  for (size_t id = 0; id < count; ++id) {
    const std::string& token = data.tokens[id];
    // A byte-level vocabulary spells every token in the byte alphabet; one that is not (some files
    // store added tokens as plain text) is respelled, as transformers does.
    const bool spelled = !byte_level || byte_level_to_bytes(token).has_value();
    vocab[spelled ? token : bytes_to_byte_level(token)] = static_cast<int32_t>(id);
  }

  // Control tokens are special; user-defined ones are matched whole but are not special. A byte-level
  // "control" token outside the byte alphabet is a mislabel transformers skips.
  int32_t unknown_id = data.unknown_id;
  for (size_t id = 0; id < count; ++id) {
    const int32_t type = token_type(data, id);
    const std::string& token = data.tokens[id];
    if (type == kGgufTokenUnknown && unknown_id < 0) unknown_id = static_cast<int32_t>(id);
    const bool control = type == kGgufTokenControl && (!byte_level || byte_level_to_bytes(token).has_value());
    const bool unknown = !byte_level && type == kGgufTokenUnknown;
    if ((control || unknown) && !token.empty()) {
      parts.added_tokens.push_back({static_cast<int32_t>(id), token, true, false, false, false, false});
    } else if (type == kGgufTokenUserDefined && !token.empty() && (!byte_level || byte_level_to_bytes(token))) {
      parts.added_tokens.push_back({static_cast<int32_t>(id), token, false, false, false, false, false});
    }
  }

  BpeOptions options;
  std::vector<std::pair<std::string, std::string>> merges;
  if (!data.merges.empty()) {
    merges = split_merges(data);
  } else {
    SHARDLM_CHECK(!byte_level, "GGUF \"gpt2\" tokenizer has no tokenizer.ggml.merges");
    SHARDLM_CHECK(!data.scores.empty(), "GGUF \"llama\" tokenizer has neither tokenizer.ggml.merges nor tokenizer.ggml.scores");
    merges = merges_from_scores(data, vocab);
  }

  if (byte_level) {
    parts.pre_tokenizer = make_gguf_pre_tokenizer(data.pre);
    parts.decoder = make_byte_level_decoder();
  } else {
    if (unknown_id >= 0) options.unk_token = data.tokens[unknown_id];
    else if (vocab.contains("<unk>")) options.unk_token = "<unk>";
    options.fuse_unk = true;
    options.byte_fallback = true;
    const bool prefix = data.add_space_prefix.value_or(true);
    parts.pre_tokenizer = make_metaspace_pre_tokenizer("\u2581", prefix ? PrependScheme::First : PrependScheme::Never, false);
    std::vector<std::unique_ptr<TokenDecoder>> steps;
    steps.push_back(make_replace_decoder("\u2581", " "));
    steps.push_back(make_byte_fallback_decoder());
    if (prefix) steps.push_back(make_strip_decoder(' ', 1));
    parts.decoder = make_sequence_decoder(std::move(steps));
  }
  parts.model = std::make_unique<BpeModel>(std::move(vocab), merges, std::move(options), "GGUF tokenizer.ggml.merges");

  parts.bos = data.bos_id;
  parts.eos = data.eos_id;
  if (data.add_bos.value_or(!byte_level) && data.bos_id >= 0) parts.post_processor.prefix.push_back(data.bos_id);
  if (data.add_eos.value_or(false) && data.eos_id >= 0) parts.post_processor.suffix.push_back(data.eos_id);
  return std::make_unique<BpeTokenizer>(std::move(parts));
}

}  // namespace shardlm
