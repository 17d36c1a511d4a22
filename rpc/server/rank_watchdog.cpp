#include "rpc/server/rank_watchdog.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <unistd.h>

namespace shardlm::rpc {

namespace {

struct WireIdentity {
  int32_t pid;
  char host[256];
};

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

bool process_alive(int pid) { return kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::vector<RankIdentity> exchange_rank_identities(Communicator& world) {
  std::vector<RankIdentity> ranks;
  for (int r = 0; r < world.size(); ++r) {
    WireIdentity wire{};
    if (r == world.rank()) {
      wire.pid = static_cast<int32_t>(getpid());
      const std::string host = this_host();
      std::memcpy(wire.host, host.data(), std::min(host.size(), sizeof(wire.host) - 1));
    }
    world.broadcast(&wire, sizeof(wire), r);
    wire.host[sizeof(wire.host) - 1] = '\0';
    ranks.push_back({r, wire.pid, wire.host});
  }
  return ranks;
}

RankWatchdog::RankWatchdog(std::vector<RankIdentity> ranks, int self, std::chrono::milliseconds timeout,
                           std::function<std::optional<Clock::time_point>()> busy_since,
                           std::function<void(const std::string&)> on_lost)
    : timeout_(timeout), busy_since_(std::move(busy_since)), on_lost_(std::move(on_lost)) {
  const std::string host = this_host();
  for (const RankIdentity& r : ranks)
    if (r.rank != self && r.host == host) local_peers_.push_back(r);
  thread_ = std::thread([this] { watch(); });
}

RankWatchdog::~RankWatchdog() {
  stop_ = true;
  thread_.join();
}

std::optional<std::string> RankWatchdog::lost() const {
  for (const RankIdentity& peer : local_peers_)
    if (!process_alive(peer.pid)) return fmt::format("rank {} (pid {} on {}) is gone", peer.rank, peer.pid, peer.host);
  if (const auto since = busy_since_(); since && Clock::now() - *since > timeout_)
    return fmt::format("the ranks have not answered for {} ms (rank_timeout); a rank is lost or hung",
                       std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *since).count());
  return std::nullopt;
}

void RankWatchdog::watch() {
  while (!stop_) {
    if (const auto reason = lost()) {
      on_lost_(*reason);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace shardlm::rpc
