#include "runtime/tokenizer/hf_components.h"

#include <fmt/format.h>

#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

// A {"String": ...} pattern, or a {"Regex": ...} one that has no regex syntax in it (so it means the
// same literal text); `what` names the use in messages.
std::string literal_pattern(const JsonNode& pattern, std::string_view what) {
  pattern.expect_object();
  if (const auto text = pattern.find("String")) {
    const std::string literal = text->string();
    if (literal.empty()) text->fail("the pattern must not be empty");
    return literal;
  }
  if (const auto regex = pattern.find("Regex")) {
    const std::string source = regex->string();
    if (source.empty()) regex->fail("the pattern must not be empty");
    if (source.find_first_of("\\^$.|?*+()[]{}") != std::string::npos)
      regex->fail(fmt::format("{} with the regex '{}' is not supported (only literal patterns are)", what, source));
    return source;
  }
  pattern.fail(R"(expected {"String": ...} or {"Regex": ...})");
}

SplitBehavior read_behavior(const JsonNode& node) {
  const std::string name = node.string();
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  node.fail(fmt::format("unknown split behavior '{}' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext "
                        "or Contiguous)", name));
}

// A single character, as Metaspace's replacement and Strip's content are.
std::string single_character(const JsonNode& node) {
  const std::string text = node.string();
  if (text.empty() || utf8_decode(text, 0).length != text.size())
    node.fail(fmt::format("expected a single character, got '{}'", text));
  return text;
}

// Metaspace's prepend_scheme, or for files older than it, add_prefix_space.
PrependScheme read_prepend_scheme(const JsonNode& node) {
  if (const auto scheme = node.find("prepend_scheme")) {
    const std::string name = scheme->string();
    if (name == "always") return PrependScheme::Always;
    if (name == "first") return PrependScheme::First;
    if (name == "never") return PrependScheme::Never;
    scheme->fail(fmt::format("unknown prepend_scheme '{}' (expected always, first or never)", name));
  }
  return node.boolean_or("add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;
}

}  // namespace

std::unique_ptr<Normalizer> read_normalizer(const JsonNode& node) {
  const std::string type = node.type();
  if (type == "Sequence") {
    const JsonNode steps = node.at("normalizers");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < steps.size(); ++i) parts.push_back(read_normalizer(steps.at(i)));
    return make_sequence_normalizer(std::move(parts));
  }
  if (type == "Prepend") return make_prepend_normalizer(node.at("prepend").string());
  if (type == "Replace") return make_replace_normalizer(literal_pattern(node.at("pattern"), "Replace"), node.at("content").string());
  if (type == "Strip") return make_strip_normalizer(node.boolean_or("strip_left", true), node.boolean_or("strip_right", true));
  node.fail(fmt::format("normalizer type '{}' is not supported (ShardLM implements Sequence, Prepend, Replace and Strip)",
                        type));
}

