// Split-K attention's merge (kernels/cuda/attention_merge.h, host and device code alike) against a
// direct softmax over all the keys: runs everywhere, so the recombination the GPU's decode attention
// relies on is checked on machines without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/attention_merge.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

TEST(AttentionMerge, RangesMergeToTheSoftmaxOverAllKeys) {
  std::mt19937 rng(11);
  const int64_t head_dim = 5;
  for (const int64_t keys : {1, 7, 300}) {
    for (const int splits : {1, 2, 3, 8}) {
      // Scores far apart, so that a range whose maximum is not the largest is rescaled visibly.
      const auto scores = test::random_floats(rng, keys, -30, 30);
      const auto values = test::random_floats(rng, keys * head_dim, -1, 1);
      // Each range as a kernel block leaves it; ranges past the keys are empty.
      const int64_t per_range = (keys + splits - 1) / splits;
      std::vector<float> partials(splits * cuda::partial_floats(head_dim), 0.0f);
      for (int s = 0; s < splits; ++s) {
        float* range = partials.data() + s * cuda::partial_floats(head_dim);
        const int64_t begin = s * per_range, end = std::min(keys, begin + per_range);
        range[0] = -INFINITY;
        for (int64_t p = begin; p < end; ++p) range[0] = std::max(range[0], scores[p]);
        for (int64_t p = begin; p < end; ++p) {
          const float weight = std::exp(scores[p] - range[0]);
          range[1] += weight;
          for (int64_t d = 0; d < head_dim; ++d) range[2 + d] += weight * values[p * head_dim + d];
        }
      }
      const double best = *std::max_element(scores.begin(), scores.end());
      double total = 0;
      for (const float score : scores) total += std::exp(score - best);
      for (int64_t d = 0; d < head_dim; ++d) {
        double expected = 0;
        for (int64_t p = 0; p < keys; ++p) expected += std::exp(scores[p] - best) / total * values[p * head_dim + d];
        EXPECT_NEAR(cuda::merged_output(partials.data(), splits, head_dim, d), expected, 1e-5)
            << keys << " keys in " << splits << " ranges, dimension " << d;
      }
    }
  }
}

TEST(AttentionMerge, SplitsFillTheGpuOnlyWhenRowsDoNot) {
  EXPECT_EQ(cuda::attention_splits(8 * 4096, 4096, 132), 1) << "a prefill chunk fills the GPU by itself";
  EXPECT_EQ(cuda::attention_splits(8, 100, 132), 1) << "a short context is not split";
  EXPECT_EQ(cuda::attention_splits(8, 8192, 132), 32) << "decode, 8 heads, 8k keys: 264 blocks' worth, 256 keys each";
  EXPECT_EQ(cuda::attention_splits(8, 4096, 132), 16) << "never under 256 keys a range";
  EXPECT_EQ(cuda::attention_splits(1, 1 << 20, 132), cuda::kMaxSplits);
}

}  // namespace
}  // namespace shardlm
