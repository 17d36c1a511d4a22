// tokenizer.json: the model (BPE vocab and merges), added tokens, normalizer, pre-tokenizer, decoder
// and post-processor; a tokenizer that loads then encodes and decodes a text with special tokens.
#include "runtime/tokenizer/hf_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] {
    const auto tokenizer = parse_hf_tokenizer(fuzz::as_text(data, size), "fuzz input");
    const auto ids = tokenizer->encode("Hello <|im_start|> w\xc3\xb6rld\n 12 ", true);
    int32_t previous = -1;
    for (const int32_t id : ids) (void)tokenizer->decode(previous, id), previous = id;
  });
}