std::unique_ptr<PreTokenizer> read_pre_tokenizer(const JsonNode& node) {
  const std::string type = node.type();
  if (type == "Sequence") {
    const JsonNode steps = node.at("pretokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < steps.size(); ++i) parts.push_back(read_pre_tokenizer(steps.at(i)));
    return make_sequence_pre_tokenizer(std::move(parts));
  }
  if (type == "Split") {
    const JsonNode pattern = node.at("pattern");
    pattern.expect_object();
    const SplitBehavior behavior = read_behavior(node.at("behavior"));
    const bool invert = node.boolean_or("invert", false);
    if (const auto regex = pattern.find("Regex")) {
      const std::string source = regex->string();
      auto known = SplitPattern::try_from_regex(source);
      if (!known) regex->fail(SplitPattern::unknown_regex_message(source));
      return make_split_pre_tokenizer(std::move(*known), behavior, invert);
    }
    if (const auto text = pattern.find("String")) {
      if (text->string().empty()) text->fail("the pattern must not be empty");
      return make_split_pre_tokenizer(SplitPattern::from_string(text->string()), behavior, invert);
    }
    pattern.fail(R"(expected {"String": ...} or {"Regex": ...})");
  }
  if (type == "ByteLevel")
    return make_byte_level_pre_tokenizer(node.boolean_or("add_prefix_space", true), node.boolean_or("use_regex", true));
  if (type == "Digits") return make_digits_pre_tokenizer(node.boolean_or("individual_digits", false));
  if (type == "Punctuation") {
    const auto behavior = node.find("behavior");
    return make_punctuation_pre_tokenizer(behavior ? read_behavior(*behavior) : SplitBehavior::Isolated);
  }
  if (type == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
  if (type == "Metaspace") {
    const auto replacement = node.find("replacement");
    return make_metaspace_pre_tokenizer(replacement ? single_character(*replacement) : "\u2581", read_prepend_scheme(node),
                                        node.boolean_or("split", true));
  }
  node.fail(fmt::format("pre-tokenizer type '{}' is not supported (ShardLM implements Sequence, Split, ByteLevel, "
                        "Digits, Punctuation, WhitespaceSplit and Metaspace)",
                        type));
}

std::unique_ptr<TokenDecoder> read_decoder(const JsonNode& node) {
  const std::string type = node.type();
  if (type == "Sequence") {
    const JsonNode steps = node.at("decoders");
    std::vector<std::unique_ptr<TokenDecoder>> parts;
    for (size_t i = 0; i < steps.size(); ++i)
      if (auto part = read_decoder(steps.at(i))) parts.push_back(std::move(part));
    return make_sequence_decoder(std::move(parts));
  }
  if (type == "ByteLevel") return make_byte_level_decoder();
  if (type == "Replace") return make_replace_decoder(literal_pattern(node.at("pattern"), "Replace"), node.at("content").string());
  if (type == "ByteFallback") return make_byte_fallback_decoder();
  if (type == "Fuse") return make_sequence_decoder({});  // joining tokens is what streaming does anyway
  if (type == "Strip") {
    const std::string content = single_character(node.at("content"));
    return make_strip_decoder(utf8_decode(content, 0).code_point,
                              static_cast<size_t>(node.at("start").integer(0, 1 << 20)));
  }
  if (type == "Metaspace") {
    const auto replacement = node.find("replacement");
    return make_metaspace_decoder(replacement ? single_character(*replacement) : "\u2581",
                                  read_prepend_scheme(node) != PrependScheme::Never);
  }
  node.fail(fmt::format("decoder type '{}' is not supported (ShardLM implements Sequence, ByteLevel, Replace, "
                        "ByteFallback, Fuse, Strip and Metaspace)",
                        type));
}

PostProcessor read_post_processor(const JsonNode& node) {
  const std::string type = node.type();
  PostProcessor result;
  if (type == "ByteLevel") return result;
  if (type == "Sequence") {
    const JsonNode steps = node.at("processors");
    for (size_t i = 0; i < steps.size(); ++i) result.wrap_with(read_post_processor(steps.at(i)));
    return result;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    // "cls": ["<s>", 0], "sep": ["</s>", 2]
    const auto id_of = [&](const char* key) {
      const JsonNode pair = node.at(key);
      if (pair.size() != 2) pair.fail("expected [token, id]");
      return static_cast<int32_t>(pair.at(1).integer(0, INT32_MAX));
    };
    result.prefix.push_back(id_of("cls"));
    result.suffix.push_back(id_of("sep"));
    return result;
  }
  if (type == "TemplateProcessing") {
    const JsonNode single = node.at("single");
    const JsonNode special_tokens = node.at("special_tokens");
    special_tokens.expect_object();
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const JsonNode piece = single.at(i);
      if (const auto sequence = piece.find("Sequence")) {
        const std::string id = sequence->at("id").string();
        if (id != "A") sequence->fail(fmt::format("the single template names sequence '{}'; only A exists", id));
        if (seen_sequence) piece.fail("the single template holds the sequence twice");
        seen_sequence = true;
      } else if (const auto special = piece.find("SpecialToken")) {
        const std::string name = special->at("id").string();
        const auto entry = special_tokens.find(name);
        if (!entry) special->fail(fmt::format("special token '{}' is not in the post-processor's special_tokens", name));
        const JsonNode ids = entry->at("ids");
        for (size_t k = 0; k < ids.size(); ++k)
          (seen_sequence ? result.suffix : result.prefix).push_back(static_cast<int32_t>(ids.at(k).integer(0, INT32_MAX)));
      } else {
        piece.fail(R"(expected {"Sequence": ...} or {"SpecialToken": ...})");
      }
    }
    if (!seen_sequence) single.fail("the single template does not hold the sequence $A");
    return result;
  }
  node.fail(fmt::format("post-processor type '{}' is not supported (ShardLM implements TemplateProcessing, ByteLevel, "
                        "RobertaProcessing, BertProcessing and Sequence)",
                        type));
}

}  // namespace shardlm
