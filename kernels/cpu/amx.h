// Whether Intel AMX (tile registers with int8 / bf16 products) may run in this process. Three things
// must hold: the CPU lists AMX-TILE and AMX-INT8 (CPUID 7.0 EDX bits 24 and 25); the kernel grants the
// process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, Linux 5.16 and later); and a
// small tile product, run in a child process, returns what a scalar loop computes. Listing and
// permission prove nothing alone: some VMs list AMX and fault at the first ldtilecfg, which would end
// the server. Without all three, every product keeps the AVX-512 VNNI (or lower) kernels.
//
// No ShardLM kernel uses tiles yet: none could be measured against VNNI on a machine where the probe
// passes. The status is reported (shardlm plan --probe-hardware), and a tile kernel is to be added
// behind it.
#pragma once

#include <functional>
#include <string>

namespace shardlm::cpu {

struct AmxStatus {
  bool usable = false;
  std::string reason;  // why not, or what passed
};

// Probed once per process (the child costs a fork).
const AmxStatus& amx_status();

// Runs `body` in a child process, so that an instruction the CPU or the hypervisor refuses kills the
// child, not this process. True when the child exits having returned true; otherwise `failure` says
// how it ended ("killed by signal 11 (Segmentation fault)", "returned a wrong result").
bool passes_in_child(const std::function<bool()>& body, std::string& failure);

}  // namespace shardlm::cpu
