// The bearer-token check shared by the gRPC and HTTP front ends.
#pragma once

#include <string>
#include <string_view>

namespace shardlm::rpc {

// Whether `authorization` (the header's or metadata's value) is "Bearer <token>". Compared in time
// independent of where they differ, so the token cannot be guessed byte by byte.
bool bearer_token_matches(std::string_view authorization, const std::string& token);

}  // namespace shardlm::rpc
