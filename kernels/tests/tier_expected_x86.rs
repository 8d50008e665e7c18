//! The x86 tier this process runs is the one the environment expects.
//!
//! `RETORT_EXPECT_TIER=<tier>` (set by `.ci/avx512-tests`, or by hand) makes
//! [`expected_tier_is_active`] fail unless this CPU supports that tier and the kernel table `ops`
//! uses (decided under `RETORT_CPU_TIER`, if set) is that tier's, so a run that silently fell back
//! to a lower tier fails instead of testing the wrong kernels. Unset, the test only checks that the
//! table and the detected tier agree.
#![cfg(target_arch = "x86_64")]

use retort_kernels::{ops, tier, Tier};

/// The x86 tiers, lowest first.
const X86_TIERS: [Tier; 3] = [Tier::Generic, Tier::Avx2, Tier::Avx512];

/// What this CPU reports, for failure messages.
fn cpu_features() -> String {
    let mut s = String::new();
    for (name, has) in [
        ("avx2", std::is_x86_feature_detected!("avx2")),
        ("fma", std::is_x86_feature_detected!("fma")),
        ("f16c", std::is_x86_feature_detected!("f16c")),
        ("avx512f", std::is_x86_feature_detected!("avx512f")),
        ("avx512bw", std::is_x86_feature_detected!("avx512bw")),
        ("avx512vl", std::is_x86_feature_detected!("avx512vl")),
        ("avx512vnni", std::is_x86_feature_detected!("avx512vnni")),
    ] {
        s.push_str(&format!("{name}={} ", if has { "yes" } else { "no" }));
    }
    s
}

#[test]
fn expected_tier_is_active() {
    let active = ops::active_tier();
    let cap = std::env::var("RETORT_CPU_TIER").ok();
    // The table `ops` uses is the one of the detected tier (its overlay ran and recorded it).
    assert_eq!(active, tier::active(), "table tier vs detected tier");
    assert!(X86_TIERS.contains(&active), "{active} is not an x86 tier");
    let Some(want) = std::env::var("RETORT_EXPECT_TIER").ok() else {
        println!(
            "RETORT_EXPECT_TIER unset: active tier {active} (RETORT_CPU_TIER={cap:?}; {})",
            cpu_features()
        );
        return;
    };
    let want = Tier::from_name(&want)
        .unwrap_or_else(|| panic!("RETORT_EXPECT_TIER={want:?} names no tier"));
    assert!(
        X86_TIERS.contains(&want),
        "RETORT_EXPECT_TIER={want} is not an x86 tier"
    );
    assert!(
        want.is_supported(),
        "RETORT_EXPECT_TIER={want}, but this CPU does not support it ({})",
        cpu_features()
    );
    assert_eq!(
        active,
        want,
        "RETORT_EXPECT_TIER={want} but the active tier is {active} (RETORT_CPU_TIER={cap:?}; {})",
        cpu_features()
    );
    for lower in X86_TIERS.iter().filter(|l| **l <= want) {
        assert!(
            lower.is_supported(),
            "{lower} should be supported under {want}"
        );
    }
    println!("active tier {active} as expected ({})", cpu_features());
}
