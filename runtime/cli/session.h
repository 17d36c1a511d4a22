// What `generate` and `chat` share: the model and sampling flags, and a loaded model with its
// tokenizer, thread pool and decoder.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "parallel/mpi_runtime.h"
#include "runtime/cli/args.h"
#include "runtime/core/thread_pool.h"
#include "runtime/engine/sampler.h"
#include "runtime/model/decoder.h"
#include "runtime/tokenizer/tokenizer.h"

namespace shardlm::cli {

// Help text for the flags below, to append to a command's usage.
extern const char* const kModelFlagsHelp;
extern const char* const kSamplingFlagsHelp;

struct ModelFlags {
  std::string model_path, tokenizer_path;
  int threads = 1;
  std::optional<DType> weight_dtype;
  int tp = 1, pp = 1;
  std::vector<int64_t> pp_layers;  // layers per stage; empty = balanced
  DType kv_dtype = DType::f32;     // what the engine's KV pool stores (--kv-dtype f32|bf16)
  bool cuda = false;               // --device cuda: run on this rank's GPU
};
ModelFlags read_model_flags(Args& args);
// --temperature (default_temperature when absent), --top-k, --top-p, --seed.
SamplingParams read_sampling_flags(Args& args, double default_temperature);

// The process's MPI runtime, started by main (a world of one without mpirun).
MpiRuntime& mpi();
void set_mpi(MpiRuntime* runtime);

struct Session {
  std::string model_path;
  WorldConfig world;
  // Declared in the order they depend on each other, so that each is destroyed before what it uses.
  std::unique_ptr<Communicator> world_comm;
  std::unique_ptr<DeviceOps> device;  // the GPU's ops with --device cuda; null on the CPU
  // With --device cuda and --tp > 1: the MPI group under tp_comm (NCCL's bootstrap, or the host side
  // of a staged communicator).
  std::unique_ptr<Communicator> mpi_tp_comm;
  std::unique_ptr<Communicator> tp_comm;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Decoder> decoder;  // this rank's share of the model
  double load_seconds = 0;  // mapping, cutting, repacking and converting this rank's share
  bool coordinator() const { return world.is_coordinator(); }
};
// Loads this rank's share of the model. `fingerprint` is what must be the same on every rank (the
// command line); ranks started differently refuse to start. Collective: every rank calls it.
Session open_session(const ModelFlags& flags, const std::string& fingerprint);

// --kv-cache-memory: a byte count (with an optional K, M, G suffix, powers of 1024) or a fraction in
// (0, 1] of the memory available now, read and checked before the model loads, so a bad value fails
// at once rather than after minutes of loading. nullopt when the flag is absent.
std::optional<double> read_kv_cache_bytes(Args& args);

// The number of KV blocks of block_size tokens that `bytes` buys for `decoder`'s share of the model
// in kv_dtype (the planner's formula, runtime/plan/kv_budget.h). No budget: enough for
// `fallback_tokens` positions per sequence of a batch of `batch`.
int64_t kv_blocks_for_budget(std::optional<double> bytes, const Decoder& decoder, DType kv_dtype, int64_t block_size,
                             int64_t batch, int64_t fallback_tokens);

// Text as it streams out, without C0 control characters other than whitespace (run.c likewise drops
// unprintable single-byte pieces): a model's output must not drive the user's terminal. Flushed at a
// line's end and otherwise at most every 25 ms (see session.cpp).
void print_text(const std::string& text);

}  // namespace shardlm::cli
