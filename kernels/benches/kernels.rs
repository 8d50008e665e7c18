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
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use retort_kernels::ops::{self, TierOps};
use retort_kernels::Tier;

#[cfg(target_arch = "x86_64")]
#[path = "fixtures/ggml.rs"]
mod ggml;
#[path = "fixtures/rows.rs"]
mod rows;

#[cfg(target_arch = "x86_64")]
use ggml::check_against_ggml;
use rows::{activation, gemv_shapes, row_bytes, weights, ROW_LENGTHS, TYPES, VOCAB_SHAPE};

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
