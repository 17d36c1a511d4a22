#include "runtime/cli/plan_probe.h"

#include <fmt/format.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "kernels/cpu/ops.h"
#include "parallel/mpi_runtime.h"
#include "runtime/backend/backend.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/core/thread_pool.h"
#include "runtime/engine/engine.h"
#include "runtime/model/decoder.h"
#include "runtime/plan/hardware_probe.h"
#include "runtime/plan/workload.h"

namespace shardlm::cli {
namespace {

size_t total_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  size_t kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    meminfo.ignore(256, '\n');
  }
  return 0;
}

// The largest cache /sys lists for CPU 0 (L3 here; L2 where there is none); 0 when unknown.
int64_t last_level_cache_bytes() {
  int64_t largest = 0;
  for (int index = 0; index < 8; ++index) {
    std::ifstream file(fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/size", index));
    std::string text;
    if (!(file >> text)) continue;
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    const int64_t scale = *end == 'K' ? 1024 : *end == 'M' ? 1024 * 1024 : 1;
    largest = std::max<int64_t>(largest, value * scale);
  }
  return largest;
}

Tensor filled(std::vector<int64_t> shape, float value) {
  Tensor t = cpu_backend().empty(std::move(shape), DType::f32);
  std::fill(t.data_as<float>(), t.data_as<float>() + t.numel(), value);
  return t;
}

// A synthetic Llama-style model (weights f32, heads of 64 or fewer) of the given width and depth.
struct SyntheticModel {
  ModelSpec spec;
  ModelWeights weights;
};

SyntheticModel synthetic_model(int64_t hidden, int64_t ffn, int layers) {
  SyntheticModel m;
  ModelSpec& s = m.spec;
  s.family = "llama";
  s.vocab_size = 256;
  s.hidden = hidden;
  s.layers = layers;
  s.head_dim = std::min<int64_t>(64, hidden / 2);
  s.heads = s.kv_heads = hidden / s.head_dim;
  s.ffn_hidden = ffn;
  s.max_seq_len = 512;
  s.tied_embeddings = true;
  ModelWeights& w = m.weights;
  w.token_embedding = filled({s.vocab_size, s.hidden}, 0.01f);
  for (int l = 0; l < layers; ++l) {
    LayerWeights layer;
    layer.attn_norm.weight = filled({s.hidden}, 1.0f);
    layer.ffn_norm.weight = filled({s.hidden}, 1.0f);
    for (Linear* square : {&layer.q, &layer.k, &layer.v, &layer.o})
      square->weight = filled({s.hidden, s.hidden}, 0.01f);
    layer.gate.weight = filled({s.ffn_hidden, s.hidden}, 0.01f);
    layer.up.weight = filled({s.ffn_hidden, s.hidden}, 0.01f);
    layer.down.weight = filled({s.hidden, s.ffn_hidden}, 0.01f);
    w.layers.push_back(std::move(layer));
  }
  w.final_norm.weight = filled({s.hidden}, 1.0f);
  w.lm_head = w.token_embedding;
  return m;
}

// Positions cycle through a short window: the attention over a growing context is measured apart
// (attention_ns_per_key), and must not leak into the per-layer cost or the bandwidths.
constexpr int kWindow = 16;

// Other work on the machine only ever slows a round down: the fastest is the machine's own figure.
// Memory bandwidth, though, also varies with what the machine's other cores and the host do, both
// ways; a decode of many steps averages over that, so a sustained rate is the median round's.
double pick_round(std::vector<double> rounds, bool sustained) {
  std::sort(rounds.begin(), rounds.end());
  return sustained ? rounds[rounds.size() / 2] : rounds.front();
}

// Seconds per decode step of a synthetic decoder, and its weight bytes. Tiny ones cost nothing but
// their ops' fixed costs (thread hand-offs, loops); large ones stream their weights from memory as a
// real model's decode does, through the same kernels. `sustained`: the median round, not the fastest.
std::pair<double, size_t> decoder_step_seconds(int64_t hidden, int64_t ffn, int layers, int threads, int steps,
                                               bool sustained = false) {
  SyntheticModel m = synthetic_model(hidden, ffn, layers);
  ThreadPool pool(threads);
  Decoder decoder(m.spec, m.weights, pool);
  std::vector<double> rounds;
  for (int round = 0; round < 7; ++round) {
    KvCache cache(m.spec, kWindow);
    const int32_t token = 1;
    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < steps; ++step) decoder.forward({&token, 1}, step % kWindow, cache);
    rounds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / steps);
  }
  return {pick_round(rounds, sustained), decoder.weight_bytes()};
}

