// Speculative decoding on the guide's long prompt (its system prompt ten times, then the
// bytes-to-gigabytes question) with SmolLM2-135M-Instruct: 60 new tokens, greedy; decode time of plain
// decoding, of prompt-lookup speculation and, given a draft model, of draft-model speculation, with
// tokens/s and the ratio to plain (issue 5's goal: >= 1.5x). Every run must give the same tokens.
//   usage: shardlm_speculation [model] [threads] [draft tokens] [draft model or ""] [rounds]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "bench/bench_model.h"
#include "runtime/engine/draft_model.h"
#include "runtime/engine/generator.h"
#include "runtime/engine/speculative.h"
#include "runtime/model/model_loader.h"

using namespace shardlm;

int main(int argc, char** argv) {
  BenchModel bench = load_bench_model(argc, argv);
  Decoder& decoder = *bench.decoder;
  const Tokenizer& tokenizer = *bench.tokenizer;
  const ModelSpec& spec = bench.model.spec;
  const int64_t draft_tokens = argc > 3 ? std::atoll(argv[3]) : 8;
  const std::string draft_path = argc > 4 ? argv[4] : "";
  const int rounds = argc > 5 ? std::max(1, std::atoi(argv[5])) : 3;
  std::ifstream in(std::string(SHARDLM_BENCH_DIR) + "/guide_system_prompt.txt");
  std::stringstream system;
  system << in.rdbuf();
  std::string prompt_text;
  for (int i = 0; i < 10; ++i) prompt_text += system.str();
  // As the guide's long-prompt experiment has it (../shared/GUIDE.md): the question, ending "Answer: Here".
  prompt_text += "Question: Please write a function in Python that transforms bytes to Giga bytes.\n\nAnswer: Here";

  const auto prompt = tokenizer.encode(prompt_text, true);
  constexpr int64_t kNewTokens = 60;
  const SamplingParams greedy_params{0.0f, 0, 1.0f, 0};

  // Plain decoding and each drafter take turns, round after round, and each round's ratio is its own
  // plain time over the drafter's: this VM's speed drifts over minutes, and a ratio of runs taken
  // far apart would measure the drift.
  // Each run gets a fresh drafter: an adaptive one learns from its run's acceptances, and a draft
  // model's cache holds its run's context.
  struct Contender {
    std::string name;
    std::function<std::unique_ptr<Drafter>()> make;
    std::vector<double> ratios;
  };
  std::vector<Contender> contenders = {
      {"prompt lookup, fixed", [] { return std::make_unique<PromptLookupDrafter>(/*adaptive=*/false); }, {}},
      {"prompt lookup, adaptive", [] { return std::make_unique<PromptLookupDrafter>(/*adaptive=*/true); }, {}}};
  std::unique_ptr<LoadedModel> draft_model;
  std::unique_ptr<Decoder> draft_decoder;
  if (!draft_path.empty()) {
    draft_model = std::make_unique<LoadedModel>(load_model(draft_path, std::nullopt));
    draft_decoder = std::make_unique<Decoder>(draft_model->spec, draft_model->weights, *bench.pool);
    // The draft model's prefill of the prompt happens in its first draft, so it counts as decoding.
    contenders.push_back({"draft model",
                          [&] {
                            return std::make_unique<DraftModelDrafter>(
                                *draft_decoder, spec, static_cast<int64_t>(prompt.size()) + kNewTokens + draft_tokens,
                                greedy_params);
                          },
                          {}});
  }
  std::printf("speculative decoding: %s, %zu prompt tokens, %lld new tokens, %d threads, drafts of up to %lld, "
              "%d rounds\n",
              bench.path.c_str(), prompt.size(), static_cast<long long>(kNewTokens), bench.threads,
              static_cast<long long>(draft_tokens), rounds);
  bool all_same = true;
  for (int round = 1; round <= rounds; ++round) {
    std::vector<int32_t> plain;
    Sampler greedy(greedy_params);
    const GenerationStats base = generate(decoder, prompt, kNewTokens, greedy, [&](int32_t t) {
      plain.push_back(t);
      return true;
    });
    if (round == 1) {
      std::string output;
      for (size_t i = 0; i < plain.size(); ++i)
        output += tokenizer.decode(i == 0 ? prompt.back() : plain[i - 1], plain[i]);
      std::printf("  output: %s\n", output.c_str());
    }
    std::printf("round %d\n  %-25s %7.2f s decoding, %6.1f tokens/s, %3zu passes\n", round, "plain:",
                base.decode_seconds, (plain.size() - 1) / base.decode_seconds, plain.size() - 1);
    for (Contender& c : contenders) {
      std::vector<int32_t> tokens;
      const std::unique_ptr<Drafter> drafter = c.make();
      const SpeculationStats stats =
          generate_speculative(decoder, *drafter, prompt, kNewTokens, draft_tokens, greedy_params, [&](int32_t t) {
            tokens.push_back(t);
            return true;
          });
      const bool same = tokens == plain;
      all_same = all_same && same;
      c.ratios.push_back(base.decode_seconds / stats.decode_seconds);
      std::printf("  %-25s %7.2f s decoding, %6.1f tokens/s, %3lld passes, %lld of %lld drafted tokens kept; "
                  "%.2fx plain; same tokens: %s\n",
                  (c.name + ":").c_str(), stats.decode_seconds, (tokens.size() - 1) / stats.decode_seconds,
                  static_cast<long long>(stats.passes), static_cast<long long>(stats.accepted),
                  static_cast<long long>(stats.drafted), c.ratios.back(), same ? "yes" : "NO");
    }
  }
  for (Contender& c : contenders) {
    std::sort(c.ratios.begin(), c.ratios.end());
    std::printf("%-25s median %.2fx plain over %d rounds (goal >= 1.5x)\n", (c.name + ":").c_str(),
                c.ratios[c.ratios.size() / 2], rounds);
  }
  return all_same ? 0 : 1;
}
