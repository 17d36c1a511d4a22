// Runs the real `shardlm` binary as a user would, capturing what it prints and how it exits.
#pragma once

#include <string>
#include <vector>

namespace shardlm::testing {

struct CliResult {
  int exit_code = -1;     // -1 when it died from a signal
  int signal = 0;         // the signal that killed it, if any
  std::string out, err;
};

// stdin_text is what the program reads on its standard input (empty: end of input at once).
CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");
// Runs any program (argv[0] a path), the same way.
CliResult run_program(const std::vector<std::string>& argv, const std::string& stdin_text = "");
// `mpirun -np ranks --oversubscribe shardlm args...`, allowed to run as root, on shared memory.
CliResult run_mpi(int ranks, const std::vector<std::string>& args, const std::string& stdin_text = "");
// A program left running while the test acts on it.
struct Background {
  int pid = -1;
  std::string out_path, err_path;
  // Waits up to `seconds`; exit_code stays -1 and `signal` 0 when it is still running then.
  CliResult wait(double seconds);
};
Background start_program(const std::vector<std::string>& argv);
// Environment for mpirun here: allowed to run as root, shared-memory transport.
void prepare_mpi_environment();

// The parent pid of a process (-1 when it is gone).
int parent_of(const std::string& pid);
// The pid of the process of `rank` in the job that mpirun `launcher` started, running `binary`; -1
// when there is none (yet).
int pid_of_rank(int rank, int launcher, const std::string& binary = SHARDLM_BINARY);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
// The process's own directory under the system temporary directory (runtime/core/temp_dir.h):
// removed when the process ends, and nothing else with it.
std::string temp_dir();

}  // namespace shardlm::testing
