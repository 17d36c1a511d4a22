// CudaOps: compiled by the host compiler against cudart (the kernels are in kernels/cuda). cuBLAS is
// loaded when the first CudaOps is made, not linked: its libraries are hundreds of megabytes that
// every CPU-only run would map and relocate (55 MiB more resident memory per rank, measured).
// Host-side arguments (positions, token ids, block tables, ALiBi slopes) are copied to a device
// buffer on the ops' stream before the kernel that reads them; the stream orders the two.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cuda/attention_merge.h"
#include "kernels/cuda/ops.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/check.h"
#include "runtime/ops/cuda_ops.h"

namespace shardlm {
namespace {

// The cuBLAS entry points CudaOps calls, from the library found beside cudart (or on the loader's
// path).
struct Cublas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  // Spelled out: C++ sees cublasGemmEx overloaded (its 64-bit-size twin).
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

const Cublas& cublas() {
  static const Cublas loaded = [] {
    const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    Dl_info cudart{};
    if (library == nullptr && dladdr(reinterpret_cast<void*>(&cudaGetDeviceCount), &cudart) != 0 &&
        cudart.dli_fname != nullptr) {
      const std::string path = cudart.dli_fname;
      library = dlopen((path.substr(0, path.rfind('/') + 1) + name).c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    SHARDLM_CHECK(library != nullptr, "--device cuda needs cuBLAS ({}), which could not be loaded: {}", name,
                  dlerror());
    Cublas entry;
    auto find = [&](auto& function, const char* symbol) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library, symbol));
      SHARDLM_CHECK(function != nullptr, "{} has no {}", name, symbol);
    };
    find(entry.create, "cublasCreate_v2");
    find(entry.destroy, "cublasDestroy_v2");
    find(entry.set_stream, "cublasSetStream_v2");
    find(entry.gemm_ex, "cublasGemmEx");
    find(entry.status_string, "cublasGetStatusString");
    return entry;  // the library stays loaded for the process's life
  }();
  return loaded;
}

void check_cuda(cudaError_t status, const char* what, int device) {
  SHARDLM_CHECK(status == cudaSuccess, "CUDA {} failed on GPU {}: {}", what, device, cudaGetErrorString(status));
}

void check_cublas(cublasStatus_t status, const char* what, int device) {
  SHARDLM_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS {} failed on GPU {}: {}", what, device,
                cublas().status_string(status));
}

// ops.h's codes follow DType's order; q4_0 is a file's format, repacked to q4_1 before upload.
int kernel_dtype(DType dtype) {
  SHARDLM_CHECK(dtype != DType::q4_0, "the GPU kernels read q4_1, not q4_0: repack_file_formats first");
  return static_cast<int>(dtype);
}

