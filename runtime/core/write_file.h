// Writing a whole file the user named (a plot, a probed hardware file), failing with the reason the
// system gives (a full disk, a read-only folder) instead of leaving a short file behind silently.
#pragma once

#include <string>
#include <string_view>

namespace shardlm {

// Writes `bytes` to `path` (created or truncated). Throws "<what>: cannot write '<path>': <reason>".
void write_file(const std::string& path, std::string_view bytes, const std::string& what);

}  // namespace shardlm
