// safetensors: the 8-byte header length, the JSON header (dtypes, shapes, offsets) and the data
// they must fit.
#include "runtime/model/weights/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] {
    const auto checkpoint = SafetensorsCheckpoint::open(fuzz::input_file(data, size, "model.safetensors"));
    for (const std::string& name : checkpoint.names()) (void)checkpoint.tensor(name).bytes();
  });
}
