#!/usr/bin/env bash
# Runs a command with the machine's file systems read-only except the folders named before `--`, so
# that a test that writes anywhere else fails instead of damaging the machine (tests run as root).
# It makes a private mount namespace (unshare -m, root only): the read-only mounts exist only for
# this command and its children and vanish with them. /dev stays writable (device nodes, and the
# shared memory MPI's ranks talk through). The command sees SHARDLM_READ_ONLY_GUARD=1.
#
#   launch/run-read-only.sh DIR... -- COMMAND [ARGS...]
# Exits 125 without running the command when the namespace cannot be made or the guard does not hold.
set -euo pipefail

if [ "${SHARDLM_READ_ONLY_INNER:-}" != 1 ]; then
  SHARDLM_READ_ONLY_INNER=1 exec unshare --mount --propagation private "$0" "$@" || exit 125
fi
unset SHARDLM_READ_ONLY_INNER

writable=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  writable+=("$(cd "$1" && pwd -P)")
  shift
done
[ "${1:-}" = -- ] && [ $# -ge 2 ] || { echo "usage: run-read-only.sh DIR... -- COMMAND [ARGS...]" >&2; exit 125; }
shift

# Every mount point now (before the binds below add ours), from field 5 of mountinfo.
mapfile -t mounts < <(awk '{print $5}' /proc/self/mountinfo | sort -u)

inside_writable() {
  local dir
  for dir in "${writable[@]}"; do
    case "$1/" in "$dir"/*) return 0 ;; esac
  done
  return 1
}

# A folder bound onto itself becomes a mount of its own, which keeps its rw flag when its parent
# mount turns read-only.
for dir in "${writable[@]}"; do
  mount --bind "$dir" "$dir" || { echo "run-read-only: cannot bind $dir" >&2; exit 125; }
done
for target in "${mounts[@]}"; do
  case "$target" in /dev | /dev/*) continue ;; *\\*) continue ;; esac  # \: an escaped name; leave it
  inside_writable "$target" && continue
  if ! mount -o remount,bind,ro "$target" 2>/dev/null; then
    [ "$target" = / ] && { echo "run-read-only: cannot make / read-only" >&2; exit 125; }
    echo "run-read-only: note: $target stays writable (it cannot be remounted)" >&2
  fi
done

# The guard holds only if / refuses writes; test -w asks (access(2): EROFS even for root) and writes
# nothing.
if [ -w / ]; then
  echo "run-read-only: / is still writable; the guard does not hold" >&2
  exit 125
fi
export SHARDLM_READ_ONLY_GUARD=1
exec "$@"
