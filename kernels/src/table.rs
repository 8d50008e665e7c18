//! The kernel table: one slot per [`GgmlType`], holding that type's dequantize, quantize and dot
//! product kernels for one instruction-set tier.
//!
//! [`generic()`] builds the portable table (every entry a scalar twin from [`crate::generic`]);
//! [`for_tier`] copies it and overlays the entries a tier implements; [`active`] caches the table
//! of [`crate::tier::active()`] once. `ops` dispatches every call through [`active`].
//!
//! # How a module adds kernels (one line per entry)
//!
//! Entries store byte-level adapters; the `*_entry!` macros below make one from a typed kernel
//! (`fn(&[BlockW], &[BlockA]) -> f32` and friends, safe or `unsafe`):
//!
//! ```ignore
//! // portable twins, in `generic::register` (a `const fn`):
//! t.set_dequantize(GgmlType::Q4_K, dequantize_entry!(BlockQ4K, q4_k::dequantize_row_q4_k));
//! t.set_quantize(GgmlType::Q8_K, quantize_entry!(BlockQ8K, q8_k::quantize_row_q8_k));
//! t.set_dot(GgmlType::Q4_K, DotKernels::vec_dot_only(vec_dot_entry!(BlockQ4K, BlockQ8K, q4_k::vec_dot_q4_k_q8_k)));
//! // a tier overlay, in `x86::overlay_avx2` / `x86::overlay_avx512` / `aarch64::overlay_*`
//! // (plain fns):
//! t.set_dot(GgmlType::Q4_K, DotKernels {
//!     vec_dot: vec_dot_entry!(BlockQ4K, BlockQ8K, avx2_q4_k::vec_dot_q4_k_q8_k_avx2),
//!     gemv: Some(gemv_entry!(BlockQ4K, BlockQ8K, avx2_q4_k::gemv_q4_k_q8_k_avx2)),
//!     gemm: None,
//! });
//! ```
//!
//! A tier's overlay function is called from [`for_tier`]; add one `match` arm there for a new
//! architecture (`#[cfg(target_arch = "aarch64")] Tier::Neon | … => crate::aarch64::overlay(&mut t, tier)`).
//!
//! Rules an overlay must keep:
//! - Set the dot kernels of a type together ([`KernelTable::set_dot`] replaces vec_dot, gemv and
//!   gemm at once), so a tier's gemv never pairs with another tier's vec_dot. `gemv: None` /
//!   `gemm: None` make `ops` loop over that tier's `vec_dot`, which keeps the determinism
//!   invariant for free.
//! - A registered gemv/gemm must give, for every output element, the bits `vec_dot` gives for that
//!   row and activation row.
//! - A SIMD vec_dot should accumulate in the order written down in
//!   [`crate::generic::accumulate`], so it equals its scalar twin bit for bit; the tier twin tests
//!   (`kernels/tests/tier_twins_*.rs`, through [`crate::ops::for_tier`]) compare them.
//! - Entries are `unsafe fn`s; see [`VecDotFn`] for what a caller promises. Only [`for_tier`]
//!   installs tier entries, and only for a tier [`Tier::is_supported`] confirms.
//!
//! Row-interleaved (x8) weights ([`X8Kernels`]): the generic table sets each such type's
//! repacking, row extraction and scalar product ([`crate::generic::x8`]); a tier replaces only
//! the product ([`KernelTable::set_x8_gemm`]), which must give every output the bits of the
//! plain `vec_dot` on that row (`kernels/tests/x8_twins.rs` checks it in every tier).
//!
//! Slots without a kernel hold `None`; `ops` reports them as [`crate::KernelError::Unsupported`].

use crate::ggml_type::GgmlType;
use crate::tier::Tier;

/// Number of type slots: one per [`GgmlType::ALL`] entry.
pub const SLOTS: usize = GgmlType::ALL.len();

