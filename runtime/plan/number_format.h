// How many bytes a number takes in each precision the planner knows: the runtime's DTypes (f32, f16,
// bf16) plus the quantized weight formats a deployment may choose (int8, int4), with their scales,
// and q4_0: a GGUF's Q4_0 layers, run as the file stores them (not a --weights choice).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/core/dtype.h"

namespace shardlm::plan {

enum class NumberFormat : uint8_t { f32, f16, bf16, int8, int4, q4_0 };

std::string_view format_name(NumberFormat format);
// Parses "f32", "f16", "bf16", "int8", "int4" (not q4_0, which only a file chooses); throws naming
// `flag` and the accepted values.
NumberFormat parse_format(std::string_view text, std::string_view flag);
// The runtime dtype a format is held in, when it is one (int8 / int4 are recipes, see matrix_bytes).
std::optional<DType> runtime_dtype(NumberFormat format);

// Bytes of a [rows, cols] projection as the runtime holds it (runtime/model/weight_dtype.h): int8 one
// byte a value and one f32 scale per output row (per-channel absmax); int4 q4_1, groups of 32 inputs
// in 20 bytes (16 of nibbles, an f16 scale and an f16 minimum), or int8 where a row is not whole
// groups; q4_0 18 bytes a group (no minimum).
int64_t matrix_bytes(int64_t rows, int64_t cols, NumberFormat format);
// Bytes of an embedding table or LM head beside `format` layers: int8 keeps them bf16, int4 q8_0
// (groups of 32 in 34 bytes; bf16 where a row is not whole groups), q4_0 as int4 (a Q4_0 file's LM
// head is Q6_K, held as q8_0), the others the layers' format.
int64_t table_bytes(int64_t rows, int64_t cols, NumberFormat format);
// The runtime dtype each of those is held in (int8 rows: i8 with their f32 row scales).
DType matrix_dtype(int64_t cols, NumberFormat format);
DType table_dtype(int64_t cols, NumberFormat format);
// Bytes of one value of the KV cache or of an activation (int8 as the runtime's KV pool keeps it:
// q8_0, with an f16 scale per 32 values).
double value_bytes(NumberFormat format);

}  // namespace shardlm::plan
