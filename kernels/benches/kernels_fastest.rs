//! `vec_dot` and `gemv`, ours against ggml's, and our row-interleaved (x8) products against our
//! plain ones, each timed as the fastest of many short batches.
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
//! `cargo bench -p retort-kernels --bench kernels_fastest -- [vec_dot|gemv|x8] [TYPES] [SECONDS]`,
//! e.g. `-- vec_dot q8_0,q4_k 30`. Defaults: vec_dot and gemv, every quantized type of the
//! catalog, passes for 120 seconds (at least two), each of up to 50 batch pairs a row.
//!
//! `x8` times, on the model shapes, `ops::gemm_x8` over repacked weights against the plain
//! product of the same tier on the file's rows: one activation row (decode: `gemv`) and
//! [`X8_TOKENS`] rows (a prefill batch: `gemm`). The two give the same bits.

#[cfg(target_arch = "x86_64")]
#[path = "fixtures/ggml.rs"]
mod ggml;
#[cfg(target_arch = "x86_64")]
#[path = "fixtures/rows.rs"]
mod rows;

/// Activation rows of the x8 table's prefill rows.
#[cfg(target_arch = "x86_64")]
const X8_TOKENS: usize = 64;

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
    let (vec_dot, gemv, x8) = match args.first().map(String::as_str) {
        Some("vec_dot") => (true, false, false),
        Some("gemv") => (false, true, false),
        Some("x8") => (false, false, true),
        _ => (true, true, false),
    };
    if matches!(
        args.first().map(String::as_str),
        Some("vec_dot" | "gemv" | "x8")
    ) {
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
            .filter(|t| t.block_size() > 1 && (!x8 || ops::has_x8(*t)))
            .collect(),
    };
    let seconds: u64 = args
        .get(1)
        .map(|r| r.parse().expect("SECONDS is a whole number"))
        .unwrap_or(120);

    let mut rng = ChaCha8Rng::seed_from_u64(0x7e71);
    let mut dots: Vec<Case> = Vec::new();
    let mut gemvs: Vec<Case> = Vec::new();
    let mut x8s: Vec<Case> = Vec::new();
    for &ty in &types {
        if x8 {
            x8_cases(ty, &mut rng, &mut x8s);
            continue;
        }
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
        for case in dots
            .iter_mut()
            .chain(gemvs.iter_mut())
            .chain(x8s.iter_mut())
        {
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
        (
            &x8s,
            "| type | rows×n | tokens | x8 µs | plain µs | plain/x8 |",
            1e3,
        ),
    ] {
        if cases.is_empty() {
            continue;
        }
        let columns = head.matches('|').count() - 1;
        println!("{head}\n|{}", "---|".repeat(columns));
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

/// The x8 table's rows of `ty`: each model shape, one activation row and [`X8_TOKENS`] of them,
/// `ops::gemm_x8` on the repacked matrix ("ours") against the plain product ("theirs").
#[cfg(target_arch = "x86_64")]
fn x8_cases(
    ty: retort_kernels::GgmlType,
    rng: &mut rand_chacha::ChaCha8Rng,
    cases: &mut Vec<Case>,
) {
    use std::hint::black_box;
    use std::rc::Rc;

    use retort_kernels::ops;

    for (rows_n, n) in rows::gemv_shapes(ty) {
        if rows_n > 100_000 {
            // The vocabulary matrix is the output head, which keeps the file's rows.
            continue;
        }
        let w = Rc::new(rows::weights(ty, rows_n, n, rng));
        let rb = rows::row_bytes(ty, n);
        let sb = ops::x8_stripe_bytes(ty, n).expect("x8 form");
        let mut packed = rows::Aligned::zeroed(rows_n.div_ceil(8) * sb);
        for (s, stripe) in packed.bytes_mut().chunks_exact_mut(sb).enumerate() {
            let r1 = (8 * s + 8).min(rows_n);
            ops::repack_x8(ty, n, &w.bytes()[8 * s * rb..r1 * rb], stripe).expect("repack");
        }
        let packed = Rc::new(packed);
        for tokens in [1, X8_TOKENS] {
            let at = ty.vec_dot_type();
            let mut acts = rows::Aligned::zeroed(tokens * rows::row_bytes(at, n));
            for row in acts.bytes_mut().chunks_exact_mut(rows::row_bytes(at, n)) {
                row.copy_from_slice(rows::activation(ty, n, rng).bytes());
            }
            let a = Rc::new(acts);
            let (w2, a2, p) = (Rc::clone(&w), Rc::clone(&a), Rc::clone(&packed));
            let mut out = vec![0.0f32; tokens * rows_n];
            let mut plain_out = vec![0.0f32; tokens * rows_n];
            // Same bits both ways (checked once here; the tests check it everywhere).
            ops::gemm_x8(
                ty,
                n,
                p.bytes(),
                a.bytes(),
                tokens,
                &mut out,
                rows_n,
                rows_n,
            )
            .expect("x8");
            ops::gemm(ty, n, w.bytes(), a.bytes(), tokens, &mut plain_out).expect("gemm");
            assert!(
                out.iter()
                    .zip(&plain_out)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{ty} {rows_n}×{n}: x8 and plain products differ"
            );
            cases.push(Case {
                label: format!("{ty} | {rows_n}×{n} | {tokens}"),
                batch: 1,
                ours: Box::new(move |calls| {
                    for _ in 0..calls {
                        ops::gemm_x8(
                            ty,
                            n,
                            black_box(p.bytes()),
                            black_box(a.bytes()),
                            tokens,
                            &mut out,
                            rows_n,
                            rows_n,
                        )
                        .expect("x8");
                        black_box(&out);
                    }
                }),
                theirs: Box::new(move |calls| {
                    for _ in 0..calls {
                        let (w, a) = (black_box(w2.bytes()), black_box(a2.bytes()));
                        if tokens == 1 {
                            ops::gemv(ty, n, w, a, &mut plain_out).expect("gemv");
                        } else {
                            ops::gemm(ty, n, w, a, tokens, &mut plain_out).expect("gemm");
                        }
                        black_box(&plain_out);
                    }
                }),
                best: [f64::MAX; 2],
            });
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("kernels_fastest times ours against ggml, which these benches link on x86-64 only");
}
