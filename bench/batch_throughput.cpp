// Generation throughput (new tokens/s) of SmolLM2-135M-Instruct at 1, 4, 16 and 64 concurrent
// sequences under continuous batching on one rank, and the ratio to one sequence (issue 5's goal:
// 16 sequences >= 3x). Each sequence: a distinct short prompt, 32 new tokens, greedy.
//   usage: shardlm_batch_throughput [model] [threads]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_model.h"
#include "runtime/engine/batch_generator.h"
#include "runtime/model/model_loader.h"

using namespace shardlm;

int main(int argc, char** argv) {
  BenchModel bench = load_bench_model(argc, argv);
  Decoder& decoder = *bench.decoder;
  const Tokenizer& tokenizer = *bench.tokenizer;
  std::printf("continuous batching throughput: %s, %d threads, 32 new tokens per sequence\n", bench.path.c_str(), bench.threads);
  auto requests_for = [&](int concurrency, int new_tokens) {
    std::vector<GenerationRequest> requests;
    for (int i = 0; i < concurrency; ++i) {
      GenerationRequest r;
      r.prompt = tokenizer.encode("Story number " + std::to_string(i) + ": Once upon a time", true);
      r.max_new_tokens = new_tokens;
      r.sampling.temperature = 0;
      requests.push_back(r);
    }
    return requests;
  };
  // An untimed pass first: the first to touch a mapped file's weights pays for mapping every page of
  // them (a second or more for a 4 GB file), which would make one sequence look slower than it is.
  EngineCounters warm_up;
  generate_batch(decoder, requests_for(1, 2), 1, &warm_up, nullptr);
  double single = 0;
  for (int concurrency : {1, 4, 16, 64}) {
    const std::vector<GenerationRequest> requests = requests_for(concurrency, 32);
    EngineCounters stats;
    double seconds = 0;
    generate_batch(decoder, requests, concurrency, &stats, &seconds);
    const double rate = stats.generated_tokens / seconds;
    if (concurrency == 1) single = rate;
    std::printf("  %3d sequences: %8.1f tokens/s   ratio to 1: %5.2f   (%lld steps, %.2f s)\n", concurrency, rate,
                rate / single, static_cast<long long>(stats.steps), seconds);
  }
  return 0;
}
