// `shardlm inspect PATH`: the ModelSpec a checkpoint gives, its parameter count, and its tensors and
// bytes by stored type, without building a decoder.
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>

#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/core/check.h"
#include "runtime/model/checkpoint_contents.h"
#include "runtime/model/model_loader.h"
#include "runtime/plan/number_format.h"
#include "runtime/plan/report.h"

namespace shardlm::cli {
namespace {

constexpr const char* kUsage =
    "usage: shardlm inspect PATH [--tensors] [--weights f32|f16|bf16|int8|int4]\n"
    "  PATH       a Hugging Face checkpoint directory, a GGUF file or a llama2.c .bin\n"
    "  --tensors  list every tensor\n"
    "  --weights  the precision to mark in the table of what each --weights choice holds and saves\n";

const char* name_of(NormKind kind) { return kind == NormKind::rmsnorm ? "RMSNorm" : "LayerNorm"; }
const char* name_of(FfnKind kind) {
  return kind == FfnKind::swiglu ? "SwiGLU" : kind == FfnKind::gelu ? "GELU (erf)" : "GELU (tanh)";
}
const char* name_of(QkvLayout layout) {
  switch (layout) {
    case QkvLayout::separate: return "separate q/k/v";
    case QkvLayout::blocks: return "fused [Q|K|V]";
    case QkvLayout::per_head: return "fused, per head";
    case QkvLayout::per_kv_group: return "fused, per KV group";
  }
  return "?";
}

std::string positions(const ModelSpec& s) {
  switch (s.position) {
    case PositionKind::rope:
      return fmt::format("RoPE theta {} ({} pairs{}{})", s.rope_theta,
                         s.rope_layout == RopeLayout::adjacent ? "adjacent" : "half-split",
                         s.rope_scaling == RopeScaling::linear ? ", linear scaling x" + fmt::format("{}", s.rope_scaling_factor) : "",
                         s.rope_scaling == RopeScaling::dynamic_ntk ? ", dynamic NTK x" + fmt::format("{}", s.rope_scaling_factor) : "");
    case PositionKind::alibi: return s.alibi_rule == AlibiRule::bloom ? "ALiBi (BLOOM slopes)" : "ALiBi (MPT slopes)";
    case PositionKind::learned: return "learned absolute";
  }
  return "?";
}

}  // namespace

int inspect_command(const std::vector<std::string>& argv) {
  std::vector<std::string> flags(argv);
  std::string path;
  if (!flags.empty() && flags.front().rfind("--", 0) != 0) {
    path = flags.front();
    flags.erase(flags.begin());
  }
  Args args(flags, {"help", "tensors"});
  const auto weights_flag = args.text("weights");
  const plan::NumberFormat chosen = weights_flag ? plan::parse_format(*weights_flag, "--weights")
                                                 : plan::NumberFormat::f32;
  if (args.has_switch("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const bool list_tensors = args.has_switch("tensors");
  args.reject_unused();
  SHARDLM_CHECK(!path.empty(), "inspect needs a checkpoint path: shardlm inspect PATH");

  const ModelSpec s = read_model_spec(path);
  const CheckpointContents contents = read_checkpoint_contents(path);
  std::printf("checkpoint: %s (%s)\n", path.c_str(), contents.format.c_str());
  std::printf("model:      %s\n", s.summary().c_str());
  std::printf("block:      %s eps %g, %s MLP, %s%s, attention %s, positions %s\n", name_of(s.norm), s.norm_eps,
              name_of(s.ffn), s.parallel_attention ? "parallel attention + MLP" : "sequential attention, MLP",
              s.shared_attention_norm ? " (one shared norm)" : "", name_of(s.qkv_layout), positions(s).c_str());
  std::printf("extras:     biases attention %s / MLP %s, tied embeddings %s, embedding norm %s%s\n",
              s.attention_bias ? "yes" : "no", s.mlp_bias ? "yes" : "no", s.tied_embeddings ? "yes" : "no",
              s.embedding_norm ? "yes" : "no", s.clip_qkv > 0 ? fmt::format(", clip_qkv {}", s.clip_qkv).c_str() : "");
  std::printf("tokens:     bos %d, stop [%s]\n", s.bos_token, fmt::format("{}", fmt::join(s.stop_tokens, ", ")).c_str());

  struct Totals {
    int64_t tensors = 0, elements = 0;
    size_t bytes = 0;
  };
  std::map<std::string, Totals> by_type;
  Totals all;
  for (const StoredTensor& t : contents.tensors) {
    for (Totals* totals : {&by_type[t.type], &all}) {
      totals->tensors += 1;
      totals->elements += t.elements();
      totals->bytes += t.bytes;
    }
  }
  std::printf("parameters: %s (%lld tensors, %.2f MB stored)\n", fmt::format("{:L}", all.elements).c_str(),
              static_cast<long long>(all.tensors), all.bytes / 1e6);
  for (const auto& [type, totals] : by_type) {
    std::printf("  %-5s %6lld tensors %16s parameters %12.2f MB\n", type.c_str(), static_cast<long long>(totals.tensors),
                fmt::format("{}", totals.elements).c_str(), totals.bytes / 1e6);
  }
  std::printf("%s", plan::weight_choices_table(s, 1, 1, chosen).c_str());
  if (list_tensors) {
    for (const StoredTensor& t : contents.tensors)
      std::printf("  %-48s %-5s [%s] %zu bytes\n", t.name.c_str(), t.type.c_str(),
                  fmt::format("{}", fmt::join(t.shape, ", ")).c_str(), t.bytes);
  }
  return 0;
}

}  // namespace shardlm::cli
