// The planner's memory for a GPU rank against what the runtime puts in a device's memory: the rank's
// weights uploaded (upload_weights), its paged KV pool and the decoder's activations at the plan's
// largest step, run through the CPU's ops on a counting memory (the same decoder, pool and upload a
// GPU rank runs). Every family's layout, tp 1 and 2, f32 and bf16 weights. CudaOps's own scratch
// (the part of the plan's activations a GPU adds) is checked against a GPU's counters in CudaOpsTest.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parallel/comm/communicator.h"
#include "parallel/shard.h"
#include "runtime/model/decoder.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/shard_weights.h"
#include "runtime/model/weight_dtype.h"
#include "runtime/ops/cpu_ops.h"
#include "runtime/ops/upload_weights.h"
#include "runtime/plan/capacity.h"
#include "tests/unit/support/counting_memory.h"
#include "tests/unit/support/largest_step.h"

namespace shardlm {
namespace {

// Sums that do nothing: the memory a step takes does not depend on the values summed.
class NoSums final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "none"; }
  void all_reduce(Tensor&) override {}
  void all_reduce(float*, size_t) override {}
  void all_gather(const Tensor&, Tensor&) override {}
  void broadcast(void*, size_t, int) override {}
  void send(const void*, size_t, int) override {}
  void recv(void*, size_t, int) override {}
  void barrier() override {}
};

class CountedOps final : public CpuOps {
 public:
  using CpuOps::CpuOps;
  Backend& memory() override { return memory_; }
  test::CountingMemory memory_;
};

struct Case {
  std::string model;
  int tp;
  plan::NumberFormat weights;
};

std::string path_of(const std::string& model) {
  return model == "stories260K" ? std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin"
                                : std::string(SHARDLM_TEST_DATA) + "/../fixtures/" + model;
}

class PlannedDeviceMemory : public ::testing::TestWithParam<Case> {};

TEST_P(PlannedDeviceMemory, EqualsWhatARankAllocates) {
  const Case c = GetParam();
  const LoadedModel full = load_model(path_of(c.model), std::nullopt);
  plan::Workload workload;
  workload.concurrency = 3;
  workload.prompt_tokens = 9;
  workload.output_tokens = 4;
  plan::Layout layout;
  layout.tp = c.tp;
  layout.weights = c.weights;
  layout.kv = plan::NumberFormat::bf16;
  const plan::Plan planned = make_plan(full.spec, plan::find_hardware("h100-80g"), layout, workload);

  ThreadPool pool(1);
  NoSums sums;
  for (int tp_rank = 0; tp_rank < c.tp; ++tp_rank) {
    const plan::RankMemory& want = planned.ranks[tp_rank];
    const auto shard = TensorParallelShard::plan(full.spec.family, full.spec.heads, full.spec.kv_heads,
                                                 full.spec.ffn_hidden, full.spec.vocab_size, c.tp, tp_rank);
    LoadedModel local = c.tp > 1 ? shard_model(full, shard) : full;
    convert_matrices(local.weights, *plan::runtime_dtype(c.weights));
    CountedOps ops(pool);
    test::CountingMemory& memory = ops.memory_;
    const DType every[] = {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1};
    ModelWeights uploaded = upload_weights(local.weights, memory, every);
    const auto weights = static_cast<int64_t>(memory.allocated_bytes);
    KvPool kv(local.spec, want.kv_blocks, workload.block_size, DType::bf16, memory);
    const auto kv_bytes = static_cast<int64_t>(memory.allocated_bytes) - weights;
    Placement placement{c.tp > 1 ? &sums : nullptr, shard.first_head, full.spec.heads, 0, true, true, shard.first_vocab};
    Decoder decoder(local.spec, std::move(uploaded), ops, placement);

    test::run_largest_step(decoder, kv, workload);
    const auto activations = static_cast<int64_t>(memory.allocated_bytes) - weights - kv_bytes;

    const std::string where = c.model + " tp " + std::to_string(c.tp) + " rank " + std::to_string(tp_rank) + " " +
                              std::string(plan::format_name(c.weights));
    EXPECT_EQ(want.weights.total(), weights) << where << ": weights";
    EXPECT_EQ(want.kv_bytes, kv_bytes) << where << ": KV pool of " << want.kv_blocks << " blocks";
    EXPECT_EQ(want.activation_bytes - want.ops_scratch_bytes, activations) << where << ": activations";
  }
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (const char* model : {"stories260K", "llama", "falcon_40b_style", "falcon_7b_style", "gpt2", "bloom", "mpt",
                            "gpt_bigcode"})
    for (int tp : {1, 2})
      for (plan::NumberFormat weights : {plan::NumberFormat::f32, plan::NumberFormat::bf16})
        all.push_back({model, tp, weights});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Families, PlannedDeviceMemory, ::testing::ValuesIn(cases()), [](const auto& info) {
  return info.param.model + "_tp" + std::to_string(info.param.tp) + "_" +
         std::string(plan::format_name(info.param.weights));
});

}  // namespace
}  // namespace shardlm