/// The slot of a type in [`KernelTable::kernels`] (its index in [`GgmlType::ALL`]).
pub const fn slot(ty: GgmlType) -> usize {
    match ty {
        GgmlType::F32 => 0,
        GgmlType::F16 => 1,
        GgmlType::Q4_0 => 2,
        GgmlType::Q4_1 => 3,
        GgmlType::Q5_0 => 4,
        GgmlType::Q5_1 => 5,
        GgmlType::Q8_0 => 6,
        GgmlType::Q8_1 => 7,
        GgmlType::Q2_K => 8,
        GgmlType::Q3_K => 9,
        GgmlType::Q4_K => 10,
        GgmlType::Q5_K => 11,
        GgmlType::Q6_K => 12,
        GgmlType::Q8_K => 13,
        GgmlType::BF16 => 14,
    }
}

/// Dequantizes `src` (whole blocks) into `dst`.
///
/// # Safety
/// `src` holds exactly `dst.len() / block_size` blocks and is aligned for the block struct; the
/// CPU supports the tier whose table holds the entry.
pub type DequantizeFn = unsafe fn(src: &[u8], dst: &mut [f32]);

/// Quantizes `src` into `dst` (whole blocks).
///
/// # Safety
/// As [`DequantizeFn`], with `dst` the packed side.
pub type QuantizeFn = unsafe fn(src: &[f32], dst: &mut [u8]);

/// Dot product of one weight row `w` with one activation row `act` (the weight type's
/// `vec_dot_type`), both the same number of elements.
///
/// # Safety
/// Both slices hold whole blocks of their types for the same element count (so the same number
/// of blocks: a weight type and its `vec_dot_type` share a block size) and are aligned for their
/// block structs; the CPU supports the tier whose table holds the entry.
pub type VecDotFn = unsafe fn(w: &[u8], act: &[u8]) -> f32;

