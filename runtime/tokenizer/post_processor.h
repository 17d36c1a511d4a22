// What encoding with special tokens adds around the text's ids: tokenizer.json's post_processor
// (TemplateProcessing's single template, RobertaProcessing / BertProcessing, ByteLevel which adds
// nothing, a Sequence of them), or GGUF's add_bos_token / add_eos_token.
#pragma once

#include <cstdint>
#include <vector>

namespace shardlm {

struct PostProcessor {
  std::vector<int32_t> prefix;  // ids before the text's, e.g. BOS
  std::vector<int32_t> suffix;  // ids after them, e.g. EOS
  // `outer` applied after this one (a Sequence's later step): its ids wrap ours.
  void wrap_with(const PostProcessor& outer) {
    prefix.insert(prefix.begin(), outer.prefix.begin(), outer.prefix.end());
    suffix.insert(suffix.end(), outer.suffix.begin(), outer.suffix.end());
  }
};

}  // namespace shardlm
