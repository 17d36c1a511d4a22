// The GPU's DeviceOps (kernels/cuda and cuBLAS behind runtime/ops/cuda) against kernels/ref, op by op
// at awkward sizes, and the whole decoder on the GPU against the CPU. Skips, saying why, where the
// build has no CUDA or the machine no GPU (this project's CI machines have none: these run on a
// lent GPU machine, launch/gpu-check.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ref/ops.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/model/decoder.h"
#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/ops/cuda_ops.h"
#include "parallel/shard.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/shard_weights.h"
#include "runtime/ops/staged_communicator.h"
#include "runtime/model/weight_dtype.h"
#include "runtime/ops/upload_weights.h"
#include "runtime/plan/capacity.h"
#include "tests/unit/support/largest_step.h"
#include "tests/unit/support/thread_group.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, double tolerance,
                  const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], tolerance * (1 + std::fabs(expected[i]))) << what << " at " << i;
}

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaStatus status = cuda_status();
    if (status.device_count == 0) GTEST_SKIP() << status.message;
    ops_ = make_cuda_ops(0);
  }
  // Device copies of host vectors, and back.
  // shape: empty for one dimension of all the elements.
  template <class T>
  Tensor on_device(const std::vector<T>& host, DType dtype = DType::f32, std::vector<int64_t> shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(host.size() * sizeof(T) / dtype_size(dtype))};
    Tensor t = ops_->memory().empty(std::move(shape), dtype);
    ops_->from_host(t.data(), host.data(), host.size() * sizeof(T));
    return t;
  }
  std::vector<float> back(const Tensor& t) {
    std::vector<float> host(t.numel());
    ops_->to_host(host.data(), t.data(), host.size() * sizeof(float));
    return host;
  }
  // Paged attention of `tokens` queries after `past` positions (GQA: 8 heads over 2 KV heads, K/V
  // written by write_kv into blocks out of order) against ref::attention over a host pool holding the
  // same rounded K/V.
  void expect_paged_attention(DType kv_dtype, int64_t head_dim, int64_t past, int64_t tokens, bool alibi,
                              double tolerance) {
    ModelSpec spec;
    spec.layers = 1, spec.heads = 8, spec.kv_heads = 2, spec.head_dim = head_dim, spec.hidden = 8 * head_dim;
    spec.max_seq_len = 8192;
    const int64_t block_size = 16, kv_dim = 2 * head_dim, total = past + tokens, blocks = (total + 15) / 16;
    KvPool pool(spec, blocks, block_size, kv_dtype, ops_->memory());
    std::vector<int32_t> table_ids(blocks);
    for (int32_t i = 0; i < blocks; ++i) table_ids[i] = static_cast<int32_t>(blocks - 1 - i);
    const auto k = test::random_floats(rng_, total * kv_dim, -1, 1), v = test::random_floats(rng_, total * kv_dim, -1, 1);
    Tensor dk = on_device(k), dv = on_device(v);
    ops_->write_kv(pool, 0, dk.data_as<float>(), dv.data_as<float>(), total, 0, table_ids);
    const auto q = test::random_floats(rng_, tokens * 8 * head_dim, -1, 1);
    std::vector<float> slopes(8);
    for (int h = 0; h < 8; ++h) slopes[h] = std::ldexp(1.0f, -(h + 5));
    AttentionShape shape{tokens, past, 8, 2, head_dim, kv_dim, 1.0f / std::sqrt(static_cast<float>(head_dim))};
    shape.alibi_slopes = alibi ? slopes.data() : nullptr;
    shape.block_table = table_ids.data();
    shape.block_size = block_size;
    shape.kv_dtype = kv_dtype;
    Tensor dq = on_device(q), dout = ops_->memory().empty({tokens * 8 * head_dim}, DType::f32);
    ops_->attention(dq.data_as<float>(), pool.keys(0), pool.values(0), dout.data_as<float>(), shape);
    KvPool host_pool(spec, blocks, block_size, kv_dtype);
    host_pool.write(0, k.data(), v.data(), total, 0, table_ids);
    std::vector<float> want(tokens * 8 * head_dim);
    ref::attention(q.data(), host_pool.keys(0), host_pool.values(0), want.data(), shape);
    const std::string what = std::string(dtype_name(kv_dtype)) + " paged attention, head_dim " +
                             std::to_string(head_dim) + ", " + std::to_string(tokens) + " tokens after " +
                             std::to_string(past) + (alibi ? ", ALiBi" : "");
    expect_close(back(dout), want, tolerance, what.c_str());
  }

  std::unique_ptr<DeviceOps> ops_;
  std::mt19937 rng_{2026};
};