/// `out[r] = vec_dot(row r of w, act)` for `r in 0..out.len()`; `w` holds `out.len()` rows.
///
/// # Safety
/// As [`VecDotFn`], with `w.len() == out.len() * row_bytes` and `out` non-empty.
pub type GemvFn = unsafe fn(w: &[u8], act: &[u8], out: &mut [f32]);

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`, `rows = out.len() / n_act`.
///
/// # Safety
/// As [`GemvFn`], with `act` holding `n_act >= 1` rows and `out.len()` a multiple of `n_act`.
pub type GemmFn = unsafe fn(w: &[u8], act: &[u8], n_act: usize, out: &mut [f32]);

/// Repacks up to eight weight rows of `nb` blocks each (`src`, one row after another) into one
/// stripe of `nb` row-interleaved blocks (`dst`); rows past the end of `src` are zero blocks.
///
/// # Safety
/// `src` holds `r·nb` whole blocks, `1 <= r <= 8`, and `dst` exactly `nb` x8 blocks, both aligned
/// for their structs.
pub type RepackX8Fn = unsafe fn(src: &[u8], nb: usize, dst: &mut [u8]);

/// Row `k < 8` of a stripe back into `dst`, the row's own blocks.
///
/// # Safety
/// `stripe` holds whole x8 blocks and `dst` as many row blocks, both aligned for their structs.
pub type UnpackX8Fn = unsafe fn(stripe: &[u8], k: usize, dst: &mut [u8]);

/// `out[t·ld + r] = vec_dot(row r, activation row t)` for `r < rows`, `t < n_act`, the rows held
/// as stripes in `w`: bit for bit the plain `vec_dot` of the tier's table (see
/// [`crate::generic::x8`]).
///
/// # Safety
/// `act` holds `n_act >= 1` rows of `nb >= 1` whole aligned activation blocks; `w` holds
/// `rows.div_ceil(8)` stripes of `nb` aligned x8 blocks, `rows >= 1`; `ld >= rows` and
/// `out.len() >= (n_act - 1)·ld + rows`; the CPU supports the tier whose table holds the entry.
pub type GemmX8Fn =
    unsafe fn(w: &[u8], act: &[u8], n_act: usize, out: &mut [f32], ld: usize, rows: usize);

/// The row-interleaved (x8) kernels of one weight type: repacking is the same in every tier, the
/// product is the tier's own.
#[derive(Clone, Copy, Debug)]
pub struct X8Kernels {
    /// Eight rows into one stripe.
    pub repack: RepackX8Fn,
    /// One row back out of a stripe.
    pub unpack_row: UnpackX8Fn,
    /// Products over stripes.
    pub gemm: GemmX8Fn,
    /// Whether `gemm` is the tier's own (SIMD) product. The generic twin takes every row back
    /// out of its stripe and is a reference, slower than the plain products: callers repack
    /// only for a tier with its own ([`crate::ops::has_x8`]).
    pub native: bool,
}

/// The dot-product kernels of one weight type in one tier, registered together.
#[derive(Clone, Copy, Debug)]
pub struct DotKernels {
    /// One row by one activation row.
    pub vec_dot: VecDotFn,
    /// Many rows by one activation row; `None` loops over `vec_dot`.
    pub gemv: Option<GemvFn>,
    /// Many rows by many activation rows; `None` loops over `gemv` (or `vec_dot`).
    pub gemm: Option<GemmFn>,
}

impl DotKernels {
    /// Only a `vec_dot`; `ops` derives gemv and gemm from it.
    pub const fn vec_dot_only(vec_dot: VecDotFn) -> DotKernels {
        DotKernels {
            vec_dot,
            gemv: None,
            gemm: None,
        }
    }
}

/// The kernels of one type slot.
#[derive(Clone, Copy, Debug)]
pub struct TypeKernels {
    /// Packed row → f32.
    pub dequantize: Option<DequantizeFn>,
    /// f32 → packed row.
    pub quantize: Option<QuantizeFn>,
    /// Dot products with the type's `vec_dot_type` activations.
    pub dot: Option<DotKernels>,
    /// The row-interleaved form and its products (types whose hot products use it).
    pub x8: Option<X8Kernels>,
}

impl TypeKernels {
    /// A slot with no kernels.
    pub const EMPTY: TypeKernels = TypeKernels {
        dequantize: None,
        quantize: None,
        dot: None,
        x8: None,
    };
}

/// Every type's kernels for one tier.
#[derive(Clone, Copy, Debug)]
pub struct KernelTable {
    /// The tier whose instructions the entries use (the highest overlay applied).
    pub tier: Tier,
    /// Indexed by [`slot`].
    pub kernels: [TypeKernels; SLOTS],
}

impl KernelTable {
    /// A table with no kernels at all.
    pub const fn empty(tier: Tier) -> KernelTable {
        KernelTable {
            tier,
            kernels: [TypeKernels::EMPTY; SLOTS],
        }
    }

    /// The kernels of `ty`.
    pub const fn get(&self, ty: GgmlType) -> &TypeKernels {
        &self.kernels[slot(ty)]
    }

    /// Sets (or replaces) the dequantize kernel of `ty`.
    pub const fn set_dequantize(&mut self, ty: GgmlType, f: DequantizeFn) {
        self.kernels[slot(ty)].dequantize = Some(f);
    }

    /// Sets (or replaces) the quantize kernel of `ty`.
    pub const fn set_quantize(&mut self, ty: GgmlType, f: QuantizeFn) {
        self.kernels[slot(ty)].quantize = Some(f);
    }

    /// Sets (or replaces) all dot kernels of weight type `ty` at once.
    pub const fn set_dot(&mut self, ty: GgmlType, k: DotKernels) {
        self.kernels[slot(ty)].dot = Some(k);
    }

    /// Sets the row-interleaved kernels of weight type `ty`.
    pub const fn set_x8(&mut self, ty: GgmlType, k: X8Kernels) {
        self.kernels[slot(ty)].x8 = Some(k);
    }

    /// Replaces the x8 product of `ty`, keeping its repacking (a tier's overlay; the generic
    /// table has set both). No effect for a type without an x8 form.
    pub const fn set_x8_gemm(&mut self, ty: GgmlType, gemm: GemmX8Fn) {
        if let Some(k) = &mut self.kernels[slot(ty)].x8 {
            k.gemm = gemm;
            k.native = true;
        }
    }
}

/// The portable table: scalar twins only.
pub const fn generic() -> KernelTable {
    let mut t = KernelTable::empty(Tier::Generic);
    crate::generic::register(&mut t);
    t
}

/// The generic table, built at compile time.
pub static GENERIC: KernelTable = generic();

/// The table for `tier`: the generic table overlaid by the entries of `tier` and the tiers below
/// it on the same architecture. A tier this CPU does not support gives the generic table; a
/// tier without kernels of its own gives the table of the highest tier below it that has some
/// (its [`KernelTable::tier`] says which).
pub fn for_tier(tier: Tier) -> KernelTable {
    #[allow(unused_mut)]
    let mut t = generic();
    if !tier.is_supported() {
        return t;
    }
    match tier {
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2 => {
            crate::x86::overlay_avx2(&mut t);
            t.tier = Tier::Avx2;
        }
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512 => {
            // AVX2 entries first: the AVX-512 overlay replaces only the types it implements.
            crate::x86::overlay_avx2(&mut t);
            crate::x86::overlay_avx512(&mut t);
            t.tier = Tier::Avx512;
        }
        #[cfg(target_arch = "aarch64")]
        Tier::Neon | Tier::Dotprod | Tier::I8mm => crate::aarch64::overlay(&mut t, tier),
        _ => {}
    }
    t
}

/// The table for [`crate::tier::active()`], built once per process.
#[cfg(feature = "std")]
pub fn active() -> &'static KernelTable {
    static ACTIVE: std::sync::OnceLock<KernelTable> = std::sync::OnceLock::new();
    ACTIVE.get_or_init(|| for_tier(crate::tier::active()))
}

/// Without `std` there is no detection: the generic table.
#[cfg(not(feature = "std"))]
pub fn active() -> &'static KernelTable {
    &GENERIC
}

/// `bytes` as the blocks it holds, without the length and alignment checks of
/// `bytemuck::cast_slice` (`ops` has made them once per call already).
///
/// # Safety
/// `bytes` holds whole `T`s and is aligned for `T` (the table contract).
#[inline(always)]
pub(crate) unsafe fn blocks_of<T: bytemuck::Pod>(bytes: &[u8]) -> &[T] {
    if bytes.is_empty() {
        // An empty `&[u8]` may point anywhere; a `&[T]` must be aligned even when empty.
        return &[];
    }
    let size = core::mem::size_of::<T>();
    debug_assert!(bytes.len().is_multiple_of(size));
    debug_assert!((bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()));
    // SAFETY: whole, aligned `T`s (the caller's promise), read-only for the borrow of `bytes`;
    // `T: Pod` makes every bit pattern a valid `T`.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) }
}

/// [`blocks_of`] for a destination.
///
/// # Safety
/// As [`blocks_of`].
#[inline(always)]
pub(crate) unsafe fn blocks_of_mut<T: bytemuck::Pod>(bytes: &mut [u8]) -> &mut [T] {
    if bytes.is_empty() {
        return &mut [];
    }
    let size = core::mem::size_of::<T>();
    debug_assert!(bytes.len().is_multiple_of(size));
    debug_assert!((bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()));
    // SAFETY: whole, aligned `T`s (the caller's promise), borrowed mutably for the borrow of
    // `bytes`; `T: Pod` makes every bit pattern a valid `T` and every `T` valid bytes.
    unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), bytes.len() / size) }
}

// `block_rows` counts a row's blocks on the weight side only: every type and its `vec_dot_type`
// must share a block size.
const _: () = {
    let mut i = 0;
    while i < GgmlType::ALL.len() {
        let ty = GgmlType::ALL[i];
        assert!(ty.block_size() == ty.vec_dot_type().block_size());
        i += 1;
    }
};

/// A weight row and an activation row as their blocks, counted once: every weight type and its
/// `vec_dot_type` hold the same number of elements per block, so rows of the same element count
/// hold the same number of blocks (one division by a block's size, not two).
///
/// # Safety
/// As [`blocks_of`] for both, and `act` holds as many `A` blocks as `w` holds `W` blocks (the
/// [`VecDotFn`] contract: the same element count, in types of the same block size).
#[inline(always)]
pub(crate) unsafe fn block_rows<'a, W: bytemuck::Pod, A: bytemuck::Pod>(
    w: &'a [u8],
    act: &'a [u8],
) -> (&'a [W], &'a [A]) {
    // SAFETY: forwarded.
    let w = unsafe { blocks_of::<W>(w) };
    if w.is_empty() {
        return (w, &[]);
    }
    debug_assert_eq!(act.len(), w.len() * core::mem::size_of::<A>());
    debug_assert!((act.as_ptr() as usize).is_multiple_of(core::mem::align_of::<A>()));
    // SAFETY: `act` holds `w.len()` whole, aligned `A`s (the caller's promise); `A: Pod`.
    let a = unsafe { core::slice::from_raw_parts(act.as_ptr().cast::<A>(), w.len()) };
    (w, a)
}

/// Makes a [`DequantizeFn`] from `fn(&[Block], &mut [f32])` (safe or `unsafe`).
macro_rules! dequantize_entry {
    ($block:ty, $f:path) => {{
        #[allow(unused_unsafe)]
        unsafe fn entry(src: &[u8], dst: &mut [f32]) {
            let src: &[$block] = bytemuck::cast_slice(src);
            // SAFETY: the entry's caller upholds the table contract (whole aligned blocks, the
            // tier is supported), which is the kernel's contract.
            unsafe { $f(src, dst) }
        }
        entry as $crate::table::DequantizeFn
    }};
}

/// Makes a [`QuantizeFn`] from `fn(&[f32], &mut [Block])` (safe or `unsafe`).
macro_rules! quantize_entry {
    ($block:ty, $f:path) => {{
        #[allow(unused_unsafe)]
        unsafe fn entry(src: &[f32], dst: &mut [u8]) {
            let dst: &mut [$block] = bytemuck::cast_slice_mut(dst);
            // SAFETY: as in `dequantize_entry!`.
            unsafe { $f(src, dst) }
        }
        entry as $crate::table::QuantizeFn
    }};
}

/// Makes a [`VecDotFn`] from `fn(&[W], &[A]) -> f32` (safe or `unsafe`). With
/// `features = "…"` the entry itself is a `#[target_feature]` function of those features, so the
/// kernel (a leaf of the same features) can be inlined into it: one call instead of two on every
/// vec_dot, which matters on short rows.
macro_rules! vec_dot_entry {
    ($w:ty, $a:ty, $f:path) => {{
        #[allow(unused_unsafe)]
        unsafe fn entry(w: &[u8], act: &[u8]) -> f32 {
            // SAFETY: the entry's caller upholds the table contract (whole aligned blocks, the
            // tier is supported), which is the casts' and the kernel's contract.
            unsafe {
                let (w, act) = $crate::table::block_rows::<$w, $a>(w, act);
                $f(w, act)
            }
        }
        entry as $crate::table::VecDotFn
    }};
    ($w:ty, $a:ty, $f:path, features = $feat:literal) => {{
        #[allow(unused_unsafe)]
        #[target_feature(enable = $feat)]
        unsafe fn entry(w: &[u8], act: &[u8]) -> f32 {
            // SAFETY: as above; the CPU has the features (the tier's table holds the entry).
            unsafe {
                let (w, act) = $crate::table::block_rows::<$w, $a>(w, act);
                $f(w, act)
            }
        }
        entry as $crate::table::VecDotFn
    }};
}

