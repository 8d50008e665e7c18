//! Instruction-set tiers, detected at run time and capped by `RETORT_CPU_TIER`.
//!
//! Never chosen by `target-cpu=native`: the same binary runs on a Raspberry Pi 4 (NEON only) and
//! a Pi 5 (NEON + dotprod), and on any x86-64, picking the best tier the CPU really has.

use core::fmt;

/// An instruction-set tier. Tiers of one architecture are ordered: a higher tier implies the
/// features of the lower ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Portable scalar code: the twin of every kernel.
    Generic,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL with VNNI (on top of AVX2).
    Avx512,
    /// aarch64 Advanced SIMD (baseline on every aarch64 CPU).
    Neon,
    /// aarch64 NEON + `sdot`/`udot` (Cortex-A76, Raspberry Pi 5).
    Dotprod,
    /// aarch64 NEON + dotprod + `smmla` (i8mm).
    I8mm,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 6] = [
        Tier::Generic,
        Tier::Avx2,
        Tier::Avx512,
        Tier::Neon,
        Tier::Dotprod,
        Tier::I8mm,
    ];

    /// The name used by `RETORT_CPU_TIER` and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Generic => "generic",
            Tier::Avx2 => "avx2",
            Tier::Avx512 => "avx512",
            Tier::Neon => "neon",
            Tier::Dotprod => "dotprod",
            Tier::I8mm => "i8mm",
        }
    }

    /// Parses a tier name as `RETORT_CPU_TIER` spells it.
    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL
            .iter()
            .copied()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU can execute this tier's instructions (checked at run time).
    pub fn is_supported(self) -> bool {
        match self {
            Tier::Generic => true,
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Tier::Avx2 => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                    && std::is_x86_feature_detected!("f16c")
            }
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Tier::Avx512 => {
                Tier::Avx2.is_supported()
                    && std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx512vnni")
            }
            // NEON is part of the aarch64 baseline.
            #[cfg(target_arch = "aarch64")]
            Tier::Neon => true,
            #[cfg(all(target_arch = "aarch64", feature = "std"))]
            Tier::Dotprod => std::arch::is_aarch64_feature_detected!("dotprod"),
            #[cfg(all(target_arch = "aarch64", feature = "std"))]
            Tier::I8mm => {
                std::arch::is_aarch64_feature_detected!("dotprod")
                    && std::arch::is_aarch64_feature_detected!("i8mm")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The best tier this CPU supports, at most `cap` (ordered within one architecture).
    pub fn best_supported(cap: Option<Tier>) -> Tier {
        Tier::ALL
            .iter()
            .rev()
            .copied()
            .filter(|t| t.is_supported())
            .find(|t| match cap {
                None => true,
                Some(Tier::Generic) => false,
                Some(c) => *t <= c,
            })
            .unwrap_or(Tier::Generic)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tier the kernels use in this process: the best the CPU supports, capped by the environment
/// variable `RETORT_CPU_TIER` (`generic|avx2|avx512|neon|dotprod|i8mm`), decided once.
///
/// An unknown value in `RETORT_CPU_TIER` is ignored on purpose rather than failing every kernel
/// call; [`tier_cap_from_env`] reports it so a front end can warn.
#[cfg(feature = "std")]
pub fn active() -> Tier {
    static ACTIVE: std::sync::OnceLock<Tier> = std::sync::OnceLock::new();
    *ACTIVE.get_or_init(|| Tier::best_supported(tier_cap_from_env().ok().flatten()))
}

/// Without `std` there is no detection: the generic tier runs.
#[cfg(not(feature = "std"))]
pub fn active() -> Tier {
    Tier::Generic
}

/// The cap named by `RETORT_CPU_TIER`: `Ok(None)` when unset, `Err(value)` when it names no tier.
#[cfg(feature = "std")]
pub fn tier_cap_from_env() -> Result<Option<Tier>, std::string::String> {
    match std::env::var("RETORT_CPU_TIER") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Tier::from_name(&v).map(Some).ok_or(v),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_cap_gives_generic() {
        assert_eq!(Tier::best_supported(Some(Tier::Generic)), Tier::Generic);
    }

    #[test]
    fn names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(Tier::from_name(t.name()), Some(t));
        }
        assert_eq!(Tier::from_name("sse9"), None);
    }

    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    #[test]
    fn avx2_cap_is_respected() {
        let t = Tier::best_supported(Some(Tier::Avx2));
        assert!(t <= Tier::Avx2);
    }
}