// Seconds per decode step of the engine serving one greedy request at a time on the smallest
// synthetic decoder (1 layer of hidden 16): the step's scheduling, paged K/V, sampling and
// bookkeeping on top of the forward pass.
double engine_step_seconds(int threads) {
  const SyntheticModel m = synthetic_model(16, 32, 1);
  ThreadPool pool(threads);
  Decoder decoder(m.spec, m.weights, pool);
  EngineOptions options;
  options.max_batch = 1;
  options.num_blocks = 4;
  Engine engine(decoder, options);
  std::vector<double> rounds;
  for (int round = 0; round < 7; ++round) {
    int64_t tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int request = 0; request < 20; ++request) {
      GenerationRequest r;
      r.prompt = {1};
      r.max_new_tokens = kWindow - 1;
      r.sampling.temperature = 0;
      const int64_t id = engine.submit(std::move(r));
      engine.run_to_completion([&](int64_t, int32_t) { return ++tokens > 0; });
      engine.release(id);
    }
    rounds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / tokens);
  }
  return pick_round(rounds, /*sustained=*/false);
}

std::string find_mpirun() {
  if (const char* given = std::getenv("SHARDLM_MPIEXEC"); given != nullptr && *given != '\0') return given;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/mpirun").c_str(), X_OK) == 0) return dir + "/mpirun";
  return "";
}

// Runs `argv`, returning what it printed on stdout; empty when it fails.
std::string run_capture(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) out.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "";
}

}  // namespace

