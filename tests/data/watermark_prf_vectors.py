#!/usr/bin/env python3
"""An independent implementation of Retort's watermark PRF (src/watermark/prf.rs), written from
its documentation, which printed the pinned vectors in `prf.rs` and `key.rs`.

Needs the `blake3` package (pip install blake3); SipHash-2-4 is written out here and checked
against its published test vector.

    python3 tests/data/watermark_prf_vectors.py
"""
import struct

import blake3

M = (1 << 64) - 1


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M


def siphash24(key16: bytes, msg: bytes) -> int:
    k0, k1 = struct.unpack("<QQ", key16)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rnd():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & M; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 = (v2 + v3) & M; v3 = rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & M; v3 = rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & M; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)

    n = len(msg)
    full = n - n % 8
    for i in range(0, full, 8):
        m = struct.unpack("<Q", msg[i:i + 8])[0]
        v3 ^= m
        rnd(); rnd()
        v0 ^= m
    tail = msg[full:] + bytes(8 - (n - full))
    b = struct.unpack("<Q", tail)[0] | ((n & 0xFF) << 56)
    v3 ^= b
    rnd(); rnd()
    v0 ^= b
    v2 ^= 0xFF
    rnd(); rnd(); rnd(); rnd()
    return v0 ^ v1 ^ v2 ^ v3


assert siphash24(bytes(range(16)), bytes(range(15))) == 0xA129CA6149BE45E5


def subkey(context: str, key: bytes) -> bytes:
    return blake3.blake3(key, derive_key_context=context).digest()[:16]


def le32(*ids):
    return b"".join(struct.pack("<I", i) for i in ids)


KEY = bytes(range(32))
K_ANCHOR = subkey("retort 2026-12-06 watermark v1: green-list anchor", KEY)
K_GREEN = subkey("retort 2026-12-06 watermark v1: green-list value", KEY)
K_DIGEST = subkey("retort 2026-12-06 watermark v1: context digest", KEY)
K_DRAW = subkey("retort 2026-12-06 watermark v1: distortion-free draw", KEY)


SELF_SEED = struct.unpack(
    "<Q",
    blake3.blake3(KEY, derive_key_context="retort 2026-12-06 watermark v1: green-list self anchor")
    .digest()[:8],
)[0]


def mix(seed, x):
    """splitmix64's finalizer of seed ^ x * phi."""
    z = seed ^ ((x * 0x9E3779B97F4A7C15) & M)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def green(context, x):
    # Candidates in order: the context (oldest first), then x; the earliest smallest wins.
    order = list(context) + [x]
    hashes = [mix(siphash24(K_ANCHOR, le32(c)), x) for c in context] + [mix(SELF_SEED, x)]
    anchor = order[hashes.index(min(hashes))]
    return anchor, siphash24(K_GREEN, le32(anchor, x))


def digest(context):
    return siphash24(K_DIGEST, le32(*context))


def draw(d, x):
    return siphash24(K_DRAW, struct.pack("<QI", d, x))


if __name__ == "__main__":
    print("PINNED_GREEN:", green([1, 2, 3, 4], 5))
    print("PINNED_GREEN_2:", green([49151, 0, 7, 7], 12))
    print("PINNED_GREEN_SELF:", green([10, 20, 30, 40], 100))
    d = digest([1, 2, 3, 4])
    print("PINNED_DIGEST: %#018x" % d)
    print("PINNED_DRAW: %#018x" % draw(d, 5))
    sevens = blake3.blake3(bytes([7] * 32), derive_key_context="retort 2026-12-06 watermark v1: key id")
    print("PINNED_ID_OF_SEVENS:", sevens.hexdigest()[:16])
