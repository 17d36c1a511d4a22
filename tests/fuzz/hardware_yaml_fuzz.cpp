// Hardware files of `shardlm plan` (YAML): sizes with units, bandwidth tables, FLOP rates.
#include "runtime/plan/hardware.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] { (void)plan::read_hardware(fuzz::input_file(data, size, "hardware.yaml")); });
}
