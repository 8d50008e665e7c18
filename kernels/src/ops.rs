//! The safe entry points of the kernels: every call checks its lengths and alignment, then runs
//! the kernel of the active tier's [`crate::table::KernelTable`].
//!
//! Determinism: for one tier, every element `gemv` or `gemm` writes has the bits `vec_dot` gives
//! for the same weight row and activation row, so callers may split rows and columns across
//! threads in any way and get the same numbers. (When an output is NaN, only its NaN-ness is
//! promised: x86 picks a NaN's payload by operand order, which the compiler may commute.)

use crate::blocks_x8::{x8_block_bytes, X8_ALIGN, X8_ROWS};
use crate::error::{KernelError, KernelOp, Operand};
use crate::ggml_type::GgmlType;
use crate::table::{self, DotKernels, KernelTable, X8Kernels};
use crate::tier::Tier;

/// The tier whose kernel table `ops` uses in this process.
pub fn active_tier() -> Tier {
    table::active().tier
}

/// Bytes the block struct of `ty` must be aligned to when viewed in place.
pub const fn block_align(ty: GgmlType) -> usize {
    match ty {
        GgmlType::F32 | GgmlType::Q8_K => 4,
        _ => 2,
    }
}

/// Dequantize one row of `dst.len()` elements stored as `ty` in `src` (exactly row_bytes).
pub fn dequantize_row(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), KernelError> {
    dequantize_row_with(table::active(), ty, src, dst)
}

/// Quantize `src` into `dst` as `ty` (activation types Q8_0/Q8_1/Q8_K, F16/BF16/F32, and the
/// weight types with ggml's reference quantizer).
pub fn quantize_row(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), KernelError> {
    quantize_row_with(table::active(), ty, src, dst)
}

/// Dot product of a weight row `w` (type `ty`, n elements) with an activation row `act` stored as
/// `ty.vec_dot_type()`.
// Inlined (with `vec_dot_with`) into the caller, which then calls the kernel itself: a frame of
// its own cost 2-4 ns a call, a tenth of a short row's dot.
#[inline]
pub fn vec_dot(ty: GgmlType, n: usize, w: &[u8], act: &[u8]) -> Result<f32, KernelError> {
    vec_dot_with(table::active(), ty, n, w, act)
}

/// `out[r] = dot(row r of w, act)` for `r in 0..out.len()`; `w` holds `out.len()` rows of `n` elements.
pub fn gemv(
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
    out: &mut [f32],
) -> Result<(), KernelError> {
    gemv_with(table::active(), ty, n, w, act, out)
}

/// `out[c * rows + r] = dot(row r of w, activation row c)`, `c in 0..n_act`,
/// `rows = out.len() / n_act`; `act` holds `n_act` activation rows of `n` elements in
/// `ty.vec_dot_type()`.
pub fn gemm(
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
    n_act: usize,
    out: &mut [f32],
) -> Result<(), KernelError> {
    gemm_with(table::active(), ty, n, w, act, n_act, out)
}

/// Whether the active tier has its own product over the row-interleaved (x8) form of weight type
/// `ty` — eight rows' blocks side by side, each activation loaded once for eight rows (see
/// [`crate::blocks_x8`]) — so that repacking pays. The generic tier only has the scalar twin, a
/// reference slower than the plain products (the x8 calls work there all the same).
pub fn has_x8(ty: GgmlType) -> bool {
    table::active().get(ty).x8.is_some_and(|k| k.native)
}

/// Bytes of one stripe — eight rows of `n` elements — of `ty` in x8 form.
pub fn x8_stripe_bytes(ty: GgmlType, n: usize) -> Result<usize, KernelError> {
    stripe_bytes(table::active(), ty, n)
}

/// Repacks `rows` — one to eight rows of `n` elements of `ty`, one after another — into the x8
/// stripe `dst` ([`x8_stripe_bytes`] long); missing rows become zero blocks. Lossless:
/// [`unpack_x8_row`] gives every row back.
pub fn repack_x8(ty: GgmlType, n: usize, rows: &[u8], dst: &mut [u8]) -> Result<(), KernelError> {
    repack_x8_with(table::active(), ty, n, rows, dst)
}

