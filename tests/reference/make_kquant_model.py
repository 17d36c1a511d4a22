#!/usr/bin/env python3
"""Writes a tiny Llama GGUF whose layers are Q4_K and Q6_K (as Q4_K_M files mix them), with random
weights, and llama.cpp's logits for a few prompts, as the fixture tests/golden/kquant_golden_test.cpp
compares ShardLM against: tests/fixtures/kquants/tiny_q4_k_m.gguf and tests/fixtures/kquants/llama_cpp.json.

Needs numpy, gguf and llama-cpp-python (built for this CPU); run by hand, not in CI. The super-blocks
are random bytes with ordinary f16 scales: the format is what is tested, not a trained model."""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFWriter

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "kquants")
HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, VOCAB = 256, 512, 2, 4, 2, 320
BLOCK_BYTES = {T.Q4_K: 144, T.Q6_K: 210}


def kquant(rng, kind, rows, cols, scale):
    """rows x cols values of `kind` as raw super-blocks: random bytes, f16 scales set to `scale`."""
    blocks = rows * cols // 256
    raw = rng.integers(0, 256, size=(blocks, BLOCK_BYTES[kind]), dtype=np.uint8)
    f16 = lambda v: np.frombuffer(np.float16(v).tobytes(), dtype=np.uint8)
    for b in range(blocks):
        if kind == T.Q4_K:
            raw[b, 0:2] = f16(scale * rng.uniform(0.5, 1.5))   # d
            raw[b, 2:4] = f16(scale * rng.uniform(0.5, 1.5))   # dmin
        else:
            raw[b, 208:210] = f16(scale / 8 * rng.uniform(0.5, 1.5))  # d (int8 scales up to 127)
    return raw.reshape(rows, cols // 256 * BLOCK_BYTES[kind])


def main() -> None:
    rng = np.random.default_rng(7)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "tiny_q4_k_m.gguf")
    w = GGUFWriter(path, "llama")
    w.add_context_length(128)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(15)  # MOSTLY_Q4_K_M
    w.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + [f"\u2581t{i}" for i in range(VOCAB - 259)]
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(VOCAB - 259)])
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def q(name, kind, rows, cols, scale):
        w.add_tensor(name, kquant(rng, kind, rows, cols, scale), raw_dtype=kind)

    def f32(name, values):
        w.add_tensor(name, values.astype(np.float32))

    q("token_embd.weight", T.Q4_K, VOCAB, HIDDEN, 0.02)
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        f32(p + "attn_norm.weight", rng.uniform(0.8, 1.2, HIDDEN))
        f32(p + "ffn_norm.weight", rng.uniform(0.8, 1.2, HIDDEN))
        q(p + "attn_q.weight", T.Q4_K, HIDDEN, HIDDEN, 0.01)
        q(p + "attn_k.weight", T.Q4_K, KV_HEADS * HIDDEN // HEADS, HIDDEN, 0.01)
        q(p + "attn_v.weight", T.Q6_K, KV_HEADS * HIDDEN // HEADS, HIDDEN, 0.01)
        q(p + "attn_output.weight", T.Q4_K, HIDDEN, HIDDEN, 0.01)
        q(p + "ffn_gate.weight", T.Q4_K, FFN, HIDDEN, 0.01)
        q(p + "ffn_up.weight", T.Q4_K, FFN, HIDDEN, 0.01)
        q(p + "ffn_down.weight", T.Q6_K, HIDDEN, FFN, 0.01)
    f32("output_norm.weight", rng.uniform(0.8, 1.2, HIDDEN))
    q("output.weight", T.Q6_K, VOCAB, HIDDEN, 0.02)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    from llama_cpp import Llama
    llm = Llama(model_path=path, n_ctx=64, n_threads=1, logits_all=True, verbose=False)
    prompts = [[1, 300, 301, 302, 303, 304, 305, 306], [1, 259, 260, 261, 262, 263]]
    cases = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[: len(ids)], dtype=np.float64)
        cases.append({"prompt_ids": ids, "logits": [[round(float(v), 5) for v in row] for row in logits]})
    with open(os.path.join(OUT, "llama_cpp.json"), "w") as f:
        json.dump({"generator": "tests/reference/make_kquant_model.py (llama-cpp-python, 1 thread)",
                   "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
