//! The keyed pseudo-random function: a pure function of (key, context ids, candidate id) with
//! 64-bit outputs, bit-identical on every CPU (integer arithmetic on little-endian encodings).
//!
//! # Construction
//! Subkeys are derived from the 32-byte secret with BLAKE3's `derive_key`, one per purpose
//! (distinct, hard-coded context strings). SipHash-2-4 under a 128-bit subkey hashes the ids'
//! little-endian bytes:
//! - `seed(c)` = SipHash(k_anchor, c): one per context id, made once per step;
//! - `green(a, x)` = SipHash(k_green, a ‖ x): the green-list value;
//! - `digest(c₁…c_h)` = SipHash(k_context, c₁ ‖ … ‖ c_h): names a context;
//! - `draw(d, x)` = SipHash(k_draw, d ‖ x): the distortion-free scheme's uniform value.
//!
//! The green list's anchor (which of the context ids and the candidate decides the value) is the
//! id with the smallest `mix(seed(c), x)` (the candidate itself competes with
//! `mix(k_self, x)`), where `mix` is the splitmix64 finalizer of `seed ⊕ x·φ`: a few
//! multiplications per candidate instead of a SipHash call per (context id, candidate).
//!
//! # Why this and not BLAKE3 alone
//! The verifier must score ≥ 1 M tokens/s on one core and generation must stay within 1 % of
//! decode time, so each call has to cost nanoseconds: a keyed BLAKE3 call on 8–20 bytes is a
//! whole 64-byte compression plus set-up; SipHash-2-4 on 8–16 bytes is a few short rounds.
//!
//! # Security argument
//! BLAKE3 in `derive_key` mode is a PRF of the secret, so the subkeys are independent uniform
//! keys to anyone without the secret. SipHash-2-4 is a PRF under a uniform 128-bit key (its
//! designers' claim, unbroken since 2012), so for distinct inputs its outputs look independent
//! and uniform. Every value a verdict counts — `green(a, x)` and `draw(d, x)` — is a SipHash
//! output, and the detector counts each input once, which is exactly what its exact p-values
//! assume: under the null hypothesis, the counted values are independent uniforms. The anchor
//! `mix` only chooses *which* pair is hashed, with seeds made under a subkey independent of
//! `k_green`, so nothing it does (however weak a PRF a finalizer is) can correlate counted
//! values; it affects how well the mark survives edits, not the false-positive rate. An
//! attacker who sees watermarked text sees at most a biased sample of green/red decisions,
//! never a PRF output. The inputs are fixed-width encodings, so no two different (context,
//! candidate) tuples of one scheme collide before hashing.

use std::fmt;

use siphasher::sip::SipHasher24;

use super::key::SecretKey;
use super::scheme::MAX_CONTEXT;

const ANCHOR_CONTEXT: &str = "retort 2026-12-06 watermark v1: green-list anchor";
const SELF_CONTEXT: &str = "retort 2026-12-06 watermark v1: green-list self anchor";
const GREEN_CONTEXT: &str = "retort 2026-12-06 watermark v1: green-list value";
const DIGEST_CONTEXT: &str = "retort 2026-12-06 watermark v1: context digest";
const DRAW_CONTEXT: &str = "retort 2026-12-06 watermark v1: distortion-free draw";

/// The keyed functions of one secret key.
#[derive(Clone)]
pub struct Prf {
    anchor: SipHasher24,
    /// The candidate's own anchor seed.
    self_seed: u64,
    green: SipHasher24,
    digest: SipHasher24,
    draw: SipHasher24,
}

impl fmt::Debug for Prf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The subkeys are as secret as the key.
        f.write_str("Prf { .. }")
    }
}

/// The green-list value of one (context, candidate): the anchor it was decided by, and the
/// value. Equal pairs give equal values, so the detector counts each pair once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GreenValue {
    /// The anchor: one of the context ids, or the candidate itself.
    pub anchor: u32,
    /// The keyed value of (anchor, candidate).
    pub value: u64,
}

impl GreenValue {
    /// The (anchor, candidate) pair as one number, for counting each pair once.
    pub fn pair(self, candidate: u32) -> u64 {
        (u64::from(self.anchor) << 32) | u64::from(candidate)
    }
}

fn subkey(context: &str, key: &SecretKey) -> SipHasher24 {
    let derived = blake3::derive_key(context, key.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&derived[..16]);
    SipHasher24::new_with_key(&k)
}

fn pair_bytes(a: u32, x: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&a.to_le_bytes());
    b[4..].copy_from_slice(&x.to_le_bytes());
    b
}

