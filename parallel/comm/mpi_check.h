// Turns MPI return codes into shardlm::Error. Communicators set MPI_ERRORS_RETURN, so a failing call
// comes back here instead of aborting the job from inside the MPI library with a terse message.
#pragma once

#include <mpi.h>

namespace shardlm {

// Throws shardlm::Error "MPI_Allreduce failed on rank 1 of 2: <MPI error string>" unless code is
// MPI_SUCCESS. `call` is the source text of the call; only the function name is shown.
void check_mpi(int code, const char* call, const char* file, int line);

// MPI_Init has run and MPI_Finalize has not.
bool mpi_running();

// This process's rank in MPI_COMM_WORLD, or -1 when MPI is not running: for messages.
int mpi_world_rank_or_none();

}  // namespace shardlm

#define SHARDLM_MPI_CHECK(call) ::shardlm::check_mpi((call), #call, __FILE__, __LINE__)
