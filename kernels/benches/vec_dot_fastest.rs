//! Single-row `vec_dot`, ours against ggml's, timed as the fastest of many short batches.
//!
//! On a shared host whose speed comes and goes, interference only ever adds time, and it comes
//! in phases longer than a criterion sample. This bench alternates a batch of our calls with a
//! batch of ggml's, many times over, and keeps the fastest batch of each side: the two are
//! compared under the same conditions even when the host is busy. (`kernels.rs` is the full
//! criterion bench; on an idle host the two agree within a few percent.)
//!
//! Run (x86-64; the arguments are optional):
//! `cargo bench -p retort-kernels --bench vec_dot_fastest -- [TYPES] [LENGTHS] [ROUNDS]`,
//! e.g. `-- q8_0,q4_k 576,1536 2000`. Defaults: every quantized type of the catalog, the catalog
//! row lengths its block size divides, 1000 rounds.

#[cfg(target_arch = "x86_64")]
#[path = "fixtures/ggml.rs"]
#[allow(dead_code)] // Its gemv is for `kernels.rs`.
mod ggml;
#[cfg(target_arch = "x86_64")]
#[path = "fixtures/rows.rs"]
mod rows;

#[cfg(target_arch = "x86_64")]
fn main() {
    use std::hint::black_box;
    use std::time::Instant;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use retort_kernels::{ops, GgmlType};

    // `cargo bench` passes `--bench`; every other argument is positional.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let types: Vec<GgmlType> = match args.first() {
        Some(list) => list
            .split(',')
            .map(|t| {
                GgmlType::from_name(&t.to_uppercase())
                    .unwrap_or_else(|| panic!("unknown type {t:?} (e.g. q8_0, q4_k)"))
            })
            .collect(),
        // The quantized ones: the float rows have no 8-block structure to compare.
        None => rows::TYPES
            .into_iter()
            .filter(|t| t.block_size() > 1)
            .collect(),
    };
    let lengths: Vec<usize> = match args.get(1) {
        Some(list) => list
            .split(',')
            .map(|n| n.parse().unwrap_or_else(|_| panic!("bad row length {n:?}")))
            .collect(),
        None => rows::ROW_LENGTHS.to_vec(),
    };
    let rounds: usize = args
        .get(2)
        .map(|r| r.parse().expect("ROUNDS is a count"))
        .unwrap_or(1000);

    println!(
        "tier {}, fastest of {rounds} batches per side\n",
        ops::active_tier().name()
    );
    println!("| type | n | ours ns | ggml ns | ggml/ours |");
    println!("|---|---|---|---|---|");
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e71);
    for &ty in &types {
        let f = ggml::vec_dot_fn(ty);
        for &n in &lengths {
            if n % ty.block_size() != 0 {
                continue;
            }
            let w = rows::weights(ty, 1, n, &mut rng);
            let a = rows::activation(ty, n, &mut rng);
            ggml::check_against_ggml(ty, n, w.bytes(), a.bytes());
            // About 20 µs a batch: long next to the clock's resolution, short next to a phase.
            let batch = 200_000 / n + 50;
            let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
            for _ in 0..rounds {
                let t = Instant::now();
                for _ in 0..batch {
                    // The f32, as a caller uses it (see `kernels.rs`).
                    black_box(
                        ops::vec_dot(ty, n, black_box(w.bytes()), black_box(a.bytes()))
                            .expect("vec_dot"),
                    );
                }
                ours = ours.min(t.elapsed().as_secs_f64() / batch as f64);
                let t = Instant::now();
                for _ in 0..batch {
                    black_box(ggml::vec_dot(
                        f,
                        n,
                        black_box(w.bytes()),
                        black_box(a.bytes()),
                    ));
                }
                theirs = theirs.min(t.elapsed().as_secs_f64() / batch as f64);
            }
            println!(
                "| {ty} | {n} | {:.1} | {:.1} | {:.2} |",
                ours * 1e9,
                theirs * 1e9,
                theirs / ours
            );
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("vec_dot_fastest times ours against ggml, which these benches link on x86-64 only");
}
