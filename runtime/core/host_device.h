// Functions compiled for both the host and the GPU (half_bits.h, the arithmetic of kernels/cuda),
// which the CPU tests check on machines without a GPU.
#pragma once

#if defined(__CUDACC__)
#define SHARDLM_HOST_DEVICE __host__ __device__ inline
#else
#define SHARDLM_HOST_DEVICE inline
#endif
