//! The accumulation orders every tier reproduces bit for bit.
//!
//! Integer partial sums are exact whatever their order; floats are not. So that a SIMD kernel can
//! be checked against its scalar twin exactly (and gemv/gemm against vec_dot), the float parts of
//! the dot products follow one fixed order, written down here once:
//!
//! - Block-quantized dots: block `b`'s float term goes into lane `b % 8` of eight f32
//!   accumulators (`lane += term`, in block order); the lanes are then reduced by [`reduce8`].
//!   An AVX2 kernel keeps the eight lanes in one `__m256` and adds eight blocks' terms at once.
//! - Float dots (F32, F16, BF16): element `i`'s product goes into lane `i % 32` of 32 f32
//!   accumulators, reduced by [`reduce32`]. Products are a separate multiply (never fused), so
//!   a tier with FMA must only fuse where the product is exact (F16 and BF16 inputs).

/// Accumulator lanes of the block-quantized dot products.
pub const BLOCK_LANES: usize = 8;

/// Accumulator lanes of the float dot products.
pub const FLOAT_LANES: usize = 32;

/// Sums eight lanes as `((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))`: the order of the
/// usual AVX2 horizontal sum (high half onto low half, then pairs).
#[inline(always)]
pub fn reduce8(a: &[f32; BLOCK_LANES]) -> f32 {
    let s0 = a[0] + a[4];
    let s1 = a[1] + a[5];
    let s2 = a[2] + a[6];
    let s3 = a[3] + a[7];
    (s0 + s2) + (s1 + s3)
}

/// Sums 32 lanes: lane `j` of four groups of eight as `(g0 + g1) + (g2 + g3)`, then [`reduce8`].
#[inline(always)]
pub fn reduce32(a: &[f32; FLOAT_LANES]) -> f32 {
    let mut s = [0.0f32; BLOCK_LANES];
    for (j, v) in s.iter_mut().enumerate() {
        *v = (a[j] + a[8 + j]) + (a[16 + j] + a[24 + j]);
    }
    reduce8(&s)
}

/// Eight lanes for block terms, in the order described in the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockAccumulator {
    lanes: [f32; BLOCK_LANES],
}

impl BlockAccumulator {
    /// All lanes `+0.0`.
    #[inline(always)]
    pub fn new() -> BlockAccumulator {
        BlockAccumulator::default()
    }

    /// Continues from lanes a SIMD kernel has stored.
    #[inline(always)]
    pub fn from_lanes(lanes: [f32; BLOCK_LANES]) -> BlockAccumulator {
        BlockAccumulator { lanes }
    }

    /// Adds block `block`'s term to its lane.
    #[inline(always)]
    pub fn add(&mut self, block: usize, term: f32) {
        let lane = &mut self.lanes[block % BLOCK_LANES];
        *lane += term;
    }

    /// The reduced sum.
    #[inline(always)]
    pub fn finish(&self) -> f32 {
        reduce8(&self.lanes)
    }
}

/// 32 lanes for element products, in the order described in the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct FloatAccumulator {
    lanes: [f32; FLOAT_LANES],
}

impl Default for FloatAccumulator {
    fn default() -> FloatAccumulator {
        FloatAccumulator {
            lanes: [0.0; FLOAT_LANES],
        }
    }
}

impl FloatAccumulator {
    /// All lanes `+0.0`.
    #[inline(always)]
    pub fn new() -> FloatAccumulator {
        FloatAccumulator::default()
    }

    /// Continues from lanes a SIMD kernel has stored.
    #[inline(always)]
    pub fn from_lanes(lanes: [f32; FLOAT_LANES]) -> FloatAccumulator {
        FloatAccumulator { lanes }
    }

    /// Adds element `i`'s product to its lane.
    #[inline(always)]
    pub fn add(&mut self, i: usize, product: f32) {
        let lane = &mut self.lanes[i % FLOAT_LANES];
        *lane += product;
    }

    /// The reduced sum.
    #[inline(always)]
    pub fn finish(&self) -> f32 {
        reduce32(&self.lanes)
    }
}