/// Row `k` (`< 8`) of an x8 stripe of rows of `n` elements, back in `ty`'s own blocks.
pub fn unpack_x8_row(
    ty: GgmlType,
    n: usize,
    stripe: &[u8],
    k: usize,
    dst: &mut [u8],
) -> Result<(), KernelError> {
    unpack_x8_row_with(table::active(), ty, n, stripe, k, dst)
}

/// `out[t·ld + r] = vec_dot(row r, activation row t)` for `r < rows`, `t < n_act`, with the rows
/// held as `rows.div_ceil(8)` x8 stripes in `w` (rows past `rows` in the last stripe are padding,
/// never written) and `n_act` activation rows of `n` elements in `act`.
///
/// Every output has the bits [`vec_dot`] gives on the original row, so a caller may mix x8 and
/// plain products and split rows and tokens however it likes.
#[allow(clippy::too_many_arguments)]
pub fn gemm_x8(
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) -> Result<(), KernelError> {
    gemm_x8_with(table::active(), ty, n, w, act, n_act, out, ld, rows)
}

/// The `ops` functions bound to one tier's table instead of the active one, so tests and benches
/// can run two tiers side by side in one process. Build it with [`for_tier`].
#[derive(Clone, Copy, Debug)]
pub struct TierOps {
    table: KernelTable,
}

/// The kernels of `tier` (or, when this CPU lacks it, of the generic tier: check
/// [`TierOps::tier`]).
pub fn for_tier(tier: Tier) -> TierOps {
    TierOps {
        table: table::for_tier(tier),
    }
}

impl TierOps {
    /// The tier whose table these calls use.
    pub fn tier(&self) -> Tier {
        self.table.tier
    }

    /// [`dequantize_row`] with this tier's kernels.
    pub fn dequantize_row(
        &self,
        ty: GgmlType,
        src: &[u8],
        dst: &mut [f32],
    ) -> Result<(), KernelError> {
        dequantize_row_with(&self.table, ty, src, dst)
    }

    /// [`quantize_row`] with this tier's kernels.
    pub fn quantize_row(
        &self,
        ty: GgmlType,
        src: &[f32],
        dst: &mut [u8],
    ) -> Result<(), KernelError> {
        quantize_row_with(&self.table, ty, src, dst)
    }

    /// [`vec_dot`] with this tier's kernels.
    pub fn vec_dot(
        &self,
        ty: GgmlType,
        n: usize,
        w: &[u8],
        act: &[u8],
    ) -> Result<f32, KernelError> {
        vec_dot_with(&self.table, ty, n, w, act)
    }

    /// [`gemv`] with this tier's kernels.
    pub fn gemv(
        &self,
        ty: GgmlType,
        n: usize,
        w: &[u8],
        act: &[u8],
        out: &mut [f32],
    ) -> Result<(), KernelError> {
        gemv_with(&self.table, ty, n, w, act, out)
    }

    /// [`repack_x8`] with this tier's kernels.
    pub fn repack_x8(
        &self,
        ty: GgmlType,
        n: usize,
        rows: &[u8],
        dst: &mut [u8],
    ) -> Result<(), KernelError> {
        repack_x8_with(&self.table, ty, n, rows, dst)
    }

    /// [`unpack_x8_row`] with this tier's kernels.
    pub fn unpack_x8_row(
        &self,
        ty: GgmlType,
        n: usize,
        stripe: &[u8],
        k: usize,
        dst: &mut [u8],
    ) -> Result<(), KernelError> {
        unpack_x8_row_with(&self.table, ty, n, stripe, k, dst)
    }

    /// [`gemm_x8`] with this tier's kernels.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_x8(
        &self,
        ty: GgmlType,
        n: usize,
        w: &[u8],
        act: &[u8],
        n_act: usize,
        out: &mut [f32],
        ld: usize,
        rows: usize,
    ) -> Result<(), KernelError> {
        gemm_x8_with(&self.table, ty, n, w, act, n_act, out, ld, rows)
    }

    /// [`gemm`] with this tier's kernels.
    pub fn gemm(
        &self,
        ty: GgmlType,
        n: usize,
        w: &[u8],
        act: &[u8],
        n_act: usize,
        out: &mut [f32],
    ) -> Result<(), KernelError> {
        gemm_with(&self.table, ty, n, w, act, n_act, out)
    }
}

