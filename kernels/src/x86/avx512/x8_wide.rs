//! Two x8 stripes in one 512-bit register: sixteen weight rows, one per 32-bit lane (stripe
//! `s` in the low half, `s + 1` in the high half), against a tile of activation rows — the
//! AVX-512 form of [`crate::x8_walk`]'s prefill tile ([`X8Pair::tile_pair`]).
//!
//! One `vpdpbusd` on a full register now serves sixteen rows, and the per-block float steps
//! (the activation's scale broadcast, the conversion, the multiplies, the accumulator's load and
//! store) are shared by both stripes: on a 256-bit register those steps cost as much as the
//! multiplies. Every lane goes through the operations of the stripe's own 256-bit pair in the
//! same order — the same integer sums, the same float multiplies and adds, the same block lanes
//! and reduction tree — so every output has the bits of the one-stripe walk, and of the twin.
//!
//! Decode (one activation row) keeps the one-stripe walk: it reads each weight byte once
//! whatever the register width, and is bound by memory.

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use crate::blocks::BlockQ8_0;
use crate::blocks_x8::X8_ROWS;
use crate::generic::accumulate::BLOCK_LANES;
use crate::generic::x8::X8Format;
use crate::x86::avx512::first_lanes;
use crate::x8_walk::{X8Pair, TILE};

type Packed<P> = <<P as X8Pair>::Twin as X8Format>::Packed;
type Act<P> = <<P as X8Pair>::Twin as X8Format>::Act;

/// A legacy-format x8 block of two stripes unpacked for sixteen rows: quant word `g` of every row in `q[g]`,
/// the rows' scales in `d` and, for formats with a minimum, its factors in `m` (zero otherwise).
pub(crate) struct WideReady {
    pub(crate) q: [__m512i; 8],
    pub(crate) d: __m512,
    pub(crate) m: __m512,
}

/// A K-quant x8 block of two stripes unpacked for sixteen rows: the 64 quant words, the
/// sub-block scales (16 for Q6_K, 8 for Q4_K), the scale or minimum pairs the activations'
/// block sums multiply (8 for Q6_K, 4 for Q4_K), the super-block scales (`dmin`: Q4_K only).
pub(crate) struct KWideReady {
    pub(crate) words: [__m512i; 64],
    pub(crate) scales: [__m512i; 16],
    pub(crate) pairs: [__m512i; 8],
    pub(crate) d: __m512,
    pub(crate) dmin: __m512,
}

/// A 256-bit x8 pair that also computes sixteen rows at once.
pub(crate) trait WidePair: X8Pair {
    /// Its blocks of two stripes unpacked.
    type Wide;

    /// An empty [`WidePair::Wide`] to unpack into.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C (so for every method).
    unsafe fn new_wide() -> Self::Wide;

    /// Unpacks block `w0` of stripe `s` into the low half of `r` and `w1` of stripe `s + 1`
    /// into the high half.
    ///
    /// # Safety
    /// As [`WidePair::new_wide`].
    unsafe fn ready_wide(w0: &Packed<Self>, w1: &Packed<Self>, r: &mut Self::Wide);

    /// The sixteen rows' float terms against activation block `a`, lane by lane the
    /// operations of [`X8Pair::terms`] (`a_sum` as there).
    ///
    /// # Safety
    /// As [`WidePair::new_wide`].
    unsafe fn terms_wide(r: &Self::Wide, a: &Act<Self>, a_sum: i32) -> __m512;
}

/// An empty [`KWideReady`].
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn new_k_wide() -> KWideReady {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        KWideReady {
            words: [_mm512_setzero_si512(); 64],
            scales: [_mm512_setzero_si512(); 16],
            pairs: [_mm512_setzero_si512(); 8],
            d: _mm512_setzero_ps(),
            dmin: _mm512_setzero_ps(),
        }
    }
}

/// An empty [`WideReady`].
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn new_wide() -> WideReady {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        WideReady {
            q: [_mm512_setzero_si512(); 8],
            d: _mm512_setzero_ps(),
            m: _mm512_setzero_ps(),
        }
    }
}

