#include "kernels/ref/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/core/check.h"

namespace shardlm::ref {

void matmul(const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n, int64_t k,
            const float* row_scales) {
  SHARDLM_CHECK(w_dtype != DType::i8 || row_scales != nullptr, "ref::matmul: int8 weights need their row scales");
  for (int64_t row = 0; row < m; ++row) {
    for (int64_t col = 0; col < n; ++col) {
      // Dequantized first, then multiplied; double so that the oracle's own rounding is negligible.
      const double scale = w_dtype == DType::i8 ? row_scales[col] : 1.0;
      double sum = 0.0;
      for (int64_t i = 0; i < k; ++i)
        sum += static_cast<double>(x[row * k + i]) * (load_as_f32(w, w_dtype, col * k + i) * scale);
      y[row * n + col] = static_cast<float>(sum);
    }
  }
}

namespace {

// x rounded per block of 32 as the integer products take it: to 8 bits, or to 16 (`wide`).
std::vector<float> block_quantized(const float* x, int64_t count, bool wide) {
  SHARDLM_CHECK(count % 32 == 0, "ref: quantized inputs come in blocks of 32, got {} values", count);
  std::vector<float> quantized(count);
  for (int64_t block = 0; block < count / 32; ++block) {
    const float* in = x + block * 32;
    float absmax = 0.0f;
    for (int i = 0; i < 32; ++i) absmax = std::max(absmax, std::fabs(in[i]));
    const float scale = absmax / 127.0f, inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    for (int i = 0; i < 32; ++i) {
      const float t = in[i] * inverse, high = std::nearbyint(t);
      const float low = wide ? std::clamp(std::nearbyint((t - high) * 256.0f), -127.0f, 127.0f) : 0.0f;
      quantized[block * 32 + i] = (high * 256.0f + low) * (scale / 256.0f);
    }
  }
  return quantized;
}

}  // namespace

void matmul_quantized_inputs(const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n,
                             int64_t k) {
  if (w_dtype == DType::bf16) {
    std::vector<float> rounded(m * k);
    for (int64_t i = 0; i < m * k; ++i) rounded[i] = bf16_to_f32(f32_to_bf16(x[i]));
    matmul(rounded.data(), w, w_dtype, y, m, n, k);
    return;
  }
  SHARDLM_CHECK(k % 32 == 0, "ref::matmul_quantized_inputs: k={} is not a multiple of 32", k);
  matmul(block_quantized(x, m * k, false).data(), w, w_dtype, y, m, n, k);
}

void matmul_wide_quantized_inputs(const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n,
                                  int64_t k) {
  SHARDLM_CHECK(k % 32 == 0, "ref::matmul_wide_quantized_inputs: k={} is not a multiple of 32", k);
  matmul(block_quantized(x, m * k, true).data(), w, w_dtype, y, m, n, k);
}

void quantize_rows_int8(const float* x, int64_t rows, int64_t k, int8_t* q, float* scales) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * k;
    float absmax = 0.0f;
    for (int64_t i = 0; i < k; ++i) absmax = std::max(absmax, std::fabs(row[i]));
    scales[r] = absmax / 127.0f;
    const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    for (int64_t i = 0; i < k; ++i)
      q[r * k + i] = static_cast<int8_t>(std::clamp(std::lround(row[i] * inverse), -127L, 127L));
  }
}

void rmsnorm(const float* x, const float* weight, float* y, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum_squares = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(x[r * dim + i]) * x[r * dim + i];
    const double inv_rms = 1.0 / std::sqrt(sum_squares / dim + eps);
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = static_cast<float>(x[r * dim + i] * inv_rms * weight[i]);
  }
}

void rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
          const double* frequencies, float magnitude, RopeLayout layout) {
  const int64_t pairs = head_dim / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      float* head = x + (t * heads + h) * head_dim;
      for (int64_t i = 0; i < pairs; ++i) {
        const double angle = positions[t] * frequencies[i];
        const double cosine = std::cos(angle) * magnitude, sine = std::sin(angle) * magnitude;
        const int64_t a = layout == RopeLayout::adjacent ? 2 * i : i;
        const int64_t b = layout == RopeLayout::adjacent ? 2 * i + 1 : i + pairs;
        const double x0 = head[a], x1 = head[b];
        head[a] = static_cast<float>(x0 * cosine - x1 * sine);
        head[b] = static_cast<float>(x0 * sine + x1 * cosine);
      }
    }
  }
}

std::vector<double> rope_frequencies(int64_t head_dim, double theta, double position_scale) {
  std::vector<double> frequencies(head_dim / 2);
  for (int64_t i = 0; i < head_dim / 2; ++i)
    frequencies[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim)) / position_scale;
  return frequencies;
}

void layernorm(const float* x, const float* weight, const float* bias, float* y, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * dim;
    double mean = 0.0, variance = 0.0;
    for (int64_t i = 0; i < dim; ++i) mean += row[i];
    mean /= dim;
    for (int64_t i = 0; i < dim; ++i) variance += (row[i] - mean) * (row[i] - mean);
    variance /= dim;
    const double inv_std = 1.0 / std::sqrt(variance + eps);
    for (int64_t i = 0; i < dim; ++i)
      y[r * dim + i] = static_cast<float>((row[i] - mean) * inv_std * weight[i] + (bias != nullptr ? bias[i] : 0.0));
  }
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) y[r * n + i] += bias[i];
}

void gelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
}

void gelu_tanh(float* x, int64_t n) {
  const double k = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = static_cast<float>(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
  }
}

void softmax(float* x, int64_t n) {
  double max_value = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max_value = std::fmax(max_value, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - max_value);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::exp(x[i] - max_value) / sum);
}

void silu_gate(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

namespace {

// Offset in k (and v) of position p's row for kv head kv_head, contiguous or paged.
int64_t kv_offset(const AttentionShape& s, int64_t p, int64_t kv_head) {
  if (s.block_table == nullptr) return p * s.kv_stride + kv_head * s.head_dim;
  const int64_t block = s.block_table[p / s.block_size];
  return ((block * s.kv_heads + kv_head) * s.block_size + p % s.block_size) * s.head_dim;
}

}  // namespace

void attention(const float* q, const void* k, const void* v, float* out, const AttentionShape& s) {
  const int64_t group = s.heads / s.kv_heads;
  std::vector<float> scores;
  for (int64_t t = 0; t < s.tokens; ++t) {
    const int64_t visible = s.start_pos + t + 1;  // causal: keys 0 .. start_pos + t
    for (int64_t h = 0; h < s.heads; ++h) {
      const float* query = q + (t * s.heads + h) * s.head_dim;
      const int64_t kv_head = h / group;
      scores.assign(visible, 0.0f);
      for (int64_t p = 0; p < visible; ++p) {
        const int64_t key = kv_offset(s, p, kv_head);
        double dot = 0.0;
        for (int64_t d = 0; d < s.head_dim; ++d) {
          dot += static_cast<double>(query[d]) * load_as_f32(k, s.kv_dtype, key + d);  // exact for bf16
        }
        const double alibi = s.alibi_slopes != nullptr ? -s.alibi_slopes[h] * double(s.start_pos + t - p) : 0.0;
        scores[p] = static_cast<float>(dot * s.scale + alibi);
      }
      softmax(scores.data(), visible);
      float* result = out + (t * s.heads + h) * s.head_dim;
      for (int64_t d = 0; d < s.head_dim; ++d) {
        double sum = 0.0;
        for (int64_t p = 0; p < visible; ++p) {
          sum += static_cast<double>(scores[p]) * load_as_f32(v, s.kv_dtype, kv_offset(s, p, kv_head) + d);
        }
        result[d] = static_cast<float>(sum);
      }
    }
  }
}

}  // namespace shardlm::ref