/// Bytes in a row of `n` elements of `ty`.
///
/// Block sizes (1, 32, 256) are powers of two, so this takes masks and shifts rather than the
/// run-time divisions a per-call check would otherwise pay on short rows.
#[inline(always)]
fn row_bytes(ty: GgmlType, n: usize) -> Result<usize, KernelError> {
    let bs = ty.block_size();
    debug_assert!(bs.is_power_of_two());
    if n & (bs - 1) != 0 {
        return Err(KernelError::NotBlockMultiple { ty, n });
    }
    (n >> bs.trailing_zeros())
        .checked_mul(ty.type_size())
        .ok_or(KernelError::Overflow { ty, n })
}

/// Checks that `bytes` is `expected` long and aligned for `ty`'s blocks.
#[inline(always)]
fn check_packed(
    ty: GgmlType,
    what: Operand,
    bytes: &[u8],
    expected: usize,
) -> Result<(), KernelError> {
    if bytes.len() != expected {
        return Err(KernelError::Length {
            ty,
            what,
            expected,
            given: bytes.len(),
        });
    }
    let align = block_align(ty);
    debug_assert!(align.is_power_of_two());
    // An empty slice has no address to speak of (its pointer is merely dangling).
    if !bytes.is_empty() && (bytes.as_ptr() as usize) & (align - 1) != 0 {
        return Err(KernelError::Misaligned { ty, what, align });
    }
    Ok(())
}

fn dot_kernels(t: &KernelTable, ty: GgmlType) -> Result<DotKernels, KernelError> {
    t.get(ty).dot.ok_or(KernelError::Unsupported {
        ty,
        op: KernelOp::Dot,
        tier: t.tier,
    })
}

/// [`dequantize_row`] through table `t`.
pub(crate) fn dequantize_row_with(
    t: &KernelTable,
    ty: GgmlType,
    src: &[u8],
    dst: &mut [f32],
) -> Result<(), KernelError> {
    let f = t.get(ty).dequantize.ok_or(KernelError::Unsupported {
        ty,
        op: KernelOp::Dequantize,
        tier: t.tier,
    })?;
    check_packed(ty, Operand::Src, src, row_bytes(ty, dst.len())?)?;
    if dst.is_empty() {
        return Ok(());
    }
    // SAFETY: `src` holds exactly the blocks of `dst.len()` elements, aligned for the block
    // struct (checked above); `t` only holds entries of a tier this CPU supports (`for_tier`).
    unsafe { f(src, dst) };
    Ok(())
}

/// [`quantize_row`] through table `t`.
pub(crate) fn quantize_row_with(
    t: &KernelTable,
    ty: GgmlType,
    src: &[f32],
    dst: &mut [u8],
) -> Result<(), KernelError> {
    let f = t.get(ty).quantize.ok_or(KernelError::Unsupported {
        ty,
        op: KernelOp::Quantize,
        tier: t.tier,
    })?;
    check_packed(ty, Operand::Dst, dst, row_bytes(ty, src.len())?)?;
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: as in `dequantize_row_with`, with `dst` the packed side.
    unsafe { f(src, dst) };
    Ok(())
}

/// Checks a weight row length and an activation row, returning (weight, activation) row bytes.
#[inline(always)]
fn check_dot_rows(
    ty: GgmlType,
    n: usize,
    act: &[u8],
    n_act: usize,
) -> Result<(usize, usize), KernelError> {
    let w_row = row_bytes(ty, n)?;
    let at = ty.vec_dot_type();
    let a_row = row_bytes(at, n)?;
    let a_total = a_row
        .checked_mul(n_act)
        .ok_or(KernelError::Overflow { ty: at, n })?;
    check_packed(at, Operand::Activations, act, a_total)?;
    Ok((w_row, a_row))
}

/// What a vec_dot call checks for one weight type, worked out at compile time so the per-call
/// check is a few masks, shifts and compares (a short row's dot takes tens of nanoseconds, and
/// general `row_bytes` calls with their overflow checks cost several of them).
#[derive(Clone, Copy)]
struct DotShape {
    /// `n` must be a multiple of both block sizes: `n & mask == 0`.
    mask: usize,
    /// Weight blocks in `n` elements: `n >> w_shift`.
    w_shift: u32,
    /// Bytes per weight block.
    w_size: usize,
    /// Activation blocks in `n` elements: `n >> a_shift`.
    a_shift: u32,
    /// Bytes per activation block.
    a_size: usize,
    /// Both operands' start addresses must have these bits clear.
    align_mask: usize,
}

