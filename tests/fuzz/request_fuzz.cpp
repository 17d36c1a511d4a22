// The gRPC request validator: a GenerateRequest, or a ChatRequest (its messages rendered by the
// ChatML template), parsed from protobuf bytes (the first byte picks which) and validated against
// SmolLM2's tokenizer as `shardlm serve` validates them. A bad request must end in InvalidArgument
// naming the field (or ShardLM's own error); it must never crash the server.
#include "rpc/server/request_validation.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/served_smollm2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  static const fuzz::ServedSmolLm2 served;
  if (size == 0) return 0;
  const rpc::ValidationContext context = served.context();
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
