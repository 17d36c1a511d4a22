// ggml's block formats to f32. Each block holds 32 values with an f16 scale (and for Q4_1 an f16
// minimum); 4-bit values sit low nibbles first: byte j holds value j (low) and value j + 16 (high).
#pragma once

#include <cstdint>

#include "runtime/core/dtype.h"
#include "runtime/model/weights/gguf_file.h"

namespace shardlm {

// Converts n values (a multiple of 32 for block formats) starting at src.
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n);

// Q4_0 blocks ([f16 scale][16 bytes], value = scale * (nibble - 8)) as q4_1 ones with minimum -8 x
// scale: the same values exactly (8 x an f16 is an f16 unless it overflows, which is refused), so one
// kernel serves both.
void repack_q4_0_as_q4_1(const uint8_t* src, int64_t blocks, BlockQ4_1* dst);

}  // namespace shardlm
