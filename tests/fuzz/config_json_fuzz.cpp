// config.json: the JSON itself, then the family's reader of it (sizes, RoPE scaling, ALiBi, layout).
#include <nlohmann/json.hpp>

#include "runtime/model/families/family.h"
#include "runtime/model/weights/config_json.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] {
    const ConfigJson config = ConfigJson::read(fuzz::input_file(data, size, "config.json"));
    const Family& family = family_for(config);
    ModelSpec spec = family.read_config(config);
    spec.validate();
  });
}