/// Rows longer than this take the general checks (which guard the byte counts against
/// overflow); below it `(n >> shift) * size` cannot overflow.
const FAST_CHECK_MAX_N: usize = 1 << 40;

const fn dot_shape(ty: GgmlType) -> DotShape {
    let at = ty.vec_dot_type();
    let (bw, ba) = (ty.block_size(), at.block_size());
    let (aw, aa) = (block_align(ty), block_align(at));
    DotShape {
        mask: (if bw > ba { bw } else { ba }) - 1,
        w_shift: bw.trailing_zeros(),
        w_size: ty.type_size(),
        a_shift: ba.trailing_zeros(),
        a_size: at.type_size(),
        align_mask: (if aw > aa { aw } else { aa }) - 1,
    }
}

const DOT_SHAPES: [DotShape; table::SLOTS] = {
    let mut shapes = [dot_shape(GgmlType::F32); table::SLOTS];
    let mut i = 0;
    while i < table::SLOTS {
        shapes[i] = dot_shape(GgmlType::ALL[i]);
        i += 1;
    }
    shapes
};

/// [`vec_dot`] through table `t`.
#[inline(always)]
pub(crate) fn vec_dot_with(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
) -> Result<f32, KernelError> {
    let s = &DOT_SHAPES[table::slot(ty)];
    // The common case, checked in one go: a whole non-empty row each, aligned. Anything else
    // (including `n == 0`) goes through the general checks, which name what is wrong.
    let ok = n != 0
        && n <= FAST_CHECK_MAX_N
        && n & s.mask == 0
        && w.len() == (n >> s.w_shift) * s.w_size
        && act.len() == (n >> s.a_shift) * s.a_size
        && (w.as_ptr() as usize | act.as_ptr() as usize) & s.align_mask == 0;
    if let (true, Some(k)) = (ok, t.get(ty).dot) {
        // SAFETY: one whole, aligned, non-empty row each of the same element count (checked
        // just above with the shape of `ty`: whatever passes here passes `vec_dot_checked`,
        // whose alignment check is per operand and no stricter); the table holds entries of a
        // supported tier only.
        return Ok(unsafe { (k.vec_dot)(w, act) });
    }
    vec_dot_checked(t, ty, n, w, act)
}

/// [`vec_dot`] with every check made one by one, each failure reported as its own error.
#[cold]
#[inline(never)]
fn vec_dot_checked(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
) -> Result<f32, KernelError> {
    let k = dot_kernels(t, ty)?;
    let (w_row, _) = check_dot_rows(ty, n, act, 1)?;
    check_packed(ty, Operand::Weights, w, w_row)?;
    if n == 0 {
        // What every kernel's accumulator holds before the first element.
        return Ok(0.0);
    }
    // SAFETY: one whole, aligned row each of the same element count (checked above); the table
    // holds entries of a supported tier only.
    Ok(unsafe { (k.vec_dot)(w, act) })
}

/// Runs `k`'s gemv (or a loop over its vec_dot) on checked operands.
///
/// # Safety
/// `w` holds `out.len()` rows of `w_row > 0` bytes and `act` one row, all whole aligned blocks of
/// the same element count; `k` comes from a table of a supported tier.
unsafe fn run_gemv(k: &DotKernels, w_row: usize, w: &[u8], act: &[u8], out: &mut [f32]) {
    if out.is_empty() {
        return;
    }
    match k.gemv {
        // SAFETY: forwarded from this function's contract.
        Some(g) => unsafe { g(w, act, out) },
        None => {
            for (o, row) in out.iter_mut().zip(w.chunks_exact(w_row)) {
                // SAFETY: forwarded from this function's contract.
                *o = unsafe { (k.vec_dot)(row, act) };
            }
        }
    }
}

/// [`gemv`] through table `t`.
pub(crate) fn gemv_with(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
    out: &mut [f32],
) -> Result<(), KernelError> {
    let k = dot_kernels(t, ty)?;
    let (w_row, _) = check_dot_rows(ty, n, act, 1)?;
    let w_total = w_row
        .checked_mul(out.len())
        .ok_or(KernelError::Overflow { ty, n })?;
    check_packed(ty, Operand::Weights, w, w_total)?;
    if n == 0 {
        out.fill(0.0);
        return Ok(());
    }
    // SAFETY: `w` holds `out.len()` rows and `act` one row (checked above).
    unsafe { run_gemv(&k, w_row, w, act, out) };
    Ok(())
}

