#include "runtime/plan/capacity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"
#include "kernels/cuda/weight_groups.h"
#include "runtime/core/check.h"
#include "runtime/model/mlp_chunk.h"
#include "runtime/plan/kv_budget.h"

namespace shardlm::plan {
namespace {

// Where a rank sits and how wide its share is.
struct Share {
  RankPlace place;
  int64_t heads, kv_heads, ffn, vocab;
};

Share share_of(const ModelSpec& spec, const Layout& layout, int tp_rank, int pp_rank) {
  Share s{rank_place(spec, layout.tp, layout.pp, tp_rank, pp_rank, layout.pp_layers), 0, 0, 0, 0};
  const bool split = layout.tp > 1;
  s.heads = split ? s.place.shard.heads : spec.heads;
  s.kv_heads = split ? s.place.shard.kv_heads() : spec.kv_heads;
  s.ffn = split ? s.place.shard.ffn : spec.ffn_hidden;
  s.vocab = split ? s.place.shard.vocab : spec.vocab_size;
  return s;
}

// Bytes of one activation value: the decoder keeps its activations in f32 on every device, and sums
// and hands them off in f32 (runtime/model/decoder.cpp).
constexpr double kActivationValueBytes = 4.0;

// Tokens of the largest step: whole prompts of every sequence at once (the engine's default), or the
// chunked-prefill budget, split into one micro-batch per pipeline stage.
int64_t largest_step_tokens(const Workload& w, const Layout& layout) {
  int64_t tokens = w.concurrency * w.prompt_tokens;
  if (w.max_step_tokens > 0) tokens = std::max(w.concurrency, std::min(tokens, w.max_step_tokens));
  const int64_t micro_batches = std::min<int64_t>(w.concurrency, layout.pp);
  return (tokens + micro_batches - 1) / micro_batches;
}

// CudaOps's own scratch at a step of `tokens` rows (runtime/ops/cuda/cuda_ops.cpp): the bf16-rounded
// inputs of the widest product, unless the weights are f32 (or stored quantized, at decode sizes,
// which multiply f32 inputs), and one slice of dequantized bf16 weight rows where the weights are in a
// format cuBLAS cannot take. Its split-K partials and index uploads are under a megabyte.
int64_t cuda_ops_scratch_bytes(const ModelSpec& spec, const Share& s, const Layout& layout, int64_t tokens,
                               int64_t sequences) {
  if (layout.weights == NumberFormat::f32) return 0;
  const bool stored_quantized = layout.weights != NumberFormat::bf16;
  if (stored_quantized && tokens <= cuda::kMaxMatvecRows) return 0;
  const int64_t q = s.heads * spec.head_dim, kv = s.kv_heads * spec.head_dim, h = spec.hidden;
  const int64_t widest = std::max({h, q, s.ffn});
  int64_t bytes = tokens * widest * 2;
  if (stored_quantized) {
    int64_t slice = 0;  // the largest slice any of the rank's matrices [n, k] takes
    // The LM head multiplies one row a sequence (in registers up to kMaxMatvecRows); int8 keeps it
    // in bf16, which cuBLAS takes as it is.
    const bool head_dequantized = s.place.last_stage && layout.weights != NumberFormat::int8 &&
                                  sequences > cuda::kMaxMatvecRows;
    const int64_t head_rows = head_dequantized ? s.vocab : 0;
    const std::pair<int64_t, int64_t> matrices[] = {{q, h}, {kv, h}, {h, q}, {s.ffn, h}, {h, s.ffn}, {head_rows, h}};
    for (const auto& [n, k] : matrices)
      slice = std::max(slice, std::min(n, std::max<int64_t>(1, cuda::kDequantizedSliceBytes / (k * 2))) * k * 2);
    bytes += slice;
  }
  return bytes;
}

// The decoder's scratch (runtime/model/decoder.cpp ensure_scratch) for `tokens` rows, and the last
// stage's logits for `sequences` rows, in the device's memory. A CPU rank also counts its host-side
// step arrays (positions, the engine's logits); a GPU rank counts CudaOps's scratch instead (the
// positions and the engine's logits are in host memory there).
int64_t activation_bytes(const ModelSpec& spec, const Share& s, const Layout& layout, int64_t tokens, int64_t sequences,
                         bool gpu, bool coordinator) {
  const int64_t q = s.heads * spec.head_dim, kv = s.kv_heads * spec.head_dim, h = spec.hidden;
  const bool fused = layout.tp == 1 && spec.qkv_layout != QkvLayout::separate;
  const int64_t per_token = 2 * h + (fused ? q + 2 * kv : 0) + q + 2 * kv + q + h;
  const double value = kActivationValueBytes;
  // The MLP's up and gate rows: a CPU holds a chunk of the step's tokens at a time.
  const int64_t mlp_tokens = gpu ? tokens : std::min(tokens, kCpuMlpChunkTokens);
  double bytes = (static_cast<double>(tokens) * per_token + static_cast<double>(mlp_tokens) * 2 * s.ffn) * value;
  if (s.place.last_stage) {
    bytes += sequences * (spec.vocab_size + h) * value;       // logits and their rows
    if (layout.tp > 1) bytes += sequences * s.vocab * value;  // this rank's vocab slice
  }
  if (gpu) return static_cast<int64_t>(bytes) + cuda_ops_scratch_bytes(spec, s, layout, tokens, sequences);
  bytes += 4.0 * tokens;                                                               // int32 positions
  if (s.place.last_stage || coordinator) bytes += sequences * spec.vocab_size * 4.0;  // the engine's logits
  return static_cast<int64_t>(bytes);
}

// Heap bytes the loader copies when cutting a rank's share (runtime/model/shard_weights.cpp):
// row-parallel layers always, and K/V heads gathered from several places (per-query-head copies);
// column-parallel layers and the LM head stay views of what they were cut from.
int64_t copied_bytes(const ModelSpec& spec, const RankPlace& place, NumberFormat format) {
  if (place.tp == 1) return 0;
  const std::vector<int64_t>& kv = place.shard.kv_sources;
  bool kv_one_range = true;
  for (size_t i = 1; i < kv.size(); ++i) kv_one_range = kv_one_range && kv[i] == kv[i - 1] + 1;
  int64_t bytes = 0;
  for_each_tensor(spec, place, [&](const TensorShape& t) {
    if (t.matrix && (t.role == TensorRole::row || (t.role == TensorRole::kv && !kv_one_range)))
      bytes += matrix_bytes(t.rows, t.cols, format);
  });
  return bytes;
}

double all_reduce_seconds(double bytes, int ranks, double bandwidth, double latency) {
  if (ranks <= 1) return 0;
  return latency + 2.0 * (ranks - 1) / ranks * bytes / bandwidth;  // ring: each rank sends 2(n-1)/n of it
}

struct StageTime {
  double compute_s = 0, memory_s = 0, attention_s = 0, overhead_s = 0, tp_comm_s = 0;
  double total() const { return std::max(compute_s, memory_s) + attention_s + overhead_s + tp_comm_s; }
};

}  // namespace

const RankMemory& Plan::largest() const {
  return *std::max_element(ranks.begin(), ranks.end(),
                           [](const RankMemory& a, const RankMemory& b) { return a.peak_bytes < b.peak_bytes; });
}

Plan make_plan(const ModelSpec& spec, const Hardware& hw, const Layout& layout, const Workload& workload,
               const CheckpointLoad& load) {
  validate(workload);
  SHARDLM_CHECK(layout.tp >= 1 && layout.pp >= 1, "--tp and --pp must be at least 1 (got tp {}, pp {})", layout.tp,
                layout.pp);
  Plan plan;
  plan.layout = layout;
  plan.workload = workload;
  plan.context = workload.context > 0 ? workload.context : spec.max_seq_len;
  SHARDLM_CHECK(plan.context > 0, "the model gives no context length; pass --context N");
  SHARDLM_CHECK(workload.prompt_tokens + workload.output_tokens <= plan.context,
                "--prompt-tokens {} + --output-tokens {} exceed the context of {} tokens (--context)",
                workload.prompt_tokens, workload.output_tokens, plan.context);
  const int world = layout.ranks();
  const int ranks_per_node = hw.cpu ? world : std::min(world, hw.devices_per_node);
  plan.threads = workload.threads > 0 ? workload.threads : std::max(1, hw.threads / ranks_per_node);
  const double value = kActivationValueBytes;
  const int64_t step_tokens = largest_step_tokens(workload, layout);
  const int64_t step_sequences = (workload.concurrency + std::min<int64_t>(workload.concurrency, layout.pp) - 1) /
                                 std::min<int64_t>(workload.concurrency, layout.pp);
  const int64_t sequence_tokens = std::min(plan.context, workload.prompt_tokens + workload.output_tokens);
  // A CPU machine's memory is shared by the ranks on it; a GPU's is its own.
  const int64_t memory = hw.cpu ? hw.memory_bytes / ranks_per_node : hw.memory_bytes;
  const bool host_process = hw.cpu && load.present;

  plan.fits = true;
  for (int pp_rank = 0; pp_rank < layout.pp; ++pp_rank) {
    for (int tp_rank = 0; tp_rank < layout.tp; ++tp_rank) {
      const Share s = share_of(spec, layout, tp_rank, pp_rank);
      RankMemory r;
      r.rank = pp_rank * layout.tp + tp_rank;
      r.tp_rank = tp_rank;
      r.pp_rank = pp_rank;
      r.layers = s.place.stage.count;
      r.kv_heads = s.kv_heads;
      r.weights = rank_weight_bytes(spec, s.place, layout.weights);
      const KvFootprint footprint{s.place.stage.count, s.kv_heads, spec.head_dim, DType::f32};
      r.kv_bytes_per_token = static_cast<int64_t>(std::ceil(footprint.values_per_token() * value_bytes(layout.kv)));
      r.kv_blocks = workload.kv_cache_bytes
                        ? blocks_for_budget(static_cast<size_t>(*workload.kv_cache_bytes),
                                            static_cast<size_t>(r.kv_bytes_per_token), workload.block_size)
                        : blocks_for_sequences(workload.concurrency, sequence_tokens, workload.block_size);
      r.kv_bytes = r.kv_blocks * workload.block_size * r.kv_bytes_per_token;
      r.activation_bytes = activation_bytes(spec, s, layout, step_tokens, step_sequences, !hw.cpu, r.rank == 0);
      r.ops_scratch_bytes = hw.cpu ? 0 : cuda_ops_scratch_bytes(spec, s, layout, step_tokens, step_sequences);
      // A later stage receives the previous one's hidden states in host memory (then copied in).
      r.comm_bytes = (world > 1 ? hw.rank_overhead_bytes : 0) +
                     (s.place.first_stage || !hw.cpu ? 0 : static_cast<int64_t>(step_tokens * spec.hidden * value));
      r.overhead_bytes = hw.runtime_overhead_bytes;
      const int64_t besides_kv = r.activation_bytes + r.comm_bytes + r.overhead_bytes;
      if (host_process) {
        r.tokenizer_bytes = load.tokenizer_bytes;
        // Resident weights: the rank's share, as heap copies or as the file pages of the views it
        // reads; an embedding left a view of the file is read a row per token, its pages mostly not.
        const bool embedding_untouched = load.embedding_viewed && !spec.tied_embeddings && s.place.first_stage;
        const int64_t resident_weights = r.weights.total() - (embedding_untouched ? r.weights.embeddings : 0);
        const int64_t copies = copied_bytes(spec, s.place, layout.weights);
        r.mapped_file_bytes = load.matrices_converted ? 0 : resident_weights - copies;
        // Loading holds, at its largest, the k-quants repacked whole (before the cut) with the rank's
        // cut copies, or the rank's weights as they end up (repacking and converting a tensor a slice
        // at a time gives back its source as it goes). Under tensor parallelism the rank's LM head
        // rows are copied from a repacked head, which then goes before the layers are cut: it meets
        // the other repacked tensors and the head's rows, not the layers' copies.
        const int64_t head_rows = layout.tp > 1 && load.lm_head_converted ? r.weights.lm_head : 0;
        const int64_t other_converted = load.converted_bytes - (layout.tp > 1 ? load.converted_lm_head_bytes : 0);
        const int64_t cutting = other_converted + head_rows +
                                std::max(layout.tp > 1 ? load.converted_lm_head_bytes : 0, copies);
        r.load_peak_bytes = r.overhead_bytes + r.comm_bytes + r.tokenizer_bytes + std::max(cutting, resident_weights);
        r.run_bytes = besides_kv + r.kv_bytes + resident_weights + r.tokenizer_bytes;
        r.peak_bytes = std::max(r.load_peak_bytes, r.run_bytes);
        r.kv_tokens_fit = std::max<int64_t>(0, memory - (r.peak_bytes - r.kv_bytes)) / r.kv_bytes_per_token;
      } else {
        r.run_bytes = r.weights.total() + r.kv_bytes + besides_kv;
        r.peak_bytes = r.run_bytes;
        r.kv_tokens_fit = std::max<int64_t>(0, memory - r.weights.total() - besides_kv) / r.kv_bytes_per_token;
      }
      r.free_bytes = memory - r.peak_bytes;
      r.sequences_fit = r.kv_tokens_fit / plan.context;
      if (r.free_bytes < 0 && plan.fits) {
        plan.fits = false;
        plan.why_not = fmt::format("rank {} needs {:.1f} GiB of {:.1f} GiB", r.rank, r.peak_bytes / 1073741824.0,
                                   memory / 1073741824.0);
      }
      plan.ranks.push_back(r);
    }
  }
  plan.speed = plan_speed(spec, hw, plan, workload.concurrency);
  return plan;
}

Speed plan_speed(const ModelSpec& spec, const Hardware& hw, const Plan& plan, int64_t concurrency) {
  const Layout& layout = plan.layout;
  const Workload& w = plan.workload;
  const int world = layout.ranks();
  const int ranks_per_node = hw.cpu ? world : std::min(world, hw.devices_per_node);
  const int threads = plan.threads;
  // Ranks on one CPU share its memory bus: each gets its threads' rate, or its part of the machine's.
  // A CPU whose ranks' weights all fit in its last-level cache reads them from there, not from memory.
  bool cached = false;
  if (hw.cpu && hw.cache_bytes > 0) {
    int64_t bytes = 0;
    for (const RankMemory& r : plan.ranks) bytes += r.weights.total() + r.kv_bytes;
    cached = bytes <= hw.cache_bytes;
  }
  double bandwidth = hw.memory_bandwidth;
  double flops_scale = 1.0;
  if (hw.cpu) {
    bandwidth = std::min(hw.bandwidth_for(threads, cached),
                         hw.bandwidth_for(threads * ranks_per_node, cached) / ranks_per_node);
    flops_scale = std::min(1.0, static_cast<double>(threads) / std::max(1, hw.threads));
  }
  // The rate a rank streams one [n x k] weight matrix of `bytes` at in a step of `tokens` rows, from a
  // CPU file measured by matrix size: cpu::matmul gives a thread no fewer than kMinMacsPerThread
  // multiply-adds (kernels/cpu/work_split.h), so a small matrix runs on fewer threads than the rank
  // has, at the rate measured for those. Ranks sharing the machine stream at the same time: together
  // they get no more than all its threads stream the largest matrices at.
  // Each core reads its own caches: only ranks streaming from memory share a bus.
  const bool by_matrix =
      hw.cpu && !(cached ? hw.cache_bandwidth_by_matrix.empty() : hw.bandwidth_by_matrix.empty());
  const double largest = std::numeric_limits<double>::max();
  const double machine_share =
      !by_matrix ? bandwidth
      : cached   ? largest
                 : hw.matrix_bandwidth_for(threads * ranks_per_node, largest) / ranks_per_node;
  const int concurrent_ranks = std::min(layout.tp, ranks_per_node);
  auto matmul_threads = [&](int64_t n, int64_t k, int64_t tokens) {
    const int64_t macs_threads = std::max<int64_t>(1, tokens * n * k / cpu::kMinMacsPerThread);
    return static_cast<int>(std::min<int64_t>(threads, macs_threads));
  };
  auto matrix_bandwidth = [&](double bytes, int matmul_threads) {
    if (!by_matrix) return bandwidth;
    return std::min(hw.matrix_bandwidth_for(matmul_threads, bytes, cached), machine_share);
  };
  // What streams at the largest matrices' rate: norms, biases and the K/V cache, long contiguous reads.
  const double stream_bandwidth =
      by_matrix ? std::min(hw.matrix_bandwidth_for(threads, largest, cached), machine_share) : bandwidth;
  // A GPU multiplies int8 / int4 weights dequantized to bf16; a CPU file may give their own rate (the
  // probe measures the runtime's products in them), else f32's stands in.
  // Q4_0 layers' panel products run as fast as q4_1's (the same bytes once unpacked): int4's rate.
  NumberFormat compute = layout.weights == NumberFormat::q4_0 ? NumberFormat::int4 : layout.weights;
  if (!hw.cpu && (compute == NumberFormat::int8 || compute == NumberFormat::int4)) compute = NumberFormat::bf16;
  if (hw.cpu && hw.flops.count(compute) == 0) compute = NumberFormat::f32;
  const double peak = hw.flops_for(compute) * flops_scale;
  const double value = kActivationValueBytes;
  const double tp_link = layout.tp <= hw.devices_per_node || hw.cpu ? hw.intra_node_bandwidth : hw.inter_node_bandwidth;
  const double pp_link = world <= hw.devices_per_node || hw.cpu ? hw.intra_node_bandwidth : hw.inter_node_bandwidth;
  const double latency = hw.link_latency_s;
  const double overhead_per_layer = hw.step_overhead_for(threads);

  // One stage's time for `rows` tokens of `sequences` sequences that attend to `context` positions
  // each: the slowest tensor-parallel rank of the stage.
  auto stage_time = [&](int pp_rank, int64_t rows, int64_t sequences, double context, bool prefill) {
    StageTime slowest;
    for (const RankMemory& r : plan.ranks) {
      if (r.pp_rank != pp_rank) continue;
      const Share s = share_of(spec, layout, r.tp_rank, r.pp_rank);
      // Decode reads every layer matrix and the LM head whole, but one embedding row per token.
      const bool tied_here = spec.tied_embeddings && layout.tp == 1 && s.place.first_stage && s.place.last_stage;
      // The head section holds the final norm, and the LM head unless it is the tied embedding.
      const double head = s.place.last_stage ? r.weights.lm_head + (tied_here ? r.weights.embeddings : 0) : 0;
      const double kv_read = prefill ? 0 : sequences * context * r.kv_bytes_per_token;
      int64_t matmul_macs = 0;  // each matrix's weights times the rows it multiplies
      // Seconds to stream the matrices a decode step multiplies by, each at the memory's rate for its
      // size, or at its dtype's kernel's where that is slower (a CPU file that measured it); a model that fuses
      // q, k and v multiplies by them as one matrix where tp is 1 (the loader splits them for tp > 1).
      const bool fused_qkv = layout.tp == 1 && spec.qkv_layout != QkvLayout::separate;
      const int64_t fused_qkv_rows = (spec.heads + 2 * spec.kv_heads) * spec.head_dim;
      const int64_t fused_qkv_bytes = fused_qkv ? matrix_bytes(fused_qkv_rows, spec.hidden, layout.weights) : 0;
      double matrix_bytes_read = 0, matrix_s = 0;
      for_each_tensor(spec, s.place, [&](const TensorShape& t) {
        const bool head_matrix = t.role == TensorRole::embedding && tied_here;
        if (!t.matrix || ((t.role == TensorRole::embedding || t.role == TensorRole::position) && !head_matrix)) return;
        // The LM head multiplies each sequence's last row only (a prompt's other rows need no logits).
        const bool lm_head = head_matrix || t.role == TensorRole::lm_head;
        matmul_macs += t.rows * t.cols * (lm_head ? sequences : rows);
        const double bytes = static_cast<double>(tensor_bytes(t, layout.weights));
        matrix_bytes_read += bytes;
        // The memory's rate for this matrix's size (as one fused matrix where it is one), and the rate
        // the kernel multiplies its dtype at with the threads it gets.
        const bool as_fused = fused_qkv && t.qkv;
        const int matrix_threads = matmul_threads(as_fused ? fused_qkv_rows : t.rows, t.cols, rows);
        // The kernel's ceiling is its rate with the weights where they are: in the cache, or
        // streaming from memory (below the memory's own rate where the kernel keeps the core busy).
        const double memory_rate = matrix_bandwidth(as_fused ? fused_qkv_bytes : bytes, matrix_threads);
        const DType dtype = tensor_dtype(t, layout.weights);
        double kernel_rate = hw.kernel_rate_for(dtype, matrix_threads, !cached, t.cols);
        // A tensor-parallel group's ranks stream at once: each gets at most its part of what all their
        // threads stream together (on a 2-vCPU Zen 4, each of 2 ranks of 1 thread decoding a 7B Q4_0
        // model read 11 GB/s, where one thread alone streams 12-14).
        if (hw.cpu && !cached && concurrent_ranks > 1)
          kernel_rate = std::min(kernel_rate, hw.kernel_rate_for(dtype, matrix_threads * concurrent_ranks, true, t.cols) /
                                                  concurrent_ranks);
        matrix_s += bytes / std::min(memory_rate, kernel_rate);
      });
      // A CPU file that measured the attention kernel's cost per key plans a decode step's attention by
      // it: at small head dims its softmax, not its bytes or FLOPs, sets the time (stories260K's
      // head_dim 8). It runs after the projections that feed it, so it adds to their time; its K/V
      // still has to stream from memory, whichever is slower.
      const bool attention_by_key = !prefill && !hw.attention_by_head_dim.empty();
      double attention_flops = 4.0 * rows * context * s.heads * spec.head_dim * r.layers * (prefill ? 0.5 : 1.0);
      StageTime t;
      if (attention_by_key) {
        const AttentionKeyCost cost = hw.attention_cost_for(spec.head_dim);
        AttentionShape call{1, static_cast<int64_t>(context) - 1, s.heads, s.kv_heads, spec.head_dim,
                            s.kv_heads * spec.head_dim, 1.0f};
        call.block_size = w.block_size;
        const double one_call = context * (s.kv_heads * cost.per_kv_head + s.heads * cost.per_head) /
                                static_cast<double>(cpu::attention_threads(call, threads));
        t.attention_s = std::max(sequences * r.layers * one_call, kv_read / stream_bandwidth);
        attention_flops = 0;
      }
      // The rest of what the step reads (norms, biases, and K/V unless planned above) streams.
      const double kv_streamed = attention_by_key ? 0 : kv_read;
      const double other_bytes = r.weights.layers + head - matrix_bytes_read + kv_streamed;
      t.memory_s = matrix_s + other_bytes / stream_bandwidth;
      t.compute_s = (2.0 * matmul_macs + attention_flops) / peak;
      t.overhead_s = overhead_per_layer * r.layers + hw.pass_overhead_for(threads);
      if (layout.tp > 1) {
        // Two row-parallel all-reduces a layer (attention output, MLP), and the vocab-parallel logits.
        t.tp_comm_s = 2.0 * r.layers * all_reduce_seconds(rows * spec.hidden * value, layout.tp, tp_link, latency);
        if (s.place.last_stage)
          t.tp_comm_s += all_reduce_seconds(sequences * spec.vocab_size * 4.0, layout.tp, tp_link, latency);
      }
      if (t.total() > slowest.total()) slowest = t;
    }
    return slowest;
  };
  auto transfer = [&](int64_t rows) { return latency + rows * spec.hidden * value / pp_link; };

  Speed speed;
  // Prefill: one prompt alone goes through the stages one after another.
  const int64_t prompt = w.prompt_tokens;
  for (int p = 0; p < layout.pp; ++p) speed.prefill_s += stage_time(p, prompt, 1, prompt, true).total();
  speed.prefill_s += (layout.pp - 1) * transfer(prompt) + (world > 1 ? latency : 0);
  speed.ttft_s = speed.prefill_s;

  // Decode: the sequences split into one micro-batch per stage (at most), which fill the pipeline;
  // a step ends when the last micro-batch leaves the last stage: the first passes through every stage,
  // each later one leaves a slowest stage's time after the one before it (GPipe's (m + pp - 1) stage
  // times where the stages are even; at one sequence, the sum of the stages, however uneven).
  const int64_t micro_batches = std::min<int64_t>(concurrency, layout.pp);
  const int64_t per_micro_batch = (concurrency + micro_batches - 1) / micro_batches;
  const double context = prompt + w.output_tokens / 2.0;
  double slowest = 0, slowest_tp_comm = 0, stages_total = 0, stages_tp_comm = 0;
  bool memory_bound = true;
  for (int p = 0; p < layout.pp; ++p) {
    const StageTime t = stage_time(p, per_micro_batch, per_micro_batch, context, false);
    stages_total += t.total();
    stages_tp_comm += t.tp_comm_s;
    if (t.total() > slowest) {
      slowest = t.total();
      slowest_tp_comm = t.tp_comm_s;
      memory_bound = t.memory_s >= t.compute_s;
    }
  }
  const double pipeline_s = stages_total + (micro_batches - 1) * slowest;
  speed.bubble = 1.0 - micro_batches * stages_total / layout.pp / pipeline_s;
  speed.tp_comm_s = stages_tp_comm + (micro_batches - 1) * slowest_tp_comm;
  speed.pp_transfer_s = (layout.pp - 1) * transfer(per_micro_batch) * micro_batches;
  // Rank 0 broadcasts each step's plan; with stages, the last returns the logits to rank 0.
  const double step_messages = world > 1 ? latency : 0;
  const double logits_back = layout.pp > 1 ? latency + concurrency * spec.vocab_size * 4.0 / pp_link : 0;
  speed.decode_step_s = pipeline_s + speed.pp_transfer_s + step_messages + logits_back;
  speed.itl_s = speed.decode_step_s;
  speed.decode_tokens_per_s = concurrency / speed.itl_s;
  speed.throughput = concurrency * w.output_tokens / (concurrency * speed.prefill_s + w.output_tokens * speed.itl_s);
  speed.memory_bound = memory_bound;
  return speed;
}

}  // namespace shardlm::plan
