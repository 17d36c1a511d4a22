#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus/<target>/ (seed-*): small valid files of each format,
built here byte by byte from the formats' published layouts or copied from the repository's own
fixtures and configs, for libFuzzer to mutate. Inputs that fuzzing found crashing are added beside
them as crash-* files and kept. Run from anywhere: python3 tests/fuzz/make_seeds.py"""
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors):
    """tensors: name -> (dtype, shape, raw bytes)."""
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def gguf_string(text):
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf(metadata, tensors):
    """GGUF v3: metadata key -> (type id, packed value); tensors: name -> (ggml type, dims, raw)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, (kind, value) in metadata.items():
        out += gguf_string(key) + struct.pack("<I", kind) + value
    offset, data = 0, b""
    for name, (ggml_type, dims, raw) in tensors.items():
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, offset)
        data += raw + b"\0" * (-len(raw) % 32)
        offset = len(data)
    out += b"\0" * (-len(out) % 32)
    return out + data


def u32(value):
    return (4, struct.pack("<I", value))


def f32(value):
    return (6, struct.pack("<f", value))


def string(text):
    return (8, gguf_string(text))


def string_array(items):
    return (9, struct.pack("<IQ", 8, len(items)) + b"".join(gguf_string(i) for i in items))


def main():
    floats = lambda n: struct.pack(f"<{n}f", *[0.01 * i for i in range(n)])
    write("safetensors_fuzz", "seed-two-tensors",
          safetensors({"a.weight": ("F32", [2, 3], floats(6)), "b.bias": ("BF16", [4], b"\x80\x3f" * 4)}))
    write("safetensors_fuzz", "seed-empty-header", struct.pack("<Q", 2) + b"{}")

    metadata = {
        "general.architecture": string("llama"),
        "llama.block_count": u32(1),
        "llama.embedding_length": u32(8),
        "llama.feed_forward_length": u32(16),
        "llama.attention.head_count": u32(2),
        "llama.attention.head_count_kv": u32(1),
        "llama.context_length": u32(64),
        "llama.attention.layer_norm_rms_epsilon": f32(1e-5),
        "tokenizer.ggml.model": string("gpt2"),
        "tokenizer.ggml.pre": string("gpt2"),
        "tokenizer.ggml.tokens": string_array(["a", "b", "ab", "<s>"]),
        "tokenizer.ggml.merges": string_array(["a b"]),
    }
    write("gguf_fuzz", "seed-tiny-llama", gguf(metadata, {"token_embd.weight": (0, [8, 4], floats(32))}))

    header = struct.pack("<7i", 8, 16, 1, 2, 1, 4, 64)  # dim, hidden, layers, heads, kv heads, vocab, seq
    write("llama2c_fuzz", "seed-header-only", header)
    write("llama2c_fuzz", "seed-stories260K-head", (ROOT / "tests/data/stories260K/stories260K.bin").read_bytes()[:4096])

    for source in sorted((ROOT / "tests/fixtures/tokenizers/variants").glob("*.tokenizer.json"))[:4]:
        write("tokenizer_json_fuzz", "seed-" + source.name, source.read_bytes())
    for family in ["llama", "falcon_40b_style", "bloom", "mpt", "gpt2", "gpt_bigcode"]:
        write("config_json_fuzz", f"seed-{family}.json", (ROOT / "tests/fixtures" / family / "config.json").read_bytes())
    for source in sorted((ROOT / "configs/deploy").glob("*.yaml")):
        write("deploy_yaml_fuzz", "seed-" + source.name, source.read_bytes())
    for source in sorted((ROOT / "configs/hardware").glob("*.yaml")):
        write("hardware_yaml_fuzz", "seed-" + source.name, source.read_bytes())

    # Protobuf wire format by hand: field 1 (prompt, string) and field 2 (options, a message holding
    # max_new_tokens = field 1 varint 16); the first byte picks GenerateRequest (even) or ChatRequest.
    write("request_fuzz", "seed-generate", b"\x00" + b"\x0a\x05Hello" + b"\x12\x02\x08\x10")
    write("request_fuzz", "seed-chat", b"\x01" + b"\x0a\x0d\x0a\x04user\x12\x05Hello" + b"\x12\x02\x08\x10")
    # OpenAI-style bodies (first byte: even for /v1/completions, odd for /v1/chat/completions).
    write("openai_request_fuzz", "seed-completion", b"\x00" + json.dumps({
        "model": "model", "prompt": "Hello", "max_tokens": 8, "temperature": 0.5, "top_p": 0.9, "stop": ["\n", "."],
        "stream": True, "stream_options": {"include_usage": True}, "seed": 3, "logprobs": 0}).encode())
    write("openai_request_fuzz", "seed-chat", b"\x01" + json.dumps({
        "model": "model", "messages": [{"role": "system", "content": "Be brief."},
                                       {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_completion_tokens": 16, "response_format": {"type": "json_schema", "json_schema": {
            "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}}).encode())
    # Schemas, each with a text after a NUL for the matcher to read.
    write("json_schema_fuzz", "seed-object", json.dumps({
        "type": "object", "properties": {"name": {"type": "string", "maxLength": 8}, "n": {"type": "number"},
                                         "tags": {"type": "array", "items": {"enum": ["a", 1, None]}, "maxItems": 2},
                                         "ok": {"type": "boolean"}}, "required": ["name"]}).encode()
          + b"\0" + b'{"name":"caf\xc3\xa9\\u00e9","n":-1.5e+3,"tags":["a",null],"ok":true}')
    write("json_schema_fuzz", "seed-any", b"{}\0" + b'[1,{"k":[true,false,null,"\\n"]},-0.25E-2]')
    write("chat_messages_fuzz", "seed-turns", b"\x00Be brief.\0\x01What is 2+2?\0\x024\0\x01And <|im_start|>system?")
    # Real models' chat templates, and the snippets of the interpreter's corners.
    fixture = json.loads((ROOT / "tests/fixtures/chat_templates/chat_templates.json").read_text())
    for template in fixture["templates"]:
        write("jinja_template_fuzz", "seed-" + template["name"], template["template"].encode())
    for i, case in enumerate(fixture["snippets"]["cases"]):
        write("jinja_template_fuzz", f"seed-snippet-{i:02d}", case["template"].encode())


if __name__ == "__main__":
    main()
