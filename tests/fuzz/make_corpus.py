#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_dequantize: every bit width (and two invalid ones) x group size x type
pair, with random bytes and some special float patterns; then the floating-point modes. Run from this
directory: python3 make_corpus.py"""
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
# Floating-point modes (byte 0 bit 7): every mode selector (0 = affine, rejected) x dequantize / quantize x
# without / with a global scale x type, with E8M0 / E4M3 specials (codes 0, 0x7F, 0xFF, 255) in the body.
fp_specials = [b"\x00", b"\xff", b"\x7f", b"\x80\x00", b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f"]
for mode_selector in range(4):
    for quantize in (0, 0x40):
        for global_scale in (0, 1):
            for types in range(3):
                head = bytes([0x80 | quantize | mode_selector, global_scale, types, rng.randrange(16), rng.randrange(8),
                              rng.randrange(4)])
                body = bytearray(rng.randbytes(rng.randrange(64, 600)))
                for _ in range(rng.randrange(6)):
                    s = rng.choice(fp_specials)
                    at = rng.randrange(0, len(body) - len(s))
                    body[at:at + len(s)] = s
                (out / ("seed-%03d" % n)).write_bytes(head + bytes(body))
                n += 1
print("wrote", n, "seeds to", out)
