// ggml's block formats to f32, and into the runtime's own blocks. Q4_0 / Q4_1 / Q8_0 blocks hold 32
// values with an f16 scale (and for Q4_1 an f16 minimum); 4-bit values sit low nibbles first: byte j
// holds value j (low) and value j + 16 (high). The k-quants below come in super-blocks of 256.
#pragma once

#include <cstdint>

#include "runtime/core/dtype.h"
#include "runtime/model/weights/gguf_file.h"

namespace shardlm {

// Converts n values (a multiple of 32 for block formats) starting at src.
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n);

// ggml's k-quants (llama.cpp's Q4_K_M and similar files) come in super-blocks of 256 values:
// Q4_K: [f16 d][f16 dmin][12 bytes: eight 6-bit scales and eight 6-bit minimums][128 bytes of
// nibbles]; sub-block s of 32 values is d * scale_s * nibble - dmin * min_s, its nibbles the low
// (s even) or high (s odd) halves of bytes 32 * (s / 2) .. + 31. Q6_K: [128 bytes of low nibbles][64
// bytes of high bit pairs][16 int8 scales][f16 d]; each 16 values share a scale, value = d * scale *
// (6-bit code - 32).

// Q4_K super-blocks as q4_1 blocks, one per sub-block: scale d * scale_s and minimum -dmin * min_s
// rounded to f16 (their products are exact in f32 but may need more than f16's 11 bits: each value
// moves by at most 2^-11 of its sub-block's range), nibbles regrouped to q4_1's order.
void repack_q4_K_as_q4_1(const uint8_t* src, int64_t super_blocks, BlockQ4_1* dst);
// Q6_K super-blocks as q8_0 blocks: each 32 values (two 6-bit sub-blocks with their own scales)
// decoded and quantized again with one scale (int8's 255 levels hold the 64 of each half to within
// half a step of the new scale, 1/254 of the block's largest value).
void requantize_q6_K_as_q8_0(const uint8_t* src, int64_t super_blocks, BlockQ8_0* dst);

// Q4_0 blocks ([f16 scale][16 bytes], value = scale * (nibble - 8)) as q4_1 ones with minimum -8 x
// scale: the same values exactly (8 x an f16 is an f16 unless it overflows, which is refused), so one
// kernel serves both.
void repack_q4_0_as_q4_1(const uint8_t* src, int64_t blocks, BlockQ4_1* dst);

}  // namespace shardlm
