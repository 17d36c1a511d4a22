#!/usr/bin/env python3
"""Writes tests/fixtures/kquants/expected.json: a few Q4_K and Q6_K super-blocks of random bytes (their
f16 scales set to ordinary values) and the 256 values each stands for, as the gguf package (the
reference Python reader of llama.cpp's format) dequantizes them. The C++ tests decode the same bytes
and compare. Needs numpy and gguf (tests/reference/requirements.txt); run by hand, not in CI."""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType, quants

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "kquants", "expected.json")


def blocks(kind: GGMLQuantizationType, size: int, scale_offsets: list, count: int, rng) -> list:
    out = []
    for i in range(count):
        raw = rng.integers(0, 256, size=size, dtype=np.uint8)
        for offset, value in scale_offsets:
            raw[offset:offset + 2] = np.frombuffer(np.float16(value * (i + 1)).tobytes(), dtype=np.uint8)
        values = quants.dequantize(raw, kind).astype(np.float32)
        out.append({"bytes": raw.tobytes().hex(), "values": [float(v) for v in values]})
    return out


def main() -> None:
    rng = np.random.default_rng(2026)
    fixture = {
        "generator": "tests/reference/make_kquant_fixture.py (gguf's quants.dequantize)",
        "q4_K": blocks(GGMLQuantizationType.Q4_K, 144, [(0, 0.0123), (2, 0.0071)], 3, rng),
        "q6_K": blocks(GGMLQuantizationType.Q6_K, 210, [(208, 0.00037)], 3, rng),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
