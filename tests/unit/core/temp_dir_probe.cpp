// A program that uses the process's temporary directory and then ends the way its argument says:
// `return` (from main), `exit` (std::exit), `throw` (an uncaught exception), or `fork` (a child it
// forks calls std::exit; the parent then checks the directory is still there and returns). It prints
// the directory's path first, so that temp_dir_test can check what is left afterwards.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/core/temp_dir.h"

int main(int argc, char** argv) {
  const std::string how = argc > 1 ? argv[1] : "";
  const std::string& dir = shardlm::process_temp_dir().path();
  std::printf("%s\n", dir.c_str());
  std::fflush(stdout);
  std::filesystem::create_directories(dir + "/nested/deeper");
  std::ofstream(dir + "/nested/deeper/file") << "scratch";
  if (how == "exit") std::exit(0);
  if (how == "throw") throw std::runtime_error("an exception nobody catches");
  if (how == "fork") {
    const pid_t child = fork();
    if (child == 0) std::exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    if (!std::filesystem::exists(dir + "/nested/deeper/file")) {
      std::fprintf(stderr, "the forked child removed its parent's directory\n");
      return 3;
    }
  }
  return how == "return" || how == "fork" ? 0 : 2;
}