#[allow(unused_macros)]
/// Makes a [`GemvFn`] from `fn(&[W], &[A], &mut [f32])` (safe or `unsafe`).
macro_rules! gemv_entry {
    ($w:ty, $a:ty, $f:path) => {{
        #[allow(unused_unsafe)]
        unsafe fn entry(w: &[u8], act: &[u8], out: &mut [f32]) {
            let w: &[$w] = bytemuck::cast_slice(w);
            let act: &[$a] = bytemuck::cast_slice(act);
            // SAFETY: as in `dequantize_entry!`.
            unsafe { $f(w, act, out) }
        }
        entry as $crate::table::GemvFn
    }};
}

#[allow(unused_macros)]
/// Makes a [`GemmFn`] from `fn(&[W], &[A], usize, &mut [f32])` (safe or `unsafe`).
macro_rules! gemm_entry {
    ($w:ty, $a:ty, $f:path) => {{
        #[allow(unused_unsafe)]
        unsafe fn entry(w: &[u8], act: &[u8], n_act: usize, out: &mut [f32]) {
            let w: &[$w] = bytemuck::cast_slice(w);
            let act: &[$a] = bytemuck::cast_slice(act);
            // SAFETY: as in `dequantize_entry!`.
            unsafe { $f(w, act, n_act, out) }
        }
        entry as $crate::table::GemmFn
    }};
}

