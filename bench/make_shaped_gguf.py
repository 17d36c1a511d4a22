#!/usr/bin/env python3
"""Writes a random-weight Llama GGUF of a real model's shape, with the bundled SmolLM2's tokenizer, for
speed and memory benchmarks at scale (no model hub is reachable here, and the speed of a product does
not depend on what its weights mean).

Shapes (published configs, ../shared/MODELS.md):
  llama-2-7b       hidden 4096, 32 layers, 32 heads, FFN 11008           (about 3.9 GB as Q4_0)
  llama-2-13b      hidden 5120, 40 layers, 40 heads, FFN 13824           (about 7.4 GB)
  llama-2-70b-tp8  one rank's share of Llama-2-70B over 8 ranks: hidden 8192, 80 layers, 8 query heads
                   and 1 KV head of 128, FFN 3584                         (about 5.4 GB)
The vocabulary is SmolLM2's (49,152 tokens, its tokenizer copied field by field), so prompts tokenize
as the bundled model's do. Matrices are Q4_0 and the LM head Q6_K, as llama.cpp quantizes a Q4_0 file
(--all-q4_0 makes the head Q4_0 too); norms are f32 ones. Scales are drawn so that a weight's spread is
about 1/sqrt(hidden), which keeps activations finite through every layer.

usage: bench/make_shaped_gguf.py OUT.gguf [--shape llama-2-7b] [--tokenizer-from models/SmolLM2-...gguf]
                                 [--layers N]   (the first N layers only: tests/e2e's smaller file)
needs: numpy and gguf (pip install numpy gguf), the latter only to read the tokenizer's fields.
"""
from __future__ import annotations

import argparse
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {
    # hidden, layers, heads, kv heads, head dim, ffn
    "llama-2-7b": (4096, 32, 32, 32, 128, 11008),
    "llama-2-13b": (5120, 40, 40, 40, 128, 13824),
    "llama-2-70b-tp8": (8192, 80, 8, 1, 128, 3584),
}
Q4_0, Q6_K, F32 = 2, 14, 0
ALIGNMENT = 32


def gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def kv_u32(key: str, value: int) -> bytes:
    return gguf_string(key) + struct.pack("<II", 4, value)


def kv_f32(key: str, value: float) -> bytes:
    return gguf_string(key) + struct.pack("<If", 6, value)


def kv_str(key: str, value: str) -> bytes:
    return gguf_string(key) + struct.pack("<I", 8) + gguf_string(value)


def tokenizer_fields(path: str) -> tuple[list[bytes], int]:
    """The tokenizer.* key-value entries of a GGUF, byte for byte, and its vocabulary size."""
    from gguf import GGUFReader  # only here: the rest needs numpy alone

    reader = GGUFReader(path)
    fields = [b"".join(part.tobytes() for part in field.parts)
              for name, field in reader.fields.items() if name.startswith("tokenizer.")]
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    return fields, vocab


def tensor_bytes(kind: int, rows: int, cols: int) -> int:
    if kind == F32:
        return 4 * cols
    if kind == Q4_0:
        return rows * cols // 32 * 18
    return rows * cols // 256 * 210  # Q6_K