class CudaOps final : public DeviceOps {
 public:
  explicit CudaOps(int device) : device_(device), memory_(make_cuda_backend(device)) {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", device_);
    check_cuda(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, device_),
               "cudaDeviceGetAttribute", device_);
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate", device_);
    const cublasStatus_t created = cublas().create(&cublas_);
    if (created != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(stream_);
      check_cublas(created, "cublasCreate", device_);
    }
    check_cublas(cublas().set_stream(cublas_, stream_), "cublasSetStream", device_);
  }
  ~CudaOps() override {
    cudaSetDevice(device_);
    cublas().destroy(cublas_);
    cudaStreamDestroy(stream_);
  }
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  Backend& memory() override { return *memory_; }

  void matmul(const float* x, const Tensor& weight, const Tensor& row_scales, float* y, int64_t rows) override {
    SHARDLM_CHECK(weight.device() == Device::cuda, "matmul on GPU {}: weight {} is in host memory", device_,
                  weight.describe());
    const DType dtype = weight.dtype();
    SHARDLM_CHECK(dtype != DType::i8 || row_scales.defined(), "matmul on GPU {}: int8 weight {} has no row scales",
                  device_, weight.describe());
    const int64_t n = weight.dim(0), k = weight.dim(1);
    if (dtype == DType::f32) {
      gemm(CUDA_R_32F, weight.data(), x, y, n, rows, k, n);
      return;
    }
    // Every other dtype multiplies bf16-rounded inputs on the tensor cores, summed in f32 (the CPU's
    // contract for bf16 products), except at decode sizes, where the stored weights are decoded in
    // registers and multiply the f32 inputs: one pass over the weights, which is the step's cost.
    const float* scales = row_scales.defined() ? row_scales.data_as<float>() : nullptr;
    if (dtype != DType::bf16 && rows <= cuda::kMaxMatvecRows) {
      check_cuda(cuda::weight_matvec(x, weight.data(), kernel_dtype(dtype), scales, y, rows, n, k, stream_),
                 "weight_matvec", device_);
      return;
    }
    auto* rounded = static_cast<uint16_t*>(scratch(rounded_inputs_, rows * k * sizeof(uint16_t)));
    check_cuda(cuda::round_to_bf16(x, rounded, rows * k, stream_), "round_to_bf16", device_);
    if (dtype == DType::bf16) {
      gemm(CUDA_R_16BF, weight.data(), rounded, y, n, rows, k, n);
      return;
    }
    // Slices of the weight's rows dequantized to bf16, each multiplied into its columns of y.
    const int64_t slice = std::min(n, std::max<int64_t>(1, cuda::kDequantizedSliceBytes / (k * 2)));
    auto* dequantized = static_cast<uint16_t*>(scratch(dequantized_, slice * k * sizeof(uint16_t)));
    for (int64_t first = 0; first < n; first += slice) {
      const int64_t count = std::min(slice, n - first);
      check_cuda(cuda::weight_dequantize(weight.data(), kernel_dtype(dtype), scales, first, count, k, dequantized, stream_),
                 "weight_dequantize", device_);
      gemm(CUDA_R_16BF, dequantized, rounded, y + first, count, rows, k, n);
    }
  }

  void add_bias(float* y, const Tensor& bias, int64_t rows) override {
    check_cuda(cuda::add_bias(y, bias.data_as<float>(), rows, bias.numel(), stream_), "add_bias", device_);
  }
  void rmsnorm(const float* x, const Tensor& weight, float* y, int64_t rows, float eps) override {
    check_cuda(cuda::rmsnorm(x, weight.data_as<float>(), y, rows, weight.numel(), eps, stream_), "rmsnorm", device_);
  }
  void layernorm(const float* x, const Tensor& weight, const Tensor& bias, float* y, int64_t rows, float eps) override {
    check_cuda(cuda::layernorm(x, weight.data_as<float>(), bias.defined() ? bias.data_as<float>() : nullptr, y, rows,
                               weight.numel(), eps, stream_),
               "layernorm", device_);
  }
  void rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
            const double* frequencies, float magnitude, RopeLayout layout) override {
    const auto* on_device = static_cast<const int32_t*>(upload(indices_, positions, tokens * sizeof(int32_t)));
    const auto* table = static_cast<const double*>(upload(frequencies_, frequencies, head_dim / 2 * sizeof(double)));
    check_cuda(cuda::rope(x, on_device, tokens, heads, head_dim, table, magnitude, layout == RopeLayout::halves,
                          stream_),
               "rope", device_);
  }
  void attention(const float* q, const void* keys, const void* values, float* out, const AttentionShape& s) override {
    SHARDLM_CHECK(s.kv_dtype == DType::f32 || s.kv_dtype == DType::bf16,
                  "attention on GPU {}: a {} KV cache is not supported on CUDA yet (f32 or bf16)", device_,
                  dtype_name(s.kv_dtype));
    cuda::AttentionArgs args{s.tokens, s.start_pos, s.heads, s.kv_heads, s.head_dim, s.kv_stride, s.scale,
                             nullptr, nullptr, s.block_size, kernel_dtype(s.kv_dtype)};
    if (s.alibi_slopes != nullptr)
      args.alibi_slopes = static_cast<const float*>(upload(slopes_, s.alibi_slopes, s.heads * sizeof(float)));
    if (s.block_table != nullptr) {
      const int64_t blocks = (s.start_pos + s.tokens + s.block_size - 1) / s.block_size;
      args.block_table = static_cast<const int32_t*>(upload(tables_, s.block_table, blocks * sizeof(int32_t)));
    }
    // Split-K when the rows and heads alone leave the multiprocessors idle (decode at long contexts).
    args.splits = cuda::attention_splits(s.tokens * s.heads, s.start_pos + s.tokens, multiprocessors_);
    if (args.splits > 1)
      args.partials = static_cast<float*>(scratch(
          partials_, s.tokens * s.heads * args.splits * cuda::partial_floats(s.head_dim) * sizeof(float)));
    check_cuda(cuda::attention(q, keys, values, out, args, stream_), "attention", device_);
  }
  void silu_gate(const float* gate, const float* up, float* out, int64_t n) override {
    check_cuda(cuda::silu_gate(gate, up, out, n, stream_), "silu_gate", device_);
  }
  void gelu(float* x, int64_t n) override { check_cuda(cuda::gelu(x, n, stream_), "gelu", device_); }
  void gelu_tanh(float* x, int64_t n) override { check_cuda(cuda::gelu_tanh(x, n, stream_), "gelu_tanh", device_); }
  void add(float* x, const float* delta, int64_t n) override {
    check_cuda(cuda::add(x, delta, n, stream_), "add", device_);
  }
  void clamp(float* x, int64_t n, float limit) override {
    check_cuda(cuda::clamp(x, n, limit, stream_), "clamp", device_);
  }
  void embed(const Tensor& table, const int32_t* ids, int64_t count, float* out, bool accumulate) override {
    SHARDLM_CHECK(table.dtype() != DType::i8, "embedding on GPU {}: an int8 table {} has no row scales", device_,
                  table.describe());
    const auto* on_device = static_cast<const int32_t*>(upload(indices_, ids, count * sizeof(int32_t)));
    check_cuda(cuda::embed_rows(table.data(), kernel_dtype(table.dtype()), table.dim(1), on_device, count, out,
                                accumulate, stream_),
               "embed_rows", device_);
  }
  void split_qkv(const ModelSpec& s, const float* qkv, int64_t rows, float* q, float* k, float* v) override {
    // Each piece of a fused row is a strided 2-D copy over all rows.
    const int64_t hd = s.head_dim, Q = s.q_dim(), KV = s.kv_dim(), width = Q + 2 * KV;
    auto piece = [&](float* dst, int64_t dst_width, int64_t dst_offset, int64_t src_offset, int64_t count) {
      check_cuda(cudaMemcpy2DAsync(dst + dst_offset, dst_width * sizeof(float), qkv + src_offset, width * sizeof(float),
                                   count * sizeof(float), rows, cudaMemcpyDeviceToDevice, stream_),
                 "cudaMemcpy2DAsync", device_);
    };
    switch (s.qkv_layout) {
      case QkvLayout::separate: break;
      case QkvLayout::blocks:
        piece(q, Q, 0, 0, Q), piece(k, KV, 0, Q, KV), piece(v, KV, 0, Q + KV, KV);
        break;
      case QkvLayout::per_head:
        for (int64_t h = 0; h < s.heads; ++h)
          piece(q, Q, h * hd, 3 * h * hd, hd), piece(k, KV, h * hd, (3 * h + 1) * hd, hd),
              piece(v, KV, h * hd, (3 * h + 2) * hd, hd);
        break;
      case QkvLayout::per_kv_group: {
        const int64_t group = s.heads / s.kv_heads;
        for (int64_t j = 0; j < s.kv_heads; ++j) {
          const int64_t base = j * (group + 2) * hd;
          piece(q, Q, j * group * hd, base, group * hd), piece(k, KV, j * hd, base + group * hd, hd),
              piece(v, KV, j * hd, base + (group + 1) * hd, hd);
        }
        break;
      }
    }
  }
  void gather_rows(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out) override {
    const auto* on_device = static_cast<const int64_t*>(upload(row_indices_, rows, count * sizeof(int64_t)));
    check_cuda(cuda::gather_rows(x, on_device, count, width, out, stream_), "gather_rows", device_);
  }
  void zero(float* x, int64_t n) override {
    if (n > 0) check_cuda(cudaMemsetAsync(x, 0, n * sizeof(float), stream_), "cudaMemsetAsync", device_);
  }
  void* queue() override { return stream_; }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes > 0) check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_), "cudaMemcpyAsync", device_);
  }
  void to_host(void* host, const void* device, size_t bytes) override {
    copy(host, device, bytes);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", device_);
  }
  void from_host(void* device, const void* host, size_t bytes) override { copy(device, host, bytes); }
  void write_kv(KvPool& pool, int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
                std::span<const int32_t> block_table) override {
    SHARDLM_CHECK(pool.dtype() == DType::f32 || pool.dtype() == DType::bf16,
                  "KV write on GPU {}: a {} pool is not supported on CUDA yet (f32 or bf16)", device_,
                  dtype_name(pool.dtype()));
    pool.check_write(tokens, start_pos, block_table);  // the kernel indexes the pool by these ids unchecked
    const auto* table =
        static_cast<const int32_t*>(upload(tables_, block_table.data(), block_table.size() * sizeof(int32_t)));
    check_cuda(cuda::write_kv(pool.keys_for_writing(layer), pool.values_for_writing(layer), kernel_dtype(pool.dtype()),
                              k, v, tokens, start_pos, table, pool.block_size(), pool.kv_heads(), pool.head_dim(),
                              stream_),
               "write_kv", device_);
  }

 private:
  // A device buffer of uploaded host bytes and a copy of the bytes it holds.
  struct Staged {
    Tensor device;
    std::vector<uint8_t> holds;
  };
  // Device memory of at least `bytes` held by `buffer`.
  void* scratch(Tensor& buffer, size_t bytes) {
    if (!buffer.defined() || buffer.bytes() < bytes)
      buffer = memory_->empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, DType::i8);
    return buffer.data();
  }
  // Row-major y [m, n'] (leading dimension ldy) = x [m, k] w^T for w [n', k] of `type` (x in the same
  // type), in f32: column-major that is y^T = w x^T, w being k x n' column-major taken transposed.
  void gemm(cudaDataType type, const void* w, const void* x, float* y, int64_t n, int64_t m, int64_t k, int64_t ldy) {
    const float one = 1.0f, zero = 0.0f;
    const auto N = static_cast<int>(n), M = static_cast<int>(m), K = static_cast<int>(k), ldc = static_cast<int>(ldy);
    check_cublas(cublas().gemm_ex(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, w, type, K, x, type, K, &zero, y,
                                  CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx", device_);
  }
  // Host bytes copied into `staged` on the stream, unless it already holds the same bytes (a layer's
  // positions for q and then k, the RoPE table every layer, a sequence's block table for its KV write
  // and its attention): each pageable copy is a host-side staging and a DMA. The copy is finished
  // when this returns (pageable host memory is staged before cudaMemcpyAsync returns), so the host
  // array may change afterwards; kernels that read the buffer are on the same stream, so a later
  // copy into it waits for them.
  void* upload(Staged& staged, const void* host, size_t bytes) {
    const void* before = staged.device.defined() ? staged.device.data() : nullptr;
    void* device = scratch(staged.device, bytes);
    const auto* from = static_cast<const uint8_t*>(host);
    if (device == before && staged.holds.size() == bytes && std::memcmp(staged.holds.data(), from, bytes) == 0)
      return device;
    if (bytes > 0)
      check_cuda(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync", device_);
    staged.holds.assign(from, from + bytes);
    return device;
  }


  int device_;
  int multiprocessors_ = 1;
  std::unique_ptr<Backend> memory_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  Tensor rounded_inputs_, dequantized_, partials_;
  Staged indices_, row_indices_, slopes_, tables_, frequencies_;
};

}  // namespace

std::unique_ptr<DeviceOps> make_cuda_ops(int device) {
  const CudaStatus status = cuda_status();
  SHARDLM_CHECK(device < status.device_count, "--device cuda (GPU {}): {}", device,
                status.device_count == 0 ? status.message : fmt::format("only {} GPU(s) visible", status.device_count));
  return std::make_unique<CudaOps>(device);
}

}  // namespace shardlm
