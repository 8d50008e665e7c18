//! `vec_dot` and `gemv`, ours against ggml's, each timed as the fastest of many short batches.
//!
//! On a shared host whose speed comes and goes, interference only ever adds time, and it comes
//! in phases longer than a criterion sample. This bench alternates a batch of our calls with a
//! batch of ggml's, many times over, and keeps the fastest batch of each side, so the two are
//! compared under the same conditions even when the host is busy. (`kernels.rs` is the full
//! criterion bench; on an idle host the two agree within a few percent.) Rows, shapes and data
//! are the criterion bench's (`fixtures/rows.rs`).
//!
//! Run (x86-64; every argument is optional):
//! `cargo bench -p retort-kernels --bench kernels_fastest -- [vec_dot|gemv] [TYPES] [ROUNDS]`,
//! e.g. `-- vec_dot q8_0,q4_k 2000`. Defaults: both products, every quantized type of the
//! catalog, 1000 rounds (fewer for the largest matrices: each side stops after two seconds).

#[cfg(target_arch = "x86_64")]
#[path = "fixtures/ggml.rs"]
mod ggml;
#[cfg(target_arch = "x86_64")]
#[path = "fixtures/rows.rs"]
mod rows;

/// The fastest per-call time of `ours` and of `theirs`, in ns, over up to `rounds` alternating
/// batches of `batch` calls each (fewer once a side has spent two seconds).
#[cfg(target_arch = "x86_64")]
fn fastest(
    rounds: usize,
    batch: usize,
    mut ours: impl FnMut(),
    mut theirs: impl FnMut(),
) -> (f64, f64) {
    use std::time::{Duration, Instant};
    let budget = Duration::from_secs(2);
    let (mut best, mut spent) = ([f64::MAX; 2], [Duration::ZERO; 2]);
    for _ in 0..rounds {
        for (side, f) in [&mut ours as &mut dyn FnMut(), &mut theirs]
            .into_iter()
            .enumerate()
        {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            let took = t.elapsed();
            spent[side] += took;
            best[side] = best[side].min(took.as_secs_f64() * 1e9 / batch as f64);
        }
        if spent.iter().all(|s| *s > budget) {
            break;
        }
    }
    (best[0], best[1])
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use std::hint::black_box;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use retort_kernels::{ops, GgmlType};

    // `cargo bench` passes `--bench`; every other argument is positional.
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (vec_dot, gemv) = match args.first().map(String::as_str) {
        Some("vec_dot") => (true, false),
        Some("gemv") => (false, true),
        _ => (true, true),
    };
    if matches!(args.first().map(String::as_str), Some("vec_dot" | "gemv")) {
        args.remove(0);
    }
    let types: Vec<GgmlType> = match args.first() {
        Some(list) => list
            .split(',')
            .map(|t| {
                GgmlType::from_name(&t.to_uppercase())
                    .unwrap_or_else(|| panic!("unknown type {t:?} (e.g. q8_0, q4_k)"))
            })
            .collect(),
        // The quantized ones: the float rows are far ahead and memory-bound.
        None => rows::TYPES
            .into_iter()
            .filter(|t| t.block_size() > 1)
            .collect(),
    };
    let rounds: usize = args
        .get(1)
        .map(|r| r.parse().expect("ROUNDS is a count"))
        .unwrap_or(1000);

    println!(
        "tier {}, fastest of up to {rounds} batches per side\n",
        ops::active_tier().name()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e71);
    if vec_dot {
        println!("| type | n | ours ns | ggml ns | ggml/ours |");
        println!("|---|---|---|---|---|");
        for &ty in &types {
            let f = ggml::vec_dot_fn(ty);
            for n in rows::ROW_LENGTHS {
                if n % ty.block_size() != 0 {
                    continue;
                }
                let w = rows::weights(ty, 1, n, &mut rng);
                let a = rows::activation(ty, n, &mut rng);
                ggml::check_against_ggml(ty, n, w.bytes(), a.bytes());
                // About 20 µs a batch: long next to the clock's step, short next to a phase.
                let (ours, theirs) = fastest(
                    rounds,
                    200_000 / n + 50,
                    || {
                        // The f32, as a caller uses it (see `kernels.rs`).
                        black_box(
                            ops::vec_dot(ty, n, black_box(w.bytes()), black_box(a.bytes()))
                                .expect("vec_dot"),
                        );
                    },
                    || {
                        black_box(ggml::vec_dot(
                            f,
                            n,
                            black_box(w.bytes()),
                            black_box(a.bytes()),
                        ));
                    },
                );
                println!(
                    "| {ty} | {n} | {ours:.1} | {theirs:.1} | {:.2} |",
                    theirs / ours
                );
            }
        }
        println!();
    }
    if gemv {
        println!("| type | rows×n | ours µs | ggml µs | ggml/ours |");
        println!("|---|---|---|---|---|");
        for &ty in &types {
            let f = ggml::vec_dot_fn(ty);
            for (rows_n, n) in rows::gemv_shapes(ty) {
                let w = rows::weights(ty, rows_n, n, &mut rng);
                let a = rows::activation(ty, n, &mut rng);
                let rb = rows::row_bytes(ty, n);
                let mut out = vec![0.0f32; rows_n];
                let mut theirs_out = vec![0.0f32; rows_n];
                let (ours, theirs) = fastest(
                    rounds,
                    1,
                    || {
                        ops::gemv(ty, n, black_box(w.bytes()), black_box(a.bytes()), &mut out)
                            .expect("gemv");
                        black_box(&out);
                    },
                    || {
                        ggml::gemv(f, n, rb, black_box(w.bytes()), a.bytes(), &mut theirs_out);
                        black_box(&theirs_out);
                    },
                );
                println!(
                    "| {ty} | {rows_n}×{n} | {:.1} | {:.1} | {:.2} |",
                    ours / 1e3,
                    theirs / 1e3,
                    theirs / ours
                );
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("kernels_fastest times ours against ggml, which these benches link on x86-64 only");
}
