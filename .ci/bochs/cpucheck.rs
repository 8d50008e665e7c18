//! Run inside the emulated CPU by `.ci/avx512-tests` before the kernel tests: reports what Rust's
//! run-time detection sees (the same `is_x86_feature_detected!` the kernels' tier selection uses)
//! and executes one 512-bit VNNI instruction, checked against a scalar computation, so a rig whose
//! emulator lacks AVX-512 VNNI fails loudly instead of silently testing a lower tier.
//!
//! Built by the rig with plain `rustc` (no crates). Prints one line starting `cpucheck:` and exits
//! 0 only when avx512f, avx512bw, avx512vl and avx512vnni are detected and `vpdpbusd` is right.
#![deny(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::{__m512i, _mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_storeu_si512};

/// `vpdpbusd` on fixed bytes (unsigned × signed, four products summed into each i32 lane, added
/// to the accumulator).
///
/// # Safety
/// The CPU must support avx512f and avx512vnni.
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn dpbusd(acc: &[i32; 16], a: &[u8; 64], b: &[i8; 64]) -> [i32; 16] {
    let mut out = [0i32; 16];
    // SAFETY: each pointer refers to exactly 64 readable (or writable, for `out`) bytes; the
    // unaligned load/store forms need no alignment; the caller guarantees the features.
    unsafe {
        let r = _mm512_dpbusd_epi32(
            _mm512_loadu_si512(acc.as_ptr() as *const __m512i),
            _mm512_loadu_si512(a.as_ptr() as *const __m512i),
            _mm512_loadu_si512(b.as_ptr() as *const __m512i),
        );
        _mm512_storeu_si512(out.as_mut_ptr() as *mut __m512i, r);
    }
    out
}

fn main() {
    let f = is_x86_feature_detected!("avx512f");
    let bw = is_x86_feature_detected!("avx512bw");
    let vl = is_x86_feature_detected!("avx512vl");
    let vnni = is_x86_feature_detected!("avx512vnni");
    let mut line = format!("cpucheck: avx512f={f} avx512bw={bw} avx512vl={vl} avx512vnni={vnni}");
    let mut ok = f && bw && vl && vnni;
    if f && vnni {
        let a: [u8; 64] = std::array::from_fn(|i| (i * 37 + 200) as u8);
        let b: [i8; 64] = std::array::from_fn(|i| (i as i32 * 53 - 90) as i8);
        let acc: [i32; 16] = std::array::from_fn(|i| i as i32 * 1000 - 7000);
        let want: [i32; 16] = std::array::from_fn(|l| {
            acc[l] + (0..4).map(|k| a[4 * l + k] as i32 * b[4 * l + k] as i32).sum::<i32>()
        });
        // SAFETY: avx512f and avx512vnni were detected just above.
        let got = unsafe { dpbusd(&acc, &a, &b) };
        let same = got == want;
        line.push_str(&format!(" vpdpbusd={}", if same { "ok" } else { "WRONG" }));
        if !same {
            line.push_str(&format!(" got={got:?} want={want:?}"));
        }
        ok &= same;
    }
    println!("{line}");
    std::process::exit(if ok { 0 } else { 1 });
}
