// `shardlm generate`: one prompt and its continuation to stdout as llama2.c's run.c prints them,
// streamed; or several prompts as one continuously batched workload, each printed whole in order.
// Statistics go to stderr. Under mpirun every rank runs this; rank 0 prints.
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/engine/draft_model.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/speculative.h"
#include "runtime/engine/stop_text.h"
#include "runtime/model/model_loader.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::cli {
namespace {

constexpr int64_t kBlockSize = 16;

// The prompt's text as run.c echoes it: each token's piece after BOS.
std::string prompt_text(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, TokenTextStream& text) {
  std::string out;
  for (size_t t = ids.front() == tokenizer.bos() ? 1 : 0; t < ids.size(); ++t) out += text.push(ids[t]);
  return out;
}

// A draft model for --draft-model: refused unless its tokenizer is the target's, token for token,
// since drafts are token ids the target must read the same way.
struct DraftModel {
  LoadedModel model;
  std::unique_ptr<Decoder> decoder;
};

std::unique_ptr<DraftModel> open_draft_model(const std::string& path, const Tokenizer& target_tokenizer,
                                             const ModelSpec& target_spec, ThreadPool& pool) {
  auto draft = std::make_unique<DraftModel>();
  draft->model = load_model(path, std::nullopt);
  const ModelSpec& spec = draft->model.spec;
  SHARDLM_CHECK(spec.vocab_size == target_spec.vocab_size,
                "--draft-model '{}' has a vocabulary of {} tokens, the model's has {}: the draft must share the "
                "model's tokenizer",
                path, spec.vocab_size, target_spec.vocab_size);
  const auto tokenizer = load_tokenizer(path, "", spec);
  bool same = tokenizer->vocab_size() == target_tokenizer.vocab_size() && tokenizer->bos() == target_tokenizer.bos();
  for (int32_t id = 0; same && id < tokenizer->vocab_size(); ++id)
    same = tokenizer->decode(-1, id) == target_tokenizer.decode(-1, id);
  SHARDLM_CHECK(same, "--draft-model '{}' has a different tokenizer from the model's: the draft must share it", path);
  draft->decoder = std::make_unique<Decoder>(spec, draft->model.weights, pool);
  return draft;
}

}  // namespace

