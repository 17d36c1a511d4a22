// Text that remembers which of its bytes came from a chat's message contents, so that the rendered
// conversation can tell the tokenizer where special-token text must stay text (encode_literal).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace shardlm::jinja {

struct MarkedText {
  std::string text;
  std::vector<TextRange> marks;  // sorted, disjoint byte ranges of `text` that are message content

  MarkedText() = default;
  explicit MarkedText(std::string plain) : text(std::move(plain)) {}
  static MarkedText content(std::string words);  // all of it marked

  bool marked() const { return !marks.empty(); }
  void append(const MarkedText& other);
  void append(std::string_view plain) { text += plain; }
  // Bytes [begin, end), with the marks that fall inside.
  MarkedText slice(size_t begin, size_t end) const;
  // The marks of a text made from this one where the pieces can no longer be followed (upper(),
  // replace()): all of `result` is content when any of this was.
  MarkedText derived(std::string result) const;
};

}  // namespace shardlm::jinja