TEST_F(CudaOpsTest, NormsRopeAndActivationsMatchTheReference) {
  for (int64_t rows : {1, 3, 17}) {
    for (int64_t dim : {1, 63, 576, 4097}) {
      const auto x = test::random_floats(rng_, rows * dim, -3, 3), w = test::random_floats(rng_, dim, -1, 1),
                 b = test::random_floats(rng_, dim, -1, 1);
      std::vector<float> expected(rows * dim);
      Tensor dx = on_device(x), dw = on_device(w), db = on_device(b), dy = ops_->memory().empty({rows * dim}, DType::f32);
      // f32 sums over a row on the GPU against double in the reference: 1e-5 relative.
      ref::rmsnorm(x.data(), w.data(), expected.data(), rows, dim, 1e-5f);
      ops_->rmsnorm(dx.data_as<float>(), dw, dy.data_as<float>(), rows, 1e-5f);
      expect_close(back(dy), expected, 1e-5, "rmsnorm");
      ref::layernorm(x.data(), w.data(), b.data(), expected.data(), rows, dim, 1e-5f);
      ops_->layernorm(dx.data_as<float>(), dw, db, dy.data_as<float>(), rows, 1e-5f);
      expect_close(back(dy), expected, 1e-5, "layernorm");
    }
  }
  for (RopeLayout layout : {RopeLayout::adjacent, RopeLayout::halves}) {
    const int64_t tokens = 5, heads = 3, head_dim = 64;
    auto x = test::random_floats(rng_, tokens * heads * head_dim, -1, 1);
    const std::vector<int32_t> positions = {0, 1, 7, 511, 4095};
    Tensor dx = on_device(x);
    // Linear scaling x2 and a YaRN-like magnitude: the table and the factor reach the kernel as given.
    const std::vector<double> frequencies = ref::rope_frequencies(head_dim, 10000.0, 2.0);
    ops_->rope(dx.data_as<float>(), positions.data(), tokens, heads, head_dim, frequencies.data(), 1.2f, layout);
    ref::rope(x.data(), positions.data(), tokens, heads, head_dim, frequencies.data(), 1.2f, layout);
    expect_close(back(dx), x, 1e-6, "rope");  // both compute the angle in double
  }
  const int64_t n = 4097;
  const auto gate = test::random_floats(rng_, n, -6, 6), up = test::random_floats(rng_, n, -2, 2);
  std::vector<float> expected(n);
  ref::silu_gate(gate.data(), up.data(), expected.data(), n);
  Tensor dg = on_device(gate), du = on_device(up), out = ops_->memory().empty({n}, DType::f32);
  ops_->silu_gate(dg.data_as<float>(), du.data_as<float>(), out.data_as<float>(), n);
  expect_close(back(out), expected, 1e-5, "silu_gate");
  for (bool exact : {true, false}) {
    std::vector<float> values = gate;
    Tensor dv = on_device(values);
    exact ? ref::gelu(values.data(), n) : ref::gelu_tanh(values.data(), n);
    exact ? ops_->gelu(dv.data_as<float>(), n) : ops_->gelu_tanh(dv.data_as<float>(), n);
    expect_close(back(dv), values, 1e-5, exact ? "gelu" : "gelu_tanh");
  }
}

