#include "tests/e2e/run_cli.h"

#include <chrono>
#include <cstdlib>
#include <thread>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/core/temp_dir.h"

namespace shardlm::testing {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string temp_dir() { return process_temp_dir().path(); }

CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv = {SHARDLM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, stdin_text);
}

void prepare_mpi_environment() {
  for (const char* setting : {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_pml=ob1",
                              "OMPI_MCA_btl=self,vader"})
    putenv(const_cast<char*>(setting));
}

CliResult run_mpi(int ranks, const std::vector<std::string>& args, const std::string& stdin_text) {
  prepare_mpi_environment();
  std::vector<std::string> argv = {SHARDLM_MPIEXEC, "-np", std::to_string(ranks), "--oversubscribe", SHARDLM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, stdin_text);
}

namespace {

Background spawn(const std::vector<std::string>& program, const std::string& stdin_text) {
  static int counter = 0;
  const std::string base = temp_dir() + "/run" + std::to_string(counter++);
  Background run{-1, base + ".out", base + ".err"};
  const std::string in_path = base + ".in";
  write_file(in_path, stdin_text);
  std::vector<std::string> copies(program);
  std::vector<char*> argv;
  for (auto& arg : copies) argv.push_back(arg.data());
  argv.push_back(nullptr);
  run.pid = fork();
  if (run.pid == 0) {
    // Output goes to files, not pipes, so a chatty child can never block on a full pipe.
    const int out = open(run.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(run.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = open(in_path.c_str(), O_RDONLY);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return run;
}

CliResult collect(const Background& run, int status) {
  CliResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.out = read_file(run.out_path);
  result.err = read_file(run.err_path);
  return result;
}

}  // namespace

Background start_program(const std::vector<std::string>& argv) { return spawn(argv, ""); }

CliResult Background::wait(double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return CliResult{-1, 0, read_file(out_path), read_file(err_path)};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return collect(*this, status);
}

CliResult run_program(const std::vector<std::string>& program, const std::string& stdin_text) {
  Background run = spawn(program, stdin_text);
  int status = 0;
  waitpid(run.pid, &status, 0);
  return collect(run, status);
}

// The parent pid of a process, from /proc/<pid>/stat ("pid (name) state ppid ...").
int parent_of(const std::string& pid) {
  const std::string stat = read_file("/proc/" + pid + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  int parent = -1;
  std::sscanf(stat.c_str() + close + 2, "%*c %d", &parent);
  return parent;
}

// The pid of the process of `rank` in the job that mpirun `launcher` started, found by its parent and
// the rank Open MPI puts in its environment (other jobs may run beside this test).
int pid_of_rank(int rank, int launcher, const std::string& binary) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos || parent_of(name) != launcher) continue;
    const std::string command = read_file(entry.path().string() + "/cmdline");
    if (command.find(binary) != 0) continue;
    const std::string environment = read_file(entry.path().string() + "/environ");
    if (environment.find(wanted + '\0') != std::string::npos) return std::stoi(name);
  }
  return -1;
}

}  // namespace shardlm::testing
