// How many bytes a number takes in each precision the planner knows: the runtime's DTypes (f32, f16,
// bf16) plus the quantized weight formats a deployment may choose (int8, int4), with their scales.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/core/dtype.h"

namespace shardlm::plan {

enum class NumberFormat : uint8_t { f32, f16, bf16, int8, int4 };

// Group size of int4 weights: one f16 scale per 128 consecutive inputs of a row (bitsandbytes' and
// GPTQ's common choice; DESIGN allows 32-128).
inline constexpr int64_t kInt4Group = 128;

std::string_view format_name(NumberFormat format);
// Parses "f32", "f16", "bf16", "int8", "int4"; throws naming `flag` and the accepted values.
NumberFormat parse_format(std::string_view text, std::string_view flag);
// The runtime dtype a format is held in, when it is one (int8 / int4 are not runtime dtypes yet).
std::optional<DType> runtime_dtype(NumberFormat format);

// Bytes of a [rows, cols] weight matrix: int8 keeps one f32 scale per output row (per-channel absmax),
// int4 two values a byte and one f16 scale per kInt4Group inputs of each row.
int64_t matrix_bytes(int64_t rows, int64_t cols, NumberFormat format);
// Bytes of one value of the KV cache or of an activation (int8 KV ignores its per-block scales).
double value_bytes(NumberFormat format);

}  // namespace shardlm::plan
