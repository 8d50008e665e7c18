//! Turning a C call's raw arguments into Rust references, or into an
//! [`Error::InvalidArgument`] that names the parameter: null where a value is required,
//! misaligned, a length that overflows, text that is not UTF-8.
//!
//! What cannot be checked — that a non-null pointer really points at `len` live elements, or at
//! a handle this library made — is the caller's side of each call's contract, stated in the
//! header.

use std::ffi::{c_char, CStr};
use std::mem::{align_of, size_of};
use std::ptr::NonNull;

use crate::error::Error;

fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name,
        reason: reason.into(),
    }
}

/// `v` as a C `uint32_t` field, saturated (counts in Retort's models are far below it).
pub(crate) fn saturating_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Checks that `p` is non-null and aligned for `T`.
fn check_ptr<T>(p: *const T, name: &'static str) -> Result<NonNull<T>, Error> {
    let Some(nn) = NonNull::new(p.cast_mut()) else {
        return Err(invalid(name, "is NULL"));
    };
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(invalid(
            name,
            format!("address {p:p} is not aligned to {} bytes", align_of::<T>()),
        ));
    }
    Ok(nn)
}

/// A shared reference to the `T` at `p`.
///
/// # Safety
/// A non-null, aligned `p` must point at a valid `T` that nothing mutates for `'a`.
pub(crate) unsafe fn reference<'a, T>(p: *const T, name: &'static str) -> Result<&'a T, Error> {
    let nn = check_ptr(p, name)?;
    // SAFETY: non-null and aligned (checked); valid and unaliased by the caller's contract.
    Ok(unsafe { nn.as_ref() })
}

/// `len` elements at `p`; `p` may be NULL only when `len` is 0.
///
/// # Safety
/// A non-null, aligned `p` must point at `len` initialised `T`s that nothing mutates for `'a`.
pub(crate) unsafe fn slice<'a, T>(
    p: *const T,
    len: usize,
    name: &'static str,
) -> Result<&'a [T], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    let nn = check_ptr(p, name)?;
    check_len::<T>(len, name)?;
    // SAFETY: non-null, aligned and not over isize::MAX bytes (checked); `len` live elements
    // by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(nn.as_ptr(), len) })
}

fn check_len<T>(len: usize, name: &'static str) -> Result<(), Error> {
    match len.checked_mul(size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(invalid(name, format!("length {len} is larger than memory"))),
    }
}

/// A caller's output buffer of `capacity` elements at `p`, written element by element (it may
/// hold uninitialised memory); `p` may be NULL only when `capacity` is 0.
pub(crate) struct OutBuf<T> {
    ptr: *mut T,
    capacity: usize,
}

impl<T: Copy> OutBuf<T> {
    /// # Safety
    /// A non-null, aligned `p` must be valid for writes of `capacity` elements for as long as
    /// the buffer is used, and not be read by anyone else meanwhile.
    pub(crate) unsafe fn new(
        p: *mut T,
        capacity: usize,
        name: &'static str,
    ) -> Result<Self, Error> {
        if capacity > 0 {
            check_ptr(p.cast_const(), name)?;
            check_len::<T>(capacity, name)?;
        }
        Ok(OutBuf { ptr: p, capacity })
    }

    /// Elements the buffer holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Copies `items` to the start of the buffer; the caller has checked that they fit.
    pub(crate) fn write(&mut self, items: &[T]) {
        assert!(items.len() <= self.capacity, "OutBuf::write past capacity");
        // SAFETY: `items.len() <= capacity` elements are writable at `ptr` (constructor's
        // contract), and a caller's buffer cannot overlap a Rust slice we own.
        unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), self.ptr, items.len()) }
    }
}

/// A single out-parameter of type `T` at `p` (possibly uninitialised memory).
pub(crate) struct Out<T> {
    ptr: NonNull<T>,
}

impl<T> Out<T> {
    /// # Safety
    /// A non-null, aligned `p` must be valid for a write of one `T` for as long as the value
    /// is used.
    pub(crate) unsafe fn new(p: *mut T, name: &'static str) -> Result<Self, Error> {
        Ok(Out {
            ptr: check_ptr(p.cast_const(), name)?,
        })
    }

