// Stop strings over streamed text: how much of the text so far may be handed on, and whether a stop
// string has been found.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace shardlm {

// Where `text` may be passed on up to: before the first stop string (and true: stopped), or before a
// tail that could still grow into one (false).
std::pair<size_t, bool> split_at_stop(const std::string& text, const std::vector<std::string>& stops);

}  // namespace shardlm