/// The splitmix64 finalizer of `seed ⊕ x·φ`: the anchor hash of a (seed, candidate).
#[inline]
fn mix(seed: u64, x: u32) -> u64 {
    let mut z = seed ^ u64::from(x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Prf {
    /// The functions keyed by `key`.
    pub fn new(key: &SecretKey) -> Prf {
        let self_seed = blake3::derive_key(SELF_CONTEXT, key.as_bytes());
        Prf {
            anchor: subkey(ANCHOR_CONTEXT, key),
            self_seed: u64::from_le_bytes(self_seed[..8].try_into().expect("8 bytes")),
            green: subkey(GREEN_CONTEXT, key),
            digest: subkey(DIGEST_CONTEXT, key),
            draw: subkey(DRAW_CONTEXT, key),
        }
    }

    /// The anchor seed of context id `c` (make it once per step, not per candidate).
    #[inline]
    pub fn anchor_seed(&self, c: u32) -> u64 {
        self.anchor.hash(&c.to_le_bytes())
    }

    /// The green-list value of candidate `x` after `context` (oldest first).
    #[inline]
    pub fn green(&self, context: &[u32], x: u32) -> GreenValue {
        let mut seeds = [0u64; MAX_CONTEXT];
        let context = &context[context.len().saturating_sub(MAX_CONTEXT)..];
        for (s, &c) in seeds.iter_mut().zip(context) {
            *s = self.anchor_seed(c);
        }
        self.green_seeded(context, &seeds[..context.len()], x)
    }

    /// [`Prf::green`] with the context's anchor seeds made already (`seeds[i]` is
    /// `anchor_seed(context[i])`): the anchor is the id among `context` then `x` whose
    /// `mix(seed, x)` is smallest (the earliest on a tie; `x` competes with its own seed), and
    /// the value is `green(anchor, x)`.
    #[inline]
    pub fn green_seeded(&self, context: &[u32], seeds: &[u64], x: u32) -> GreenValue {
        debug_assert_eq!(context.len(), seeds.len());
        let mut anchor = x;
        let mut best = mix(self.self_seed, x);
        // Walking newest to oldest with `<=` makes the earliest id win a tie, as documented.
        for (&c, &s) in context.iter().zip(seeds).rev() {
            let h = mix(s, x);
            if h <= best {
                best = h;
                anchor = c;
            }
        }
        GreenValue {
            anchor,
            value: self.green.hash(&pair_bytes(anchor, x)),
        }
    }

    /// The digest of a context of at most [`MAX_CONTEXT`] ids (longer ones are cut to their last
    /// `MAX_CONTEXT`; schemes never ask for more).
    #[inline]
    pub fn digest(&self, context: &[u32]) -> u64 {
        let context = &context[context.len().saturating_sub(MAX_CONTEXT)..];
        let mut buf = [0u8; 4 * MAX_CONTEXT];
        for (chunk, id) in buf.chunks_exact_mut(4).zip(context) {
            chunk.copy_from_slice(&id.to_le_bytes());
        }
        self.digest.hash(&buf[..4 * context.len()])
    }

    /// The distortion-free value of candidate `x` after the context with digest `digest`.
    #[inline]
    pub fn draw(&self, digest: u64, x: u32) -> u64 {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&digest.to_le_bytes());
        b[8..].copy_from_slice(&x.to_le_bytes());
        self.draw.hash(&b)
    }
}

/// A 64-bit value as a uniform number in the open interval (0, 1): its top 52 bits, centred in
/// their cell (52, not 53: `2⁵² - ½` is still exact in an f64, so the result never rounds to 1).
#[inline]
pub fn unit_open(v: u64) -> f64 {
    ((v >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watermark::key::KEY_BYTES;

    fn key() -> SecretKey {
        let mut b = [0u8; KEY_BYTES];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        SecretKey::from_bytes(b)
    }

    /// SipHash-2-4's own published vector (key 00..0f, message 00..0e), so the primitive under
    /// the PRF is the standard one.
    #[test]
    fn siphash_is_the_reference_siphash_2_4() {
        let k: [u8; 16] = std::array::from_fn(|i| i as u8);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(SipHasher24::new_with_key(&k).hash(&msg), 0xa129ca6149be45e5);
    }

    /// Pinned outputs: the same key, context and candidate must give these values on every CPU
    /// and in every release (a change orphans every text watermarked before it). Computed
    /// independently with Python (`blake3` and a reference SipHash-2-4), see
    /// `tests/data/watermark_prf_vectors.py`.
    #[test]
    fn pinned_outputs() {
        let prf = Prf::new(&key());
        let g = prf.green(&[1, 2, 3, 4], 5);
        assert_eq!((g.anchor, g.value), PINNED_GREEN);
        let g = prf.green(&[49151, 0, 7, 7], 12);
        assert_eq!((g.anchor, g.value), PINNED_GREEN_2);
        let g = prf.green(&[10, 20, 30, 40], 100);
        assert_eq!((g.anchor, g.value), PINNED_GREEN_SELF);
        let d = prf.digest(&[1, 2, 3, 4]);
        assert_eq!(d, PINNED_DIGEST);
        assert_eq!(prf.draw(d, 5), PINNED_DRAW);
    }

    const PINNED_GREEN: (u32, u64) = (4, 3465969189661426345);
    const PINNED_GREEN_2: (u32, u64) = (0, 10697557960354984566);
    const PINNED_GREEN_SELF: (u32, u64) = (100, 13737349106838082695);
    const PINNED_DIGEST: u64 = 0xb87a6600fa29f4f8;
    const PINNED_DRAW: u64 = 0x13fc233b75a8de08;

    #[test]
    fn the_anchor_is_the_smallest_pair_hash() {
        let prf = Prf::new(&key());
        for x in 0..200u32 {
            let ctx = [x * 7 + 1, x * 13 + 2, x * 3 + 5, 9];
            let g = prf.green(&ctx, x);
            let all: Vec<(u64, u32)> = ctx
                .iter()
                .map(|&a| (mix(prf.anchor_seed(a), x), a))
                .chain([(mix(prf.self_seed, x), x)])
                .collect();
            let min = all.iter().map(|p| p.0).min().unwrap();
            let first = all.iter().find(|p| p.0 == min).unwrap().1;
            assert_eq!(g.anchor, first);
            assert_eq!(g.value, prf.green.hash(&pair_bytes(first, x)));
        }
    }

    #[test]
    fn unit_open_never_reaches_the_ends() {
        for v in [0, 1, u64::MAX, u64::MAX >> 1] {
            let u = unit_open(v);
            assert!(u > 0.0 && u < 1.0, "{v}: {u}");
        }
    }
}
