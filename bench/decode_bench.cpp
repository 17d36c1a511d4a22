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

#include "kernels/cpu/ops.h"
#include "runtime/model/decoder.h"
#include "runtime/model/weights/llama2c_reader.h"

namespace {

using namespace shardlm;

double decode_tokens_per_second(const std::string& path, int threads, int tokens, int runs, DType dtype) {
  ThreadPool pool(threads);
  LoadedModel model = read_llama2c_model(path, dtype);
  Decoder decoder(model.spec, model.weights, pool);
  KvCache cache(model.spec, tokens);
  std::vector<double> rates;
  for (int run = 0; run <= runs; ++run) {  // run 0 warms caches and is not counted
    int32_t token = 1;
    const auto start = std::chrono::steady_clock::now();
    for (int position = 0; position < tokens; ++position) {
      const int32_t step[] = {token};
      const auto logits = decoder.forward(step, position, cache);
      token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run > 0) rates.push_back(tokens / seconds);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

size_t weight_bytes_per_token(const std::string& path, DType dtype) {
  const LoadedModel model = read_llama2c_model(path, dtype);
  size_t bytes = model.weights.lm_head.bytes() + model.weights.final_norm.weight.bytes();
  for (const auto& l : model.weights.layers)
    for (const Tensor* t : {&l.attn_norm.weight, &l.q.weight, &l.k.weight, &l.v.weight, &l.o.weight,
                            &l.ffn_norm.weight, &l.gate.weight, &l.up.weight, &l.down.weight})
      bytes += t->bytes();
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  const int tokens = argc > 2 ? std::atoi(argv[2]) : 256;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 7;
  std::printf("decode benchmark: %s, %d tokens per run, median of %d runs, SIMD %s\n", path.c_str(), tokens, runs,
              std::string(cpu::simd_level()).c_str());
  for (DType dtype : {DType::f32, DType::bf16}) {
    const double one = decode_tokens_per_second(path, 1, tokens, runs, dtype);
    const double two = decode_tokens_per_second(path, 2, tokens, runs, dtype);
    const double bytes = static_cast<double>(weight_bytes_per_token(path, dtype));
    std::printf("  weights %-4s  1 thread: %9.1f tokens/s   2 threads: %9.1f tokens/s   ratio 2/1: %.2f   "
                "weights read: %.2f MB/token = %.1f GB/s at 1 thread\n",
                std::string(dtype_name(dtype)).c_str(), one, two, two / one, bytes / 1e6, one * bytes / 1e9);
  }
  return 0;
}