TEST_F(CudaOpsTest, MatmulMatchesTheReferenceInF32AndBf16) {
  for (DType dtype : {DType::f32, DType::bf16}) {
    for (int64_t m : {1, 3, 17, 64}) {
      for (int64_t n : {1, 65, 769}) {
        for (int64_t k : {1, 63, 4097}) {
          const auto x = test::random_floats(rng_, m * k, -1, 1), w32 = test::random_floats(rng_, n * k, -1, 1);
          std::vector<uint16_t> w16(n * k);
          convert_from_f32(w32.data(), w16.data(), DType::bf16, w16.size());
          Tensor weight = dtype == DType::f32 ? on_device(w32, DType::f32, {n, k}) : on_device(w16, DType::bf16, {n, k});
          Tensor dx = on_device(x), dy = ops_->memory().empty({m * n}, DType::f32);
          ops_->matmul(dx.data_as<float>(), weight, Tensor(), dy.data_as<float>(), m);
          std::vector<float> expected(m * n), abs_x(x.size()), abs_w(w32.size()), abs_sums(m * n);
          const void* w = dtype == DType::f32 ? static_cast<const void*>(w32.data()) : w16.data();
          // bf16 weights multiply bf16-rounded inputs: the CPU's contract (ref::matmul_quantized_inputs).
          dtype == DType::f32 ? ref::matmul(x.data(), w, dtype, expected.data(), m, n, k)
                              : ref::matmul_quantized_inputs(x.data(), w, dtype, expected.data(), m, n, k);
          for (size_t i = 0; i < x.size(); ++i) abs_x[i] = std::fabs(x[i]);
          for (size_t i = 0; i < w32.size(); ++i) abs_w[i] = std::fabs(w32[i]);
          ref::matmul(abs_x.data(), abs_w.data(), DType::f32, abs_sums.data(), m, n, k);
          const auto actual = back(dy);
          for (int64_t i = 0; i < m * n; ++i)
            ASSERT_NEAR(actual[i], expected[i], test::sum_error_bound(k, abs_sums[i] * 1.01))
                << dtype_name(dtype) << " m=" << m << " n=" << n << " k=" << k << " output " << i;
        }
      }
    }
  }
}

// Weights the GPU keeps as stored: f16, int8 with row scales, GGUF's q8_0 and q4_1. Up to
// kMaxMatvecRows rows multiply the f32 inputs by the decoded weights (ref::matmul's exact products,
// f32 sums); more rows go through bf16 on the tensor cores, each weight and input rounded to bf16
// (relative 2^-9 each, so at most about 2^-8 of the sum of magnitudes).
TEST_F(CudaOpsTest, QuantizedWeightsMultiplyAsTheReference) {
  for (DType dtype : {DType::f16, DType::i8, DType::q8_0, DType::q4_1}) {
    for (int64_t m : {1, 3, 8, 9, 64}) {
      for (int64_t n : {1, 65, 769}) {
        for (int64_t k : {32, 96, 4096}) {
          const auto x = test::random_floats(rng_, m * k, -1, 1), w32 = test::random_floats(rng_, n * k, -1, 1);
          std::vector<uint8_t> stored(dtype_bytes(dtype, n * k));
          std::vector<float> scales(n);
          if (dtype == DType::i8) {
            ref::quantize_rows_int8(w32.data(), n, k, reinterpret_cast<int8_t*>(stored.data()), scales.data());
          } else {
            convert_from_f32(w32.data(), stored.data(), dtype, w32.size());
          }
          Tensor weight = ops_->memory().empty({n, k}, dtype);
          ops_->from_host(weight.data(), stored.data(), stored.size());
          Tensor row_scales = dtype == DType::i8 ? on_device(scales) : Tensor();
          Tensor dx = on_device(x), dy = ops_->memory().empty({m * n}, DType::f32);
          ops_->matmul(dx.data_as<float>(), weight, row_scales, dy.data_as<float>(), m);
          std::vector<float> expected(m * n), abs_x(x.size()), abs_w(n * k), abs_sums(m * n);
          ref::matmul(x.data(), stored.data(), dtype, expected.data(), m, n, k, scales.data());
          for (size_t i = 0; i < x.size(); ++i) abs_x[i] = std::fabs(x[i]);
          for (int64_t i = 0; i < n * k; ++i)
            abs_w[i] = std::fabs(load_as_f32(stored.data(), dtype, i)) * (dtype == DType::i8 ? scales[i / k] : 1.0f);
          ref::matmul(abs_x.data(), abs_w.data(), DType::f32, abs_sums.data(), m, n, k);
          const auto actual = back(dy);
          for (int64_t i = 0; i < m * n; ++i) {
            const double bound = test::sum_error_bound(k, abs_sums[i] * 1.01) + (m > 8 ? 0x1p-8 * abs_sums[i] : 0.0);
            ASSERT_NEAR(actual[i], expected[i], bound)
                << dtype_name(dtype) << " m=" << m << " n=" << n << " k=" << k << " output " << i;
          }
        }
      }
    }
  }
}

