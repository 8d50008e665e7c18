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
//! On the Ice Lake-SP this was tuned on, the broadcast loads of the activation words — not the
//! multiplies — bound these tiles (`vpdpbusd` with a `{1to16}` memory operand ran at about half
//! its register-operand rate). So the legacy pairs take four stripes per tile ([`tile_quad`]:
//! two registers of sixteen rows against each broadcast word), and the K-quant pairs go sub-block
//! by sub-block over the tile's activation rows ([`tile_pair_k`]: each sub-block's words loaded
//! into registers once for every row, instead of once per row).
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
use crate::x8_walk::{stripe_tile, BlockScalars, X8Pair, TILE};

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
    /// operations of [`X8Pair::terms`] (`a_sum` as there; `k` is [`X8Pair::act_scalars`] of
    /// `a`).
    ///
    /// # Safety
    /// As [`WidePair::new_wide`].
    unsafe fn terms_wide(r: &Self::Wide, a: &Act<Self>, a_sum: i32, k: &BlockScalars) -> __m512;

    /// [`WidePair::terms_wide`] of `r0` and of `r1` against the same block `a`, each lane the
    /// same operations (pairs whose two unpacked blocks fit the registers share the activation
    /// words' broadcasts between them).
    ///
    /// # Safety
    /// As [`WidePair::new_wide`].
    #[inline(always)]
    unsafe fn terms_wide2(
        r0: &Self::Wide,
        r1: &Self::Wide,
        a: &Act<Self>,
        a_sum: i32,
        k: &BlockScalars,
    ) -> [__m512; 2] {
        // SAFETY: forwarded.
        unsafe {
            [
                Self::terms_wide(r0, a, a_sum, k),
                Self::terms_wide(r1, a, a_sum, k),
            ]
        }
    }
}

/// A K-quant [`WidePair`] whose two-stripe tile goes sub-block by sub-block ("group") over
/// every activation row of the tile ([`tile_pair_k`]): a group's quant words are loaded into
/// registers once and serve all the rows, where the block-at-a-time form loaded every word
/// again for each row (two loads a `vpdpbusd`, which bounded it).
pub(crate) trait KGroups: WidePair<Wide = KWideReady> {
    /// Sub-blocks of a super-block, each with its own scale (16 for Q6_K, 8 for Q4_K).
    const GROUPS: usize;
    /// One group's quant words, kept in registers.
    type Words: Copy;

    /// Group `g`'s quant words.
    ///
    /// # Safety
    /// As [`WidePair::new_wide`]; `g < GROUPS`.
    unsafe fn group_words(r: &KWideReady, g: usize) -> Self::Words;

    /// Group `g`'s scale in each row's lane.
    ///
    /// # Safety
    /// As [`KGroups::group_words`].
    unsafe fn group_scale(r: &KWideReady, g: usize) -> __m512i;

    /// `isum + sc·Σ q·a` over group `g` of activation block `a`, exact (wrapping) in 32 bits.
    ///
    /// # Safety
    /// As [`KGroups::group_words`].
    unsafe fn group_sum(
        words: &Self::Words,
        sc: __m512i,
        a: &Act<Self>,
        g: usize,
        isum: __m512i,
    ) -> __m512i;

    /// The sixteen rows' float terms from the groups' integer sum `isum` (the minimums' or
    /// offset part, then the scales), as [`WidePair::terms_wide`] ends.
    ///
    /// # Safety
    /// As [`WidePair::new_wide`].
    unsafe fn finish_wide(r: &KWideReady, a: &Act<Self>, isum: __m512i) -> __m512;

