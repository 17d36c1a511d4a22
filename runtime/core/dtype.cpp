#include "runtime/core/dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/core/check.h"

namespace shardlm {

namespace {

uint16_t f16_scale(float value, DType dtype) {
  SHARDLM_CHECK(std::isfinite(value) && std::fabs(value) <= 65504.0f,
                "a {} block's scale or minimum {} does not fit f16 (weights this large are not a model's)",
                dtype_name(dtype), value);
  return f32_to_f16(value);
}

void quantize_block_q8_0(const float* x, BlockQ8_0& block) {
  float absmax = 0.0f;
  for (int64_t i = 0; i < kQuantBlock; ++i) absmax = std::max(absmax, std::fabs(x[i]));
  block.scale = f16_scale(absmax / 127.0f, DType::q8_0);
  const float scale = f16_to_f32(block.scale);
  for (int64_t i = 0; i < kQuantBlock; ++i) {
    const long code = scale > 0.0f ? std::lround(x[i] / scale) : 0;
    block.values[i] = static_cast<int8_t>(std::clamp(code, -127L, 127L));
  }
}

void quantize_block_q4_1(const float* x, BlockQ4_1& block) {
  const auto [lowest, highest] = std::minmax_element(x, x + kQuantBlock);
  block.minimum = f16_scale(*lowest, DType::q4_1);
  block.scale = f16_scale((*highest - *lowest) / 15.0f, DType::q4_1);
  const float minimum = f16_to_f32(block.minimum), scale = f16_to_f32(block.scale);
  auto code = [&](float value) {
    return static_cast<uint8_t>(scale > 0.0f ? std::clamp(std::lround((value - minimum) / scale), 0L, 15L) : 0);
  };
  for (int64_t j = 0; j < kQuantBlock / 2; ++j)
    block.nibbles[j] = static_cast<uint8_t>(code(x[j]) | code(x[j + kQuantBlock / 2]) << 4);
}

void quantize_block_q4_0(const float* x, BlockQ4_0& block) {
  const float* largest = std::max_element(x, x + kQuantBlock, [](float a, float b) { return std::fabs(a) < std::fabs(b); });
  block.scale = f16_scale(*largest / -8.0f, DType::q4_0);
  const float scale = f16_to_f32(block.scale);
  auto code = [&](float value) {
    return static_cast<uint8_t>(scale != 0.0f ? std::clamp(std::lround(value / scale) + 8, 0L, 15L) : 8);
  };
  for (int64_t j = 0; j < kQuantBlock / 2; ++j)
    block.nibbles[j] = static_cast<uint8_t>(code(x[j]) | code(x[j + kQuantBlock / 2]) << 4);
}

}  // namespace

bool is_block_dtype(DType dtype) { return dtype == DType::q8_0 || dtype == DType::q4_1 || dtype == DType::q4_0; }

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f16:
    case DType::bf16: return 2;
    case DType::i8: return 1;
    case DType::q8_0:
    case DType::q4_1:
    case DType::q4_0: break;
  }
  SHARDLM_FAIL("{} has no size per element: its values are stored in blocks of {}", dtype_name(dtype), kQuantBlock);
}

size_t dtype_bytes(DType dtype, int64_t count) {
  SHARDLM_CHECK(count >= 0, "negative element count {}", count);
  if (!is_block_dtype(dtype)) return static_cast<size_t>(count) * dtype_size(dtype);
  SHARDLM_CHECK(count % kQuantBlock == 0, "{} stores whole blocks of {} values; {} values is not one", dtype_name(dtype),
                kQuantBlock, count);
  const size_t block = dtype == DType::q8_0   ? sizeof(BlockQ8_0)
                       : dtype == DType::q4_1 ? sizeof(BlockQ4_1)
                                              : sizeof(BlockQ4_0);
  return static_cast<size_t>(count / kQuantBlock) * block;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "int8";
    case DType::q8_0: return "q8_0";
    case DType::q4_1: return "q4_1";
    case DType::q4_0: return "q4_0";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32") return DType::f32;
  if (name == "f16") return DType::f16;
  if (name == "bf16") return DType::bf16;
  if (name == "int8") return DType::i8;
  if (name == "q8_0") return DType::q8_0;
  if (name == "q4_1") return DType::q4_1;
  if (name == "q4_0") return DType::q4_0;
  SHARDLM_FAIL("unknown dtype '{}': expected f32, f16, bf16, int8, q8_0, q4_1 or q4_0", name);
}

void convert_from_f32(const float* src, void* dst, DType dtype, size_t n) {
  switch (dtype) {
    case DType::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::f16:
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case DType::bf16:
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case DType::i8: SHARDLM_FAIL("int8 values need a scale per row: quantize them with quantize_rows_int8");
    case DType::q8_0:
    case DType::q4_1:
    case DType::q4_0: {
      SHARDLM_CHECK(n % kQuantBlock == 0, "{} quantizes whole blocks of {} values; got {}", dtype_name(dtype),
                    kQuantBlock, n);
      for (size_t b = 0; b < n / kQuantBlock; ++b) {
        if (dtype == DType::q8_0) {
          quantize_block_q8_0(src + b * kQuantBlock, static_cast<BlockQ8_0*>(dst)[b]);
        } else if (dtype == DType::q4_0) {
          quantize_block_q4_0(src + b * kQuantBlock, static_cast<BlockQ4_0*>(dst)[b]);
        } else {
          quantize_block_q4_1(src + b * kQuantBlock, static_cast<BlockQ4_1*>(dst)[b]);
        }
      }
      return;
    }
  }
}

}  // namespace shardlm
