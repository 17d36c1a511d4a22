#!/usr/bin/env python3
"""ShardLM against its peers on one GGUF: prefill of a 512-token prompt and greedy decode of 128
tokens, same threads, same prompt text, on this machine's CPU.

Peers (each skipped, saying why, when its package is not installed):
  - llama.cpp, through llama-cpp-python, on the same GGUF file as stored;
  - Hugging Face transformers with torch on the CPU (the guide's stack), the GGUF dequantized to f32
    and to bf16.

ShardLM runs `shardlm generate` once per precision (--weights as stored, f32, bf16, int8, int4) and
its own statistics line gives prefill and decode tokens/s. Every figure is the median of --runs runs;
the ratios printed are ShardLM's tokens/s over the peer's, the issue's goals being decode >= 1.0x
llama.cpp, prefill >= 0.8x, and >= 5x transformers' decode.

usage: bench/peer_compare.py [--model GGUF] [--threads N] [--runs R] [--shardlm build/shardlm]
Install the peers where wanted (none is a build or test dependency):
  python3 -m venv /tmp/peers && /tmp/peers/bin/pip install llama-cpp-python torch transformers gguf
  /tmp/peers/bin/python bench/peer_compare.py
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = os.path.join(ROOT, "tests", "data", "texts", "public_domain_us_documents.txt")
PROMPT_TOKENS = 512
DECODE_TOKENS = 128


def prompt_text(tokens_wanted: int, tokenize) -> str:
    """The longest prefix of the public-domain text, cut at a word, of at most tokens_wanted tokens."""
    with open(TEXT, encoding="utf-8") as f:
        words = f.read().split(" ")
    low, high = 1, len(words)
    while low < high:
        mid = (low + high + 1) // 2
        if len(tokenize(" ".join(words[:mid]))) <= tokens_wanted:
            low = mid
        else:
            high = mid - 1
    return " ".join(words[:low])


def shardlm_run(binary: str, model: str, prompt: str, threads: int, weights: str | None) -> tuple[float, float, int]:
    args = [binary, "generate", "--model", model, "--prompt", prompt, "--max-new-tokens", str(DECODE_TOKENS),
            "--temperature", "0", "--threads", str(threads), "--ignore-eos"]
    if weights:
        args += ["--weights", weights]
    run = subprocess.run(args, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"shardlm failed: {run.stderr.strip()}")
    prefill = float(re.search(r"prefill: ([0-9.]+) tokens/s", run.stderr).group(1))
    decode = float(re.search(r"decode: ([0-9.]+) tokens/s", run.stderr).group(1))
    prompt_tokens = int(re.search(r"prompt tokens: ([0-9]+)", run.stderr).group(1))
    return prefill, decode, prompt_tokens


def llama_cpp_runs(model: str, prompt: str, threads: int, runs: int):
    try:
        from llama_cpp import Llama
    except ImportError as error:
        print(f"llama.cpp: skipped ({error}); pip install llama-cpp-python")
        return None
    llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=1024, n_batch=512,
                verbose=False)
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True)
    results = []
    for _ in range(runs):
        llm.reset()
        start = time.perf_counter()
        llm.eval(tokens)
        prefill_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(DECODE_TOKENS):
            token = llm.sample(temp=0.0)
            llm.eval([token])
        decode_s = time.perf_counter() - start
        results.append((len(tokens) / prefill_s, DECODE_TOKENS / decode_s))
    return len(tokens), results


def transformers_runs(model: str, prompt: str, threads: int, runs: int, dtype_name: str):
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        print(f"transformers: skipped ({error}); pip install torch transformers gguf")
        return None
    torch.set_num_threads(threads)
    directory, name = os.path.dirname(os.path.abspath(model)), os.path.basename(model)
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    dtype = torch.float32 if dtype_name == "f32" else torch.bfloat16
    hf = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=dtype)
    hf.eval()
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    results = []
    with torch.no_grad():
        for _ in range(runs):
            start = time.perf_counter()
            out = hf(ids, use_cache=True)
            prefill_s = time.perf_counter() - start
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            start = time.perf_counter()
            for _ in range(DECODE_TOKENS):
                out = hf(token, past_key_values=past, use_cache=True)
                past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            decode_s = time.perf_counter() - start
            results.append((ids.shape[1] / prefill_s, DECODE_TOKENS / decode_s))
    return ids.shape[1], results


def medians(results):
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shardlm", default=os.path.join(ROOT, "build", "shardlm"))
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.model):
        print(f"error: {args.model} is missing: run ./launch/fetch-models.sh", file=sys.stderr)
        return 1

    # The prompt: cut with llama.cpp's tokenizer where present (the GGUF's own), else a word count.
    try:
        from llama_cpp import Llama
        vocab_only = Llama(model_path=args.model, vocab_only=True, verbose=False)
        prompt = prompt_text(PROMPT_TOKENS - 1, lambda t: vocab_only.tokenize(t.encode("utf-8"), add_bos=False))
    except ImportError:
        with open(TEXT, encoding="utf-8") as f:
            prompt = " ".join(f.read().split(" ")[:370])  # about 500 tokens of this text
    print(f"model {args.model}, {args.threads} thread(s), prompt {PROMPT_TOKENS} tokens, decode {DECODE_TOKENS}, "
          f"median of {args.runs}")

    rows = []
    for weights in (None, "f32", "bf16", "int8", "int4"):
        results = [shardlm_run(args.shardlm, args.model, prompt, args.threads, weights) for _ in range(args.runs)]
        prefill, decode = medians([(r[0], r[1]) for r in results])
        rows.append((f"shardlm {weights or 'as stored'}", results[0][2], prefill, decode))
    peers = {}
    llama = llama_cpp_runs(args.model, prompt, args.threads, args.runs)
    if llama:
        tokens, results = llama
        peers["llama.cpp"] = medians(results)
        rows.append(("llama.cpp (as stored)", tokens, *peers["llama.cpp"]))
    if not args.skip_transformers:
        for dtype in ("f32", "bf16"):
            hf = transformers_runs(args.model, prompt, args.threads, args.runs, dtype)
            if hf:
                tokens, results = hf
                peers[f"transformers {dtype}"] = medians(results)
                rows.append((f"transformers {dtype}", tokens, *peers[f"transformers {dtype}"]))

    print(f"{'runtime':<26} {'prompt':>6} {'prefill tok/s':>14} {'decode tok/s':>13}")
    for name, tokens, prefill, decode in rows:
        print(f"{name:<26} {tokens:>6} {prefill:>14.1f} {decode:>13.1f}")
    stored = rows[0]
    if "llama.cpp" in peers:
        lp, ld = peers["llama.cpp"]
        print(f"shardlm as stored / llama.cpp: prefill {stored[2] / lp:.2f}x (goal 0.8), "
              f"decode {stored[3] / ld:.2f}x (goal 1.0)")
    for dtype in ("f32", "bf16"):
        key = f"transformers {dtype}"
        if key in peers:
            mine = next(r for r in rows if r[0] == f"shardlm {dtype}")
            print(f"shardlm {dtype} / {key}: decode {mine[3] / peers[key][1]:.2f}x (goal 5), "
                  f"prefill {mine[2] / peers[key][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
