#!/usr/bin/env bash
# Decode tokens/s of SmolLM2-135M-Instruct: one rank with 2 threads against tp=2 and pp=2 with one
# thread per rank (the same two cores), greedy, 128 new tokens, median of 3 runs; prints the ratios.
# Goal (issue 4): tp=2 >= 0.85 of one rank. With one sequence, pp=2's stages take turns; with two
# sequences in flight (one micro-batch per stage) they overlap, compared with one rank running the
# same two sequences.
#   usage: bench/parallel_decode.sh [build dir]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
model="$("$root/launch/fetch-models.sh")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
prompt='Question: Please write a function in Python that transforms bytes to Giga bytes.

Answer:'

decode_rate() {  # the decode tokens/s a run prints on stderr (or, for several prompts, its tokens/s)
  "$@" 2>&1 >/dev/null | sed -n -e 's/.*decode: \([0-9.]*\) tokens\/s.*/\1/p' \
    -e 's/^prompts: .* | \([0-9.]*\) tokens\/s | .*/\1/p'
}
median_of_3() {
  local rates=()
  for _ in 1 2 3; do rates+=("$(decode_rate "$@")"); done
  printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p
}
args=(generate --model "$model" --prompt "$prompt" --max-new-tokens 128 --temperature 0)
one=$(median_of_3 "$build/shardlm" "${args[@]}" --threads 2)
tp2=$(median_of_3 mpirun -np 2 --bind-to none "$build/shardlm" "${args[@]}" --threads 1 --tp 2)
pp2=$(median_of_3 mpirun -np 2 --bind-to none "$build/shardlm" "${args[@]}" --threads 1 --pp 2)
two=(--prompt "Question: Please write a function in Python that sorts a list.")  # with args' prompt: two
one_x2=$(median_of_3 "$build/shardlm" "${args[@]}" "${two[@]}" --threads 2)
pp2_x2=$(median_of_3 mpirun -np 2 --bind-to none "$build/shardlm" "${args[@]}" "${two[@]}" --threads 1 --pp 2)
printf 'SmolLM2-135M decode, %s cores\n' "$(nproc)"
printf '  1 rank x 2 threads : %8.1f tokens/s\n' "$one"
printf '  tp=2 x 1 thread    : %8.1f tokens/s   ratio %.2f (goal >= 0.85)\n' "$tp2" "$(awk "BEGIN { print $tp2 / $one }")"
printf '  pp=2 x 1 thread    : %8.1f tokens/s   ratio %.2f (one sequence: stages take turns)\n' "$pp2" \
  "$(awk "BEGIN { print $pp2 / $one }")"
printf '  2 sequences, 1 rank x 2 threads: %8.1f tokens/s\n' "$one_x2"
printf '  2 sequences, pp=2 x 1 thread   : %8.1f tokens/s   ratio %.2f (one micro-batch per stage)\n' "$pp2_x2" \
  "$(awk "BEGIN { print $pp2_x2 / $one_x2 }")"
