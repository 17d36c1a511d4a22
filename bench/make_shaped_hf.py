#!/usr/bin/env python3
"""Writes a random-weight Hugging Face Llama checkpoint (config.json, one bf16 model.safetensors, and
the bundled SmolLM2 tokenizer.json) of a real model's shape, for measuring the memory and speed of a
bf16 checkpoint at scale, as bench/make_shaped_gguf.py does for a Q4_0 GGUF (same shapes; about
13.5 GB for Llama-2-7B). The matrices repeat one block of random bf16 values with a spread of about
1/sqrt(hidden): a product's speed does not depend on what its weights mean, and writing the file
then costs no more than its bytes. Norms are ones.

usage: bench/make_shaped_hf.py OUT_DIR [--shape llama-2-7b]
needs: numpy.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from make_shaped_gguf import SHAPES  # noqa: E402

TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "tokenizers", "smollm2", "tokenizer.json")
VOCAB = 49152
BLOCK_VALUES = 1 << 24  # 32 MiB of bf16, repeated through every matrix


def tensors(shape: str) -> list[tuple[str, int, int]]:
    hidden, layers, heads, kv_heads, head_dim, ffn = SHAPES[shape]
    q_dim, kv_dim = heads * head_dim, kv_heads * head_dim
    out = [("model.embed_tokens.weight", VOCAB, hidden), ("model.norm.weight", 1, hidden),
           ("lm_head.weight", VOCAB, hidden)]
    for layer in range(layers):
        p = f"model.layers.{layer}."
        out += [(p + "input_layernorm.weight", 1, hidden), (p + "post_attention_layernorm.weight", 1, hidden),
                (p + "self_attn.q_proj.weight", q_dim, hidden), (p + "self_attn.k_proj.weight", kv_dim, hidden),
                (p + "self_attn.v_proj.weight", kv_dim, hidden), (p + "self_attn.o_proj.weight", hidden, q_dim),
                (p + "mlp.gate_proj.weight", ffn, hidden), (p + "mlp.up_proj.weight", ffn, hidden),
                (p + "mlp.down_proj.weight", hidden, ffn)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-2-7b")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    hidden, layers, heads, kv_heads, head_dim, ffn = SHAPES[args.shape]
    os.makedirs(args.out, exist_ok=True)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
              "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "head_dim": head_dim, "vocab_size": VOCAB,
              "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "tie_word_embeddings": False, "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
    shutil.copyfile(TOKENIZER, os.path.join(args.out, "tokenizer.json"))

    # bf16 is the top half of an f32: random normals, truncated.
    rng = np.random.default_rng(args.seed)
    block = (rng.standard_normal(BLOCK_VALUES, dtype=np.float32) / np.sqrt(hidden)).view(np.uint32) >> 16
    block = block.astype(np.uint16).tobytes()
    one = (np.ones(1, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()

    header, offset = {}, 0
    for name, rows, cols in tensors(args.shape):
        size = rows * cols * 2
        header[name] = {"dtype": "BF16", "shape": [cols] if rows == 1 else [rows, cols],
                        "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path = os.path.join(args.out, "model.safetensors")
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)) + encoded)
        for name, rows, cols in tensors(args.shape):
            size = rows * cols * 2
            if rows == 1:
                out.write(one * cols)
                continue
            while size > 0:
                piece = min(size, len(block))
                out.write(block[:piece])
                size -= piece
    print(f"make_shaped_hf: wrote {args.out}: {args.shape}, bf16, {os.path.getsize(path) / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
