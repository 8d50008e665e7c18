//! `vec_dot` and `gemv`, ours against ggml's, each timed as the fastest of many short batches.
//!
//! On a shared host whose speed comes and goes, interference only ever adds time, comes in
//! phases of seconds to tens of seconds, and does not slow both sides alike. This bench
//! alternates a batch of our calls with a batch of ggml's, and goes over the whole table again
//! and again (passes) for a set time, keeping each side's fastest batch: every row's samples are
//! spread over the whole run, so both sides of a row meet the host's quiet moments. (`kernels.rs`
//! is the full criterion bench.) Rows, shapes and data are the criterion bench's
//! (`fixtures/rows.rs`).
//!
//! Run (x86-64; every argument is optional):
//! `cargo bench -p retort-kernels --bench kernels_fastest -- [vec_dot|gemv] [TYPES] [SECONDS]`,
//! e.g. `-- vec_dot q8_0,q4_k 30`. Defaults: both products, every quantized type of the catalog,
//! passes for 120 seconds (at least two), each of up to 50 batch pairs a row.

#[cfg(target_arch = "x86_64")]
#[path = "fixtures/ggml.rs"]
mod ggml;
#[cfg(target_arch = "x86_64")]
#[path = "fixtures/rows.rs"]
mod rows;

/// Batch pairs per row and pass.
#[cfg(target_arch = "x86_64")]
const ROUNDS: usize = 50;

/// One row of a table: its label, the calls per batch and the two sides.
#[cfg(target_arch = "x86_64")]
struct Case {
    label: String,
    /// Calls per batch.
    batch: usize,
    /// Each side makes the number of calls it is given.
    ours: Box<dyn FnMut(usize)>,
    theirs: Box<dyn FnMut(usize)>,
    /// Fastest per-call times so far, ns: ours, ggml's.
    best: [f64; 2],
}

#[cfg(target_arch = "x86_64")]
impl Case {
    /// Up to [`ROUNDS`] alternating batches of each side (fewer once a side has spent 0.1 s),
    /// keeping the fastest.
    fn pass(&mut self) {
        use std::time::{Duration, Instant};
        let budget = Duration::from_millis(100);
        let mut spent = [Duration::ZERO; 2];
        for _ in 0..ROUNDS {
            let sides = [&mut self.ours, &mut self.theirs];
            for ((f, spent), best) in sides.into_iter().zip(&mut spent).zip(&mut self.best) {
                let t = Instant::now();
                f(self.batch);
                let took = t.elapsed();
                *spent += took;
                *best = best.min(took.as_secs_f64() * 1e9 / self.batch as f64);
            }
            if spent.iter().all(|s| *s > budget) {
                break;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use std::hint::black_box;
    use std::rc::Rc;

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
    let seconds: u64 = args
        .get(1)
        .map(|r| r.parse().expect("SECONDS is a whole number"))
        .unwrap_or(120);

    let mut rng = ChaCha8Rng::seed_from_u64(0x7e71);
    let mut dots: Vec<Case> = Vec::new();
    let mut gemvs: Vec<Case> = Vec::new();
    for &ty in &types {
        let f = ggml::vec_dot_fn(ty);
        if vec_dot {
            for n in rows::ROW_LENGTHS {
                if n % ty.block_size() != 0 {
                    continue;
                }
                let w = Rc::new(rows::weights(ty, 1, n, &mut rng));
                let a = Rc::new(rows::activation(ty, n, &mut rng));
                ggml::check_against_ggml(ty, n, w.bytes(), a.bytes());
                let (w2, a2) = (Rc::clone(&w), Rc::clone(&a));
                dots.push(Case {
                    label: format!("{ty} | {n}"),
                    // About 20 µs a batch: long next to the clock's step, short next to a phase.
                    batch: 200_000 / n + 50,
                    ours: Box::new(move |calls| {
                        for _ in 0..calls {
                            // The f32, as a caller uses it (see `kernels.rs`).
                            black_box(
                                ops::vec_dot(ty, n, black_box(w.bytes()), black_box(a.bytes()))
                                    .expect("vec_dot"),
                            );
                        }
                    }),
                    theirs: Box::new(move |calls| {
                        for _ in 0..calls {
                            let (w, a) = (black_box(w2.bytes()), black_box(a2.bytes()));
                            black_box(ggml::vec_dot(f, n, w, a));
                        }
                    }),
                    best: [f64::MAX; 2],
                });
            }
        }
        if gemv {
            for (rows_n, n) in rows::gemv_shapes(ty) {
                let w = Rc::new(rows::weights(ty, rows_n, n, &mut rng));
                let a = Rc::new(rows::activation(ty, n, &mut rng));
                let rb = rows::row_bytes(ty, n);
                let (w2, a2) = (Rc::clone(&w), Rc::clone(&a));
                let mut out = vec![0.0f32; rows_n];
                let mut theirs_out = vec![0.0f32; rows_n];
                gemvs.push(Case {
                    label: format!("{ty} | {rows_n}×{n}"),
                    batch: 1,
                    ours: Box::new(move |calls| {
                        for _ in 0..calls {
                            ops::gemv(ty, n, black_box(w.bytes()), black_box(a.bytes()), &mut out)
                                .expect("gemv");
                            black_box(&out);
                        }
                    }),
                    theirs: Box::new(move |calls| {
                        for _ in 0..calls {
                            ggml::gemv(
                                f,
                                n,
                                rb,
                                black_box(w2.bytes()),
                                a2.bytes(),
                                &mut theirs_out,
                            );
                            black_box(&theirs_out);
                        }
                    }),
                    best: [f64::MAX; 2],
                });
            }
        }
    }
    let start = std::time::Instant::now();
    let mut passes = 0;
    while passes < 2 || start.elapsed().as_secs() < seconds {
        for case in dots.iter_mut().chain(gemvs.iter_mut()) {
            case.pass();
        }
        passes += 1;
    }

    println!(
        "tier {}, each side's fastest batch over {passes} passes in {} s\n",
        ops::active_tier().name(),
        start.elapsed().as_secs()
    );
    for (cases, head, scale) in [
        (&dots, "| type | n | ours ns | ggml ns | ggml/ours |", 1.0),
        (
            &gemvs,
            "| type | rows×n | ours µs | ggml µs | ggml/ours |",
            1e3,
        ),
    ] {
        if cases.is_empty() {
            continue;
        }
        println!("{head}\n|---|---|---|---|---|");
        for c in cases {
            let [ours, theirs] = c.best;
            println!(
                "| {} | {:.1} | {:.1} | {:.2} |",
                c.label,
                ours / scale,
                theirs / scale,
                theirs / ours
            );
        }
        println!();
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("kernels_fastest times ours against ggml, which these benches link on x86-64 only");
}