int generate_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help", "ignore-eos"}, {"prompt", "stop"});
  if (args.has_switch("help")) {
    std::printf("usage: shardlm generate --model PATH --prompt TEXT [--max-new-tokens N] [flags]\n"
                "  --prompt          the text to continue; repeat it, or give --prompts-file FILE (one prompt a\n"
                "                    line), to run several prompts as one continuously batched workload\n"
                "  --max-new-tokens  tokens to generate (default 256; stops early at a stop token or the context's end)\n"
                "  --max-batch       sequences in flight at once with several prompts (default 16)\n"
                "  --speculate K     draft up to K tokens from the context (prompt lookup) and verify them in\n"
                "                    one pass; output unchanged, or sampled from the same distribution (one\n"
                "                    prompt, one rank)\n"
                "  --draft-model PATH  draft with this smaller model, which must share the tokenizer (drafts of\n"
                "                    --speculate K tokens, default 4)\n"
                "  --stop TEXT       end a sequence where TEXT appears (not printed); may be repeated\n"
                "  --max-step-tokens tokens one step may compute: long prompts are prefilled in chunks so the\n"
                "                    others keep decoding (default 0 = whole prompts)\n"
                "  --ignore-eos      run to --max-new-tokens past the model's stop tokens (benchmarks)\n"
                "%s%s  (--temperature defaults to 1.0; prompt i of several samples with seed + i)\n",
                kModelFlagsHelp, kSamplingFlagsHelp);
    return 0;
  }
  const ModelFlags model_flags = read_model_flags(args);
  std::vector<std::string> prompts = args.texts("prompt");
  if (const auto file = args.text("prompts-file")) {
    std::ifstream in(*file);
    SHARDLM_CHECK(in.good(), "cannot read --prompts-file '{}'", *file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) prompts.push_back(line);
    SHARDLM_CHECK(!prompts.empty(), "--prompts-file '{}' holds no prompt", *file);
  }
  SHARDLM_CHECK(!prompts.empty(), "missing required flag --prompt (or --prompts-file)");
  const int64_t max_new_tokens = args.integer("max-new-tokens", 256, 0, std::numeric_limits<int32_t>::max());
  const int64_t max_batch = args.integer("max-batch", 16, 1, 4096);
  const bool ignore_eos = args.has_switch("ignore-eos");
  const SamplingParams sampling = read_sampling_flags(args, 1.0);
  const std::vector<std::string> stop_strings = args.texts("stop");
  const std::optional<std::string> draft_path = args.text("draft-model");
  SHARDLM_CHECK(!draft_path || !draft_path->empty(), "--draft-model is empty: give the draft model's path");
  const int64_t speculate = args.integer("speculate", draft_path ? 4 : 0, draft_path ? 1 : 0, 64);
  for (const auto& stop : stop_strings) SHARDLM_CHECK(!stop.empty(), "--stop is empty: give the text to stop at");
  const bool several = prompts.size() > 1;
  // The speculative loop runs one sequence against a contiguous cache on this rank.
  SHARDLM_CHECK(speculate == 0 || !several, "--speculate and --draft-model take one prompt, not several");
  SHARDLM_CHECK(speculate == 0 || !ignore_eos, "--ignore-eos is for plain decoding, not with --speculate");
  SHARDLM_CHECK(speculate == 0 || mpi().size() == 1, "--speculate and --draft-model run on one rank, not under mpirun");
  // Its contiguous caches hold f32; a bf16 cache would be reported but not used.
  SHARDLM_CHECK(speculate == 0 || model_flags.kv_dtype == DType::f32,
                "--speculate and --draft-model keep their KV cache in f32; --kv-dtype bf16 cannot be used with them");
  for (const auto& prompt : prompts) SHARDLM_CHECK(!prompt.empty(), "--prompt is empty: give some text to continue");
  const std::optional<double> kv_cache_bytes = read_kv_cache_bytes(args);
  const int64_t max_step_tokens = args.integer("max-step-tokens", 0, 0, 1 << 24);
  args.reject_unused();  // before loading: a typo must not cost the minutes a large model takes to load

  Session session = open_session(model_flags, fmt::format("generate {}", fmt::join(argv, "\x1f")));
  const ModelSpec& spec = session.decoder->spec();
  const Tokenizer& tokenizer = *session.tokenizer;
  const std::unique_ptr<DraftModel> draft_model =
      draft_path ? open_draft_model(*draft_path, tokenizer, spec, *session.pool) : nullptr;
  // Every rank tokenizes (the tokenizer is deterministic), so all size the KV pool alike.
  std::vector<std::vector<int32_t>> prompt_ids;
  int64_t longest = 1;
  for (const auto& prompt : prompts) {
    prompt_ids.push_back(tokenizer.encode(prompt, /*add_bos=*/true));
    longest = std::max<int64_t>(longest, std::min<int64_t>(spec.max_seq_len, prompt_ids.back().size() + max_new_tokens));
  }
  const int64_t batch = std::min<int64_t>(max_batch, static_cast<int64_t>(prompts.size()));
  EngineOptions options;
  options.max_batch = batch;
  options.block_size = kBlockSize;
  options.kv_dtype = model_flags.kv_dtype;
  options.num_blocks = kv_blocks_for_budget(kv_cache_bytes, *session.decoder, options.kv_dtype, kBlockSize, batch, longest);
  options.max_step_tokens = max_step_tokens;
  // Each rank's weight bytes, gathered on every rank by summing one slot per rank.
  std::vector<float> weight_mib(session.world.world, 0.0f);
  weight_mib[session.world.rank] = static_cast<float>(session.decoder->weight_bytes() / (1024.0 * 1024.0));
  session.world_comm->all_reduce(weight_mib.data(), weight_mib.size());

  Engine engine(*session.decoder, options, {session.world, session.world_comm.get()});
  if (!session.coordinator()) {
    engine.follow();
    return 0;
  }
  if (!several && static_cast<int64_t>(prompt_ids[0].size()) + max_new_tokens > spec.max_seq_len + 1 &&
      static_cast<int64_t>(prompt_ids[0].size()) <= spec.max_seq_len) {
    std::fprintf(stderr, "note: the context of %lld tokens ends before %lld new tokens; generation stops there\n",
                 static_cast<long long>(spec.max_seq_len), static_cast<long long>(max_new_tokens));
  }
  for (size_t i = 0; i < prompt_ids.size() && max_new_tokens > 0 && speculate == 0; ++i) {
    GenerationRequest request;
    request.prompt = prompt_ids[i];
    request.max_new_tokens = max_new_tokens;
    request.sampling = sampling;
    request.sampling.seed = sampling.seed + i;
    request.ignore_stop_tokens = ignore_eos;
    engine.submit(std::move(request));
  }

  const auto start = std::chrono::steady_clock::now();
  double first_token_seconds = 0;
  int64_t streamed = 0;
  SpeculationStats speculation;
  if (!several) {
    // One prompt streams: the prompt, then each token as it is sampled.
    const std::vector<int32_t>& ids = prompt_ids[0];
    TokenTextStream text(tokenizer, ids.front() == tokenizer.bos() ? ids.front() : -1);
    print_text(prompt_text(tokenizer, ids, text));
    // Text is held back while it could still turn into a stop string, then printed.
    std::string held;
    auto stream = [&](int32_t token) {
      if (first_token_seconds == 0)
        first_token_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++streamed;
      held += text.push(token);
      const auto [cut, stopped] = split_at_stop(held, stop_strings);
      print_text(held.substr(0, cut));
      held.erase(0, cut);
      if (stopped) held.clear();
      return !stopped;
    };
    if (speculate > 0 && max_new_tokens > 0) {
      std::unique_ptr<Drafter> drafter;
      if (draft_model) {
        drafter = std::make_unique<DraftModelDrafter>(*draft_model->decoder, spec,
                                                      static_cast<int64_t>(ids.size()) + max_new_tokens + speculate,
                                                      sampling);
      } else {
        drafter = std::make_unique<PromptLookupDrafter>();
      }
      speculation = generate_speculative(*session.decoder, *drafter, ids, max_new_tokens, speculate, sampling, stream);
    } else {
      engine.run_to_completion([&](int64_t, int32_t token) { return stream(token); });
    }
    print_text(held);
    print_text(text.finish() + "\n");
  } else {
    // Each sequence's text so far, to end it at a stop string.
    std::vector<std::string> produced(prompt_ids.size());
    std::vector<TokenTextStream> streams;
    for (const auto& ids : prompt_ids) streams.emplace_back(tokenizer, ids.back());
    engine.run_to_completion([&](int64_t request, int32_t token) {
      produced[request] += streams[request].push(token);
      const auto [cut, stopped] = split_at_stop(produced[request], stop_strings);
      if (stopped) produced[request].resize(cut);
      return !stopped;
    });
    for (size_t i = 0; i < prompt_ids.size(); ++i) {
      const std::vector<int32_t>& ids = prompt_ids[i];
      TokenTextStream text(tokenizer, ids.front() == tokenizer.bos() ? ids.front() : -1);
      print_text(prompt_text(tokenizer, ids, text) + text.finish() + produced[i] + streams[i].finish() + "\n");
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  engine.stop_followers();

  const EngineCounters& c = engine.counters();
  std::string layout =
      fmt::format("ranks: {} (tp {}, pp {}) | threads: {} | load: {:.2f} s (rank 0) | peak resident memory: {:.1f} MiB "
                  "(rank 0) | weights per rank: {:.1f} MiB | KV cache: {}, {:.2f} MiB (rank 0)",
                  session.world.world, session.world.tp, session.world.pp, session.pool->size(), session.load_seconds,
                  peak_resident_bytes() / (1024.0 * 1024.0), fmt::join(weight_mib, ", "),
                  dtype_name(engine.pool().dtype()), engine.pool().bytes() / (1024.0 * 1024.0));
  if (session.device != nullptr) {
    // What this process allocated on the GPU, now and at most (torch.cuda.max_memory_allocated's
    // counterpart), and the card's size.
    const MemoryStats gpu = session.device->memory().memory();
    layout += fmt::format(" | {} memory: peak {:.1f} MiB, now {:.1f} MiB of {:.0f} MiB", session.device->memory().name(),
                          gpu.peak_bytes / (1024.0 * 1024.0), gpu.current_bytes / (1024.0 * 1024.0),
                          gpu.total_bytes / (1024.0 * 1024.0));
  }
  if (!several) {
    const double decode_seconds = seconds - first_token_seconds;
    if (speculate > 0)
      std::fprintf(stderr, "speculation: %lld passes, %lld of %lld drafted tokens kept\n",
                   static_cast<long long>(speculation.passes), static_cast<long long>(speculation.accepted),
                   static_cast<long long>(speculation.drafted));
    std::fprintf(stderr, "prompt tokens: %zu, generated tokens: %lld | prefill: %.1f tokens/s | decode: %.1f tokens/s | %s\n",
                 prompt_ids[0].size(), static_cast<long long>(streamed),
                 first_token_seconds > 0 ? prompt_ids[0].size() / first_token_seconds : 0.0,
                 streamed > 1 && decode_seconds > 0 ? (streamed - 1) / decode_seconds : 0.0,
                 layout.c_str());
  } else {
    std::fprintf(stderr,
                 "prompts: %zu, generated tokens: %lld in %lld steps | %.1f tokens/s | largest batch: %lld | "
                 "preemptions: %lld | KV blocks: %lld | %s\n",
                 prompts.size(), static_cast<long long>(c.generated_tokens), static_cast<long long>(c.steps),
                 seconds > 0 ? c.generated_tokens / seconds : 0.0, static_cast<long long>(c.largest_batch),
                 static_cast<long long>(c.preemptions), static_cast<long long>(options.num_blocks), layout.c_str());
  }
  return 0;
}

}  // namespace shardlm::cli
