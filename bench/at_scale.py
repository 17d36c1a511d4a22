#!/usr/bin/env python3
"""ShardLM on a real model's shape (random Q4_0 weights, bench/make_shaped_gguf.py) against llama.cpp
on the same file, and against the planner's predictions for the same runs, on this machine's CPU.

For each layout (one rank; tp 2 and pp 2 under mpirun, one thread a rank) it runs `shardlm generate`
on a 512-token prompt (the public-domain text, cut to length with the GGUF's own tokenizer) and
prints prefill and decode tokens/s, load time and each rank's peak resident memory (/usr/bin/time),
with the ratio of peak memory to the rank's weights, of decode to the read bandwidth the probe
measured, and of each figure to `shardlm plan`'s prediction. llama.cpp (llama-cpp-python, built
without AMX where AMX faults) runs the same prompt with the same threads in a child process of its
own, so its load time and peak memory are its own. --batch adds bench/batch_throughput on the model.

usage: bench/at_scale.py [--model /tmp/shardlm-llama-2-7b.q4_0.gguf] [--shape llama-2-7b] [--threads 2]
                         [--decode-tokens 32] [--kv-dtype bf16] [--layouts tp1,tp2,pp2] [--batch]
                         [--hardware FILE]
The model is written first when missing (3.9 GB for Llama-2-7B; needs numpy and gguf). --model may
also name a Hugging Face directory (bench/make_shaped_hf.py writes a bf16 one); llama.cpp is skipped
there, and the prompt is cut by words.

The peer, in a virtual environment of its own (not CI's), built for this CPU; where /proc/cpuinfo lists
AMX but the VM faults on tile instructions (our Xeons), keep AMX out of the build:
  python3 -m venv /tmp/peers && /tmp/peers/bin/pip install numpy gguf
  CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' \
    -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'" /tmp/peers/bin/pip install llama-cpp-python
  /tmp/peers/bin/python bench/at_scale.py --batch
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from peer_compare import TEXT, prompt_text  # noqa: E402

MIB = 1024.0 * 1024.0
LLAMA_CPP_CHILD = r"""
import json, resource, sys, time
from llama_cpp import Llama
model, prompt, threads, decode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=1024, n_batch=512, verbose=False)
load = time.perf_counter() - start
tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True)
start = time.perf_counter()
llm.eval(tokens)
prefill = len(tokens) / (time.perf_counter() - start)
start = time.perf_counter()
for _ in range(decode):
    llm.eval([llm.sample(temp=0.0)])
decode_rate = decode / (time.perf_counter() - start)
print(json.dumps({"load_s": load, "prompt_tokens": len(tokens), "prefill": prefill, "decode": decode_rate,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if not found:
        raise RuntimeError(f"no '{pattern}' in:\n{text[-2000:]}")
    return float(found.group(1))


def shardlm_generate(args, prompt: str, tp: int, pp: int) -> dict:
    ranks = tp * pp
    threads = max(1, args.threads // ranks)
    command = [args.shardlm, "generate", "--model", args.model, "--prompt", prompt, "--max-new-tokens",
               str(args.decode_tokens), "--temperature", "0", "--ignore-eos", "--threads", str(threads),
               "--kv-dtype", args.kv_dtype]
    env = dict(os.environ)
    # Each rank's /usr/bin/time writes its peak to a file of its own: printed, a rank's figure was
    # sometimes lost when mpirun ended the job before its output was forwarded.
    # The folder is this call's own: TemporaryDirectory made it and removes it, and nothing else.
    with tempfile.TemporaryDirectory(prefix="shardlm-at-scale-peaks-") as peaks_dir:
        timed = ["sh", "-c", 'exec /usr/bin/time -f "%M" -o "$0/rank-${OMPI_COMM_WORLD_RANK:-0}" "$@"', peaks_dir]
        if ranks > 1:
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_pml="ob1",
                       OMPI_MCA_btl="self,vader")
            command = ["mpirun", "-np", str(ranks), "--bind-to", "none"] + timed + command + ["--tp", str(tp), "--pp", str(pp)]
        else:
            command = timed + command
        run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:8])} ... failed:\n{run.stderr[-3000:]}")
        peaks = []
        for rank in range(ranks):
            path = os.path.join(peaks_dir, f"rank-{rank}")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    peaks.append(int(f.read().split()[-1]) / 1024.0)
    if len(peaks) != ranks:
        print(f"  (found {len(peaks)} peak figures for {ranks} ranks)", file=sys.stderr)
    return {
        "prefill": number(r"prefill: ([0-9.]+) tokens/s", run.stderr),
        "decode": number(r"decode: ([0-9.]+) tokens/s", run.stderr),
        "prompt_tokens": int(number(r"prompt tokens: ([0-9]+)", run.stderr)),
        "load_s": number(r"load: ([0-9.]+) s", run.stderr),
        "weights_mib": [float(x) for x in re.search(r"weights per rank: ([0-9., ]+) MiB", run.stderr).group(1).split(", ")],
        "peaks_mib": peaks,
    }


