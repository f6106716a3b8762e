#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_dequantize: every bit width (and two invalid ones) x group size x type
pair, with random bytes and some special float patterns. Run from this directory: python3 make_corpus.py"""
import pathlib, random, struct

out = pathlib.Path(__file__).resolve().parent / "corpus"
out.mkdir(exist_ok=True)
rng = random.Random(1)
specials = [struct.pack("<f", v) for v in (0.0, -0.0, 1e-45, 3.4e38, float("inf"), float("-inf"))] + \
           [b"\x00\x00\xc0\x7f", b"\x01\x00\x80\x7f", b"\x01\x00", b"\x00\x7c", b"\x01\x7c", b"\x80\x7f"]
n = 0
for bits_selector in range(12):
    for types in range(9):
        head = bytes([bits_selector, rng.randrange(3), types, rng.randrange(16), rng.randrange(8), rng.randrange(4)])
        body = bytearray(rng.randbytes(rng.randrange(64, 600)))
        for _ in range(rng.randrange(4)):
            s = rng.choice(specials)
            at = rng.randrange(0, len(body) - len(s))
            body[at:at + len(s)] = s
        (out / ("seed-%03d" % n)).write_bytes(head + bytes(body))
        n += 1
print("wrote", n, "seeds to", out)
