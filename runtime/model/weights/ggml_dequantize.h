// ggml's block formats to f32. Each block holds 32 values with an f16 scale (and for Q4_1 an f16
// minimum); 4-bit values sit low nibbles first: byte j holds value j (low) and value j + 16 (high).
#pragma once

#include <cstdint>

#include "runtime/model/weights/gguf_file.h"

namespace shardlm {

// Converts n values (a multiple of 32 for block formats) starting at src.
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n);

}  // namespace shardlm
