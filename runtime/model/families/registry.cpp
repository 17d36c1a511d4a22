#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {

const Family& family_for(const ConfigJson& config) {
  const std::string architecture = config.architecture();
  const std::string model_type = config.string_or("model_type", "");
  std::vector<std::string> known;
  for (const Family* family : {&llama_family(), &falcon_family(), &bloom_family(), &mpt_family(),
                               &gpt_bigcode_family(), &gpt2_family()}) {
    for (const auto& name : family->architectures) {
      if (name == architecture || name == model_type) return *family;
      known.push_back(name);
    }
  }
  SHARDLM_FAIL("'{}': architecture '{}' (model_type '{}') is not supported; known: {}", config.path(), architecture,
               model_type, fmt::join(known, ", "));
}

void read_special_tokens(const ConfigJson& config, ModelSpec& spec) {
  const std::vector<int32_t> bos = config.ids("bos_token_id");
  spec.bos_token = bos.empty() ? -1 : bos.front();
  spec.stop_tokens = config.ids("eos_token_id");
}

}  // namespace shardlm