def plan(args, tp: int, pp: int, prompt_tokens: int) -> dict:
    command = [args.shardlm, "plan", "--model", args.model, "--hardware", args.hardware, "--tp", str(tp), "--pp",
               str(pp), "--prompt-tokens", str(prompt_tokens), "--output-tokens", str(args.decode_tokens), "--kv-dtype",
               args.kv_dtype, "--json"]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"shardlm plan failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout)["plan"]


def read_bandwidth(hardware: str, threads: int) -> float:
    """The probe's read bandwidth (GB/s) at `threads` threads, from its YAML."""
    with open(hardware, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"bandwidth_by_threads_gb_s:\s*\{([^}]*)\}", text)
    if block:
        rates = dict(re.findall(r"(\d+):\s*([0-9.]+)", block.group(1)))
        if str(threads) in rates:
            return float(rates[str(threads)])
    return number(r"memory_bandwidth_gb_s:\s*([0-9.]+)", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="/tmp/shardlm-llama-2-7b.q4_0.gguf")
    parser.add_argument("--shape", default="llama-2-7b")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=32)
    parser.add_argument("--layouts", default="tp1,tp2,pp2")
    # llama.cpp keeps its KV cache in f16: bf16 is the same bytes a token.
    parser.add_argument("--kv-dtype", default="bf16")
    parser.add_argument("--batch", action="store_true", help="also run bench/batch_throughput on the model")
    parser.add_argument("--hardware", help="a probed hardware file (default: probe now)")
    parser.add_argument("--skip-llama-cpp", action="store_true")
    parser.add_argument("--shardlm", default=os.path.join(ROOT, "build", "shardlm"))
    args = parser.parse_args()
    if not os.path.exists(args.model):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_shaped_gguf.py"), args.model, "--shape",
                        args.shape], check=True)
    # Load times are measured from a warm page cache (the files read once here), as a server restarts.
    files = [os.path.join(args.model, name) for name in os.listdir(args.model)] if os.path.isdir(args.model) else [args.model]
    for path in files:
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass
    if not args.hardware:
        args.hardware = os.path.join(tempfile.mkdtemp(prefix="shardlm-at-scale-"), "probed.yaml")
        subprocess.run([args.shardlm, "plan", "--probe-hardware", "--out", args.hardware], check=True,
                       capture_output=True)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu_name = re.search(r"Model name:\s*(.+)", cpu).group(1).strip() if "Model name" in cpu else "?"
    hf_checkpoint = os.path.isdir(args.model)  # bench/make_shaped_hf.py's: llama.cpp reads only GGUF
    args.skip_llama_cpp = args.skip_llama_cpp or hf_checkpoint
    try:
        if hf_checkpoint:
            raise ImportError("a Hugging Face directory: no GGUF vocabulary to cut the prompt with")
        from llama_cpp import Llama
        vocab = Llama(model_path=args.model, vocab_only=True, verbose=False)
        prompt = prompt_text(args.prompt_tokens - 1, lambda t: vocab.tokenize(t.encode("utf-8"), add_bos=False))
    except ImportError:
        with open(TEXT, encoding="utf-8") as f:
            prompt = " ".join(f.read().split(" ")[:int(args.prompt_tokens * 0.72)])
    size = sum(os.path.getsize(path) for path in files)
    print(f"{args.model} ({size / 1e9:.2f} GB), CPU {cpu_name}, {args.threads} threads, "
          f"decode {args.decode_tokens} tokens, KV cache {args.kv_dtype}, hardware {args.hardware}")

    rows = {}
    for layout in args.layouts.split(","):
        tp, pp = (int(layout[2:]), 1) if layout.startswith("tp") else (1, int(layout[2:]))
        got = shardlm_generate(args, prompt, tp, pp)
        want = plan(args, tp, pp, got["prompt_tokens"])
        speed = want["speed"]
        # Rank order throughout: the peaks' files, the runtime's weights per rank, the plan's ranks.
        predicted_peaks = [r["peak_bytes"] / MIB for r in sorted(want["ranks"], key=lambda r: r["rank"])]
        weights = got["weights_mib"]
        bandwidth = read_bandwidth(args.hardware, args.threads)
        decode_share = got["decode"] * max(got["weights_mib"]) * MIB / 1e9 / bandwidth if tp * pp == 1 else float("nan")
        rows[layout] = got
        print(f"\nshardlm {layout}: prompt {got['prompt_tokens']} tokens, prefill {got['prefill']:.2f} tokens/s "
              f"(plan {got['prompt_tokens'] / speed['prefill_s']:.2f}, x{got['prefill'] * speed['prefill_s'] / got['prompt_tokens']:.2f}), "
              f"decode {got['decode']:.2f} tokens/s (plan {speed['decode_tokens_per_s']:.2f}, "
              f"x{got['decode'] / speed['decode_tokens_per_s']:.2f}), load {got['load_s']:.2f} s")
        if tp * pp == 1:
            print(f"  decode reads {decode_share:.2f} of the {bandwidth:.1f} GB/s read bandwidth (goal 0.80)")
        for i, peak in enumerate(got["peaks_mib"]):
            w = weights[min(i, len(weights) - 1)]
            p = predicted_peaks[min(i, len(predicted_peaks) - 1)]
            print(f"  rank {i} peak {peak:.0f} MiB for {w:.0f} MiB of weights: {peak / w:.3f}x (goal 1.15); "
                  f"plan {p:.0f} MiB ({(p - peak) / peak * 100:+.1f}%)")

    if not args.skip_llama_cpp:
        run = subprocess.run([sys.executable, "-c", LLAMA_CPP_CHILD, args.model, prompt, str(args.threads),
                              str(args.decode_tokens)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            print(f"\nllama.cpp: failed or missing ({run.stderr.strip()[-300:]})")
        else:
            peer = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"\nllama.cpp: prompt {peer['prompt_tokens']} tokens, prefill {peer['prefill']:.2f} tokens/s, decode "
                  f"{peer['decode']:.2f} tokens/s, load {peer['load_s']:.2f} s, peak {peer['peak_mib']:.0f} MiB")
            if "tp1" in rows:
                mine = rows["tp1"]
                print(f"shardlm tp1 / llama.cpp: prefill {mine['prefill'] / peer['prefill']:.2f}x (goal 2.5), decode "
                      f"{mine['decode'] / peer['decode']:.2f}x (goal 1.3), load {mine['load_s']:.2f} vs "
                      f"{peer['load_s']:.2f} s (goal <= 5 s)")

    if args.batch:
        binary = os.path.join(ROOT, "build", "bench", "shardlm_batch_throughput")
        run = subprocess.run([binary, args.model, str(args.threads)], capture_output=True, text=True, check=False)
        print("\n" + (run.stdout if run.returncode == 0 else f"batch_throughput failed: {run.stderr[-1000:]}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