    /// [`WidePair::terms_wide`] of a [`KGroups`] pair: every group's sum, then the finish.
    ///
    /// # Safety
    /// As [`WidePair::new_wide`].
    #[inline(always)]
    unsafe fn groups_terms(r: &KWideReady, a: &Act<Self>) -> __m512 {
        // SAFETY: forwarded.
        unsafe {
            let mut isum = _mm512_setzero_si512();
            for g in 0..Self::GROUPS {
                let words = Self::group_words(r, g);
                isum = Self::group_sum(&words, Self::group_scale(r, g), a, g, isum);
            }
            Self::finish_wide(r, a, isum)
        }
    }
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

/// `Σ_g q[g]·a[4g..4g+4]` in each of the sixteen lanes: unsigned quant words against activation
/// words broadcast from memory, summed exactly in 32 bits by `vpdpbusd` (two chains, for its
/// latency) — the 512-bit form of [`dot_words`](super::x8_lanes::dot_words).
///
/// # Safety
/// The CPU supports AVX-512 F and VNNI; `a` holds at least `4·N` bytes.
#[inline(always)]
pub(crate) unsafe fn dot_words16<const N: usize>(q: &[__m512i; N], a: &[i8]) -> __m512i {
    // SAFETY: forwarded.
    unsafe { dot_words16_from(_mm512_setzero_si512(), q, a) }
}

/// `start + Σ_g q[g]·a[4g..4g+4]` in each of the sixteen lanes, as [`dot_words16`] with the
/// first chain starting at `start` instead of zero (one addition fewer; integer sums are exact,
/// and wrap as the pairs' own additions would).
///
/// # Safety
/// As [`dot_words16`].
#[inline(always)]
pub(crate) unsafe fn dot_words16_from<const N: usize>(
    start: __m512i,
    q: &[__m512i; N],
    a: &[i8],
) -> __m512i {
    debug_assert!(a.len() >= 4 * N);
    // SAFETY: register-only VNNI operations and four-byte reads inside `a` (the caller's words).
    unsafe {
        let mut even = start;
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

/// The [`BlockScalars`] of a Q8_0 activation block of quant sum `a_sum` against a format
/// stored as unsigned bytes `q + offset`: the correction `-offset·a_sum` and the block's scale.
#[inline(always)]
pub(crate) fn offset_scalars(a: &BlockQ8_0, a_sum: i32, offset: i32) -> BlockScalars {
    BlockScalars {
        offset: a_sum.wrapping_mul(offset).wrapping_neg(),
        d: a.d.to_f32(),
        s: 0.0,
    }
}

/// The sixteen rows' terms of a format stored as unsigned bytes `q + offset` against a Q8_0
/// activation block `a` of [`offset_scalars`] `k`: `(d·dy)·(Σ q·a - offset·Σ a)`, lane by lane
/// the operations of the 256-bit pairs (`Σ (q + offset)·a` exact in 32 bits, then the
/// correction — the same wrapping sum —, the scale product and the term, unfused).
///
/// # Safety
/// The CPU supports AVX-512 F/VNNI.
#[inline(always)]
pub(crate) unsafe fn offset_terms(r: &WideReady, a: &BlockQ8_0, k: &BlockScalars) -> __m512 {
    // SAFETY: register-only operations and reads inside `a.qs`.
    unsafe {
        let isum = dot_words16_from(_mm512_set1_epi32(k.offset), &r.q, &a.qs);
        let dd = _mm512_mul_ps(r.d, _mm512_set1_ps(k.d));
        _mm512_mul_ps(dd, _mm512_cvtepi32_ps(isum))
    }
}

/// `Σ_g q[g]·a[4g..4g+4]` of two unpacked blocks against the same activation words, each
/// started at `start`: [`dot_words16_from`] of `q0` and of `q1`, each word broadcast once for
/// both (broadcast loads, not the multiplies, bound the one-block form).
///
/// # Safety
/// As [`dot_words16`].
#[inline(always)]
pub(crate) unsafe fn dot_words16_twice(
    start: __m512i,
    q0: &[__m512i; 8],
    q1: &[__m512i; 8],
    a: &[i8],
) -> [__m512i; 2] {
    debug_assert!(a.len() >= 32);
    // SAFETY: register-only VNNI operations and four-byte reads inside `a` (the caller's words).
    unsafe {
        let (mut e0, mut e1) = (start, start);
        let (mut o0, mut o1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        for g in 0..8 {
            let aw = _mm512_set1_epi32(core::ptr::read_unaligned(
                a.as_ptr().add(4 * g) as *const i32
            ));
            if g % 2 == 0 {
                e0 = _mm512_dpbusd_epi32(e0, q0[g], aw);
                e1 = _mm512_dpbusd_epi32(e1, q1[g], aw);
            } else {
                o0 = _mm512_dpbusd_epi32(o0, q0[g], aw);
                o1 = _mm512_dpbusd_epi32(o1, q1[g], aw);
            }
        }
        [_mm512_add_epi32(e0, o0), _mm512_add_epi32(e1, o1)]
    }
}

/// [`offset_terms`] of `r0` and of `r1` against the same block, the activation words
/// broadcast once for both.
///
/// # Safety
/// As [`offset_terms`].
#[inline(always)]
pub(crate) unsafe fn offset_terms2(
    r0: &WideReady,
    r1: &WideReady,
    a: &BlockQ8_0,
    k: &BlockScalars,
) -> [__m512; 2] {
    // SAFETY: register-only operations and reads inside `a.qs`.
    unsafe {
        let [i0, i1] = dot_words16_twice(_mm512_set1_epi32(k.offset), &r0.q, &r1.q, &a.qs);
        let dy = _mm512_set1_ps(k.d);
        let (dd0, dd1) = (_mm512_mul_ps(r0.d, dy), _mm512_mul_ps(r1.d, dy));
        [
            _mm512_mul_ps(dd0, _mm512_cvtepi32_ps(i0)),
            _mm512_mul_ps(dd1, _mm512_cvtepi32_ps(i1)),
        ]
    }
}

/// The [`X8Pair`] items that hand a [`WidePair`] two stripes at a time, for its `impl X8Pair`:
/// to [`tile_pair`], or to the tile named (`pairs_stripes!(tile_pair_k)` for [`KGroups`] pairs).
macro_rules! pairs_stripes {
    () => {
        $crate::x86::avx512::x8_wide::pairs_stripes!(tile_pair);
    };
    ($tile:ident) => {
        const PAIRS_STRIPES: bool = true;

        #[inline(always)]
        unsafe fn tile_pair(
            w0: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Packed],
            w1: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Packed],
            a: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Act],
            sums: &[i32],
            scalars: &[$crate::x8_walk::BlockScalars],
            nt: usize,
            out: &mut [f32],
            ld: usize,
            live1: usize,
        ) {
            // SAFETY: forwarded.
            unsafe {
                $crate::x86::avx512::x8_wide::$tile::<Self>(
                    w0, w1, a, sums, scalars, nt, out, ld, live1,
                )
            }
        }
    };
}

pub(crate) use pairs_stripes;

/// The [`X8Pair`] items that hand a [`WidePair`] four stripes at a time (and two where four do
/// not remain), for its `impl X8Pair`.
macro_rules! quads_stripes {
    () => {
        $crate::x86::avx512::x8_wide::pairs_stripes!();

        const QUADS_STRIPES: bool = true;

        #[inline(always)]
        unsafe fn tile_quad(
            w: [&[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Packed];
                4],
            a: &[<<Self as $crate::x8_walk::X8Pair>::Twin as $crate::generic::x8::X8Format>::Act],
            sums: &[i32],
            scalars: &[$crate::x8_walk::BlockScalars],
            nt: usize,
            out: &mut [f32],
            ld: usize,
            live3: usize,
        ) {
            // SAFETY: forwarded.
            unsafe {
                $crate::x86::avx512::x8_wide::tile_quad::<Self>(
                    w, a, sums, scalars, nt, out, ld, live3,
                )
            }
        }
    };
}

pub(crate) use quads_stripes;

/// Reduces sixteen rows' eight block lanes as `reduce8` does (the one-stripe walk's
/// `store_row`: `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`) and stores the rows of
/// `live` at `out`.
///
/// # Safety
/// The CPU supports AVX-512 F; `out` holds a float for every set bit of `live` (its first ones).
#[inline(always)]
unsafe fn store_lanes(l: &[__m512; BLOCK_LANES], out: &mut [f32], live: __mmask16) {
    debug_assert!(out.len() >= live.count_ones() as usize);
    // SAFETY: register-only AVX-512 F operations; the masked store writes only the live rows,
    // inside `out` by the caller's promise.
    unsafe {
        let s0 = _mm512_add_ps(l[0], l[4]);
        let s1 = _mm512_add_ps(l[1], l[5]);
        let s2 = _mm512_add_ps(l[2], l[6]);
        let s3 = _mm512_add_ps(l[3], l[7]);
        let v = _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
        _mm512_mask_storeu_ps(out.as_mut_ptr(), live, v);
    }
}

/// Stripes `w0` (eight live rows) and `w1` (`live1` live rows) against `nt` activation rows of
/// `w0.len()` blocks (`a` rows one after another, `sums` and `scalars` their blocks'
/// [`X8Pair::act_sum`] and [`X8Pair::act_scalars`], or empty to work them out here, for pairs
/// that need them): row `t`'s outputs of stripe 0 at `out[t·ld..t·ld + 8]`, of stripe 1 at
/// `out[t·ld + 8..t·ld + 8 + live1]`. The bits of two one-stripe tiles.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C; `w1.len() == w0.len()`,
/// `a.len() == nt·w0.len()`, `1 <= nt <= TILE`; `sums` and `scalars` are each empty or
/// `a.len()` long; `out.len() >= (nt - 1)·ld + 8 + live1`, `1 <= live1 <= 8`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn tile_pair<P: WidePair>(
    w0: &[Packed<P>],
    w1: &[Packed<P>],
    a: &[Act<P>],
    sums: &[i32],
    scalars: &[BlockScalars],
    nt: usize,
    out: &mut [f32],
    ld: usize,
    live1: usize,
) {
    let nb = w0.len();
    if (P::ACT_SUMS && sums.len() != nt * nb) || (P::ACT_SCALARS && scalars.len() != nt * nb) {
        // The walk keeps both for every two-stripe tile; without them, the one-stripe tiles
        // work them out (the same bits), so the loop below reads them unconditionally.
        // SAFETY: forwarded; stripe 1's outputs start 8 floats on.
        unsafe {
            stripe_tile::<P>(w0, a, sums, nt, out, ld, X8_ROWS);
            stripe_tile::<P>(w1, a, sums, nt, &mut out[X8_ROWS..], ld, live1);
        }
        return;
    }
    // SAFETY: the features are the caller's promise; every pointer below stays inside `w0`,
    // `w1`, `a`, `sums`, `scalars` or `acc` (indices `t < nt <= TILE`, `b < nb`, block index
    // `t·nb + b < a.len()`, lanes `< 8`); each
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
            // Block `b` of activation row `t` is block `t·nb + b` of the tile.
            let mut i = b;
            for t in 0..nt {
                let ab = a.get_unchecked(i);
                let a_sum = if P::ACT_SUMS {
                    *sums.get_unchecked(i)
                } else {
                    0
                };
                let k = if P::ACT_SCALARS {
                    scalars.get_unchecked(i)
                } else {
                    &BlockScalars::ZERO
                };
                let slot = acc.add(t * BLOCK_LANES + lane);
                let prev = if first {
                    _mm512_setzero_ps()
                } else {
                    slot.read()
                };
                slot.write(_mm512_add_ps(prev, P::terms_wide(&r, ab, a_sum, k)));
                i += nb;
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
            // `out` holds `8 + live1` floats from `t·ld`.
            store_lanes(l, &mut out[t * ld..], live);
        }
    }
}