/// `lo` in the low 256 bits, `hi` in the high ones.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn join(lo: __m256i, hi: __m256i) -> __m512i {
    // SAFETY: register-only AVX-512 F operations.
    unsafe { _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi) }
}

/// [`join`] for floats.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn join_ps(lo: __m256, hi: __m256) -> __m512 {
    // SAFETY: register-only AVX-512 F operations (`insertf32x8` would need AVX-512 DQ, which
    // the kernels do not enable: it became an out-of-line call).
    unsafe {
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castpd256_pd512(_mm256_castps_pd(lo)),
            _mm256_castps_pd(hi),
        ))
    }
}

/// `f16` bits widened exactly and broadcast to sixteen lanes.
///
/// # Safety
/// The CPU supports AVX-512 F and F16C.
#[inline(always)]
pub(crate) unsafe fn f16_in_lanes16(bits: u16) -> __m512 {
    // SAFETY: register-only F16C/AVX-512 F operations.
    unsafe { _mm512_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32))) }
}

/// `Σ_g q[g]·a[4g..4g+4]` in each of the sixteen lanes: unsigned quant words against activation
/// words broadcast from memory, summed exactly in 32 bits by `vpdpbusd` (two chains, for its
/// latency) — the 512-bit form of [`dot_words`](super::x8_lanes::dot_words).
///
/// # Safety
/// The CPU supports AVX-512 F and VNNI; `a` holds at least `4·N` bytes.
#[inline(always)]
pub(crate) unsafe fn dot_words16<const N: usize>(q: &[__m512i; N], a: &[i8]) -> __m512i {
    debug_assert!(a.len() >= 4 * N);
    // SAFETY: register-only VNNI operations and four-byte reads inside `a` (the caller's words).
    unsafe {
        let mut even = _mm512_setzero_si512();
        let mut odd = _mm512_setzero_si512();
        for (g, qg) in q.iter().enumerate() {
            let aw = _mm512_set1_epi32(core::ptr::read_unaligned(
                a.as_ptr().add(4 * g) as *const i32
            ));
            if g % 2 == 0 {
                even = _mm512_dpbusd_epi32(even, *qg, aw);
            } else {
                odd = _mm512_dpbusd_epi32(odd, *qg, aw);
            }
        }
        _mm512_add_epi32(even, odd)
    }
}

/// The unpacked words and scales of stripe `s` (`q0`, `d0`) and `s + 1` (`q1`, `d1`) joined
/// into `r`.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn join_words(
    q0: &[__m256i; 8],
    q1: &[__m256i; 8],
    d0: __m256,
    d1: __m256,
    r: &mut WideReady,
) {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        for g in 0..8 {
            r.q[g] = join(q0[g], q1[g]);
        }
        r.d = join_ps(d0, d1);
    }
}

/// The sixteen rows' terms of a format stored as unsigned bytes `q + offset` against a Q8_0
/// activation block of quant sum `a_sum`: `(d·dy)·(Σ q·a - offset·a_sum)`, lane by lane the
/// operations of the 256-bit pairs (`Σ (q + offset)·a` exact in 32 bits, then the
/// correction, the scale product and the term, unfused).
///
/// # Safety
/// The CPU supports AVX-512 F/VNNI and F16C.
#[inline(always)]
pub(crate) unsafe fn offset_terms(r: &WideReady, a: &BlockQ8_0, a_sum: i32, offset: i32) -> __m512 {
    // SAFETY: register-only operations and reads inside `a.qs`.
    unsafe {
        let dot = dot_words16(&r.q, &a.qs);
        let isum = _mm512_sub_epi32(dot, _mm512_set1_epi32(a_sum.wrapping_mul(offset)));
        let dd = _mm512_mul_ps(r.d, f16_in_lanes16(a.d.to_bits()));
        _mm512_mul_ps(dd, _mm512_cvtepi32_ps(isum))
    }
}