    /// Stores `value` without reading or dropping what was there.
    pub(crate) fn write(&mut self, value: T) {
        // SAFETY: writable, aligned and non-null (constructor's contract and checks).
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// A NUL-terminated UTF-8 string at `p`.
///
/// # Safety
/// A non-null `p` must point at a NUL-terminated string that nothing mutates for `'a`.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, Error> {
    let nn = check_ptr(p, name)?;
    // SAFETY: non-null; NUL-terminated and live for 'a by the caller's contract.
    let text = unsafe { CStr::from_ptr(nn.as_ptr()) };
    text.to_str().map_err(|e| {
        invalid(
            name,
            format!("is not UTF-8 (byte {} of the string)", e.valid_up_to()),
        )
    })
}

/// `len` bytes of UTF-8 text at `p` (no terminator needed); `p` may be NULL only when `len` is 0.
///
/// # Safety
/// As for [`slice`] with `T = u8`.
pub(crate) unsafe fn text<'a>(
    p: *const c_char,
    len: usize,
    name: &'static str,
) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { slice(p.cast::<u8>(), len, name) }?;
    std::str::from_utf8(bytes).map_err(|e| {
        invalid(
            name,
            format!("is not UTF-8 (byte {} of {len})", e.valid_up_to()),
        )
    })
}

/// Writes `text` and a terminating NUL into a caller's buffer, and its length (without the
/// NUL) to `text_len` — also when the buffer is too small, so the caller can size a new one.
pub(crate) fn write_text(
    text: &str,
    buf: &mut OutBuf<u8>,
    text_len: &mut Out<usize>,
    name: &'static str,
) -> Result<(), Error> {
    text_len.write(text.len());
    if text.len() >= buf.capacity() {
        return Err(Error::BufferTooSmall {
            name,
            needed: text.len() + 1,
            capacity: buf.capacity(),
        });
    }
    buf.write(text.as_bytes());
    // The NUL goes right after the text, which the check above left room for.
    let mut nul = OutBuf {
        // SAFETY: `text.len() < capacity`, so the offset stays inside the buffer.
        ptr: unsafe { buf.ptr.add(text.len()) },
        capacity: 1,
    };
    nul.write(&[0]);
    Ok(())
}

/// Writes `ids` into a caller's buffer and their count to `n_ids` — also when the buffer is too
/// small, so the caller can size a new one.
pub(crate) fn write_ids(
    ids: &[u32],
    buf: &mut OutBuf<u32>,
    n_ids: &mut Out<usize>,
    name: &'static str,
) -> Result<(), Error> {
    n_ids.write(ids.len());
    if ids.len() > buf.capacity() {
        return Err(Error::BufferTooSmall {
            name,
            needed: ids.len(),
            capacity: buf.capacity(),
        });
    }
    buf.write(ids);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_misaligned_pointers_are_named() {
        let err = check_ptr::<u32>(std::ptr::null(), "ids").unwrap_err();
        assert_eq!(err.to_string(), "invalid argument `ids`: is NULL");
        let words = [0u32; 2];
        let odd = (words.as_ptr() as *const u8).wrapping_add(1).cast::<u32>();
        let err = check_ptr(odd, "ids").unwrap_err();
        assert!(err.to_string().contains("not aligned to 4 bytes"), "{err}");
    }

    #[test]
    fn empty_slices_may_be_null_and_huge_ones_are_refused() {
        // SAFETY: a zero length reads nothing.
        assert!(unsafe { slice::<u32>(std::ptr::null(), 0, "ids") }
            .unwrap()
            .is_empty());
        let one = [1u32];
        // SAFETY: the length is refused before any memory is touched.
        let err = unsafe { slice(one.as_ptr(), usize::MAX / 2, "ids") }.unwrap_err();
        assert!(err.to_string().contains("larger than memory"), "{err}");
    }

    #[test]
    fn text_must_be_utf8() {
        let bytes = b"ok\xff";
        // SAFETY: three live bytes.
        let err = unsafe { text(bytes.as_ptr().cast(), 3, "text") }.unwrap_err();
        assert!(err.to_string().contains("not UTF-8 (byte 2 of 3)"), "{err}");
    }

    #[test]
    fn text_that_does_not_fit_reports_its_length() {
        let mut buf = [0xAAu8; 4];
        let mut len = usize::MAX;
        // SAFETY: a live 4-byte buffer and a live usize.
        let (mut out, mut out_len) = unsafe {
            (
                OutBuf::new(buf.as_mut_ptr(), 4, "text").unwrap(),
                Out::new(&mut len, "text_len").unwrap(),
            )
        };
        let err = write_text("four", &mut out, &mut out_len, "text").unwrap_err();
        assert!(matches!(
            err,
            Error::BufferTooSmall {
                needed: 5,
                capacity: 4,
                ..
            }
        ));
        assert_eq!(len, 4);
        assert_eq!(buf, [0xAA; 4], "a buffer too small is not written");
        // SAFETY: as above.
        let (mut out, mut out_len) = unsafe {
            (
                OutBuf::new(buf.as_mut_ptr(), 4, "text").unwrap(),
                Out::new(&mut len, "text_len").unwrap(),
            )
        };
        write_text("abc", &mut out, &mut out_len, "text").unwrap();
        assert_eq!(&buf, b"abc\0");
        assert_eq!(len, 3);
    }
}
