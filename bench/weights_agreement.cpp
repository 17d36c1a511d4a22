// Greedy agreement of each weight precision with f32 (the quality check beside perplexity):
// five prompts, 200 greedy tokens each, SmolLM2's weights dequantized to f32 as the reference and
// converted from that f32 copy to bf16, int8 and int4, plus the GGUF's own tensors as stored. For each
// precision it prints how many tokens each prompt keeps before the first one that differs, and the
// share of all 1,000 positions that agree (positions after a divergence compare continuations of
// different texts, so the first figure is the stricter).
//   usage: shardlm_weights_agreement [model] [threads]
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_model.h"
#include "runtime/model/weight_dtype.h"

namespace {

using namespace shardlm;

constexpr int kTokens = 200;
const char* const kPrompts[] = {
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n",
    "The three laws of thermodynamics are",
    "Water boils at 100 degrees Celsius because",
};

std::vector<int32_t> greedy(Decoder& decoder, const std::vector<int32_t>& prompt) {
  KvCache cache(decoder.spec(), static_cast<int64_t>(prompt.size()) + kTokens);
  std::vector<int32_t> out;
  auto logits = decoder.forward(prompt, 0, cache);
  for (int i = 0; i < kTokens; ++i) {
    out.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    const int32_t step[] = {out.back()};
    if (i + 1 < kTokens) logits = decoder.forward(step, static_cast<int64_t>(prompt.size()) + i, cache);
  }
  return out;
}

std::vector<std::vector<int32_t>> run_all(const LoadedModel& model, ThreadPool& pool, const Tokenizer& tokenizer) {
  Decoder decoder(model.spec, model.weights, pool);
  std::vector<std::vector<int32_t>> outputs;
  for (const char* prompt : kPrompts) outputs.push_back(greedy(decoder, tokenizer.encode(prompt, true)));
  return outputs;
}

}  // namespace

int main(int argc, char** argv) {
  BenchModel bench = load_bench_model(argc, argv);
  LoadedModel f32 = bench.model;
  convert_matrices(f32.weights, DType::f32);
  std::printf("greedy agreement with f32: %s, %zu prompts x %d tokens, %d thread(s)\n", bench.path.c_str(),
              std::size(kPrompts), kTokens, bench.threads);
  const auto reference = run_all(f32, *bench.pool, *bench.tokenizer);
  struct Variant {
    const char* name;
    LoadedModel model;
  };
  std::vector<Variant> variants;
  for (auto [name, dtype] : {std::pair{"bf16", DType::bf16}, std::pair{"int8", DType::i8}, std::pair{"int4", DType::q4_1}}) {
    variants.push_back({name, f32});
    convert_matrices(variants.back().model.weights, dtype);
  }
  variants.push_back({"stored", bench.model});
  for (const Variant& variant : variants) {
    const auto outputs = run_all(variant.model, *bench.pool, *bench.tokenizer);
    int same = 0;
    std::printf("  %-6s first divergence at token:", variant.name);
    for (size_t p = 0; p < outputs.size(); ++p) {
      int first = 0;
      while (first < kTokens && outputs[p][first] == reference[p][first]) ++first;
      for (int i = 0; i < kTokens; ++i) same += outputs[p][i] == reference[p][i];
      std::printf(" %3d", first);
    }
    std::printf(" | positions agreeing: %.1f%%\n", 100.0 * same / (kTokens * std::size(kPrompts)));
  }
  return 0;
}
