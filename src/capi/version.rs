//! What library this is: its version, its ABI version, and the kernel tier it runs.

use std::ffi::c_char;

use retort_kernels::ops;
use retort_kernels::Tier;

/// The version of this header's ABI: the layout of its structs and the signatures of its
/// calls. It changes whenever either does; compare it with `retort_abi_version()` to check that
/// the header a program was compiled with matches the library it runs with.
pub const RETORT_ABI_VERSION: u32 = 1;

/// The library's ABI version (`RETORT_ABI_VERSION` of the header it was built with). Any
/// thread, any time.
#[no_mangle]
pub extern "C" fn retort_abi_version() -> u32 {
    ffi_guard!(or RETORT_ABI_VERSION; { RETORT_ABI_VERSION })
}

/// The crate's version, NUL-terminated.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version ("0.1.0"), a static NUL-terminated string: never free it. Any
/// thread, any time.
#[no_mangle]
pub extern "C" fn retort_version() -> *const c_char {
    ffi_guard!(or VERSION.as_ptr().cast(); { VERSION.as_ptr().cast() })
}

/// The kernel tier this CPU runs ("avx2", "avx512", "neon", "dotprod", "i8mm", or "generic"),
/// chosen at run time (`RETORT_CPU_TIER` in the environment caps it). A static NUL-terminated
/// string: never free it. Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_kernel_tier() -> *const c_char {
    ffi_guard!(or c"generic".as_ptr(); {
        match ops::active_tier() {
            Tier::Generic => c"generic",
            Tier::Avx2 => c"avx2",
            Tier::Avx512 => c"avx512",
            Tier::Neon => c"neon",
            Tier::Dotprod => c"dotprod",
            Tier::I8mm => c"i8mm",
        }
        .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn versions_and_tier_name_agree_with_the_crate() {
        // SAFETY: static NUL-terminated strings.
        let (version, tier) = unsafe {
            (
                CStr::from_ptr(retort_version()),
                CStr::from_ptr(retort_kernel_tier()),
            )
        };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(tier.to_str().unwrap(), ops::active_tier().name());
        assert_eq!(retort_abi_version(), RETORT_ABI_VERSION);
    }
}