/// Stripes `w[0..4]` (three whole, `w[3]` with `live3` live rows) against `nt` activation rows
/// of `w[0].len()` blocks, with `sums` and `scalars` as [`tile_pair`]'s: row `t`'s outputs of
/// stripe `j` at `out[t·ld + 8j..]`. The bits of two [`tile_pair`]s: each register of sixteen
/// rows goes through the same operations, only the activation words' broadcasts are shared.
///
/// # Safety
/// As [`tile_pair`], for four stripes of `w[0].len()` blocks, `out.len() >= (nt - 1)·ld + 24 +
/// live3`, `1 <= live3 <= 8`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn tile_quad<P: WidePair>(
    w: [&[Packed<P>]; 4],
    a: &[Act<P>],
    sums: &[i32],
    scalars: &[BlockScalars],
    nt: usize,
    out: &mut [f32],
    ld: usize,
    live3: usize,
) {
    let nb = w[0].len();
    if (P::ACT_SUMS && sums.len() != nt * nb) || (P::ACT_SCALARS && scalars.len() != nt * nb) {
        // As in `tile_pair`: the walk keeps both; without them, two pairs (the same bits).
        // SAFETY: forwarded; stripes 2 and 3's outputs start 16 floats on.
        unsafe {
            tile_pair::<P>(w[0], w[1], a, sums, scalars, nt, out, ld, X8_ROWS);
            tile_pair::<P>(
                w[2],
                w[3],
                a,
                sums,
                scalars,
                nt,
                &mut out[2 * X8_ROWS..],
                ld,
                live3,
            );
        }
        return;
    }
    // SAFETY: the features are the caller's promise; every pointer below stays inside `w`,
    // `a`, `sums`, `scalars` or `acc` (indices `t < nt <= TILE`, `b < nb`, block index
    // `t·nb + b < a.len()`, lanes `< 8`, halves `< 2`); each accumulator is written (by its
    // first block, or zeroed when `nb < 8` leaves it without one) before it is read; the
    // masked stores write `16` and `8 + live3` floats from `t·ld` and `t·ld + 16`, inside
    // `out` by the caller's promise.
    unsafe {
        // Block `b < 8` starts its lane at `0 + term`, the twin's first addition.
        let mut acc_store = MaybeUninit::<[[[__m512; 2]; BLOCK_LANES]; TILE]>::uninit();
        let acc = acc_store.as_mut_ptr().cast::<[__m512; 2]>();
        let (mut r0, mut r1) = (P::new_wide(), P::new_wide());
        for b in 0..nb {
            P::ready_wide(w[0].get_unchecked(b), w[1].get_unchecked(b), &mut r0);
            P::ready_wide(w[2].get_unchecked(b), w[3].get_unchecked(b), &mut r1);
            let lane = b % BLOCK_LANES;
            let first = b < BLOCK_LANES;
            // Block `b` of activation row `t` is block `t·nb + b` of the tile.
            let mut i = b;
            for t in 0..nt {
                let ab = a.get_unchecked(i);
                let a_sum = if P::ACT_SUMS {
                    *sums.get_unchecked(i)
                } else {
                    0
                };
                let k = if P::ACT_SCALARS {
                    scalars.get_unchecked(i)
                } else {
                    &BlockScalars::ZERO
                };
                let slot = acc.add(t * BLOCK_LANES + lane);
                let [v0, v1] = P::terms_wide2(&r0, &r1, ab, a_sum, k);
                let [p0, p1] = if first {
                    [_mm512_setzero_ps(); 2]
                } else {
                    slot.read()
                };
                slot.write([_mm512_add_ps(p0, v0), _mm512_add_ps(p1, v1)]);
                i += nb;
            }
        }
        for t in 0..nt {
            for lane in nb.min(BLOCK_LANES)..BLOCK_LANES {
                acc.add(t * BLOCK_LANES + lane)
                    .write([_mm512_setzero_ps(); 2]);
            }
        }
        let live = [first_lanes(2 * X8_ROWS), first_lanes(X8_ROWS + live3)];
        for t in 0..nt {
            let l = &*acc
                .add(t * BLOCK_LANES)
                .cast::<[[__m512; 2]; BLOCK_LANES]>();
            for (h, &live_h) in live.iter().enumerate() {
                // (No closure: it would lose the leaf's features.)
                let half = [
                    l[0][h], l[1][h], l[2][h], l[3][h], l[4][h], l[5][h], l[6][h], l[7][h],
                ];
                // `out` holds `16` and `8 + live3` floats from `t·ld` and `t·ld + 16`.
                store_lanes(&half, &mut out[t * ld + 2 * X8_ROWS * h..], live_h);
            }
        }
    }
}

