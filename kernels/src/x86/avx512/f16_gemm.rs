//! AVX-512 F16 gemm (attention scores: a block of cached key rows against a chunk's queries),
//! bit-identical to [`crate::generic::vec_dot_f16`] for every element.
//!
//! The twin adds element `i`'s product into lane `i % 32` and then reduces the 32 lanes in a
//! fixed tree ([`reduce32`](crate::generic::accumulate::reduce32)). For short rows (a head of 64
//! is two products a lane) that reduction costs more than the products when each row's lanes
//! sit in one register. Here the registers hold sixteen *rows* instead: the rows of a group
//! are transposed once (element `i` of the sixteen rows in one register, widened), so lane `j`
//! of the twin becomes a register, each product is one multiply-add for sixteen rows, and the
//! whole reduction tree is vertical adds — the twin's additions in the twin's order, sixteen
//! rows at a time. The transposition is shared by every query of the call, so short calls (a
//! decode step's few queries) take [`gemm_f16_few`] instead (or, for rows it does not take,
//! the AVX2 gemm).

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use half::f16;

use crate::generic::accumulate::FLOAT_LANES;
use crate::x86::avx2::f16_dot::gemm_f16_avx2;
use crate::x86::avx512::f16_few_queries::gemm_f16_few;
use crate::x86::avx512::first_lanes as lanes;

/// Rows (keys) a group transposes: one per lane.
const GROUP: usize = 16;
/// Longest row the transposed gemm takes (its transposed group and widened queries live on the
/// stack); longer rows take the AVX2 gemm.
const MAX_N: usize = 256;
/// Floats of widened activation rows held at once (32 KB).
const ACT_FLOATS: usize = 8192;
/// Fewest activation rows worth a transposition.
const MIN_ACT: usize = 8;
/// Activation rows each pass over a transposed group serves for rows of at most
/// [`SHORT_ROW`] elements: each widened key column loaded serves four queries (with two,
/// SmolLM2's pp2048 spent about 11 % more samples in the scores).
const PASS_SHORT: usize = 4;
/// Rows at most this long take passes of [`PASS_SHORT`] queries; longer ones take passes of
/// [`PASS_LONG`] (Gemma 3's head of 256 was 5 % slower in passes of four: its sixteen lane
/// accumulators and partial sums do not stay in registers).
const SHORT_ROW: usize = 64;
/// Activation rows each pass over a transposed group of longer rows serves.
const PASS_LONG: usize = 2;

/// Transposes rows `0..live` of the group at `w` (rows of `n` halves, `n` even) into `kt`:
/// `kt[16·i + r]` = element `i` of row `r`, widened; lanes of missing rows are zero.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL; `w` points at `live <= 16` rows of `n` halves; `kt` holds
/// `16·n` floats.
#[inline(always)]
unsafe fn transpose_group(w: *const f16, n: usize, live: usize, kt: &mut [MaybeUninit<f32>]) {
    debug_assert!(n.is_multiple_of(2) && kt.len() >= GROUP * n);
    if n.is_multiple_of(2 * GROUP) {
        // SAFETY: forwarded.
        unsafe { transpose_by_permutes(w, n, live, kt) };
        return;
    }
    let mask = lanes(live);
    // SAFETY: each gathered word is elements `i, i + 1 < n` of a live row (masked-off lanes
    // are not read); `kt` holds `16·n` floats; the features are the caller's.
    unsafe {
        // Row r starts r·n halves (r·n/2 words) into the group.
        let index = _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32((n / 2) as i32),
        );
        let mut i = 0;
        while i < n {
            let words = _mm512_mask_i32gather_epi32::<4>(
                _mm512_setzero_si512(),
                mask,
                index,
                w.add(i).cast(),
            );
            store_word_column(words, i, kt);
            i += 2;
        }
    }
}

