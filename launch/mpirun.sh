#!/usr/bin/env bash
# Starts N ShardLM ranks with Open MPI's mpirun, on this machine or on the hosts of a hostfile:
#   launch/mpirun.sh -n 4 -- build/shardlm generate --model M --tp 2 --pp 2 --prompt "..."
#   launch/mpirun.sh -n 16 --hostfile launch/hostfile.example -- build/shardlm generate --tp 8 --pp 2 ...
# Options:
#   -n N                 ranks (tp x pp)
#   --hostfile FILE      run across the hosts listed in FILE (see launch/hostfile.example)
#   --gpus-per-node G    ranks per host with --hostfile (default: GPUs on this host, per nvidia-smi)
#   --dry-run            print the mpirun command instead of running it
# Extra mpirun options can go in SHARDLM_MPIRUN_ARGS.
#
# GPUs: rank i of a node drives GPU i (MpiRuntime::local_rank()). Every rank still sees every GPU of
# its node: NCCL moves data between processes with CUDA IPC, which needs the peer's GPU visible, so
# the ranks are deliberately not confined with CUDA_VISIBLE_DEVICES.
set -euo pipefail

usage() {  # usage EXIT_CODE: the header above; to stdout for --help, to stderr after a mistake
  local stream=1
  [[ "$1" -eq 0 ]] || stream=2
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&"$stream"
  exit "$1"
}

ranks=""
hostfile=""
gpus_per_node=""
dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n | -np) ranks="${2:?-n needs a count}"; shift 2 ;;
    --hostfile) hostfile="${2:?--hostfile needs a file}"; shift 2 ;;
    --gpus-per-node) gpus_per_node="${2:?--gpus-per-node needs a count}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --) shift; break ;;
    -h | --help) usage 0 ;;
    *) echo "mpirun.sh: unknown option '$1' (the command goes after --)" >&2; usage 2 ;;
  esac
done
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "mpirun.sh: -n N is required (N >= 1)" >&2; usage 2; }
[[ $# -gt 0 ]] || { echo "mpirun.sh: no command after --" >&2; usage 2; }
command -v mpirun >/dev/null || { echo "mpirun.sh: mpirun not found; install openmpi-bin (launch/install-deps.sh)" >&2; exit 1; }

args=(-np "$ranks")

# Open MPI refuses to run as root unless told twice; containers and CI often are root.
if [[ "$(id -u)" -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# No binding: each rank runs a thread pool of (cores / ranks on its node) threads and spreads it
# over the node. Open MPI's default would pin each rank to one core (np <= 2) or one socket, leaving
# the pool's threads to share that core and the rank's thread count to be miscounted.
args+=(--bind-to none)

if [[ -z "$hostfile" ]]; then
  # One node: more ranks than cores is slow but allowed (tests, trying a tp x pp layout on a laptop).
  if (( ranks > $(nproc) )); then
    args+=(--oversubscribe)
  fi
  # Shared memory between ranks of one node; skips probing for network transports at start-up.
  args+=(--mca pml ob1 --mca btl "self,vader")
else
  [[ -r "$hostfile" ]] || { echo "mpirun.sh: cannot read hostfile '$hostfile'" >&2; exit 1; }
  if [[ -z "$gpus_per_node" ]] && command -v nvidia-smi >/dev/null; then
    gpus_per_node="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
  fi
  args+=(--hostfile "$hostfile")
  # Fill each node with one rank per GPU, in order, so that a tensor-parallel group (adjacent ranks)
  # stays on one node's NVLink and only pipeline transfers cross the network.
  if [[ -n "$gpus_per_node" && "$gpus_per_node" -gt 0 ]]; then
    args+=(--map-by "ppr:${gpus_per_node}:node")
  else
    args+=(--map-by slot)
  fi
  # Remote ranks start with the remote login environment: carry over what ShardLM and NCCL read.
  for name in PATH LD_LIBRARY_PATH SHARDLM_LOG NCCL_DEBUG NCCL_SOCKET_IFNAME NCCL_IB_HCA NCCL_IB_DISABLE \
              NCCL_NET_GDR_LEVEL OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM; do
    if [[ -n "${!name:-}" ]]; then args+=(-x "$name"); fi
  done
fi

# A server must outlive a lost rank long enough to say so (Health NOT_SERVING, UNAVAILABLE for the
# requests in flight) instead of being killed with it; its ranks watch each other and leave on their own.
for word in "$@"; do
  if [[ "$word" == "serve" ]]; then args+=(--enable-recovery); break; fi
done

# shellcheck disable=SC2206  # SHARDLM_MPIRUN_ARGS is a list of words on purpose
extra=(${SHARDLM_MPIRUN_ARGS:-})
if (( dry_run )); then
  printf '%q ' mpirun "${args[@]}" "${extra[@]}" "$@"
  echo
  exit 0
fi
exec mpirun "${args[@]}" "${extra[@]}" "$@"
