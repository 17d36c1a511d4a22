// Chat messages as `shardlm chat` and the Chat RPC take them, rendered by the ChatML template and
// encoded with special tokens recognised only in the template's own text: whatever the contents
// spell, the prompt holds the template's own <|im_start|> markers and no more.
#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/hf_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  static const auto tokenizer =
      load_hf_tokenizer(std::string(SHARDLM_FIXTURES) + "/tokenizers/smollm2/tokenizer.json");
  static const int32_t im_start = tokenizer->encode("<|im_start|>", false).at(0);
  static const ChatTemplate chatml = ChatTemplate::chatml("");
  // Messages separated by NUL bytes; each one's first byte picks its role, the rest is its content.
  std::vector<ChatMessage> messages;
  const std::string_view input = fuzz::as_text(data, size);
  static const char* const kRoles[] = {"system", "user", "assistant"};
  for (size_t at = 0; at < input.size() && messages.size() < 64;) {
    const size_t end = std::min(input.find('\0', at), input.size());
    const std::string_view field = input.substr(at, end - at);
    if (!field.empty()) messages.push_back({kRoles[static_cast<uint8_t>(field[0]) % 3], std::string(field.substr(1))});
    at = end + 1;
  }
  return fuzz::accept_clear_errors([&] {
    const auto prompt = chatml.encode(*tokenizer, messages, true);
    // One <|im_start|> per message and one for the assistant's turn, whatever the contents say.
    if (std::count(prompt.begin(), prompt.end(), im_start) != static_cast<int64_t>(messages.size()) + 1) std::abort();
  });
}
