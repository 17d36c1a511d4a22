// `shardlm perplexity`: how well a model predicts a text (runtime/engine/perplexity.h), printed as
// "perplexity: X" on stdout, with what was scored and how fast on stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <sstream>

#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/engine/perplexity.h"

namespace shardlm::cli {
namespace {

constexpr const char* kUsage =
    "usage: shardlm perplexity --model PATH --text FILE [flags]\n"
    "  --text            a UTF-8 text file to score\n"
    "  --context         tokens per window, BOS included (default 512, at most the model's context)\n";

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SHARDLM_CHECK(in.good(), "--text '{}' cannot be read", path);
  std::ostringstream text;
  text << in.rdbuf();
  SHARDLM_CHECK(!text.str().empty(), "--text '{}' is empty", path);
  return text.str();
}

}  // namespace

int perplexity_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help"});
  if (args.has_switch("help")) {
    std::fputs(kUsage, stdout);
    std::fputs(kModelFlagsHelp, stdout);
    return 0;
  }
  const ModelFlags flags = read_model_flags(args);
  const std::string text_path = args.required_text("text");
  const int64_t context = args.integer("context", 512, 2, int64_t{1} << 24);
  args.reject_unused();
  // Stages would have to hand every position's hidden states on; scoring is a one-stage job.
  SHARDLM_CHECK(flags.pp == 1, "perplexity runs on one pipeline stage: use --tp to split the model, not --pp");
  const std::string text = read_text_file(text_path);

  Session session = open_session(flags, fmt::format("perplexity {}", fmt::join(argv, "\x1f")));
  Decoder& decoder = *session.decoder;
  const std::vector<int32_t> tokens = session.tokenizer->encode(text, false);
  SHARDLM_CHECK(!tokens.empty(), "--text '{}' has no tokens", text_path);
  const auto start = std::chrono::steady_clock::now();
  const PerplexityScore score = score_text(decoder, tokens, session.tokenizer->bos(), context, flags.kv_dtype);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (session.coordinator()) {
    std::printf("perplexity: %.4f\n", score.perplexity());
    std::fprintf(stderr, "scored %lld tokens in %lld window(s) of up to %lld | %.1f tokens/s | weights %s | KV %s\n",
                 static_cast<long long>(score.tokens), static_cast<long long>(score.windows),
                 static_cast<long long>(std::min(context, decoder.spec().max_seq_len)), score.tokens / seconds,
                 flags.weight_dtype ? std::string(dtype_name(*flags.weight_dtype)).c_str() : "as stored",
                 std::string(dtype_name(flags.kv_dtype)).c_str());
  }
  return 0;
}

}  // namespace shardlm::cli
