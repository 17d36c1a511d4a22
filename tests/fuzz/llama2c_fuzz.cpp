// llama2.c checkpoints: the 7-integer header (signs and sizes) and the weights it says follow.
#include "runtime/model/weights/llama2c_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] { (void)read_llama2c_model(fuzz::input_file(data, size, "model.bin")); });
}
