#include "runtime/tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <functional>

#include "runtime/tokenizer/byte_level.h"
#include "runtime/tokenizer/unicode.h"

namespace shardlm {

std::vector<TextMatch> split_at_matches(size_t text_size, const std::vector<TextMatch>& matches,
                                        SplitBehavior behavior, bool invert) {
  // The text as alternating runs: matched or not, covering it all.
  struct Run {
    TextMatch range;
    bool matched;
  };
  std::vector<Run> runs;
  size_t previous = 0;
  for (const TextMatch& m : matches) {
    if (previous < m.begin) runs.push_back({{previous, m.begin}, invert});
    runs.push_back({m, !invert});
    previous = m.end;
  }
  if (previous < text_size) runs.push_back({{previous, text_size}, invert});

  std::vector<TextMatch> pieces;
  bool previous_matched = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const Run& run : runs)
        if (!run.matched) pieces.push_back(run.range);
      break;
    case SplitBehavior::Isolated:
      for (const Run& run : runs) pieces.push_back(run.range);
      break;
    case SplitBehavior::Contiguous:
      for (const Run& run : runs) {
        if (run.matched == previous_matched && !pieces.empty()) pieces.back().end = run.range.end;
        else pieces.push_back(run.range);
        previous_matched = run.matched;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Run& run : runs) {
        if (run.matched && !previous_matched && !pieces.empty()) pieces.back().end = run.range.end;
        else pieces.push_back(run.range);
        previous_matched = run.matched;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
        if (run->matched && !previous_matched && !pieces.empty()) pieces.back().begin = run->range.begin;
        else pieces.push_back(run->range);
        previous_matched = run->matched;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
  }
  std::erase_if(pieces, [](const TextMatch& piece) { return piece.begin == piece.end; });
  return pieces;
}

namespace {

// Splits every piece with find(text) -> matches, keeping at_start for a first sub-piece at offset 0.
void split_pieces(std::vector<Piece>& pieces, const std::function<std::vector<TextMatch>(std::string_view)>& find,
                  SplitBehavior behavior, bool invert) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& piece : pieces) {
    for (const TextMatch& range : split_at_matches(piece.text.size(), find(piece.text), behavior, invert))
      out.push_back({piece.text.substr(range.begin, range.end - range.begin), piece.at_start && range.begin == 0});
  }
  pieces = std::move(out);
}

// Each character for which is_delimiter holds is one match.
std::vector<TextMatch> character_matches(std::string_view text, const std::function<bool(char32_t)>& is_delimiter) {
  std::vector<TextMatch> matches;
  for (size_t at = 0; at < text.size();) {
    const Utf8Char c = utf8_decode(text, at);
    if (is_delimiter(c.code_point)) matches.push_back({at, at + c.length});
    at += c.length;
  }
  return matches;
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(SplitPattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void apply(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](std::string_view text) { return pattern_.find_all(text); }, behavior_, invert_);
  }

 private:
  SplitPattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex), pattern_(SplitPattern::gpt2()) {}
  void apply(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_)
      for (Piece& piece : pieces)
        if (!piece.text.starts_with(' ')) piece.text.insert(0, 1, ' ');
    if (use_regex_)
      split_pieces(pieces, [&](std::string_view text) { return pattern_.find_all(text); }, SplitBehavior::Isolated,
                   false);
    for (Piece& piece : pieces) piece.text = bytes_to_byte_level(piece.text);
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
  SplitPattern pattern_;
};

class CharacterSplitPreTokenizer final : public PreTokenizer {
 public:
  CharacterSplitPreTokenizer(std::function<bool(char32_t)> is_delimiter, SplitBehavior behavior)
      : is_delimiter_(std::move(is_delimiter)), behavior_(behavior) {}
  void apply(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](std::string_view text) { return character_matches(text, is_delimiter_); }, behavior_,
                 false);
  }

 private:
  std::function<bool(char32_t)> is_delimiter_;
  SplitBehavior behavior_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {
    const Utf8Char c = utf8_decode(replacement_, 0);
    replacement_char_ = c.code_point;
  }
  void apply(std::vector<Piece>& pieces) const override {
    for (Piece& piece : pieces) {
      std::string text;
      text.reserve(piece.text.size() + replacement_.size());
      for (const char c : piece.text) {
        if (c == ' ') text += replacement_;
        else text.push_back(c);
      }
      const bool prepend = scheme_ == PrependScheme::Always || (scheme_ == PrependScheme::First && piece.at_start);
      if (prepend && !text.starts_with(replacement_)) text.insert(0, replacement_);
      piece.text = std::move(text);
    }
    if (split_)
      split_pieces(
          pieces,
          [&](std::string_view text) {
            return character_matches(text, [&](char32_t c) { return c == replacement_char_; });
          },
          SplitBehavior::MergedWithNext, false);
  }

 private:
  std::string replacement_;
  char32_t replacement_char_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void apply(std::vector<Piece>& pieces) const override {
    for (const auto& step : steps_) step->apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(SplitPattern pattern, SplitBehavior behavior, bool invert) {
  return std::make_unique<SplitPreTokenizer>(std::move(pattern), behavior, invert);
}

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}

std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits) {
  // tokenizers tests Rust's char::is_numeric: any Unicode number (Nd, Nl, No), so ½ and ٣ count too.
  return std::make_unique<CharacterSplitPreTokenizer>([](char32_t c) { return is_number(c); },
                                                      individual_digits ? SplitBehavior::Isolated
                                                                        : SplitBehavior::Contiguous);
}

std::unique_ptr<PreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior) {
  return std::make_unique<CharacterSplitPreTokenizer>([](char32_t c) { return is_punctuation(c); }, behavior);
}

std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer() {
  return std::make_unique<CharacterSplitPreTokenizer>([](char32_t c) { return is_whitespace(c); },
                                                      SplitBehavior::Removed);
}

std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(std::string replacement, PrependScheme scheme, bool split) {
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), scheme, split);
}

std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace shardlm