/// [`tile_pair`] of a [`KGroups`] pair (whose terms need neither block sums nor scalars): per
/// super-block, group by group over every activation row, each row's exact integer sum kept
/// in `isums`, then each row's float term into its block lane. The integer sums are exact, so
/// their order is free; every float step is [`WidePair::terms_wide`]'s, in its order: the
/// bits of two one-stripe tiles.
///
/// # Safety
/// As [`tile_pair`] (`sums` and `scalars` are not read).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn tile_pair_k<P: KGroups>(
    w0: &[Packed<P>],
    w1: &[Packed<P>],
    a: &[Act<P>],
    _sums: &[i32],
    _scalars: &[BlockScalars],
    nt: usize,
    out: &mut [f32],
    ld: usize,
    live1: usize,
) {
    let nb = w0.len();
    // SAFETY: the features are the caller's promise; every pointer below stays inside `w0`,
    // `w1`, `a`, `isums` or `acc` (indices `t < nt <= TILE`, `b < nb`, block index
    // `t·nb + b < a.len()`, lanes `< 8`, groups `< GROUPS`); each row's integer sum is
    // zeroed before its groups add to it; each accumulator is written (by its first block, or
    // zeroed when `nb < 8` leaves it without one) before it is read; the masked stores write
    // `8 + live1` floats from `t·ld`, inside `out` by the caller's promise.
    unsafe {
        let mut acc_store = MaybeUninit::<[[__m512; BLOCK_LANES]; TILE]>::uninit();
        let acc = acc_store.as_mut_ptr().cast::<__m512>();
        let mut isum_store = MaybeUninit::<[__m512i; TILE]>::uninit();
        let isums = isum_store.as_mut_ptr().cast::<__m512i>();
        let mut r = P::new_wide();
        for b in 0..nb {
            P::ready_wide(w0.get_unchecked(b), w1.get_unchecked(b), &mut r);
            for t in 0..nt {
                isums.add(t).write(_mm512_setzero_si512());
            }
            for g in 0..P::GROUPS {
                let words = P::group_words(&r, g);
                let sc = P::group_scale(&r, g);
                // Block `b` of activation row `t` is block `t·nb + b` of the tile.
                let mut i = b;
                for t in 0..nt {
                    let slot = isums.add(t);
                    slot.write(P::group_sum(&words, sc, a.get_unchecked(i), g, slot.read()));
                    i += nb;
                }
            }
            let lane = b % BLOCK_LANES;
            let first = b < BLOCK_LANES;
            let mut i = b;
            for t in 0..nt {
                let term = P::finish_wide(&r, a.get_unchecked(i), isums.add(t).read());
                let slot = acc.add(t * BLOCK_LANES + lane);
                let prev = if first {
                    _mm512_setzero_ps()
                } else {
                    slot.read()
                };
                slot.write(_mm512_add_ps(prev, term));
                i += nb;
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
            // `out` holds `8 + live1` floats from `t·ld`.
            store_lanes(l, &mut out[t * ld..], live);
        }
    }
}
