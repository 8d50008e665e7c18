//! Throughput of the dot-product kernels, ours against ggml's (llama.cpp b2757 through
//! `ggml-sys`, x86-64 only), single-threaded.
//!
//! For every weight type: `vec_dot` on one row of each catalog row length the type's block size
//! divides, and `gemv` on matrices shaped like the catalog models' projections. Each is run with
//! the active tier's table (`ops`), with the generic (scalar) table (`ops::for_tier`, gemv only)
//! and with ggml's `vec_dot` (for gemv: once per row, as ggml's single-threaded `mul_mat` does).
//! Criterion's throughput is the weight bytes read per call; `benches/report.py` turns the
//! results into the table in `benches/README.md`.
//!
//! Run: `cargo bench -p retort-kernels --bench kernels` (add a criterion filter such as
//! `gemv_Q8_0` to run a subset).

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::ops::{self, TierOps};
use retort_kernels::{GgmlType, Tier};

/// The weight types the catalog's models use.
const TYPES: [GgmlType; 12] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::F16,
    GgmlType::F32,
];

/// Row lengths (hidden and FFN sizes) of SmolLM2-135M, Gemma-3-270M and Qwen2.5-0.5B.
const ROW_LENGTHS: [usize; 6] = [576, 640, 896, 1536, 2048, 4864];

/// (rows, row length) of the FFN up/gate projections (hidden-sized rows) ...
const UP_SHAPES: [(usize, usize); 3] = [(1536, 576), (2048, 640), (4864, 896)];
/// ... and of the down projections, whose FFN-sized rows the K types' 256-blocks divide.
const DOWN_SHAPES: [(usize, usize); 3] = [(576, 1536), (640, 2048), (896, 4864)];
/// Gemma-3's tied token embedding / output head (262144 × 640, stored as Q8_0: 178 MB).
const VOCAB_SHAPE: (usize, usize) = (262_144, 640);

/// Distinct quantized rows generated per matrix; the matrix repeats them. Quantizing every row of
/// the vocabulary matrix would take minutes; the kernels' speed does not depend on the values.
const DISTINCT_ROWS: usize = 32;

/// Bytes with 8-byte alignment (enough for every block struct and for ggml).
struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    fn zeroed(len: usize) -> Aligned {
        Aligned {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

fn row_bytes(ty: GgmlType, n: usize) -> usize {
    ty.row_bytes(n as u64).expect("catalog row lengths fit") as usize
}

/// Roughly normal values, like trained weights and activations.
fn random_row(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let s: f32 = (0..4).map(|_| rng.random::<f32>()).sum();
            (s - 2.0) * scale
        })
        .collect()
}

/// A `rows × n` matrix of `ty` made with our quantizer (`DISTINCT_ROWS` rows, repeated).
fn weights(ty: GgmlType, rows: usize, n: usize, rng: &mut ChaCha8Rng) -> Aligned {
    let rb = row_bytes(ty, n);
    let distinct = rows.min(DISTINCT_ROWS);
    let mut pattern = Aligned::zeroed(distinct * rb);
    for chunk in pattern.bytes_mut().chunks_exact_mut(rb) {
        ops::quantize_row(ty, &random_row(rng, n, 0.05), chunk).expect("quantize weights");
    }
    let mut out = Aligned::zeroed(rows * rb);
    for (i, row) in out.bytes_mut().chunks_exact_mut(rb).enumerate() {
        let j = i % distinct;
        row.copy_from_slice(&pattern.bytes()[j * rb..(j + 1) * rb]);
    }
    out
}

/// One activation row of `n` elements in `ty`'s `vec_dot_type`, from our quantizer.
fn activation(ty: GgmlType, n: usize, rng: &mut ChaCha8Rng) -> Aligned {
    let at = ty.vec_dot_type();
    let mut a = Aligned::zeroed(row_bytes(at, n));
    ops::quantize_row(at, &random_row(rng, n, 1.0), a.bytes_mut()).expect("quantize activation");
    a
}

#[cfg(target_arch = "x86_64")]
mod ggml {
    //! ggml's own kernels, reached through its type-traits table.
    use std::ffi::c_void;
    use std::sync::Once;

    use ggml_sys as sys;
    use retort_kernels::GgmlType;

    /// ggml's `vec_dot` for weights of `ty`.
    pub type VecDot =
        unsafe extern "C" fn(i32, *mut f32, usize, *const c_void, usize, *const c_void, usize, i32);

    pub fn vec_dot_fn(ty: GgmlType) -> VecDot {
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            // The first `ggml_init` fills ggml's f16 conversion tables, which its kernels read.
            let params = sys::ggml_init_params {
                mem_size: 1 << 16,
                mem_buffer: std::ptr::null_mut(),
                no_alloc: true,
            };
            // SAFETY: a plain C call with valid parameters; the context is freed at once.
            unsafe {
                let ctx = sys::ggml_init(params);
                assert!(!ctx.is_null(), "ggml_init failed");
                sys::ggml_free(ctx);
            }
        });
        // SAFETY: a read of ggml's static traits table for a type id ggml defines.
        let traits = unsafe { sys::ggml_internal_get_type_traits(ty.id() as sys::ggml_type) };
        traits
            .vec_dot
            .expect("ggml has a vec_dot for every weight type")
    }

    /// ggml's dot of one weight row with one activation row, both `n` elements.
    pub fn vec_dot(f: VecDot, n: usize, w: &[u8], act: &[u8]) -> f32 {
        let mut s = 0.0f32;
        // SAFETY: `w` and `act` each hold one row of `n` elements in ggml's layouts (the caller
        // sizes them with `row_bytes`); with nrc = 1 ggml ignores the strides.
        unsafe {
            f(
                n as i32,
                &mut s,
                0,
                w.as_ptr() as *const c_void,
                0,
                act.as_ptr() as *const c_void,
                0,
                1,
            )
        };
        s
    }

    /// ggml's single-threaded matrix-vector product: one `vec_dot` per weight row.
    pub fn gemv(f: VecDot, n: usize, rb: usize, w: &[u8], act: &[u8], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(w.chunks_exact(rb)) {
            *o = vec_dot(f, n, row, act);
        }
    }
}