/// [`gemm`] through table `t`.
pub(crate) fn gemm_with(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
    n_act: usize,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let k = dot_kernels(t, ty)?;
    if n_act == 0 {
        if out.is_empty() && act.is_empty() {
            return Ok(());
        }
        return Err(KernelError::OutputShape {
            out_len: out.len(),
            n_act,
        });
    }
    if !out.len().is_multiple_of(n_act) {
        return Err(KernelError::OutputShape {
            out_len: out.len(),
            n_act,
        });
    }
    let rows = out.len() / n_act;
    let (w_row, a_row) = check_dot_rows(ty, n, act, n_act)?;
    let w_total = w_row
        .checked_mul(rows)
        .ok_or(KernelError::Overflow { ty, n })?;
    check_packed(ty, Operand::Weights, w, w_total)?;
    if rows == 0 {
        return Ok(());
    }
    if n == 0 {
        out.fill(0.0);
        return Ok(());
    }
    match k.gemm {
        // SAFETY: `w` holds `rows` rows, `act` `n_act` rows, `out` `rows * n_act` elements.
        Some(g) => unsafe { g(w, act, n_act, out) },
        None => {
            for (c, col) in out.chunks_exact_mut(rows).enumerate() {
                let a = &act[c * a_row..(c + 1) * a_row];
                // SAFETY: one activation row of the checked size, `rows` weight rows.
                unsafe { run_gemv(&k, w_row, w, a, col) };
            }
        }
    }
    Ok(())
}

fn x8_kernels(t: &KernelTable, ty: GgmlType) -> Result<X8Kernels, KernelError> {
    t.get(ty).x8.ok_or(KernelError::Unsupported {
        ty,
        op: KernelOp::Interleaved,
        tier: t.tier,
    })
}

/// [`x8_stripe_bytes`] through table `t`.
fn stripe_bytes(t: &KernelTable, ty: GgmlType, n: usize) -> Result<usize, KernelError> {
    let block = x8_block_bytes(ty).ok_or(KernelError::Unsupported {
        ty,
        op: KernelOp::Interleaved,
        tier: t.tier,
    })?;
    row_bytes(ty, n)?;
    (n / ty.block_size())
        .checked_mul(block)
        .ok_or(KernelError::Overflow { ty, n })
}

/// Checks that an x8 operand is `expected` bytes long and aligned for x8 blocks.
fn check_x8(ty: GgmlType, what: Operand, bytes: &[u8], expected: usize) -> Result<(), KernelError> {
    if bytes.len() != expected {
        return Err(KernelError::Length {
            ty,
            what,
            expected,
            given: bytes.len(),
        });
    }
    if !bytes.is_empty() && !(bytes.as_ptr() as usize).is_multiple_of(X8_ALIGN) {
        return Err(KernelError::Misaligned {
            ty,
            what,
            align: X8_ALIGN,
        });
    }
    Ok(())
}

/// [`repack_x8`] through table `t`.
fn repack_x8_with(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    rows: &[u8],
    dst: &mut [u8],
) -> Result<(), KernelError> {
    let k = x8_kernels(t, ty)?;
    let stripe = stripe_bytes(t, ty, n)?;
    let rb = row_bytes(ty, n)?;
    // One to eight whole rows (none for rows of no elements).
    let whole_rows = match rb {
        0 => rows.is_empty(),
        _ => rows.len().is_multiple_of(rb) && (1..=X8_ROWS).contains(&(rows.len() / rb)),
    };
    if !whole_rows {
        return Err(KernelError::Length {
            ty,
            what: Operand::Src,
            expected: X8_ROWS * rb,
            given: rows.len(),
        });
    }
    check_packed(ty, Operand::Src, rows, rows.len())?;
    check_x8(ty, Operand::Dst, dst, stripe)?;
    if n == 0 {
        return Ok(());
    }
    // SAFETY: `rows` holds 1..=8 whole rows of `n / block_size` aligned blocks and `dst` exactly
    // that many aligned x8 blocks (checked above).
    unsafe { (k.repack)(rows, n / ty.block_size(), dst) };
    Ok(())
}

