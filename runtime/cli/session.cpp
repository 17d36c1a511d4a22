#include "runtime/cli/session.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <chrono>
#include <cstdio>
#include <limits>
#include <malloc.h>
#include <utility>

#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/plan/kv_budget.h"
#include "parallel/pipeline.h"
#include "parallel/shard.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/repack_file_formats.h"
#include "runtime/model/shard_weights.h"
#include "parallel/comm/nccl_communicator.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/ops/cuda_ops.h"
#include "runtime/ops/staged_communicator.h"
#include "runtime/ops/upload_weights.h"
#include "runtime/core/fault_injection.h"
#include "runtime/model/weight_dtype.h"

namespace shardlm::cli {

const char* const kModelFlagsHelp =
    "  --model           a llama2.c .bin, a GGUF file, or a Hugging Face checkpoint directory\n"
    "  --tokenizer       the tokenizer (default: the one in or beside the model)\n"
    "  --threads         CPU threads (default: all cores this process may use)\n"
    "  --weights         weight precision in memory: f32, bf16, f16, int8 (projections per output row,\n"
    "                    embeddings and LM head bf16) or int4 (projections q4_1: groups of 32 with a scale\n"
    "                    and a minimum; embeddings and LM head q8_0); default: the checkpoint's own (a\n"
    "                    GGUF's Q8_0 / Q4_0 / Q4_1 tensors run as stored). --dtype: the same\n"
    "  --tp, --pp        tensor- and pipeline-parallel ranks (tp x pp = the ranks mpirun starts; default 1)\n"
    "  --pp-layers       layers per pipeline stage, e.g. 3,2 (default: balanced)\n"
    "  --kv-cache-memory KV cache size: bytes (512M, 2G) or a fraction of free memory (0.5)\n"
    "  --kv-dtype        what the KV cache stores: f32, bf16 (half the memory) or int8 (a scale per 32\n"
    "                    values of a token's head: 0.27 of f32's bytes); default f32\n"
    "  --device          cpu (default) or cuda: a GPU per rank (weights in any --weights dtype, an\n"
    "                    f32 or bf16 KV cache; --tp over NCCL)\n";
const char* const kSamplingFlagsHelp =
    "  --temperature     0 = greedy\n"
    "  --top-k           keep the K most likely tokens (default 0 = all)\n"
    "  --top-p           keep the smallest set reaching probability P (default 0.9, as llama2.c)\n"
    "  --min-p           drop tokens less likely than P x the most likely (default 0 = off)\n"
    "  --repetition-penalty, --presence-penalty   on tokens already in the context (defaults 1, 0)\n"
    "  --seed            random seed (default: from the clock)\n";

namespace {
MpiRuntime* g_mpi = nullptr;
}

MpiRuntime& mpi() {
  SHARDLM_CHECK(g_mpi != nullptr, "MPI runtime not started");
  return *g_mpi;
}
void set_mpi(MpiRuntime* runtime) { g_mpi = runtime; }

ModelFlags read_model_flags(Args& args) {
  ModelFlags flags;
  flags.model_path = args.required_text("model");
  flags.tokenizer_path = args.text("tokenizer").value_or("");
  // Ranks sharing a node share its cores.
  const int cores_per_rank = std::max(1, default_thread_count() / std::max(1, mpi().local_size()));
  flags.threads = static_cast<int>(args.integer("threads", cores_per_rank, 1, 1024));
  flags.tp = static_cast<int>(args.integer("tp", 1, 1, 4096));
  flags.pp = static_cast<int>(args.integer("pp", 1, 1, 4096));
  if (const auto layers = args.text("pp-layers")) {
    std::string item;
    for (size_t at = 0; at <= layers->size(); ++at) {
      if (at < layers->size() && (*layers)[at] != ',') {
        item += (*layers)[at];
        continue;
      }
      char* end = nullptr;
      const long long count = std::strtoll(item.c_str(), &end, 10);
      SHARDLM_CHECK(!item.empty() && *end == '\0' && count > 0, "--pp-layers expects positive counts like 3,2; got '{}'",
                    *layers);
      flags.pp_layers.push_back(count);
      item.clear();
    }
  }
  const auto weights = args.text("weights"), dtype = args.text("dtype");
  SHARDLM_CHECK(!weights || !dtype, "--weights and --dtype are one setting (--dtype its older name); give one");
  if (weights || dtype) {
    flags.weight_dtype = parse_weight_precision(weights ? *weights : *dtype, weights ? "weights" : "dtype");
  }
  if (const auto kv_dtype = args.text("kv-dtype")) {
    // The pool and the attention kernels hold and read these three only.
    SHARDLM_CHECK(*kv_dtype == "f32" || *kv_dtype == "bf16" || *kv_dtype == "int8",
                  "--kv-dtype expects f32, bf16 or int8, got '{}'", *kv_dtype);
    // int8: q8_0 blocks of 32 values of a token's head, each with its scale.
    flags.kv_dtype = *kv_dtype == "int8" ? DType::q8_0 : parse_dtype(*kv_dtype);
  }
  if (const auto device = args.text("device")) {
    SHARDLM_CHECK(*device == "cpu" || *device == "cuda", "--device expects cpu or cuda, got '{}'", *device);
    flags.cuda = *device == "cuda";
  }
  return flags;
}

SamplingParams read_sampling_flags(Args& args, double default_temperature) {
  SamplingParams sampling;
  sampling.temperature = static_cast<float>(args.real("temperature", default_temperature, 0.0, 1e6));
  sampling.top_k = args.integer("top-k", 0, 0, std::numeric_limits<int32_t>::max());
  sampling.top_p = static_cast<float>(args.real("top-p", 0.9, 0.0, 1.0));
  SHARDLM_CHECK(sampling.top_p > 0.0f, "--top-p must be greater than 0, got {}", sampling.top_p);
  sampling.min_p = static_cast<float>(args.real("min-p", 0.0, 0.0, 1.0));
  sampling.repetition_penalty = static_cast<float>(args.real("repetition-penalty", 1.0, 1e-3, 100.0));
  sampling.presence_penalty = static_cast<float>(args.real("presence-penalty", 0.0, -100.0, 100.0));
  sampling.seed = static_cast<uint64_t>(args.integer("seed", std::chrono::system_clock::now().time_since_epoch().count(),
                                                     0, std::numeric_limits<int64_t>::max()));
  return sampling;
}

namespace {

// Every rank must run the same command on the same files: compare each rank's fingerprint with rank
// 0's and agree, over all ranks, whether any differs, so that all refuse together.
void check_same_command(Communicator& world, const std::string& fingerprint) {
  if (world.size() == 1) return;
  uint64_t mine = std::hash<std::string>{}(fingerprint), root = mine;
  world.broadcast(&root, sizeof(root), 0);
  float differs = mine != root ? 1.0f : 0.0f;
  world.all_reduce(&differs, 1);
  SHARDLM_CHECK(differs == 0.0f,
                "{} rank(s) were started with a different command line or model file than rank 0; every rank "
                "must run the same shardlm command",
                static_cast<int>(differs));
}

std::string file_identity(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return path;
  return path + ":" + std::to_string(std::filesystem::file_size(path, error));
}

}  // namespace

Session open_session(const ModelFlags& flags, const std::string& fingerprint) {
  Session session;
  session.model_path = flags.model_path;
  if (flags.cuda) {
    // Before anything is loaded: a machine without a GPU (or a build without CUDA) says so at once.
    SHARDLM_CHECK(flags.kv_dtype == DType::f32 || flags.kv_dtype == DType::bf16,
                  "--device cuda keeps the KV cache in f32 or bf16 for now, not {}", dtype_name(flags.kv_dtype));
    // One GPU per rank of a node; ranks beyond the node's GPUs share them round-robin.
    const int gpus = std::max(1, cuda_status().device_count);
    session.device = make_cuda_ops(mpi().local_rank() % gpus);
  }
  session.world = mpi().world_config(flags.tp, flags.pp);
  session.world_comm = world_communicator();
  session.tp_comm = flags.tp > 1 ? tp_communicator(session.world) : nullptr;
  if (session.tp_comm != nullptr && session.device != nullptr) {
    // On GPUs the group sums device memory over NCCL (bootstrapped over MPI), ordered after the ops'
    // stream; MPI keeps the step plans. Where NCCL cannot (ranks sharing a GPU, as when tensor
    // parallelism is tried on a one-GPU machine, or a build without NCCL), the sums are staged
    // through the host over MPI. Pipeline hand-offs leave the device as host copies.
    session.mpi_tp_comm = std::move(session.tp_comm);
    const bool shared_gpu = mpi().local_size() > cuda_status().device_count;
    if (nccl_built() && !shared_gpu) {
      session.tp_comm = make_nccl_communicator(*session.mpi_tp_comm, mpi().local_rank(), session.device->queue());
    } else {
      session.tp_comm = std::make_unique<StagedCommunicator>(*session.mpi_tp_comm, *session.device);
    }
  }
  check_same_command(*session.world_comm, fingerprint + "|" + file_identity(flags.model_path));

  const WorldConfig& world = session.world;
  // Mapped as stored (views of the file, Q4_0 blocks too), cut to this rank's share, and only then
  // converted, on all the rank's threads: each rank reads only its own slices, and the file pages it
  // copied from are given back, so it holds its share and nothing of the rest. The CPU multiplies
  // Q4_0 where it lies in the file; the GPU's kernels, and int4 (q4_1) as asked, take it repacked.
  fault_point("load");
  const auto load_start = std::chrono::steady_clock::now();
  session.pool = std::make_unique<ThreadPool>(flags.threads);
  LoadedModel full = load_model(flags.model_path, std::nullopt);
  const ModelSpec spec = full.spec;
  const auto shard = TensorParallelShard::plan(spec.family, spec.heads, spec.kv_heads, spec.ffn_hidden, spec.vocab_size, world.tp,
                                               world.tp_rank());
  const auto stages = partition_layers(spec.layers, world.pp, flags.pp_layers);
  const StageLayers& mine = stages[world.pp_rank()];
  // The stage first: a rank cuts (and copies) columns of its own layers only. What the rank does not
  // keep (another stage's tensors, a k-quant tensor repacked whole) goes as soon as it can: the rest
  // of the model before the cut, the whole LM head once its rows are cut (shard_model).
  LoadedModel stage = stage_model(full, mine, world.first_stage(), world.last_stage());
  full = {};
  LoadedModel local = shard_model(std::move(stage), shard);
  if (session.device != nullptr || flags.weight_dtype == DType::q4_1) repack_file_formats(local.weights, *session.pool);
  if (flags.weight_dtype) convert_matrices(local.weights, *flags.weight_dtype);
  // Copies freed while cutting and converting (row-parallel slices, tensors replaced by their
  // conversions) are mostly small: the allocator keeps them for reuse unless asked to give them back.
  malloc_trim(0);
  session.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  session.tokenizer = load_tokenizer(flags.model_path, flags.tokenizer_path, spec);
  Placement placement{session.tp_comm.get(), shard.first_head, spec.heads, mine.first, world.first_stage(),
                      world.last_stage(), shard.first_vocab};
  if (session.device != nullptr) {
    // The GPU multiplies every stored dtype (cuBLAS, or the quantized kernels of kernels/cuda).
    const DType matrices[] = {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1};
    session.decoder = std::make_unique<Decoder>(
        local.spec, upload_weights(local.weights, session.device->memory(), matrices), *session.device, placement);
  } else {
    session.decoder = std::make_unique<Decoder>(local.spec, local.weights, *session.pool, placement);
  }
  return session;
}

std::optional<double> read_kv_cache_bytes(Args& args) {
  const auto flag = args.text("kv-cache-memory");
  if (!flag) return std::nullopt;
  const std::string& text = *flag;
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  const std::string suffix = end;
  if (suffix.empty() && number > 0 && number <= 1 && text.find('.') != std::string::npos)
    return number * static_cast<double>(available_memory_bytes());
  const double unit = suffix == "" ? 1 : suffix == "K" ? 1024.0 : suffix == "M" ? 1048576.0 : suffix == "G" ? 1073741824.0 : 0;
  SHARDLM_CHECK(unit > 0 && std::isfinite(number) && number > 0,
                "--kv-cache-memory expects bytes (e.g. 512M, 2G) or a fraction of free memory (e.g. 0.5), got '{}'",
                text);
  return number * unit;
}

int64_t kv_blocks_for_budget(std::optional<double> bytes, const Decoder& decoder, DType kv_dtype, int64_t block_size,
                             int64_t batch, int64_t fallback_tokens) {
  if (!bytes) return blocks_for_sequences(batch, fallback_tokens, block_size);
  const KvFootprint footprint = KvFootprint::of_model(decoder.spec(), kv_dtype);
  const int64_t blocks = blocks_for_budget(static_cast<size_t>(*bytes), footprint.bytes_per_token(), block_size);
  SHARDLM_CHECK(blocks > 0, "--kv-cache-memory ({:.0f} bytes) holds no block of {} tokens ({} bytes each)", *bytes,
                block_size, footprint.bytes_per_block(block_size));
  return blocks;
}

void print_text(const std::string& text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && !std::isspace(byte)) || byte == 0x7F) continue;
    std::fputc(c, stdout);
  }
  // A write per token wakes whoever reads the pipe (under mpirun, the launcher forwarding rank 0's
  // output) once a step: on a small CPU that took a third of a tiny model's tp=2 decode. Writes are
  // paced instead, at most one per kFlushInterval, and at once at a line's end (a chat turn, the end
  // of a generation); a token waits at most one interval plus one step to be seen.
  constexpr auto kFlushInterval = std::chrono::milliseconds(25);
  static auto last_flush = std::chrono::steady_clock::time_point{};
  const auto now = std::chrono::steady_clock::now();
  if (now - last_flush >= kFlushInterval || text.find('\n') != std::string::npos) {
    std::fflush(stdout);
    last_flush = now;
  }
}

}  // namespace shardlm::cli
