#!/usr/bin/env python3
"""Writes tests/fixtures/smollm2/agreement.json: transformers' greedy continuation, 200 tokens past
each of five prompts (no stop at end of sequence), of SmolLM2-135M-Instruct's GGUF dequantized to
float32, with the margin between the top two logits at every step. The C++ golden test feeds each
prompt and continuation to ShardLM at every weight precision and counts the positions whose most
likely token is transformers' one (teacher-forced greedy agreement).

Run by hand, not in CI, with tests/reference/requirements.txt installed:
    python tests/reference/make_agreement_fixture.py [--gguf PATH]"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (shares its model loading, greedy loop and JSON layout)
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

TOKENS = 200
# The prompts of bench/weights_agreement.cpp.
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n",
    "The three laws of thermodynamics are",
    "Water boils at 100 degrees Celsius because",
]


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=None)
    args = ap.parse_args()
    path = mf.find_gguf(args.gguf)
    folder, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    entries = []
    for text in PROMPTS:
        ids = tok(text, add_special_tokens=True)["input_ids"]
        new, logits, _ = mf.greedy(model, ids, eos_ids=None, pad_id=tok.pad_token_id, max_new=TOKENS)
        entries.append({"text": text, "prompt_ids": ids, "generated_ids": new,
                        "margins": [mf.r6(m) for m in mf.margins_of(logits)]})
    mf.dump_json({"generator": {"script": "tests/reference/make_agreement_fixture.py", "versions": mf.versions(),
                                "gguf_file": name, "gguf_sha256": mf.sha256_file(path),
                                "reference_math": "float32 on dequantised weights, eager attention"},
                  "tokens": TOKENS, "prompts": entries},
                 os.path.join(mf.FIXTURES_DIR, "smollm2", "agreement.json"))


if __name__ == "__main__":
    main()
