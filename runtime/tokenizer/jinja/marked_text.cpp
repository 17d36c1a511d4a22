#include "runtime/tokenizer/jinja/marked_text.h"

#include <algorithm>

namespace shardlm::jinja {

MarkedText MarkedText::content(std::string words) {
  MarkedText out(std::move(words));
  if (!out.text.empty()) out.marks.push_back({0, out.text.size()});
  return out;
}

void MarkedText::append(const MarkedText& other) {
  const size_t offset = text.size();
  text += other.text;
  for (const TextRange& r : other.marks) {
    // Adjacent content joins into one range.
    if (!marks.empty() && marks.back().end == r.begin + offset) marks.back().end = r.end + offset;
    else marks.push_back({r.begin + offset, r.end + offset});
  }
}

MarkedText MarkedText::slice(size_t begin, size_t end) const {
  end = std::min(end, text.size());
  begin = std::min(begin, end);
  MarkedText out(text.substr(begin, end - begin));
  for (const TextRange& r : marks) {
    const size_t b = std::max(r.begin, begin), e = std::min(r.end, end);
    if (b < e) out.marks.push_back({b - begin, e - begin});
  }
  return out;
}

MarkedText MarkedText::derived(std::string result) const {
  return marked() ? content(std::move(result)) : MarkedText(std::move(result));
}

}  // namespace shardlm::jinja