/// Widens a register of sixteen rows' words (elements `i`, `i + 1` of each row) into
/// `kt[16·i..]` and `kt[16·(i + 1)..]`.
///
/// # Safety
/// The CPU supports AVX-512 F/BW; `kt` holds `16·(i + 2)` floats.
#[inline(always)]
unsafe fn store_word_column(words: __m512i, i: usize, kt: &mut [MaybeUninit<f32>]) {
    debug_assert!(kt.len() >= GROUP * (i + 2));
    // SAFETY: two stores of sixteen floats inside `kt`; the caller's features.
    unsafe {
        let out = kt.as_mut_ptr().cast::<f32>();
        let even = _mm512_cvtepi32_epi16(words);
        let odd = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(words));
        _mm512_storeu_ps(out.add(GROUP * i), _mm512_cvtph_ps(even));
        _mm512_storeu_ps(out.add(GROUP * (i + 1)), _mm512_cvtph_ps(odd));
    }
}

/// The `vpermt2d` indices of one round of [`transpose_by_permutes`]: the round swaps the
/// off-diagonal h × h blocks of every 2h × 2h block. For rows `r` and `r + h` (`r & h = 0`),
/// `lo` keeps row r's columns `c & h = 0` and takes row r + h's column `c - h` for the others;
/// `hi` takes row r's column `c + h` where `c & h = 0` and keeps row r + h's others (the second
/// operand's lanes are numbered 16..32).
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
unsafe fn swap_indices(h: i32) -> (__m512i, __m512i) {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let c = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let hv = _mm512_set1_epi32(h);
        let upper = _mm512_test_epi32_mask(c, hv);
        let sixteen = _mm512_set1_epi32(16);
        let lo = _mm512_mask_add_epi32(c, upper, _mm512_sub_epi32(c, hv), sixteen);
        let hi = _mm512_mask_add_epi32(_mm512_add_epi32(c, hv), upper, c, sixteen);
        (lo, hi)
    }
}

/// [`transpose_group`] for rows of a multiple of 32 halves: sixteen words (32 halves) of each
/// row loaded whole, the 16 × 16 words transposed in registers by four rounds of block swaps
/// (`vpermt2d`), instead of one gather per word column (gathers are slow, and slower still on
/// CPUs with the gather data sampling mitigation).
///
/// # Safety
/// As [`transpose_group`], with `n` a multiple of 32.
#[inline(always)]
unsafe fn transpose_by_permutes(w: *const f16, n: usize, live: usize, kt: &mut [MaybeUninit<f32>]) {
    debug_assert!(n.is_multiple_of(2 * GROUP) && live <= GROUP);
    // SAFETY: the loads read halves `32·j..32·j + 32 <= n` of live rows only; the caller's
    // features; `kt` as the caller promises.
    unsafe {
        let rounds = [
            swap_indices(8),
            swap_indices(4),
            swap_indices(2),
            swap_indices(1),
        ];
        let mut j = 0;
        while 2 * GROUP * j < n {
            let mut m = [_mm512_setzero_si512(); GROUP];
            for (r, mr) in m.iter_mut().enumerate().take(live) {
                *mr = _mm512_loadu_si512(w.add(r * n + 2 * GROUP * j).cast());
            }
            for (k, (lo, hi)) in rounds.iter().enumerate() {
                let h = GROUP >> (k + 1);
                for r in 0..GROUP {
                    if r & h == 0 {
                        let (a, b) = (m[r], m[r + h]);
                        m[r] = _mm512_permutex2var_epi32(a, *lo, b);
                        m[r + h] = _mm512_permutex2var_epi32(a, *hi, b);
                    }
                }
            }
            // Register `c` now holds word `16·j + c` of every row.
            for (c, words) in m.iter().enumerate() {
                store_word_column(*words, 2 * (GROUP * j + c), kt);
            }
            j += 1;
        }
    }
}

