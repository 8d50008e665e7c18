//! AVX-512 F16 gemm for calls with a few activation rows (a decode step's queries of one KV
//! group against a block of cached key rows), bit-identical to [`crate::generic::vec_dot_f16`]
//! for every element.
//!
//! The twin adds element `i`'s product into lane `i % 32`, then reduces the 32 lanes in a fixed
//! tree ([`reduce32`](crate::generic::accumulate::reduce32)): first
//! `s[j] = (A[j] + A[j + 8]) + (A[j + 16] + A[j + 24])`, then
//! [`reduce8`](crate::generic::accumulate::reduce8) of `s`. Here a register holds lanes
//! `8t..8t + 8` of the twin for *two* key rows (row a in its low half, row b in its high half,
//! loaded side by side), so the first step is vertical adds of four registers; `reduce8` is then
//! finished for sixteen rows at once by three rounds of shuffles and adds, each row's additions
//! in the twin's order. Each key row is widened once for every query of the call, and no
//! transposition is needed (the transposed gemm of [`super::f16_gemm`] pays one per call, which
//! a few queries do not repay).

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use half::f16;

use crate::x86::avx512::first_lanes as lanes;
use crate::x86::prefetch::prefetch_lines;

/// Most activation rows one pass over the key rows serves (four queries' partial sums, the
/// widened key register and the reduction's partial results fit the 32 registers).
pub(crate) const MAX_Q: usize = 4;
/// Longest row taken (the duplicated widened queries live on the stack).
pub(crate) const MAX_N: usize = 256;
/// Rows whose sums are finished together.
const GROUP: usize = 16;
/// How far ahead of the group being multiplied the key rows are prefetched, in bytes.
const PREFETCH_AHEAD: usize = 4096;

/// A row of zero halves, read in place of the missing rows of a last, short group.
static ZEROS: [u16; MAX_N] = [0; MAX_N];

/// Widens activation rows `c0..c0 + q` (`n` halves each, `n` a multiple of 8) into `ys`, each
/// eight elements twice in a row: query `j`'s elements `8k..8k + 8` at `ys[j·2n + 16k..]` and
/// again eight floats on, the operand of both halves of a register of two key rows.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL; `act` holds the rows; `ys` holds `2·q·n` floats.
#[inline(always)]
unsafe fn widen_twice(act: &[f16], n: usize, c0: usize, q: usize, ys: &mut [MaybeUninit<f32>]) {
    debug_assert!(act.len() >= (c0 + q) * n && ys.len() >= 2 * q * n && n.is_multiple_of(8));
    // SAFETY: 16-byte loads of halves `< (c0 + q)·n` of `act`, 64-byte stores of floats
    // `< 2·q·n` of `ys`; the caller's features.
    unsafe {
        let src = act.as_ptr().add(c0 * n);
        let dst = ys.as_mut_ptr().cast::<f32>();
        let mut i = 0;
        while i < q * n {
            let h = _mm_loadu_si128(src.add(i).cast());
            let both = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(h), h);
            _mm512_storeu_ps(dst.add(2 * i), _mm512_cvtph_ps(both));
            i += 8;
        }
    }
}

