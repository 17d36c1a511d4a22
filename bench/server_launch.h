// `shardlm serve` started in the background for the serving benchmarks: its stderr goes to a file of
// the process's temporary directory, watched until the server says where it listens.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/temp_dir.h"

namespace shardlm {

// Starts `shardlm serve --port 0 args...`; returns its pid and fills `address` once it listens (and
// `http_address`, "http://127.0.0.1:PORT", when args hold --http-port), or exits the benchmark saying
// what the server said.
inline int start_serve_process(const std::vector<std::string>& args, std::string& address,
                               std::string* http_address = nullptr) {
  const std::string log = process_temp_dir().file("server.err");
  const pid_t pid = fork();
  if (pid == 0) {
    const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err, STDERR_FILENO);
    std::vector<std::string> words = {SHARDLM_BINARY, "serve", "--port", "0"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    execv(SHARDLM_BINARY, argv.data());
    _exit(127);
  }
  const std::regex listening("on (127\\.0\\.0\\.1:[0-9]+)");
  std::string said;
  for (int i = 0; i < 1200; ++i) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::smatch match;
    said = text.str();
    if (std::regex_search(said, match, listening)) {
      address = match[1];
      if (http_address && std::regex_search(said, match, std::regex("HTTP API at (http://127\\.0\\.0\\.1:[0-9]+)")))
        *http_address = match[1];
      return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "the server did not start; it said:\n%s\n", said.c_str());
  std::exit(1);
}

// SIGTERM, then the server's exit.
inline void stop_serve_process(int pid) {
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace shardlm
