#include "parallel/comm/mpi_check.h"

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

std::string error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return fmt::format("MPI error code {}", code);
  return std::string(text, length);
}

}  // namespace

bool mpi_running() {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  return initialised && !finalised;
}

int mpi_world_rank_or_none() {
  if (!mpi_running()) return -1;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

void check_mpi(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) [[likely]]
    return;
  const std::string_view text(call);
  const std::string_view function = text.substr(0, text.find('('));
  int world = 0;
  if (mpi_running()) MPI_Comm_size(MPI_COMM_WORLD, &world);
  throw_error(
      file, line,
      fmt::format("{} failed on rank {} of {}: {}", function, mpi_world_rank_or_none(), world, error_string(code)));
}

}  // namespace shardlm
