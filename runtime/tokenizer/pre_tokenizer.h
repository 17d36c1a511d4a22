// Pre-tokenizers: cut text into the pieces BPE encodes one at a time, as Hugging Face tokenizers'
// pre_tokenizer section describes them (Split, ByteLevel, Digits, Punctuation, WhitespaceSplit,
// Metaspace, Sequence).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/tokenizer/split_pattern.h"

namespace shardlm {

struct Piece {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the text being encoded (Metaspace's "first" test)
};

// What happens to the text a pattern matches, as tokenizers' SplitDelimiterBehavior.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Cuts text at matches: the pieces, as byte ranges, empty ones dropped.
std::vector<TextMatch> split_at_matches(size_t text_size, const std::vector<TextMatch>& matches,
                                        SplitBehavior behavior, bool invert);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces each piece by the pieces it splits into.
  virtual void apply(std::vector<Piece>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(SplitPattern pattern, SplitBehavior behavior, bool invert);
// Prepends a space to each piece that lacks one (add_prefix_space), splits with GPT-2's pattern
// (use_regex), then spells every byte in GPT-2's byte alphabet.
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
// Numbers (Unicode N*, as Rust's char::is_numeric): each alone (individual_digits) or in runs.
std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits);
std::unique_ptr<PreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior);
// Splits at whitespace, dropping it.
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer();
enum class PrependScheme { Always, First, Never };
// Spaces become `replacement`; the scheme says which pieces get one prepended; split cuts before each.
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(std::string replacement, PrependScheme scheme, bool split);
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps);

}  // namespace shardlm