/// Panics unless ggml and we agree on a dot product (a wrong layout would make timing moot).
#[cfg(target_arch = "x86_64")]
fn check_against_ggml(ty: GgmlType, n: usize, w: &[u8], act: &[u8]) {
    let ours = ops::vec_dot(ty, n, w, act).expect("our vec_dot");
    let theirs = ggml::vec_dot(ggml::vec_dot_fn(ty), n, w, act);
    let tol = 1e-3 * ours.abs().max(theirs.abs()).max(1.0);
    assert!(
        (ours - theirs).abs() <= tol,
        "{ty} n={n}: ours {ours} vs ggml {theirs}"
    );
}

fn bench_vec_dot(c: &mut Criterion) {
    let tier = ops::active_tier();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e70);
    for ty in TYPES {
        let mut g = c.benchmark_group(format!("vec_dot_{ty}"));
        for n in ROW_LENGTHS {
            if n % ty.block_size() != 0 {
                continue;
            }
            let w = weights(ty, 1, n, &mut rng);
            let a = activation(ty, n, &mut rng);
            g.throughput(Throughput::Bytes(row_bytes(ty, n) as u64));
            g.bench_with_input(BenchmarkId::new(tier.name(), n), &n, |b, &n| {
                // The f32 is what a caller uses (and what ggml's side returns). Handing criterion
                // the whole `Result` (24 bytes, returned through memory) would time its copy, a
                // store-forwarding stall of several nanoseconds, rather than the call.
                b.iter(|| {
                    ops::vec_dot(ty, n, black_box(w.bytes()), black_box(a.bytes()))
                        .expect("vec_dot")
                })
            });
            #[cfg(target_arch = "x86_64")]
            {
                check_against_ggml(ty, n, w.bytes(), a.bytes());
                let f = ggml::vec_dot_fn(ty);
                g.bench_with_input(BenchmarkId::new("ggml", n), &n, |b, &n| {
                    b.iter(|| ggml::vec_dot(f, n, black_box(w.bytes()), black_box(a.bytes())))
                });
            }
        }
        g.finish();
    }
}

/// The gemv shapes of `ty`: those whose row length its block size divides, plus the vocabulary
/// matrix for Q8_0.
fn gemv_shapes(ty: GgmlType) -> Vec<(usize, usize)> {
    let mut shapes: Vec<(usize, usize)> = UP_SHAPES
        .iter()
        .chain(DOWN_SHAPES.iter())
        .copied()
        .filter(|&(_, n)| n % ty.block_size() == 0)
        .collect();
    if ty == GgmlType::Q8_0 {
        shapes.push(VOCAB_SHAPE);
    }
    shapes
}

fn bench_gemv(c: &mut Criterion) {
    let tier = ops::active_tier();
    let generic: TierOps = ops::for_tier(Tier::Generic);
    let mut rng = ChaCha8Rng::seed_from_u64(0x9e3f);
    for ty in TYPES {
        let mut g = c.benchmark_group(format!("gemv_{ty}"));
        for (rows, n) in gemv_shapes(ty) {
            let w = weights(ty, rows, n, &mut rng);
            let a = activation(ty, n, &mut rng);
            let mut out = vec![0.0f32; rows];
            let shape = format!("{rows}x{n}");
            if (rows, n) == VOCAB_SHAPE {
                // 178 MB per call: the fewest samples criterion takes, one call each.
                g.sample_size(10)
                    .sampling_mode(SamplingMode::Flat)
                    .measurement_time(Duration::from_secs(2));
            }
            g.throughput(Throughput::Bytes(w.bytes().len() as u64));
            g.bench_function(BenchmarkId::new(tier.name(), &shape), |b| {
                b.iter(|| ops::gemv(ty, n, black_box(w.bytes()), black_box(a.bytes()), &mut out))
            });
            if tier != Tier::Generic {
                g.bench_function(BenchmarkId::new("generic", &shape), |b| {
                    b.iter(|| {
                        generic.gemv(ty, n, black_box(w.bytes()), black_box(a.bytes()), &mut out)
                    })
                });
            }
            #[cfg(target_arch = "x86_64")]
            {
                let f = ggml::vec_dot_fn(ty);
                let rb = row_bytes(ty, n);
                g.bench_function(BenchmarkId::new("ggml", &shape), |b| {
                    b.iter(|| ggml::gemv(f, n, rb, black_box(w.bytes()), a.bytes(), &mut out))
                });
            }
            black_box(&out);
        }
        g.finish();
    }
}

fn config() -> Criterion {
    // Short runs: the whole set has to finish in about ten minutes on a 2-core machine.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10)
        .configure_from_args()
}

criterion_group! {
    name = kernels;
    config = config();
    targets = bench_vec_dot, bench_gemv
}
criterion_main!(kernels);