/// Lane `jj` of [`reduce8`](crate::generic::accumulate::reduce8)'s input for sixteen rows and
/// each of `Q` activation rows: `(A[jj] + A[jj + 8]) + (A[jj + 16] + A[jj + 24])`, where
/// `A[j]` is the twin's lane `j` (the products of elements `j, j + 32, …`, in that order).
///
/// # Safety
/// As [`group_products`].
#[inline(always)]
unsafe fn lane_sums<const Q: usize>(
    kt: *const f32,
    n: usize,
    ys: &[*const f32; Q],
    jj: usize,
) -> [__m512; Q] {
    // SAFETY: loads of `kt` at `16·i` and of `ys[q]` at `i`, `i < n`; the caller's features.
    unsafe {
        let mut a = [[_mm512_setzero_ps(); 4]; Q];
        for m in 0..4 {
            let mut i = jj + 8 * m;
            while i < n {
                let k = _mm512_loadu_ps(kt.add(GROUP * i));
                for (a, y) in a.iter_mut().zip(ys) {
                    // A product of two halves is exact: fused or not, one rounding.
                    a[m] = _mm512_fmadd_ps(k, _mm512_set1_ps(*y.add(i)), a[m]);
                }
                i += FLOAT_LANES;
            }
        }
        core::array::from_fn(|q| {
            let a = &a[q];
            _mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]))
        })
    }
}

/// Lane-wise `a + b` of two sets of `Q` registers.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
unsafe fn add<const Q: usize>(a: [__m512; Q], b: [__m512; Q]) -> [__m512; Q] {
    // SAFETY: register arithmetic; the caller's features.
    core::array::from_fn(|q| unsafe { _mm512_add_ps(a[q], b[q]) })
}

/// The sixteen rows' products with `Q` widened activation rows `ys` (`n` floats each), in the
/// twin's order: lane `j` of the twin (elements `j, j + 32, …`) is one register of sixteen rows,
/// and [`reduce8`](crate::generic::accumulate::reduce8)'s tree is taken in the order that keeps
/// the fewest partial sums live: `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))`.
///
/// # Safety
/// The CPU supports AVX-512 F and FMA; `kt` holds a transposed group of rows of `n` elements
/// ([`transpose_group`]); every `ys[q]` points at `n` floats.
#[inline(always)]
unsafe fn group_products<const Q: usize>(
    kt: *const f32,
    n: usize,
    ys: &[*const f32; Q],
) -> [__m512; Q] {
    // SAFETY: forwarded.
    unsafe {
        // Direct calls, not a closure: a closure would not carry the caller's target features.
        let s04 = add(lane_sums::<Q>(kt, n, ys, 0), lane_sums::<Q>(kt, n, ys, 4));
        let s26 = add(lane_sums::<Q>(kt, n, ys, 2), lane_sums::<Q>(kt, n, ys, 6));
        let s15 = add(lane_sums::<Q>(kt, n, ys, 1), lane_sums::<Q>(kt, n, ys, 5));
        let s37 = add(lane_sums::<Q>(kt, n, ys, 3), lane_sums::<Q>(kt, n, ys, 7));
        add(add(s04, s26), add(s15, s37))
    }
}

/// [`group_products`] of `Q` activation rows, with the head sizes of the supported families
/// as constants (the loops unroll and the partial sums stay in registers).
///
/// # Safety
/// As [`group_products`].
#[inline(always)]
unsafe fn pass_products<const Q: usize>(
    kt: *const f32,
    n: usize,
    ys: &[*const f32; Q],
) -> [__m512; Q] {
    // SAFETY: forwarded.
    unsafe {
        match n {
            64 => group_products::<Q>(kt, 64, ys),
            128 => group_products::<Q>(kt, 128, ys),
            256 => group_products::<Q>(kt, 256, ys),
            _ => group_products::<Q>(kt, n, ys),
        }
    }
}

/// One pass of `Q` widened activation rows `ys` over a transposed group: the products with
/// `ys[k]` stored at `out + k·rows`, the lanes of `mask` only.
///
/// # Safety
/// As [`group_products`], and `out + k·rows` holds the lanes of `mask` for each `k < Q`.
#[inline(always)]
unsafe fn store_pass<const Q: usize>(
    kt: *const f32,
    n: usize,
    ys: &[*const f32; Q],
    out: *mut f32,
    rows: usize,
    mask: __mmask16,
) {
    // SAFETY: forwarded; masked stores of the `live` lanes the caller guarantees.
    unsafe {
        let p = pass_products::<Q>(kt, n, ys);
        for (k, p) in p.iter().enumerate() {
            _mm512_mask_storeu_ps(out.add(k * rows), mask, *p);
        }
    }
}

