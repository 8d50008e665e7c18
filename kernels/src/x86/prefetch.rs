//! Software prefetch: a hint to bring cache lines in ahead of their loads, for streams the
//! hardware prefetcher follows too late (a new weight row every few blocks; the key and value
//! rows of attention, read at a few nanoseconds a row).

use core::arch::x86_64::*;

/// Bytes of a cache line.
pub(crate) const LINE: usize = 64;

/// Asks for the lines of `bytes` bytes from `start` to be brought into L1 (a hint: the
/// addresses need not be valid and are never dereferenced).
///
/// # Safety
/// The CPU supports SSE (every x86-64 does).
#[inline(always)]
pub(crate) unsafe fn prefetch_lines(start: *const u8, bytes: usize) {
    let mut off = 0;
    while off < bytes {
        // SAFETY: prefetch is a hint that never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(off).cast()) };
        off += LINE;
    }
}
