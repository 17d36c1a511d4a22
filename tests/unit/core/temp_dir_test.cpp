// TempDir removes exactly the directory it made, however its process ends, and the removal guard
// refuses every other path. Tests run as root: these are the checks that keep a test run from
// deleting a machine's files.
#include "runtime/core/temp_dir.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

namespace fs = std::filesystem;

struct ProbeRun {
  int exit_code = -1, signal = 0;
  std::string printed;
};

// Runs tests/unit/core/temp_dir_probe.cpp with TMPDIR=tmpdir.
ProbeRun run_probe(const std::string& how, const std::string& tmpdir) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_ends[1], STDOUT_FILENO);
    close(pipe_ends[0]);
    setenv("TMPDIR", tmpdir.c_str(), 1);
    execl(SHARDLM_TEMP_DIR_PROBE, SHARDLM_TEMP_DIR_PROBE, how.c_str(), nullptr);
    _exit(127);
  }
  close(pipe_ends[1]);
  ProbeRun run;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_ends[0], buffer, sizeof(buffer))) > 0;) run.printed.append(buffer, n);
  close(pipe_ends[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  while (!run.printed.empty() && run.printed.back() == '\n') run.printed.pop_back();
  return run;
}

std::string contents(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

class TempDirEnding : public ::testing::TestWithParam<const char*> {};

TEST_P(TempDirEnding, LeavesNoDirectoryAndRemovesNothingElse) {
  const TempDir root("probe-root");
  // Sentinels beside the probe's directory: a file, and a directory whose name has the same prefix.
  std::ofstream(root.file("sentinel")) << "keep me";
  fs::create_directory(root.file("shardlm-process-sentinel"));
  std::ofstream(root.file("shardlm-process-sentinel/file")) << "keep me too";

  const ProbeRun run = run_probe(GetParam(), root.path());
  const std::string how = GetParam();
  if (how == "throw") {
    EXPECT_EQ(run.signal, SIGABRT) << "exit code " << run.exit_code;
  } else {
    EXPECT_EQ(run.exit_code, 0) << "signal " << run.signal;
  }
  ASSERT_EQ(run.printed.rfind(root.path() + "/shardlm-process-", 0), 0u) << run.printed;
  EXPECT_FALSE(fs::exists(run.printed)) << run.printed << " outlived its process";
  EXPECT_EQ(names_in(root.path()), (std::set<std::string>{"sentinel", "shardlm-process-sentinel"}));
  EXPECT_EQ(contents(root.file("sentinel")), "keep me");
  EXPECT_EQ(contents(root.file("shardlm-process-sentinel/file")), "keep me too");
}

INSTANTIATE_TEST_SUITE_P(EveryEnding, TempDirEnding, ::testing::Values("return", "exit", "throw", "fork"));

TEST(TempDir, ObjectRemovesItsDirectoryWhenDestroyed) {
  std::string path;
  {
    const TempDir dir("scoped");
    path = dir.path();
    fs::create_directories(dir.file("a/b"));
    std::ofstream(dir.file("a/b/c")) << "x";
    ASSERT_TRUE(fs::is_directory(path));
    EXPECT_EQ(fs::path(path).parent_path(), fs::temp_directory_path());
  }
  EXPECT_FALSE(fs::exists(path));
}

void expect_refused(const fs::path& dir, const fs::path& root, const std::string& why) {
  try {
    remove_owned_temp_dir(dir, root);
    ADD_FAILURE() << "removed " << dir << " under " << root;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(why), std::string::npos) << error.what();
  }
}

TEST(TempDir, GuardRefusesEveryPathItDidNotMake) {
  const TempDir root("guard-root");
  const TempDir elsewhere("guard-elsewhere");
  std::ofstream(elsewhere.file("sentinel")) << "keep me";
  fs::create_directories(root.file("sub/shardlm-nested"));
  fs::create_directory(root.file("shardlm-a"));
  fs::create_directory(root.file("other-name"));
  std::ofstream(root.file("shardlm-file")) << "a file";
  fs::create_directory_symlink(elsewhere.path(), root.file("shardlm-link"));

  expect_refused("/", root.path(), "not a plain absolute path");
  expect_refused("relative/shardlm-x", root.path(), "not a plain absolute path");
  expect_refused(root.file("shardlm-a/../shardlm-a"), root.path(), "not a plain absolute path");
  expect_refused(root.file("shardlm-a/"), root.path(), "not a plain absolute path");
  expect_refused(root.file("other-name"), root.path(), "does not start with 'shardlm-'");
  expect_refused(root.path(), root.path(), "not directly under the temporary root");
  expect_refused(elsewhere.path(), root.path(), "not directly under the temporary root");
  expect_refused(root.file("sub/shardlm-nested"), root.path(), "not directly under the temporary root");
  expect_refused(root.file("shardlm-file"), root.path(), "not a directory");
  expect_refused(root.file("shardlm-link"), root.path(), "not a directory");

  EXPECT_EQ(contents(elsewhere.file("sentinel")), "keep me");
  EXPECT_EQ(names_in(root.path()),
            (std::set<std::string>{"sub", "shardlm-a", "other-name", "shardlm-file", "shardlm-link"}));
  remove_owned_temp_dir(root.file("shardlm-a"), root.path());  // the one it may remove
  EXPECT_FALSE(fs::exists(root.file("shardlm-a")));
  remove_owned_temp_dir(root.file("shardlm-gone"), root.path());  // gone already: nothing to do
}

}  // namespace
}  // namespace shardlm