TEST_F(CudaOpsTest, EmbeddingGatherAndPagedAttentionMatchTheReference) {
  // Embedding rows of a bf16 table, then learned positions added from an f32 one.
  const int64_t vocab = 50, width = 37;
  const auto table32 = test::random_floats(rng_, vocab * width, -1, 1);
  std::vector<uint16_t> table16(table32.size());
  convert_from_f32(table32.data(), table16.data(), DType::bf16, table16.size());
  const std::vector<int32_t> ids = {3, 0, 49, 3};
  Tensor table = on_device(table16, DType::bf16, {vocab, width}), positions = on_device(table32, DType::f32, {vocab, width});
  Tensor out = ops_->memory().empty({4 * width}, DType::f32);
  ops_->embed(table, ids.data(), 4, out.data_as<float>(), false);
  ops_->embed(positions, ids.data(), 4, out.data_as<float>(), true);
  std::vector<float> expected(4 * width);
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t d = 0; d < width; ++d)
      expected[t * width + d] = load_as_f32(table16.data(), DType::bf16, ids[t] * width + d) + table32[ids[t] * width + d];
  expect_close(back(out), expected, 0, "embed");

  // Paged attention, GQA (8 heads over 2 KV heads) with ALiBi, K/V written by write_kv, f32 and bf16:
  // a prefill chunk after 300 positions, and a decode step after 5,000 (split into key ranges, as
  // 8 rows x heads cannot fill a GPU). f32 sums in another order: 2e-5.
  for (DType kv_dtype : {DType::f32, DType::bf16}) {
    expect_paged_attention(kv_dtype, 64, 300, 5, true, 2e-5);
    expect_paged_attention(kv_dtype, 64, 5000, 1, true, 2e-5);
  }
}

// Prefill chunks over a bf16 pool with head_dim 64 or 128 go to the tensor-core kernel: whole and
// partial 64-row tiles, after earlier positions or none, with and without ALiBi. Q and the softmax
// weights are rounded to bf16 there (relative 2^-9 each): scores move by about 2^-9 of the sum of
// |q_i k_i| x scale (~0.01 at head_dim 128 here), outputs by about that much of the values' range
// (1), so 1e-2; a wrong mask, tile or rescale moves outputs by tenths.
TEST_F(CudaOpsTest, TensorCoreAttentionMatchesTheReference) {
  for (const int64_t head_dim : {64, 128}) {
    expect_paged_attention(DType::bf16, head_dim, 0, 64, false, 1e-2);
    expect_paged_attention(DType::bf16, head_dim, 100, 200, true, 1e-2);
    expect_paged_attention(DType::bf16, head_dim, 0, 130, true, 1e-2);
  }
}

