//! The version of the library in use (`usher-version.h`): `usher_get_major_version()` and the
//! others, and `usher_check_version()`, as GTK has them; the headers' macros say the version a
//! program was compiled against.

use std::cmp::Ordering;
use std::ffi::{CStr, c_char, c_uint};

/// A part of the crate's version, which meson.build checks is the project's (the headers').
const fn part(digits: &str) -> c_uint {
    match c_uint::from_str_radix(digits, 10) {
        Ok(part) => part,
        Err(_) => panic!("a version part that is not a number"),
    }
}

const MAJOR: c_uint = part(env!("CARGO_PKG_VERSION_MAJOR"));
const MINOR: c_uint = part(env!("CARGO_PKG_VERSION_MINOR"));
const MICRO: c_uint = part(env!("CARGO_PKG_VERSION_PATCH"));

#[unsafe(no_mangle)]
pub extern "C" fn usher_get_major_version() -> c_uint {
    MAJOR
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_get_minor_version() -> c_uint {
    MINOR
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_get_micro_version() -> c_uint {
    MICRO
}

/// Why the library in use is not compatible with the `required` version, or `None`:
/// `gtk_check_version()`'s rule and messages. A program built for an older minor or micro
/// version runs on a newer one of the same major version, not the other way round.
fn incompatibility(required: (c_uint, c_uint, c_uint)) -> Option<&'static CStr> {
    let (major, minor, micro) = required;
    match major.cmp(&MAJOR) {
        Ordering::Greater => Some(c"Usher version too old (major mismatch)"),
        Ordering::Less => Some(c"Usher version too new (major mismatch)"),
        Ordering::Equal if (minor, micro) > (MINOR, MICRO) => {
            Some(c"Usher version too old (micro mismatch)")
        }
        Ordering::Equal => None,
    }
}

/// (transfer none) (nullable): a static string, or NULL when compatible.
#[unsafe(no_mangle)]
pub extern "C" fn usher_check_version(
    required_major: c_uint,
    required_minor: c_uint,
    required_micro: c_uint,
) -> *const c_char {
    incompatibility((required_major, required_minor, required_micro))
        .map_or(std::ptr::null(), CStr::as_ptr)
}