/// Widens activation rows `c0..c0 + q` (`n` halves each) into `ys`.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL; `act` holds the rows; `ys` holds `q·n` floats.
#[inline(always)]
unsafe fn widen_rows(act: &[f16], n: usize, c0: usize, q: usize, ys: &mut [MaybeUninit<f32>]) {
    debug_assert!(act.len() >= (c0 + q) * n && ys.len() >= q * n);
    // SAFETY: masked loads and stores of elements `< q·n` of both; the caller's features.
    unsafe {
        let src = act.as_ptr().add(c0 * n);
        let dst = ys.as_mut_ptr().cast::<f32>();
        let total = q * n;
        let mut i = 0;
        while i < total {
            let m = lanes((total - i).min(16));
            let h = _mm256_maskz_loadu_epi16(m, src.add(i).cast());
            _mm512_mask_storeu_ps(dst.add(i), m, _mm512_cvtph_ps(h));
            i += 16;
        }
    }
}

/// AVX-512 F16 gemm: `out[c·rows + r] = vec_dot(row r, activation row c)`, `rows = out.len() /
/// n_act`, each element bit-identical to the twin's `vec_dot_f16`.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C; `act` holds `n_act` rows of
/// `n` halves and `w` `rows` rows of as many (the [`crate::table::GemmFn`] contract).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_f16_avx512(w: &[f16], act: &[f16], n_act: usize, out: &mut [f32]) {
    if n_act == 0 || out.is_empty() {
        return;
    }
    let n = act.len() / n_act;
    let rows = out.len() / n_act;
    // SAFETY: the same contract and features.
    if n_act < MIN_ACT && unsafe { gemm_f16_few(w, act, n_act, out) } {
        return;
    }
    if n_act < MIN_ACT || n == 0 || n > MAX_N || !n.is_multiple_of(2) || w.len() < rows * n {
        // SAFETY: the same contract; the caller guarantees the AVX2 kernel's features.
        unsafe { gemm_f16_avx2(w, act, n_act, out) };
        return;
    }
    // Written before read: each group's rows, each batch's widened activations.
    let mut kt = [MaybeUninit::<f32>::uninit(); GROUP * MAX_N];
    let mut ys = [MaybeUninit::<f32>::uninit(); ACT_FLOATS];
    let batch = (ACT_FLOATS / n).min(n_act);
    let base = out.as_mut_ptr();
    let mut c0 = 0;
    while c0 < n_act {
        let nb = (n_act - c0).min(batch);
        // SAFETY: rows `c0..c0 + nb` of `act`; `nb·n <= ACT_FLOATS`.
        unsafe { widen_rows(act, n, c0, nb, &mut ys) };
        let y = |c: usize| ys[c * n..].as_ptr().cast::<f32>();
        let mut r0 = 0;
        while r0 < rows {
            let live = (rows - r0).min(GROUP);
            let mask = lanes(live);
            // SAFETY: rows `r0..r0 + live` of `w` (`w.len() >= rows·n`); `kt` holds 16·MAX_N.
            unsafe { transpose_group(w.as_ptr().add(r0 * n), n, live, &mut kt) };
            let kt = kt.as_ptr().cast::<f32>();
            let mut c = 0;
            while c < nb {
                // SAFETY: `kt` was just written for this group; widened rows `c + k < nb`
                // hold `n` floats; masked stores of `live` floats at `(c0 + c + k)·rows + r0`,
                // within `out` (`r0 + live <= rows`).
                unsafe {
                    let dst = base.add((c0 + c) * rows + r0);
                    if n <= SHORT_ROW && c + PASS_SHORT <= nb {
                        let ys = core::array::from_fn(|k| y(c + k));
                        store_pass::<PASS_SHORT>(kt, n, &ys, dst, rows, mask);
                        c += PASS_SHORT;
                    } else if c + PASS_LONG <= nb {
                        let ys = core::array::from_fn(|k| y(c + k));
                        store_pass::<PASS_LONG>(kt, n, &ys, dst, rows, mask);
                        c += PASS_LONG;
                    } else {
                        store_pass::<1>(kt, n, &[y(c)], dst, rows, mask);
                        c += 1;
                    }
                }
            }
            r0 += live;
        }
        c0 += nb;
    }
}
