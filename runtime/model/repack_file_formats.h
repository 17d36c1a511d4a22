// The last step of loading a rank's share: tensors still in a file's own format (GGUF Q4_0, kept as
// views of the mapped file while the rank cut its share) become the blocks the kernels read.
#pragma once

#include "runtime/core/thread_pool.h"
#include "runtime/model/model_weights.h"

namespace shardlm {

// Every q4_0 matrix into q4_1 (minimum -8 x scale: the same values exactly), its blocks split over the
// pool's threads; a file's pages are released once read (release_mapped_pages), so the rank ends up
// holding its repacked share and nothing of the file's. A tensor shared by two roles (a tied LM head)
// stays shared. Other dtypes are left as they are.
void repack_file_formats(ModelWeights& weights, ThreadPool& pool);

// Every matrix of `weights`, by role: embeddings, LM head, then each layer's projections.
std::vector<Tensor*> weight_matrices(ModelWeights& weights);

}  // namespace shardlm
