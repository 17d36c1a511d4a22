// Text <-> token ids. One interface for every tokenizer kind ShardLM reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shardlm {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos() const = 0;
  virtual int32_t eos() const = 0;
  // Token ids of `text`, prefixed with BOS when add_bos.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // The bytes `token` stands for when it follows `previous` (some pieces drop a leading space after BOS).
  virtual std::string decode(int32_t previous, int32_t token) const = 0;
};

}  // namespace shardlm
