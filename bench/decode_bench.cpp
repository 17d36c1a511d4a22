// Decode tokens/s of stories260K with 1 and 2 threads: one token per forward pass, greedy, positions
// 0..N-1, the median of several runs. Prints the ratio of 2 threads to 1 and the weight bytes each
// token reads, so the figure can be set against memory bandwidth.
//   usage: shardlm_decode_bench [model.bin] [tokens] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/decode_timing.h"
#include "kernels/cpu/ops.h"
#include "runtime/model/decoder.h"
#include "runtime/model/weights/llama2c_reader.h"

namespace {

using namespace shardlm;

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  const int tokens = argc > 2 ? std::atoi(argv[2]) : 256;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 7;
  std::printf("decode benchmark: %s, %d tokens per run, median of %d runs, SIMD %s\n", path.c_str(), tokens, runs,
              std::string(cpu::simd_level()).c_str());
  for (DType dtype : {DType::f32, DType::bf16}) {
    const double one = greedy_decode_tokens_per_second(read_llama2c_model(path, dtype), 1, tokens, runs);
    const double two = greedy_decode_tokens_per_second(read_llama2c_model(path, dtype), 2, tokens, runs);
    const double bytes = decode_weight_bytes_per_token(read_llama2c_model(path, dtype));
    std::printf("  weights %-4s  1 thread: %9.1f tokens/s   2 threads: %9.1f tokens/s   ratio 2/1: %.2f   "
                "weights read: %.2f MB/token = %.1f GB/s at 1 thread\n",
                std::string(dtype_name(dtype)).c_str(), one, two, two / one, bytes / 1e6, one * bytes / 1e9);
  }
  return 0;
}
