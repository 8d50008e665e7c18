//! The gated activations of the feed-forward blocks — SwiGLU's `silu(g)·u` and GeGLU's
//! `gelu(g)·u` — over whole rows, with a vectorised exponential instead of libm's scalar `expf`
//! and `tanhf` (which took a sixth of Gemma 3's prompt processing).
//!
//! Like [`crate::attention`], a portable table of scalar twins ([`generic`]) is overlaid once by
//! the best tier the CPU has; every tier's kernels equal the twins bit for bit
//! (`kernels/tests/tier_twins_activation.rs`).

pub mod generic;

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "aarch64")]
pub mod neon;

use crate::tier::Tier;

type GatedFn = unsafe fn(&mut [f32], &[f32]);

/// One tier's activation kernels.
#[derive(Clone, Copy, Debug)]
pub struct ActivationOps {
    tier: Tier,
    silu: GatedFn,
    gelu: GatedFn,
}

/// The portable table.
const GENERIC: ActivationOps = ActivationOps {
    tier: Tier::Generic,
    silu: generic::silu_mul,
    gelu: generic::gelu_tanh_mul,
};

/// The kernels of `tier`, or of the generic tier when this CPU lacks it (check
/// [`ActivationOps::tier`]).
pub fn for_tier(tier: Tier) -> ActivationOps {
    if !tier.is_supported() {
        return GENERIC;
    }
    match tier {
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2 => ActivationOps {
            tier,
            silu: avx2::silu_mul_avx2,
            gelu: avx2::gelu_tanh_mul_avx2,
        },
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512 => ActivationOps {
            tier,
            silu: avx512::silu_mul_avx512,
            gelu: avx512::gelu_tanh_mul_avx512,
        },
        #[cfg(target_arch = "aarch64")]
        Tier::Neon | Tier::Dotprod | Tier::I8mm => ActivationOps {
            tier,
            silu: neon::silu_mul_neon,
            gelu: neon::gelu_tanh_mul_neon,
        },
        _ => GENERIC,
    }
}

/// The kernels of [`crate::tier::active`], chosen once.
#[cfg(feature = "std")]
pub fn active() -> &'static ActivationOps {
    static ACTIVE: std::sync::OnceLock<ActivationOps> = std::sync::OnceLock::new();
    ACTIVE.get_or_init(|| for_tier(crate::tier::active()))
}

/// Without `std`: the generic kernels.
#[cfg(not(feature = "std"))]
pub fn active() -> &'static ActivationOps {
    &GENERIC
}

/// [`ActivationOps::silu_mul`] with the active tier.
#[inline]
pub fn silu_mul(g: &mut [f32], u: &[f32]) {
    active().silu_mul(g, u)
}

/// [`ActivationOps::gelu_tanh_mul`] with the active tier.
#[inline]
pub fn gelu_tanh_mul(g: &mut [f32], u: &[f32]) {
    active().gelu_tanh_mul(g, u)
}

impl ActivationOps {
    /// The tier whose kernels these are.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// `g[i] ← silu(g[i]) · u[i]` over the first `min(g.len(), u.len())` elements
    /// ([`generic::silu_mul`]).
    pub fn silu_mul(&self, g: &mut [f32], u: &[f32]) {
        // SAFETY: any slices are valid; the table holds kernels of a supported tier only.
        unsafe { (self.silu)(g, u) }
    }

    /// `g[i] ← gelu(g[i]) · u[i]` (tanh approximation) over the first
    /// `min(g.len(), u.len())` elements ([`generic::gelu_tanh_mul`]).
    pub fn gelu_tanh_mul(&self, g: &mut [f32], u: &[f32]) {
        // SAFETY: as above.
        unsafe { (self.gelu)(g, u) }
    }
}