// stories260K on the GPU against the CPU: the same greedy tokens and logits within 1e-3 (f32 sums in
// other orders through 5 layers; logits are O(10)).
TEST_F(CudaOpsTest, DecoderOnTheGpuMatchesTheCpu) {
  const LoadedModel model = read_llama2c_model(std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin");
  const DType matrices[] = {DType::f32, DType::bf16};
  Decoder gpu(model.spec, upload_weights(model.weights, ops_->memory(), matrices), *ops_);
  ThreadPool pool(2);
  Decoder cpu(model.spec, model.weights, pool);
  KvCache gpu_cache(model.spec, 64, ops_->memory()), cpu_cache(model.spec, 64);
  std::vector<int32_t> tokens = {1, 403, 407, 261, 378};
  int64_t position = 0;
  for (int step = 0; step < 20; ++step) {
    const auto g = gpu.forward(tokens, position, gpu_cache);
    const std::vector<float> gpu_logits(g.begin(), g.end());
    const auto c = cpu.forward(tokens, position, cpu_cache);
    expect_close(gpu_logits, std::vector<float>(c.begin(), c.end()), 1e-3, "logits");
    const auto next = static_cast<int32_t>(std::max_element(c.begin(), c.end()) - c.begin());
    ASSERT_EQ(std::max_element(gpu_logits.begin(), gpu_logits.end()) - gpu_logits.begin(), next) << "step " << step;
    position += static_cast<int64_t>(tokens.size());
    tokens = {next};
  }
}

const DType kEveryDtype[] = {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1};

// The engine on the GPU: several sequences at once in a paged pool in device memory, a shared prompt
// reused from the prefix cache, and (in a pool too small for them all) preemption: the same greedy
// tokens as the engine on the CPU.
TEST_F(CudaOpsTest, EngineOnTheGpuGivesTheCpusTokens) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  const LoadedModel model = load_model(path, std::nullopt);
  const auto tokenizer = load_tokenizer(path, "", model.spec);
  ThreadPool pool(2);
  Decoder cpu(model.spec, model.weights, pool);
  Decoder gpu(model.spec, upload_weights(model.weights, ops_->memory(), kEveryDtype), *ops_);
  std::vector<GenerationRequest> requests;
  for (const char* ending : {" One day", " Her dog", " The sun", " Tom said", " They ran"}) {
    GenerationRequest r;
    r.prompt = tokenizer->encode(std::string("Once upon a time, there was a little girl named Lily.") + ending, true);
    r.max_new_tokens = 32;
    requests.push_back(std::move(r));
  }
  for (const int64_t blocks : {256, 24}) {
    EngineOptions options;
    options.max_batch = 8;
    options.num_blocks = blocks;
    options.block_size = 4;
    auto run = [&](Decoder& decoder) {
      Engine engine(decoder, options);
      for (const auto& r : requests) engine.submit(r);
      engine.run_to_completion();
      std::vector<std::vector<int32_t>> out;
      for (size_t i = 0; i < requests.size(); ++i) out.push_back(engine.output(static_cast<int64_t>(i)));
      return out;
    };
    EXPECT_EQ(run(gpu), run(cpu)) << blocks << " blocks";
  }
}

