//! C's float-to-integer conversions as ggml's reference quantizers use them, in `no_std` Rust.

/// `(int8_t)roundf(x)`: rounds half away from zero, then converts to `i8`.
///
/// Where C is undefined (a result outside `i8`, NaN) this saturates and maps NaN to 0, as Rust's
/// `as` does; ggml's quantizers never produce such values from finite input.
#[inline(always)]
pub fn roundf_to_i8(x: f32) -> i8 {
    // For |x| >= 2^23 every f32 is an integer already and saturates below anyway.
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return x as i8;
    }
    let t = x as i32; // truncation toward zero, exact here
    let frac = x - t as f32; // exact: both are within 2^23 of each other and share the exponent range
    let r = if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    };
    r.clamp(i8::MIN as i32, i8::MAX as i32) as i8
}

/// `(int8_t)x` for a float: truncation toward zero (saturating, NaN to 0, where C is undefined).
#[inline(always)]
pub fn trunc_to_i8(x: f32) -> i8 {
    x as i8
}

/// `(uint8_t)x` for a float: truncation toward zero (saturating, NaN to 0, where C is undefined).
#[inline(always)]
pub fn trunc_to_u8(x: f32) -> u8 {
    x as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        let cases = [
            (0.5, 1),
            (-0.5, -1),
            (1.5, 2),
            (2.5, 3),
            (-2.5, -3),
            (0.49999997, 0),
            (-0.49999997, 0),
            (126.5, 127),
            (127.49, 127),
            (300.0, 127),
            (-300.0, -128),
            (f32::NAN, 0),
            (f32::INFINITY, 127),
        ];
        for (x, want) in cases {
            assert_eq!(roundf_to_i8(x), want, "{x}");
        }
    }
}
