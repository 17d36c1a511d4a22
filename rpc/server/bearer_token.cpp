#include "rpc/server/bearer_token.h"

namespace shardlm::rpc {

bool bearer_token_matches(std::string_view authorization, const std::string& token) {
  const std::string expected = "Bearer " + token;
  unsigned char difference = authorization.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < authorization.size(); ++i) difference |= authorization[i] ^ expected[i % expected.size()];
  return difference == 0;
}

}  // namespace shardlm::rpc