def random_tensor(kind: int, rows: int, cols: int, hidden: int, rng: np.random.Generator) -> bytes:
    if kind == F32:
        return np.ones(cols, dtype=np.float32).tobytes()
    if kind == Q4_0:
        # value = scale * (nibble - 8): uniform nibbles spread about 4.6 steps, so a scale of
        # 1 / (4.6 sqrt(hidden)) gives weights of spread 1/sqrt(hidden).
        blocks = rows * cols // 32
        out = np.frombuffer(rng.bytes(blocks * 18), dtype=np.uint8).reshape(blocks, 18).copy()
        scales = (rng.uniform(0.7, 1.3, blocks) / (4.6 * np.sqrt(hidden))).astype(np.float16)
        out[:, 0:2] = scales.view(np.uint8).reshape(blocks, 2)
        return out.tobytes()
    # Q6_K: [128 low nibbles][64 high bit pairs][16 int8 scales][f16 d], value = d * scale * (code - 32),
    # codes spread about 18.5 steps.
    blocks = rows * cols // 256
    out = np.frombuffer(rng.bytes(blocks * 210), dtype=np.uint8).reshape(blocks, 210).copy()
    out[:, 192:208] = rng.integers(16, 48, size=(blocks, 16), dtype=np.int8).view(np.uint8)
    d = (np.full(blocks, 1.0 / (32 * 18.5 * np.sqrt(hidden)))).astype(np.float16)
    out[:, 208:210] = d.view(np.uint8).reshape(blocks, 2)
    return out.tobytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-2-7b")
    parser.add_argument("--tokenizer-from", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--all-q4_0", action="store_true", help="the LM head in Q4_0 too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layers", type=int, help="fewer layers than the shape's (same matrices, a smaller file)")
    args = parser.parse_args()
    if not os.path.exists(args.tokenizer_from):
        sys.exit(f"make_shaped_gguf: no tokenizer source '{args.tokenizer_from}' (run launch/fetch-models.sh)")
    hidden, layers, heads, kv_heads, head_dim, ffn = SHAPES[args.shape]
    if args.layers is not None:
        if not 1 <= args.layers <= layers:
            sys.exit(f"make_shaped_gguf: --layers {args.layers} is not between 1 and {args.shape}'s {layers}")
        layers = args.layers
    fields, vocab = tokenizer_fields(args.tokenizer_from)
    q_dim, kv_dim = heads * head_dim, kv_heads * head_dim

    tensors = [("token_embd.weight", Q4_0, vocab, hidden), ("output_norm.weight", F32, 1, hidden),
               ("output.weight", Q4_0 if args.all_q4_0 else Q6_K, vocab, hidden)]
    for layer in range(layers):
        p = f"blk.{layer}."
        tensors += [(p + "attn_norm.weight", F32, 1, hidden), (p + "ffn_norm.weight", F32, 1, hidden),
                    (p + "attn_q.weight", Q4_0, q_dim, hidden), (p + "attn_k.weight", Q4_0, kv_dim, hidden),
                    (p + "attn_v.weight", Q4_0, kv_dim, hidden), (p + "attn_output.weight", Q4_0, hidden, q_dim),
                    (p + "ffn_gate.weight", Q4_0, ffn, hidden), (p + "ffn_up.weight", Q4_0, ffn, hidden),
                    (p + "ffn_down.weight", Q4_0, hidden, ffn)]

    metadata = [kv_str("general.architecture", "llama"), kv_str("general.name", f"random {args.shape}"),
                kv_u32("general.file_type", 2), kv_u32("llama.context_length", 4096),
                kv_u32("llama.embedding_length", hidden), kv_u32("llama.block_count", layers),
                kv_u32("llama.feed_forward_length", ffn), kv_u32("llama.attention.head_count", heads),
                kv_u32("llama.attention.head_count_kv", kv_heads), kv_u32("llama.rope.dimension_count", head_dim),
                kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5), kv_f32("llama.rope.freq_base", 10000.0),
                kv_u32("llama.vocab_size", vocab), kv_u32("general.quantization_version", 2)] + fields
    infos, offset = [], 0
    for name, kind, rows, cols in tensors:
        dims = struct.pack("<IQ", 1, cols) if kind == F32 else struct.pack("<IQQ", 2, cols, rows)
        infos.append(gguf_string(name) + dims + struct.pack("<IQ", kind, offset))
        offset += -(-tensor_bytes(kind, rows, cols) // ALIGNMENT) * ALIGNMENT
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + b"".join(metadata) + b"".join(infos)
    header += b"\0" * (-len(header) % ALIGNMENT)

    rng = np.random.default_rng(args.seed)
    with open(args.out, "wb") as out:
        out.write(header)
        for name, kind, rows, cols in tensors:
            data = random_tensor(kind, rows, cols, hidden, rng)
            out.write(data + b"\0" * (-len(data) % ALIGNMENT))
    size = os.path.getsize(args.out)
    print(f"make_shaped_gguf: wrote {args.out}: {args.shape}, {len(tensors)} tensors, {size / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
