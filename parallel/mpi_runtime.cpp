#include "parallel/mpi_runtime.h"

#include <mpi.h>

#include <cstdlib>

#include "parallel/comm/local_communicator.h"
#include "parallel/comm/mpi_check.h"
#include "parallel/comm/mpi_communicator.h"
#include "runtime/core/check.h"

namespace shardlm {

bool launched_by_mpirun() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

MpiRuntime::MpiRuntime(MpiStart start, int* argc, char*** argv) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  SHARDLM_CHECK(!finalised, "MPI was finalised already; it cannot be started again in this process");
  if (!initialised) {
    if (start == MpiStart::when_launched && !launched_by_mpirun()) return;  // a world of one, no MPI
    int provided = MPI_THREAD_SINGLE;
    SHARDLM_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    initialised_here_ = true;
    SHARDLM_CHECK(provided >= MPI_THREAD_FUNNELED,
                  "MPI provides thread level {}, but ShardLM needs MPI_THREAD_FUNNELED ({}): its worker threads "
                  "run while the main thread calls MPI",
                  provided, MPI_THREAD_FUNNELED);
  }
  active_ = true;
  // Errors on the world (and on every communicator derived from it) come back as codes, which
  // SHARDLM_MPI_CHECK turns into shardlm::Error, instead of aborting inside the library.
  SHARDLM_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  SHARDLM_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  SHARDLM_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));

  // The ranks sharing this node's memory are the ranks sharing its GPUs.
  MPI_Comm node = MPI_COMM_NULL;
  SHARDLM_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  SHARDLM_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  SHARDLM_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  SHARDLM_MPI_CHECK(MPI_Comm_free(&node));
}

MpiRuntime::~MpiRuntime() {
  if (initialised_here_ && mpi_running()) MPI_Finalize();
}

WorldConfig MpiRuntime::world_config(int tp, int pp) const {
  WorldConfig world{.rank = rank_, .world = size_, .tp = tp, .pp = pp};
  world.validate();
  return world;
}

void MpiRuntime::abort(int exit_code) const {
  if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

std::unique_ptr<Communicator> world_communicator() {
  if (!mpi_running()) return std::make_unique<LocalCommunicator>();
  return mpi_world_communicator();
}

std::unique_ptr<Communicator> tp_communicator(const WorldConfig& world) {
  world.validate();
  if (!mpi_running()) {
    SHARDLM_CHECK(world.world == 1,
                  "tp {} x pp {} needs {} ranks, but this process was started without mpirun; start it with "
                  "launch/mpirun.sh -n {} -- shardlm ...",
                  world.tp, world.pp, world.world, world.world);
    return std::make_unique<LocalCommunicator>();
  }
  int rank = 0, size = 0;
  SHARDLM_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  SHARDLM_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  SHARDLM_CHECK(world.rank == rank && world.world == size, "tp_communicator: {} does not match MPI (rank {} of {})",
                world.describe(), rank, size);
  MPI_Comm group = MPI_COMM_NULL;
  SHARDLM_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, world.pp_rank(), world.tp_rank(), &group));
  return std::make_unique<MpiCommunicator>(group);
}

}  // namespace shardlm