/// The twin's `s` (the first step of `reduce32`) of key rows `a` and `b` with each of `Q`
/// queries: lanes `0..8` row a's, lanes `8..16` row b's.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, FMA and F16C; `a` and `b` point at `n` halves (`n` a
/// multiple of 32); every `ys[q]` at `2n` floats from [`widen_twice`].
#[inline(always)]
unsafe fn pair_sums<const Q: usize>(
    a: *const f16,
    b: *const f16,
    n: usize,
    ys: &[*const f32; Q],
) -> [__m512; Q] {
    // SAFETY: 16-byte loads at `i < n` of both rows (`i + 8 <= n`), 64-byte loads at `2i` of
    // the widened queries; the caller's features.
    unsafe {
        // g[q][t]: lanes 8t..8t + 8 of the twin's 32, for both rows.
        let mut g = [[_mm512_setzero_ps(); 4]; Q];
        for t in 0..4 {
            let mut i = 8 * t;
            while i < n {
                let h = _mm256_inserti128_si256::<1>(
                    _mm256_castsi128_si256(_mm_loadu_si128(a.add(i).cast())),
                    _mm_loadu_si128(b.add(i).cast()),
                );
                let k = _mm512_cvtph_ps(h);
                for (g, y) in g.iter_mut().zip(ys) {
                    // A product of two halves is exact: fused or not, one rounding.
                    g[t] = _mm512_fmadd_ps(k, _mm512_loadu_ps(y.add(2 * i)), g[t]);
                }
                i += 32;
            }
        }
        core::array::from_fn(|q| {
            let g = &g[q];
            _mm512_add_ps(_mm512_add_ps(g[0], g[1]), _mm512_add_ps(g[2], g[3]))
        })
    }
}

/// Lanes `0..4` of four rows' `reduce8` first step, one 128-bit chunk a row: from `[s_a | s_b]`
/// and `[s_c | s_d]`, `[s0 + s4, s1 + s5, s2 + s6, s3 + s7]` of rows a, b, c, d.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
unsafe fn fold_halves<const Q: usize>(s1: [__m512; Q], s2: [__m512; Q]) -> [__m512; Q] {
    // SAFETY: register operations; the caller's features.
    core::array::from_fn(|q| unsafe {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(s1[q], s2[q]),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(s1[q], s2[q]),
        )
    })
}

/// The sums of the sixteen key rows from `w` (`live` of them; rows of `n` halves) with `Q`
/// queries, lane `r` row `r`'s, each `reduce8(s)` =
/// `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))` in that order.
///
/// # Safety
/// As [`pair_sums`], with `w` holding `live <= 16` rows of `n` halves and `n <= MAX_N`.
#[inline(always)]
unsafe fn group_sums<const Q: usize>(
    w: *const f16,
    n: usize,
    live: usize,
    ys: &[*const f32; Q],
) -> [__m512; Q] {
    let row = |r: usize| {
        if r < live {
            w.wrapping_add(r * n)
        } else {
            ZEROS.as_ptr().cast::<f16>()
        }
    };
    // SAFETY: rows `< live` lie in `w`, the others are `ZEROS` (`n <= MAX_N`); register
    // operations otherwise; the caller's features.
    unsafe {
        let mut u = [[_mm512_setzero_ps(); Q]; 2];
        for (h, u) in u.iter_mut().enumerate() {
            let mut t = [[_mm512_setzero_ps(); Q]; 2];
            for (j, t) in t.iter_mut().enumerate() {
                let r = 8 * h + 4 * j;
                // Four rows ahead, a few lines at a time: a whole group's lines asked for at
                // once fill the line-fill buffers and stall.
                prefetch_lines(
                    w.wrapping_add(r * n)
                        .cast::<u8>()
                        .wrapping_add(PREFETCH_AHEAD),
                    4 * 2 * n,
                );
                let s1 = pair_sums::<Q>(row(r), row(r + 1), n, ys);
                let s2 = pair_sums::<Q>(row(r + 2), row(r + 3), n, ys);
                // Chunk k: row r + k's [s0 + s4, s1 + s5, s2 + s6, s3 + s7].
                *t = fold_halves::<Q>(s1, s2);
            }
            // Chunk k: [u0, u1] of row 8h + k, then of row 8h + 4 + k, where
            // u0 = (s0 + s4) + (s2 + s6) and u1 = (s1 + s5) + (s3 + s7).
            *u = core::array::from_fn(|q| {
                _mm512_add_ps(
                    _mm512_shuffle_ps::<0b01_00_01_00>(t[0][q], t[1][q]),
                    _mm512_shuffle_ps::<0b11_10_11_10>(t[0][q], t[1][q]),
                )
            });
        }
        // Lane 4k + l: u0 + u1 of row 4l + k; put row r in lane r.
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        core::array::from_fn(|q| {
            let r = _mm512_add_ps(
                _mm512_shuffle_ps::<0b10_00_10_00>(u[0][q], u[1][q]),
                _mm512_shuffle_ps::<0b11_01_11_01>(u[0][q], u[1][q]),
            );
            _mm512_permutexvar_ps(order, r)
        })
    }
}