/// The [`X8Pair`] items that hand a [`WidePair`] two stripes at a time, for its `impl X8Pair`.
macro_rules! pairs_stripes {
    () => {
        const PAIRS_STRIPES: bool = true;

        #[inline(always)]
        unsafe fn tile_pair(
            w0: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Packed],
            w1: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Packed],
            a: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Act],
            sums: &[i32],
            nt: usize,
            out: &mut [f32],
            ld: usize,
            live1: usize,
        ) {
            // SAFETY: forwarded.
            unsafe {
                $crate::x86::avx512::x8_wide::tile_pair::<Self>(w0, w1, a, sums, nt, out, ld, live1)
            }
        }
    };
}

pub(crate) use pairs_stripes;

/// Stripes `w0` (eight live rows) and `w1` (`live1` live rows) against `nt` activation rows of
/// `w0.len()` blocks (`a` rows one after another, `sums` their block sums, or empty to work them
/// out here, for pairs that need them): row `t`'s outputs of stripe 0 at `out[t·ld..t·ld + 8]`,
/// of stripe 1 at `out[t·ld + 8..t·ld + 8 + live1]`. The bits of two one-stripe tiles.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C; `w1.len() == w0.len()`,
/// `a.len() == nt·w0.len()`, `1 <= nt <= TILE`; `sums` is empty or `a.len()` long;
/// `out.len() >= (nt - 1)·ld + 8 + live1`, `1 <= live1 <= 8`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn tile_pair<P: WidePair>(
    w0: &[Packed<P>],
    w1: &[Packed<P>],
    a: &[Act<P>],
    sums: &[i32],
    nt: usize,
    out: &mut [f32],
    ld: usize,
    live1: usize,
) {
    let nb = w0.len();
    let kept_sums = P::ACT_SUMS && sums.len() == nt * nb;
    // SAFETY: the features are the caller's promise; every pointer below stays inside `w0`,
    // `w1`, `a`, `sums` or `acc` (indices `t < nt <= TILE`, `b < nb`, lanes `< 8`); each
    // accumulator is written (by its first block, or zeroed when `nb < 8` leaves it without
    // one) before it is read; the masked stores write `8 + live1` floats from `t·ld`, inside
    // `out` by the caller's promise.
    unsafe {
        // Block `b < 8` starts its lane at `0 + term`, the twin's first addition, so nothing is
        // zeroed up front (a 16 KB memset a call).
        let mut acc_store = MaybeUninit::<[[__m512; BLOCK_LANES]; TILE]>::uninit();
        let acc = acc_store.as_mut_ptr().cast::<__m512>();
        let mut r = P::new_wide();
        for b in 0..nb {
            P::ready_wide(w0.get_unchecked(b), w1.get_unchecked(b), &mut r);
            let lane = b % BLOCK_LANES;
            let first = b < BLOCK_LANES;
            let mut ap = a.as_ptr().add(b);
            for t in 0..nt {
                let ab = &*ap;
                let a_sum = if !P::ACT_SUMS {
                    0
                } else if kept_sums {
                    *sums.get_unchecked(ap.offset_from(a.as_ptr()) as usize)
                } else {
                    P::act_sum(ab)
                };
                let slot = acc.add(t * BLOCK_LANES + lane);
                let prev = if first {
                    _mm512_setzero_ps()
                } else {
                    slot.read()
                };
                slot.write(_mm512_add_ps(prev, P::terms_wide(&r, ab, a_sum)));
                ap = ap.add(nb);
            }
        }
        for t in 0..nt {
            for lane in nb.min(BLOCK_LANES)..BLOCK_LANES {
                acc.add(t * BLOCK_LANES + lane).write(_mm512_setzero_ps());
            }
        }
        let live = first_lanes(X8_ROWS + live1);
        for t in 0..nt {
            let l = &*acc.add(t * BLOCK_LANES).cast::<[__m512; BLOCK_LANES]>();
            // `reduce8`'s tree, as the one-stripe walk's `store_row`.
            let s0 = _mm512_add_ps(l[0], l[4]);
            let s1 = _mm512_add_ps(l[1], l[5]);
            let s2 = _mm512_add_ps(l[2], l[6]);
            let s3 = _mm512_add_ps(l[3], l[7]);
            let v = _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
            // A masked store of the live rows (`out` holds `8 + live1` floats from `t·ld`).
            _mm512_mask_storeu_ps(out[t * ld..].as_mut_ptr(), live, v);
        }
    }
}
