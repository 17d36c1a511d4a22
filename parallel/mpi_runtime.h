// MPI for the life of the process, and the communicators built on it. A process that mpirun (or
// srun) did not start is a world of one and, by default, never touches MPI: a plain
// `shardlm generate` neither pays for nor depends on starting an MPI singleton.
#pragma once

#include <memory>

#include "parallel/comm/communicator.h"
#include "parallel/world.h"

namespace shardlm {

// True when a launcher started this process: Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), Hydra/MPICH
// (PMI_SIZE) or a PMIx launcher such as srun --mpi=pmix (PMIX_RANK). Ask before MPI starts: an Open
// MPI singleton sets these variables in its own environment when it initialises.
bool launched_by_mpirun();

enum class MpiStart {
  when_launched,  // initialise MPI only under a launcher; otherwise a world of one without MPI
  always,         // initialise MPI even alone (an MPI singleton): tests that exercise MPI with one rank
};

// Initialises MPI (MPI_THREAD_FUNNELED: only the main thread calls MPI) unless it is running
// already, and finalises it on destruction only if it initialised it. One per process, in main().
class MpiRuntime {
 public:
  explicit MpiRuntime(MpiStart start = MpiStart::when_launched, int* argc = nullptr, char*** argv = nullptr);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  bool active() const { return active_; }  // MPI is initialised, by this object or before it
  int rank() const { return rank_; }       // in MPI_COMM_WORLD; 0 when not active
  int size() const { return size_; }       // of MPI_COMM_WORLD; 1 when not active
  // This rank among the ranks on its node, and how many those are: rank i of a node drives GPU i.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }

  // {rank, size, tp, pp}, validated (throws saying what would work when tp x pp != size).
  WorldConfig world_config(int tp, int pp) const;

  // Ends every rank of the job at once (MPI_Abort). For a rank that fails while others may be waiting
  // for it in a collective: returning from main would leave them waiting, and MPI_Finalize with them.
  [[noreturn]] void abort(int exit_code) const;

 private:
  bool active_ = false;
  bool initialised_here_ = false;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

// A communicator over every rank: MPI when MPI is running, else a world of one (LocalCommunicator).
// Pipeline stages send and receive through it with global ranks (see comm/stage_peers.h).
std::unique_ptr<Communicator> world_communicator();

// This rank's tensor-parallel group: the ranks of its pipeline stage, ordered by tp_rank (MPI_Comm_split
// with color pp_rank, key tp_rank). Collective over all ranks. `world` must describe this process.
std::unique_ptr<Communicator> tp_communicator(const WorldConfig& world);

}  // namespace shardlm