/// The products of every key row of `w` (`rows` rows of `n` halves) with `Q` queries `ys`,
/// written to `out[q·rows + r]`.
///
/// # Safety
/// As [`group_sums`], with `w` holding `rows` rows and `out` `Q·rows` floats.
#[inline(always)]
unsafe fn pass<const Q: usize>(
    w: &[f16],
    n: usize,
    rows: usize,
    ys: &[*const f32; Q],
    out: *mut f32,
) {
    let mut r0 = 0;
    while r0 < rows {
        let live = (rows - r0).min(GROUP);
        // SAFETY: rows `r0..r0 + live` of `w`; masked stores of `live` floats at
        // `q·rows + r0`, inside `out`; prefetched addresses are a hint only.
        unsafe {
            let g = w.as_ptr().add(r0 * n);
            let sums = match n {
                64 => group_sums::<Q>(g, 64, live, ys),
                128 => group_sums::<Q>(g, 128, live, ys),
                256 => group_sums::<Q>(g, 256, live, ys),
                _ => group_sums::<Q>(g, n, live, ys),
            };
            for (q, s) in sums.iter().enumerate() {
                _mm512_mask_storeu_ps(out.add(q * rows + r0), lanes(live), *s);
            }
        }
        r0 += live;
    }
}

/// F16 gemm for up to [`MAX_Q`] activation rows at a time: `out[c·rows + r] = vec_dot(row r,
/// activation row c)`, `rows = out.len() / n_act`, each element bit-identical to the twin's.
/// Returns false, writing nothing, for shapes it does not take (`n` not a multiple of 32 or
/// over [`MAX_N`]).
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, AVX2, FMA and F16C; `act` holds `n_act` rows of `n` halves
/// and `w` `rows` rows of as many (the [`crate::table::GemmFn`] contract).
#[inline(always)]
pub(crate) unsafe fn gemm_f16_few(w: &[f16], act: &[f16], n_act: usize, out: &mut [f32]) -> bool {
    let n = act.len() / n_act.max(1);
    let rows = out.len() / n_act.max(1);
    if n_act == 0 || n == 0 || !n.is_multiple_of(32) || n > MAX_N || w.len() < rows * n {
        return false;
    }
    let w = &w[..rows * n];
    // Written before read: the first `2·q·n` floats, by `widen_twice`.
    let mut ys = [MaybeUninit::<f32>::uninit(); 2 * MAX_Q * MAX_N];
    let base = out.as_mut_ptr();
    let mut c0 = 0;
    while c0 < n_act {
        let q = (n_act - c0).min(MAX_Q);
        // SAFETY: rows `c0..c0 + q` of `act`; `2·q·n <= 2·MAX_Q·MAX_N`; `n` a multiple of 32,
        // `w` `rows` rows of `n`; columns `c0..c0 + q` of `out`; the caller's features.
        unsafe {
            widen_twice(act, n, c0, q, &mut ys);
            let y = |j: usize| ys[2 * j * n..].as_ptr().cast::<f32>();
            let o = base.add(c0 * rows);
            match q {
                4 => pass::<4>(w, n, rows, &[y(0), y(1), y(2), y(3)], o),
                3 => pass::<3>(w, n, rows, &[y(0), y(1), y(2)], o),
                2 => pass::<2>(w, n, rows, &[y(0), y(1)], o),
                _ => pass::<1>(w, n, rows, &[y(0)], o),
            }
        }
        c0 += q;
    }
    true
}
