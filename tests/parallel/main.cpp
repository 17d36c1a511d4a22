// The MPI test binary: every rank runs every test; rank 0 prints the usual gtest report, the other
// ranks print only their failures (tagged with the rank), and the process fails on every rank when
// any rank failed, so mpirun and ctest see it whichever rank it was.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "parallel/mpi_runtime.h"

namespace {

// Replaces gtest's printer on ranks other than 0: one report per job is readable, N interleaved are not.
class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
                 result.line_number(), result.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  // `always`: run alone (not under mpirun), the binary still tests MPI, as a singleton world of one.
  shardlm::MpiRuntime mpi(shardlm::MpiStart::always, &argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  if (mpi.rank() != 0) {
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    delete listeners.Release(listeners.default_xml_generator());
    listeners.Append(new FailurePrinter(mpi.rank()));
  }
  const int failed_here = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int failed_ranks = 0;
  MPI_Allreduce(&failed_here, &failed_ranks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (mpi.rank() == 0 && failed_ranks > 0) {
    std::fprintf(stderr, "shardlm_parallel_tests: tests failed on %d of %d ranks\n", failed_ranks, mpi.size());
  }
  return failed_ranks > 0 ? 1 : 0;
}