/// [`unpack_x8_row`] through table `t`.
fn unpack_x8_row_with(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    stripe: &[u8],
    k: usize,
    dst: &mut [u8],
) -> Result<(), KernelError> {
    let kern = x8_kernels(t, ty)?;
    check_x8(ty, Operand::Src, stripe, stripe_bytes(t, ty, n)?)?;
    check_packed(ty, Operand::Dst, dst, row_bytes(ty, n)?)?;
    if k >= X8_ROWS {
        return Err(KernelError::InterleavedShape {
            rows: k + 1,
            stripes: 1,
            ld: 0,
        });
    }
    if n == 0 {
        return Ok(());
    }
    // SAFETY: whole aligned blocks on both sides, as many of each (checked above).
    unsafe { (kern.unpack_row)(stripe, k, dst) };
    Ok(())
}

/// [`gemm_x8`] through table `t`.
#[allow(clippy::too_many_arguments)]
fn gemm_x8_with(
    t: &KernelTable,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    act: &[u8],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) -> Result<(), KernelError> {
    let k = x8_kernels(t, ty)?;
    let stripes = rows.div_ceil(X8_ROWS);
    let w_total = stripe_bytes(t, ty, n)?
        .checked_mul(stripes)
        .ok_or(KernelError::Overflow { ty, n })?;
    check_x8(ty, Operand::Weights, w, w_total)?;
    check_dot_rows(ty, n, act, n_act)?;
    if ld < rows {
        return Err(KernelError::InterleavedShape { rows, stripes, ld });
    }
    let out_needed = match n_act {
        0 => 0,
        _ => (n_act - 1)
            .checked_mul(ld)
            .and_then(|v| v.checked_add(rows))
            .ok_or(KernelError::Overflow { ty, n })?,
    };
    if out.len() < out_needed {
        return Err(KernelError::Length {
            ty: GgmlType::F32,
            what: Operand::Dst,
            expected: out_needed,
            given: out.len(),
        });
    }
    if rows == 0 || n_act == 0 {
        return Ok(());
    }
    if n == 0 {
        for c in 0..n_act {
            out[c * ld..c * ld + rows].fill(0.0);
        }
        return Ok(());
    }
    // SAFETY: `w` holds `stripes` stripes of `n / block_size` blocks, `act` `n_act >= 1` rows of
    // as many blocks, all whole and aligned; `ld >= rows >= 1` and `out` is long enough (all
    // checked above); the table holds entries of a supported tier only.
    unsafe { (k.gemm)(w, act, n_act, out, ld, rows) };
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const LEGACY: [GgmlType; 9] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
    ];

    /// A u8 buffer whose start is 4-aligned, so sub-slices control alignment.
    fn aligned_bytes(len: usize) -> Vec<u32> {
        vec![0u32; len.div_ceil(4) + 1]
    }

    #[test]
    fn lengths_are_checked() {
        let mut store = aligned_bytes(64);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut store);
        let mut dst = [0.0f32; 32];
        assert_eq!(
            dequantize_row(GgmlType::Q4_0, &bytes[..17], &mut dst),
            Err(KernelError::Length {
                ty: GgmlType::Q4_0,
                what: Operand::Src,
                expected: 18,
                given: 17
            })
        );
        assert_eq!(
            dequantize_row(GgmlType::Q4_0, &bytes[..18], &mut dst[..31]),
            Err(KernelError::NotBlockMultiple {
                ty: GgmlType::Q4_0,
                n: 31
            })
        );
        assert_eq!(
            quantize_row(GgmlType::Q8_0, &dst, &mut bytes[..35]),
            Err(KernelError::Length {
                ty: GgmlType::Q8_0,
                what: Operand::Dst,
                expected: 34,
                given: 35
            })
        );
        // Q4_1 weights pair with Q8_1 activations (36 bytes per block).
        assert_eq!(
            vec_dot(GgmlType::Q4_1, 32, &bytes[..20], &bytes[..34]),
            Err(KernelError::Length {
                ty: GgmlType::Q8_1,
                what: Operand::Activations,
                expected: 36,
                given: 34
            })
        );
        let mut out = [0.0f32; 2];
        assert_eq!(
            gemv(GgmlType::Q8_0, 32, &bytes[..34], &bytes[..34], &mut out),
            Err(KernelError::Length {
                ty: GgmlType::Q8_0,
                what: Operand::Weights,
                expected: 68,
                given: 34
            })
        );
        assert_eq!(
            gemm(
                GgmlType::Q8_0,
                32,
                &bytes[..34],
                &bytes[..34],
                2,
                &mut out[..1]
            ),
            Err(KernelError::OutputShape {
                out_len: 1,
                n_act: 2
            })
        );
    }

    #[test]
    fn misalignment_is_reported() {
        let store = aligned_bytes(80);
        let bytes: &[u8] = bytemuck::cast_slice(&store);
        let mut dst = [0.0f32; 32];
        assert_eq!(
            dequantize_row(GgmlType::Q8_0, &bytes[1..35], &mut dst),
            Err(KernelError::Misaligned {
                ty: GgmlType::Q8_0,
                what: Operand::Src,
                align: 2
            })
        );
        assert_eq!(
            dequantize_row(
                GgmlType::F32,
                &bytes[2..130.min(bytes.len())],
                &mut dst[..1]
            ),
            Err(KernelError::Length {
                ty: GgmlType::F32,
                what: Operand::Src,
                expected: 4,
                given: bytes.len().min(130) - 2
            })
        );
        assert_eq!(
            dequantize_row(GgmlType::F32, &bytes[2..6], &mut dst[..1]),
            Err(KernelError::Misaligned {
                ty: GgmlType::F32,
                what: Operand::Src,
                align: 4
            })
        );
        // 2-aligned but not 4-aligned is fine for the f16-scaled blocks.
        assert!(dequantize_row(GgmlType::Q8_0, &bytes[2..36], &mut dst).is_ok());
    }

    #[test]
    fn k_quants_without_kernels_are_unsupported_not_panics() {
        let t = KernelTable::empty(Tier::Generic);
        let mut dst = [0.0f32; 256];
        assert!(matches!(
            dequantize_row_with(&t, GgmlType::Q4_K, &[0u8; 144], &mut dst),
            Err(KernelError::Unsupported {
                op: KernelOp::Dequantize,
                ..
            })
        ));
        assert!(matches!(
            vec_dot_with(&t, GgmlType::Q4_0, 32, &[0u8; 18], &[0u8; 34]),
            Err(KernelError::Unsupported {
                op: KernelOp::Dot,
                ..
            })
        ));
    }

    /// The one-shot check of `vec_dot_with` must accept exactly what the general checks accept:
    /// here a Q4_K row that is 2- but not 4-aligned (its blocks need 2, the Q8_K activations 4)
    /// is still computed, and bad rows still get their precise errors.
    #[test]
    fn vec_dot_fast_check_agrees_with_the_general_checks() {
        let mut w_store = aligned_bytes(2 + 144);
        let w_bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut w_store);
        let mut a_store = aligned_bytes(292);
        let a_bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut a_store);
        // A Q4_K block with d = 1.0 and all-zero mins, scales and quants is valid; so is a
        // Q8_K activation of ones with d = 1.0.
        let w = &mut w_bytes[2..2 + 144];
        w[..2].copy_from_slice(&half::f16::ONE.to_bits().to_le_bytes());
        let a = &mut a_bytes[..292];
        a[..4].copy_from_slice(&1.0f32.to_le_bytes());
        let (w, a) = (&*w, &*a);
        assert_eq!(vec_dot(GgmlType::Q4_K, 256, w, a), Ok(0.0));
        assert_eq!(
            vec_dot(GgmlType::Q4_K, 256, &w[..143], a),
            Err(KernelError::Length {
                ty: GgmlType::Q4_K,
                what: Operand::Weights,
                expected: 144,
                given: 143
            })
        );
        assert_eq!(
            vec_dot(GgmlType::Q4_K, 255, w, a),
            Err(KernelError::NotBlockMultiple {
                ty: GgmlType::Q4_K,
                n: 255
            })
        );
        let a_odd = &a_bytes[2..2 + 292];
        assert_eq!(
            vec_dot(GgmlType::Q4_K, 256, w, a_odd),
            Err(KernelError::Misaligned {
                ty: GgmlType::Q8_K,
                what: Operand::Activations,
                align: 4
            })
        );
    }

    #[test]
    fn empty_rows_and_outputs_are_fine() {
        for ty in LEGACY {
            assert_eq!(vec_dot(ty, 0, &[], &[]), Ok(0.0), "{ty}");
            assert_eq!(gemv(ty, 0, &[], &[], &mut []), Ok(()), "{ty}");
            let mut out = [1.0f32; 3];
            assert_eq!(gemv(ty, 0, &[], &[], &mut out), Ok(()), "{ty}");
            assert_eq!(out, [0.0; 3], "{ty}");
            assert_eq!(gemm(ty, 0, &[], &[], 0, &mut []), Ok(()), "{ty}");
            assert_eq!(dequantize_row(ty, &[], &mut []), Ok(()), "{ty}");
        }
    }

    #[test]
    fn round_trip_through_every_legacy_type() {
        let n = 96;
        let src: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.25)
            .collect();
        for ty in LEGACY {
            let mut store = aligned_bytes(ty.row_bytes(n as u64).unwrap() as usize);
            let packed: &mut [u8] = bytemuck::cast_slice_mut(&mut store);
            let packed = &mut packed[..ty.row_bytes(n as u64).unwrap() as usize];
            quantize_row(ty, &src, packed).unwrap();
            let mut back = vec![0.0f32; n];
            dequantize_row(ty, packed, &mut back).unwrap();
            let amax = src.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            // Worst case one step of the coarsest format (Q4: range / 15 over a block).
            let budget = match ty {
                GgmlType::F32 => 0.0,
                GgmlType::F16 | GgmlType::BF16 => amax / 128.0,
                GgmlType::Q8_0 | GgmlType::Q8_1 => amax / 127.0,
                GgmlType::Q5_0 | GgmlType::Q5_1 => amax / 15.0,
                _ => amax / 7.0,
            };
            for (a, b) in src.iter().zip(&back) {
                assert!((a - b).abs() <= budget, "{ty}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn dot_gemv_gemm_agree_bitwise_and_match_f32() {
        let n = 160; // 5 blocks
        let rows = 3;
        let cols = 2;
        for ty in LEGACY {
            let at = ty.vec_dot_type();
            let wrb = ty.row_bytes(n as u64).unwrap() as usize;
            let arb = at.row_bytes(n as u64).unwrap() as usize;
            let wf: Vec<f32> = (0..rows * n)
                .map(|i| ((i * 7919 % 61) as f32 - 30.0) / 16.0)
                .collect();
            let af: Vec<f32> = (0..cols * n)
                .map(|i| ((i * 104729 % 41) as f32 - 20.0) / 8.0)
                .collect();
            let mut wstore = aligned_bytes(rows * wrb);
            let w: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut wstore)[..rows * wrb];
            let mut astore = aligned_bytes(cols * arb);
            let a: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut astore)[..cols * arb];
            for r in 0..rows {
                quantize_row(ty, &wf[r * n..(r + 1) * n], &mut w[r * wrb..(r + 1) * wrb]).unwrap();
            }
            for c in 0..cols {
                quantize_row(at, &af[c * n..(c + 1) * n], &mut a[c * arb..(c + 1) * arb]).unwrap();
            }
            let mut out = vec![0.0f32; rows * cols];
            gemm(ty, n, w, a, cols, &mut out).unwrap();
            for c in 0..cols {
                let ac = &a[c * arb..(c + 1) * arb];
                let mut col = vec![0.0f32; rows];
                gemv(ty, n, w, ac, &mut col).unwrap();
                for r in 0..rows {
                    let d = vec_dot(ty, n, &w[r * wrb..(r + 1) * wrb], ac).unwrap();
                    assert_eq!(d.to_bits(), col[r].to_bits(), "{ty} gemv r{r} c{c}");
                    assert_eq!(
                        d.to_bits(),
                        out[c * rows + r].to_bits(),
                        "{ty} gemm r{r} c{c}"
                    );
                    // Against the dequantized f32 product (the quantization error budget).
                    let mut wd = vec![0.0f32; n];
                    let mut ad = vec![0.0f32; n];
                    dequantize_row(ty, &w[r * wrb..(r + 1) * wrb], &mut wd).unwrap();
                    dequantize_row(at, ac, &mut ad).unwrap();
                    let exact: f64 = wd.iter().zip(&ad).map(|(x, y)| *x as f64 * *y as f64).sum();
                    let scale: f64 = wd
                        .iter()
                        .zip(&ad)
                        .map(|(x, y)| (*x as f64 * *y as f64).abs())
                        .sum();
                    assert!(
                        (d as f64 - exact).abs() <= 5e-3 * scale.max(1.0),
                        "{ty}: dot {d} vs dequantized {exact}"
                    );
                }
            }
        }
    }
}
