// GGUF: the header, typed metadata (strings, arrays), tensor infos and offsets, then the model spec
// and tokenizer read from the metadata.
#include "runtime/model/model_loader.h"
#include "runtime/model/weights/gguf_file.h"
#include "runtime/model/weights/gguf_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] {
    const std::string path = fuzz::input_file(data, size, "model.gguf");
    const ModelSpec spec = gguf_model_spec(GgufFile::open(path));
    (void)load_tokenizer(path, "", spec);
  });
}
