#include "runtime/engine/stop_text.h"

#include <algorithm>

namespace shardlm {

std::pair<size_t, bool> split_at_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t found = std::string::npos;  // the earliest stop string, whichever it is
  for (const std::string& stop : stops) found = std::min(found, text.find(stop));
  if (found != std::string::npos) return {found, true};
  size_t cut = text.size();
  for (const std::string& stop : stops) {
    for (size_t keep = std::min(stop.size() - 1, text.size()); keep > 0; --keep) {
      if (text.compare(text.size() - keep, keep, stop, 0, keep) == 0) {
        cut = std::min(cut, text.size() - keep);
        break;
      }
    }
  }
  return {cut, false};
}

}  // namespace shardlm
