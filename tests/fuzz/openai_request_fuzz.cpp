// The OpenAI-compatible API's request reader: a JSON body for /v1/completions (first byte even) or
// /v1/chat/completions, read and validated against SmolLM2's tokenizer as `shardlm serve --http-port`
// reads it, response_format schemas included. A bad body must end in HttpError naming the field (or
// ShardLM's own error); it must never crash the server.
#include "rpc/http/openai_requests.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/served_smollm2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  static const fuzz::ServedSmolLm2 served;
  if (size == 0) return 0;
  const rpc::ValidationContext context = served.context();
  const auto endpoint = data[0] % 2 == 0 ? rpc::OpenAiEndpoint::completions : rpc::OpenAiEndpoint::chat_completions;
  try {
    (void)rpc::parse_openai_request(endpoint, std::string(fuzz::as_text(data + 1, size - 1)), context, "model");
  } catch (const rpc::HttpError&) {
    // The request's error, naming its field.
  } catch (const Error&) {
  }
  return 0;
}