/// Makes a [`RepackX8Fn`] from `fn(&[Row], usize, &mut [Packed])`.
macro_rules! repack_x8_entry {
    ($row:ty, $packed:ty, $f:path) => {{
        unsafe fn entry(src: &[u8], nb: usize, dst: &mut [u8]) {
            // SAFETY: the entry's caller upholds the table contract (whole aligned blocks).
            let (src, dst) = unsafe {
                (
                    $crate::table::blocks_of::<$row>(src),
                    $crate::table::blocks_of_mut::<$packed>(dst),
                )
            };
            $f(src, nb, dst)
        }
        entry as $crate::table::RepackX8Fn
    }};
}

/// Makes an [`UnpackX8Fn`] from `fn(&[Packed], usize, &mut [Row])`.
macro_rules! unpack_x8_entry {
    ($row:ty, $packed:ty, $f:path) => {{
        unsafe fn entry(stripe: &[u8], k: usize, dst: &mut [u8]) {
            // SAFETY: as in `repack_x8_entry!`.
            let (stripe, dst) = unsafe {
                (
                    $crate::table::blocks_of::<$packed>(stripe),
                    $crate::table::blocks_of_mut::<$row>(dst),
                )
            };
            $f(stripe, k, dst)
        }
        entry as $crate::table::UnpackX8Fn
    }};
}

