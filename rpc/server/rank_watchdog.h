// Notices a lost rank, so that the server says so instead of hanging. MPI (without fault tolerance)
// gives no error when a peer dies: a collective with it just never returns. So every rank watches:
//  - the processes of the other ranks on its own node, by pid (a crash is seen within a poll);
//  - how long the collective in progress has taken (rank 0: a step or heartbeat; the others: the
//    wait for rank 0's next plan, which comes at least every heartbeat) - a rank on another node, or
//    a hung one, is noticed after `timeout`.
// On a loss it calls `on_lost` once, from its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "parallel/comm/communicator.h"

namespace shardlm::rpc {

struct RankIdentity {
  int rank = 0;
  int pid = 0;
  std::string host;
};

// Collective over `world`: every rank learns every rank's pid and host.
std::vector<RankIdentity> exchange_rank_identities(Communicator& world);

class RankWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  // `busy_since`: when the collective in progress began, empty when none is (called from the
  // watchdog's thread; must be thread-safe).
  RankWatchdog(std::vector<RankIdentity> ranks, int self, std::chrono::milliseconds timeout,
               std::function<std::optional<Clock::time_point>()> busy_since,
               std::function<void(const std::string&)> on_lost);
  ~RankWatchdog();

 private:
  void watch();
  std::optional<std::string> lost() const;

  std::vector<RankIdentity> local_peers_;
  std::chrono::milliseconds timeout_;
  std::function<std::optional<Clock::time_point>()> busy_since_;
  std::function<void(const std::string&)> on_lost_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shardlm::rpc
