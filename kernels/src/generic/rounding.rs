//! C's float-to-integer conversions as ggml's reference quantizers use them, in `no_std` Rust.
//! Where C leaves the result undefined, they follow x86-64 (see [`cvtt_f32_i32`]).

/// C's float-to-integer conversion as ggml's x86-64 builds execute it (`cvttss2si`): truncation
/// toward zero into an i32, and the "integer indefinite" `i32::MIN` for NaN or anything outside
/// the i32 range. Narrower C integer types then keep the low bits.
///
/// The reference quantizers convert out-of-range values only in degenerate blocks (a subnormal
/// maximum makes `1 / d` infinite); copying x86's answer keeps such blocks bit-identical to
/// files ggml wrote.
#[inline(always)]
pub fn cvtt_f32_i32(x: f32) -> i32 {
    if !(-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        i32::MIN
    } else {
        x as i32
    }
}

/// `(int8_t)roundf(x)`: rounds half away from zero, then converts as [`cvtt_f32_i32`] and keeps
/// the low byte.
#[inline(always)]
pub fn roundf_to_i8(x: f32) -> i8 {
    // |x| >= 2^23 is an integer already (or inf/NaN): no rounding to do.
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return cvtt_f32_i32(x) as i8;
    }
    let t = x as i32; // truncation toward zero, exact here
    let frac = x - t as f32; // exact: |x| < 2^23
    let r = if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    };
    r as i8
}

/// `(int8_t)x` for a float, as [`cvtt_f32_i32`] then the low byte.
#[inline(always)]
pub fn trunc_to_i8(x: f32) -> i8 {
    cvtt_f32_i32(x) as i8
}

/// `(uint8_t)x` for a float, as [`cvtt_f32_i32`] then the low byte.
#[inline(always)]
pub fn trunc_to_u8(x: f32) -> u8 {
    cvtt_f32_i32(x) as u8
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
            (300.0, 44),
            (-300.0, -44),
            (f32::NAN, 0),
            (f32::INFINITY, 0),
            (1e10, 0),
        ];
        for (x, want) in cases {
            assert_eq!(roundf_to_i8(x), want, "{x}");
        }
    }

    #[test]
    fn conversions_follow_x86_outside_the_range() {
        assert_eq!(trunc_to_i8(-f32::INFINITY), 0);
        assert_eq!(trunc_to_i8(f32::NAN), 0);
        assert_eq!(trunc_to_i8(-7.9), -7);
        assert_eq!(trunc_to_i8(200.0), -56);
        assert_eq!(trunc_to_u8(31.9), 31);
        assert_eq!(trunc_to_u8(-1.5), 255);
        assert_eq!(cvtt_f32_i32(3e9), i32::MIN);
    }
}