int probe_ranks() {
  SHARDLM_CHECK(mpi().size() >= 2, "--probe-ranks runs under mpirun with 2 ranks");
  // The communicators a `generate --tp 2` rank builds: the world's and its tensor-parallel group's,
  // each with its own MPI resources; the decode traffic goes over the second.
  auto world = world_communicator();
  auto tp_group = tp_communicator(mpi().world_config(mpi().size(), 1));
  auto time_all_reduce = [&](size_t count, int runs) {
    std::vector<float> data(count, 1.0f);
    for (int i = 0; i < 10; ++i) tp_group->all_reduce(data.data(), count);
    for (int i = 0; i < 10; ++i) world->all_reduce(data.data(), count);
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      tp_group->all_reduce(data.data(), count);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return *std::min_element(times.begin(), times.end());  // contention only slows a call down
  };
  // Resident memory is read after small messages, as a decode step's all-reduces of hidden states
  // are; the large ones below (bandwidth) touch more of MPI's shared-memory segments than those do.
  const double latency = time_all_reduce(64, 400);
  // What a decode pays a call: its all-reduces come between each rank's share of a layer, which never
  // takes exactly as long on both ranks, so one waits for the other. The median all-reduce after a
  // few microseconds of work on each rank (four products of a 64 x 256 matrix): 0.7-2.1 us on the
  // 2-vCPU Zen 4 VM, where back-to-back calls take 0.2-0.4 and tp-2 decodes of stories260K ran 30%
  // below plans that took the back-to-back minimum.
  const double decode_latency = [&] {
    std::vector<float> data(64, 1.0f), x(256, 0.5f), w(64 * 256, 0.01f), y(64);
    ThreadPool one(1);
    std::vector<double> times;
    for (int i = 0; i < 2000; ++i) {
      for (int product = 0; product < 4; ++product)
        cpu::matmul(one, x.data(), w.data(), DType::f32, y.data(), 1, 64, 256);
      const auto start = std::chrono::steady_clock::now();
      tp_group->all_reduce(data.data(), data.size());
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return std::max(latency, times[times.size() / 2]);
  }();
  const int n = world->size();
  // Run the decoder's code as the baseline measurement did, so that the difference is MPI's alone.
  decoder_step_seconds(16, 32, 1, 1, 20);
  ::malloc_trim(0);
  std::vector<float> rss(n, 0.0f);
  rss[world->rank()] = static_cast<float>(current_resident_bytes() / 1024.0);
  world->all_reduce(rss.data(), rss.size());
  const size_t big = 1 << 18;
  const double big_seconds = time_all_reduce(big, 20);
  const double bandwidth = 2.0 * (n - 1) / n * big * sizeof(float) / std::max(1e-9, big_seconds - latency);
  if (world->rank() == 0)
    std::printf("probe-ranks %.0f %.9f %.1f\n", *std::max_element(rss.begin(), rss.end()) * 1024.0, decode_latency,
                bandwidth);
  return 0;
}

plan::Hardware probe_hardware() {
  plan::Hardware h;
  h.name = "cpu-probed";
  h.cpu = true;
  h.threads = default_thread_count();
  h.memory_bytes = static_cast<int64_t>(total_memory_bytes());
  h.cache_bytes = last_level_cache_bytes();
  // Every decoder below whose rate stands for memory holds this much, so that each step streams its
  // weights from memory rather than from the last-level cache.
  const int64_t streamed_bytes = std::max<int64_t>(int64_t{256} << 20, 8 * h.cache_bytes);
  for (int threads = 1; threads <= h.threads; ++threads) {
    const double one = decoder_step_seconds(16, 32, 1, threads, 200).first;
    const double nine = decoder_step_seconds(16, 32, 9, threads, 200).first;
    h.step_overhead_by_threads[threads] = std::max(0.0, (nine - one) / 8);
    // What a pass costs besides its layers: the embedding row, the final norm, the LM head's matmul
    // and the logits, each paying its fixed cost (their few KB here stream in no time).
    // The engine's step besides the forward pass, and the pass besides its layers, as one figure.
    const double engine_step = engine_step_seconds(threads);
    h.pass_overhead_by_threads[threads] = std::max(0.0, engine_step - h.step_overhead_by_threads[threads]);
    // 4 layers of hidden 1024 and FFN 4096: 256 MiB of f32 weights, far beyond the caches.
    const auto [seconds, bytes] = decoder_step_seconds(1024, 4096, 4, threads, 12);
    h.bandwidth_by_threads[threads] = bytes / std::max(1e-9, seconds - 4 * h.step_overhead_by_threads[threads]);
    // 4 layers of hidden 96 and FFN 256: 1.7 MiB, within the last-level cache.
    const auto [cached_seconds, cached_bytes] = decoder_step_seconds(96, 256, 4, threads, 400);
    h.cache_bandwidth_by_threads[threads] =
        cached_bytes / std::max(1e-9, cached_seconds - 4 * h.step_overhead_by_threads[threads]);
    // The rate by matrix size: decoders whose FFN is as wide as their hidden size, so that all seven
    // matrices of a layer are the same square, from 256 KiB (hidden 256) to 64 MiB (hidden 4096, the
    // size of a small model's LM head), each with layers enough to stream from memory, at the rate a
    // decode sustains.
    for (int64_t hidden = 256; hidden <= 4096; hidden *= 2) {
      const int64_t matrix = hidden * hidden * static_cast<int64_t>(sizeof(float));
      const int layers = static_cast<int>((streamed_bytes + 7 * matrix - 1) / (7 * matrix));
      // About 1 GiB streamed a round, so that a round lasts tens of milliseconds.
      const int steps = static_cast<int>(std::clamp<int64_t>((int64_t{1} << 30) / (7 * matrix * layers), 3, 20));
      const auto [matrix_seconds, matrix_bytes] =
          decoder_step_seconds(hidden, hidden, layers, threads, steps, /*sustained=*/true);
      h.bandwidth_by_matrix[threads][matrix] =
          matrix_bytes / std::max(1e-9, matrix_seconds - layers * h.step_overhead_by_threads[threads]);
    }
  }
  // What each weight dtype's decode kernel multiplies per second with its weights in the cache, and
  // streaming from memory (three times the last-level cache, so that none of it is left there).
  const int64_t beyond_cache = std::max<int64_t>(int64_t{128} << 20, 3 * h.cache_bytes);
  for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1, DType::q4_0}) {
    for (int threads = 1; threads <= h.threads; ++threads) {
      h.kernel_rate[dtype][threads] = plan::probe_decode_kernel_rate(threads, dtype, int64_t{256 << 10} * threads);
      h.kernel_streamed_rate[dtype][threads] = plan::probe_decode_kernel_rate(threads, dtype, beyond_cache);
      h.kernel_streamed_long_rate[dtype][threads] =
          plan::probe_decode_kernel_rate(threads, dtype, beyond_cache, plan::Hardware::kLongKernelRow);
    }
  }
  // The same by matrix size for weights that sit in the cache (a model of a few MB): square decoders
  // of hidden 32 to 512 (4 KiB to 1 MiB matrices), 2 to 16 layers, a few MiB in all.
  for (int threads = 1; threads <= h.threads; ++threads) {
    for (int64_t hidden = 32; hidden <= 512; hidden *= 2) {
      const int64_t matrix = hidden * hidden * static_cast<int64_t>(sizeof(float));
      const int layers = static_cast<int>(std::clamp<int64_t>((int64_t{2} << 20) / (7 * matrix), 2, 16));
      const auto [seconds, bytes] = decoder_step_seconds(hidden, hidden, layers, threads, 200);
      h.cache_bandwidth_by_matrix[threads][matrix] =
          bytes / std::max(1e-9, seconds - layers * h.step_overhead_by_threads[threads] -
                                     h.pass_overhead_by_threads[threads]);
    }
  }
  // The baseline once the decoder's code has run and its thread pools have come and gone: what a
  // `generate` process holds before its model.
  ::malloc_trim(0);
  h.runtime_overhead_bytes = static_cast<int64_t>(current_resident_bytes());
  h.memory_bandwidth = h.bandwidth_by_threads.rbegin()->second;
  h.step_overhead_s = h.step_overhead_by_threads.rbegin()->second;
  // Head dims from stories260K's 8 to 256, at the engine's KV block size.
  for (int64_t head_dim = 8; head_dim <= 256; head_dim *= 2)
    h.attention_by_head_dim[head_dim] = plan::probe_attention_key_cost(head_dim, plan::Workload{}.block_size);
  h.flops[plan::NumberFormat::f32] = plan::probe_matmul_flops(h.threads, DType::f32);
  h.flops[plan::NumberFormat::bf16] = plan::probe_matmul_flops(h.threads, DType::bf16);
  h.flops[plan::NumberFormat::f16] = plan::probe_matmul_flops(h.threads, DType::f16);
  // int8 and int4 layers multiply as the runtime holds them: int8 rows, q4_1 blocks.
  h.flops[plan::NumberFormat::int8] = plan::probe_matmul_flops(h.threads, DType::i8);
  h.flops[plan::NumberFormat::int4] = plan::probe_matmul_flops(h.threads, DType::q4_1);
  h.devices_per_node = 1;
  // Ranks on this machine talk through shared memory; without mpirun, a copy's rate stands in.
  h.intra_node_bandwidth = h.inter_node_bandwidth = h.memory_bandwidth / 2;
  h.link_latency_s = 5e-6;
  const std::string mpirun = find_mpirun();
  if (!mpirun.empty() && mpi().size() == 1) {
    ::setenv("OMPI_MCA_pml", "ob1", 0);
    ::setenv("OMPI_MCA_btl", "self,vader", 0);
    if (::geteuid() == 0) {
      ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
      ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    }
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    // Started as launch/mpirun.sh starts ranks: unbound, oversubscribed only on a one-core machine
    // (Open MPI's waits then yield the core at every poll, which slows every message).
    std::vector<std::string> argv = {mpirun, "-np", "2", "--bind-to", "none"};
    if (h.threads < 2) argv.push_back("--oversubscribe");
    argv.insert(argv.end(), {self, "plan", "--probe-ranks"});
    const std::string out = run_capture(argv);
    double rss = 0, latency = 0, bandwidth = 0;
    if (std::sscanf(out.c_str(), "probe-ranks %lf %lf %lf", &rss, &latency, &bandwidth) == 3) {
      h.rank_overhead_bytes = std::max<int64_t>(0, static_cast<int64_t>(rss) - h.runtime_overhead_bytes);
      h.link_latency_s = latency;
      h.intra_node_bandwidth = h.inter_node_bandwidth = bandwidth;
    }
  }
  return h;
}

}  // namespace shardlm::cli
