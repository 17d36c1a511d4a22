// What the end-to-end benchmarks share: the model they run (argv[1], SmolLM2-135M-Instruct by default)
// with its tokenizer, and a decoder on argv[2] threads (default: every core this process may use).
#pragma once

#include <cstdlib>
#include <memory>
#include <string>

#include "runtime/model/decoder.h"
#include "runtime/model/model_loader.h"

namespace shardlm {

struct BenchModel {
  std::string path;
  int threads = 1;
  LoadedModel model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Decoder> decoder;
};

inline BenchModel load_bench_model(int argc, char** argv) {
  BenchModel bench;
  bench.path = argc > 1 ? argv[1] : std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  bench.threads = argc > 2 ? std::atoi(argv[2]) : default_thread_count();
  bench.model = load_model(bench.path, std::nullopt);
  bench.tokenizer = load_tokenizer(bench.path, "", bench.model.spec);
  bench.pool = std::make_unique<ThreadPool>(bench.threads);
  bench.decoder = std::make_unique<Decoder>(bench.model.spec, bench.model.weights, *bench.pool);
  return bench;
}

}  // namespace shardlm
