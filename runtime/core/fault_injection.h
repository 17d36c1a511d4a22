// Deterministic fault injection for the fault tests: SHARDLM_TEST_KILL_AT=<phase>:<rank> makes that
// rank of an mpirun job kill itself (SIGKILL, as the kernel's OOM killer or a lost node would) when it
// reaches the phase: "load" (before reading the model), "prefill" (its first forward pass over more
// than one token per sequence) or "decode" (its first one-token step). Unset, fault_point costs one
// branch on a value read once.
#pragma once

namespace shardlm {

void fault_point(const char* phase);

}  // namespace shardlm