// Tensor parallelism with both ranks on one GPU, their sums staged through the host
// (StagedCommunicator over a host group: what session.cpp picks where ranks share a GPU): the logits
// of one rank on the CPU, for a GQA model with a vocabulary-parallel LM head.
TEST_F(CudaOpsTest, TwoRanksSharingTheGpuMatchOneRank) {
  const LoadedModel full = load_model(std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama", std::nullopt);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 12; ++i) prompt.push_back(static_cast<int32_t>((7 + 37 * i) % full.spec.vocab_size));
  ThreadPool pool(1);
  Decoder single(full.spec, full.weights, pool);
  KvCache single_cache(full.spec, static_cast<int64_t>(prompt.size()));
  const auto all = single.forward(prompt, 0, single_cache, Logits::all);
  const std::vector<float> want(all.begin(), all.end());
  std::vector<std::vector<float>> results(2);
  testing::ThreadGroup group(2);
  group.run([&](int rank, Communicator& comm) {
    const auto shard = TensorParallelShard::plan(full.spec.family, full.spec.heads, full.spec.kv_heads,
                                                 full.spec.ffn_hidden, full.spec.vocab_size, 2, rank);
    const LoadedModel local = shard_model(full, shard);
    const auto rank_ops = make_cuda_ops(0);
    StagedCommunicator staged(comm, *rank_ops);
    const Placement placement{&staged, shard.first_head, full.spec.heads, 0, true, true, shard.first_vocab};
    Decoder decoder(local.spec, upload_weights(local.weights, rank_ops->memory(), kEveryDtype), *rank_ops, placement);
    KvCache cache(local.spec, static_cast<int64_t>(prompt.size()), rank_ops->memory());
    const auto logits = decoder.forward(prompt, 0, cache, Logits::all);
    results[rank].assign(logits.begin(), logits.end());
  });
  double scale = 1.0;
  for (const float v : want) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_EQ(results[rank].size(), want.size());
    double worst = 0.0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(want[i]) - results[rank][i]));
    EXPECT_LT(worst, 1e-4 * scale) << "rank " << rank;  // regrouped f32 sums, as the CPU's tp tests
  }
}

// The planner's memory for a GPU rank against the GPU's allocation counters at the plan's largest
// step: weights, KV pool, the decoder's activations and CudaOps's own scratch (bf16-rounded inputs,
// dequantized weight slices). Index uploads and split-K partials are the slack; the transient
// growth of the rounded inputs (one product's rows while the next, wider one's are allocated) is
// why the peak is held to 5%, the goal, and the bytes held after the step to 64 KiB.
TEST_F(CudaOpsTest, PlannedMemoryMatchesTheGpuAllocations) {
  const LoadedModel full = load_model(std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama", std::nullopt);
  for (plan::NumberFormat format : {plan::NumberFormat::f32, plan::NumberFormat::bf16, plan::NumberFormat::int8,
                                    plan::NumberFormat::int4}) {
    plan::Workload workload;
    workload.concurrency = 3;
    workload.prompt_tokens = 9;
    workload.output_tokens = 4;
    plan::Layout layout;
    layout.weights = format;
    layout.kv = plan::NumberFormat::bf16;
    const plan::RankMemory want = make_plan(full.spec, plan::find_hardware("h100-80g"), layout, workload).ranks[0];
    LoadedModel local = full;
    convert_matrices(local.weights, format == plan::NumberFormat::int8   ? DType::i8
                                    : format == plan::NumberFormat::int4 ? DType::q4_1
                                                                         : *plan::runtime_dtype(format));
    auto ops = make_cuda_ops(0);  // fresh counters
    {
      KvPool kv(local.spec, want.kv_blocks, workload.block_size, DType::bf16, ops->memory());
      Decoder decoder(local.spec, upload_weights(local.weights, ops->memory(), kEveryDtype), *ops);
      test::run_largest_step(decoder, kv, workload);
      const MemoryStats used = ops->memory().memory();
      const int64_t planned = want.weights.total() + want.kv_bytes + want.activation_bytes;
      const std::string what = std::string(plan::format_name(format));
      EXPECT_NEAR(static_cast<double>(used.current_bytes), planned, 65536.0) << what << ": held after the step";
      EXPECT_NEAR(static_cast<double>(used.peak_bytes), planned, 0.05 * planned) << what << ": peak";
    }
  }
}

}  // namespace
}  // namespace shardlm
