// The gRPC request validator: a GenerateRequest, or a ChatRequest (its messages rendered by the
// ChatML template), parsed from protobuf bytes (the first byte picks which) and validated against
// SmolLM2's tokenizer as `shardlm serve` validates them. A bad request must end in InvalidArgument
// naming the field (or ShardLM's own error); it must never crash the server.
#include "rpc/server/request_validation.h"
#include "runtime/tokenizer/hf_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

struct Served {
  std::unique_ptr<shardlm::Tokenizer> tokenizer =
      shardlm::load_hf_tokenizer(std::string(SHARDLM_FIXTURES) + "/tokenizers/smollm2/tokenizer.json");
  shardlm::ModelSpec spec = [] {
    shardlm::ModelSpec s;
    s.vocab_size = 49152;
    s.max_seq_len = 2048;
    return s;
  }();
  shardlm::ChatTemplate chat = shardlm::ChatTemplate::chatml("You are a helpful AI assistant.");
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  static const Served served;
  if (size == 0) return 0;
  const rpc::ValidationContext context{served.spec, *served.tokenizer, &served.chat};
  try {
    if (data[0] % 2 == 0) {
      shardlm::v1::GenerateRequest request;
      if (request.ParseFromArray(data + 1, static_cast<int>(size - 1))) (void)rpc::to_serving_request(request, context);
    } else {
      shardlm::v1::ChatRequest request;
      if (request.ParseFromArray(data + 1, static_cast<int>(size - 1))) (void)rpc::to_serving_request(request, context);
    }
  } catch (const rpc::InvalidArgument&) {
    // The request's error, naming its field.
  } catch (const Error&) {
  }
  return 0;
}
