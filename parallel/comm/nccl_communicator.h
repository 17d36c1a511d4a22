// Communicator for tensors on GPUs, over NCCL. The header needs neither CUDA nor NCCL: builds
// without them get a factory that says so.
#pragma once

#include <memory>

#include "parallel/comm/communicator.h"

namespace shardlm {

// Whether this binary was built with NCCL (the CUDA backend on and NCCL found when configuring).
bool nccl_built();

// A communicator over the same ranks as `bootstrap`, in the same order, for memory on GPU `device`.
// Collective over bootstrap's ranks: its rank 0 creates the NCCL id and broadcasts it through
// `bootstrap` (an MpiCommunicator, or a LocalCommunicator for a world of one). Each rank needs a GPU
// of its own: NCCL refuses two ranks on one device. Every operation runs on the communicator's stream
// and waits for it, so results are ready on return. `compute_stream` (a cudaStream_t, or null for
// the default stream) is the stream whose kernels write what the operations read: each operation
// first waits, on the GPU, for the work queued on it so far (an event), so that it never reads a
// buffer a kernel is still writing. Pointers given to it must be device memory. Throws "built
// without NCCL" in builds without it.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device,
                                                     void* compute_stream = nullptr);

}  // namespace shardlm