/// Makes a [`GemmX8Fn`] from `fn(&[Packed], &[A], usize, &mut [f32], usize, usize)` (safe or
/// `unsafe`).
macro_rules! gemm_x8_entry {
    ($packed:ty, $a:ty, $f:path) => {{
        #[allow(unused_unsafe)]
        unsafe fn entry(
            w: &[u8],
            act: &[u8],
            n_act: usize,
            out: &mut [f32],
            ld: usize,
            rows: usize,
        ) {
            // SAFETY: as in `repack_x8_entry!`; the kernel's contract is the entry's.
            unsafe {
                let (w, act) = (
                    $crate::table::blocks_of::<$packed>(w),
                    $crate::table::blocks_of::<$a>(act),
                );
                $f(w, act, n_act, out, ld, rows)
            }
        }
        entry as $crate::table::GemmX8Fn
    }};
}

#[allow(unused_imports)]
pub(crate) use {
    dequantize_entry, gemm_entry, gemm_x8_entry, gemv_entry, quantize_entry, repack_x8_entry,
    unpack_x8_entry, vec_dot_entry,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_all() {
        for (i, t) in GgmlType::ALL.iter().enumerate() {
            assert_eq!(slot(*t), i, "{t}");
        }
    }

    #[test]
    fn generic_table_has_the_legacy_types() {
        let t = generic();
        assert_eq!(t.tier, Tier::Generic);
        for ty in [
            GgmlType::F32,
            GgmlType::F16,
            GgmlType::BF16,
            GgmlType::Q4_0,
            GgmlType::Q4_1,
            GgmlType::Q5_0,
            GgmlType::Q5_1,
            GgmlType::Q8_0,
            GgmlType::Q8_1,
        ] {
            let k = t.get(ty);
            assert!(k.dequantize.is_some(), "{ty} dequantize");
            assert!(k.quantize.is_some(), "{ty} quantize");
            assert!(k.dot.is_some(), "{ty} dot");
        }
    }

    #[test]
    fn unsupported_tier_gives_generic() {
        for tier in Tier::ALL {
            let t = for_tier(tier);
            if !tier.is_supported() {
                assert_eq!(t.tier, Tier::Generic, "{tier}");
            }
            assert!(t.tier <= tier || t.tier == Tier::Generic);
        }
    }
}
