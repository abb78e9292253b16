//! The C API: the `usher_*` functions declared in `include/usher/*.h`.
//!
//! Every function checks its arguments as `g_return_if_fail()` does, with a GLib critical that
//! names the function and the failed check, and an early return, never a crash; then it
//! translates to the Rust API. Behaviour lives in the Rust types, not here. Only meson's build of
//! `libusher-1.so` compiles this module (feature `capi`).
//!
//! A file per type of the C API, as librsvg-c has: `socket_service.rs` (with `shutdown.rs` and
//! `handover.rs`, its asynchronous shutdown and handover as `GTask`s, made by `task.rs`),
//! `threaded_socket_service.rs`, `socket_settings.rs`, `proxy_info.rs`, `refusal.rs`,
//! `client_hello.rs`, `version.rs` (the library's version);
//! `properties.rs` makes their properties' getters and setters; here, the argument checks and
//! conversions they share.

#![allow(clippy::missing_safety_doc)]

use std::ffi::{CString, c_char};

use glib::prelude::*;
use glib::translate::*;

use crate::{ProxyInfo, SocketService};

/// `g_return_val_if_fail()`, as librsvg's `rsvg_return_val_if_fail!`: checks each condition in
/// turn and, at the first that fails, logs a critical naming `$function` and the condition, and
/// returns `$value` (nothing, without one).
macro_rules! return_if_fail {
    ($function:ident => $value:expr; $($condition:expr),+ $(,)?) => {
        $(
            if !$condition {
                return_if_fail_warning(stringify!($function), stringify!($condition));
                return $value;
            }
        )+
    };
    ($function:ident; $($condition:expr),+ $(,)?) => {
        return_if_fail! { $function => (); $($condition),+ }
    };
}

fn return_if_fail_warning(function: &str, condition: &str) {
    let (Ok(function), Ok(condition)) = (CString::new(function), CString::new(condition)) else {
        return;
    };
    unsafe {
        glib::ffi::g_return_if_fail_warning(
            c"Usher".as_ptr(),
            function.as_ptr(),
            condition.as_ptr(),
        )
    }
}

/// Whether `instance` is a non-NULL instance of `T` or a subclass.
fn is_a<T: StaticType>(instance: *const impl Sized) -> bool {
    !instance.is_null()
        && unsafe {
            glib::gobject_ffi::g_type_check_instance_is_a(
                instance as *mut glib::gobject_ffi::GTypeInstance,
                T::static_type().into_glib(),
            ) != glib::ffi::GFALSE
        }
}

/// The C type checks, named as in C for the criticals that name them.
macro_rules! type_checks {
    ($($check:ident: $type:ty),+ $(,)?) => {
        $(
            #[allow(non_snake_case)]
            fn $check(instance: *const impl Sized) -> bool {
                is_a::<$type>(instance)
            }
        )+
    };
}

type_checks! {
    USHER_IS_SOCKET_SERVICE: SocketService,
    USHER_IS_SOCKET_SETTINGS: crate::SocketSettings,
    G_IS_SOCKET: gio::Socket,
    USHER_IS_PROXY_INFO: ProxyInfo,
    USHER_IS_CLIENT_HELLO: crate::ClientHello,
    G_IS_ASYNC_RESULT: gio::AsyncResult,
    G_IS_CANCELLABLE: gio::Cancellable,
    G_IS_OBJECT: glib::Object,
    G_IS_SOCKET_ADDRESS: gio::SocketAddress,
    G_IS_SOCKET_CONNECTION: gio::SocketConnection,
    G_IS_TLS_CERTIFICATE: gio::TlsCertificate,
    G_IS_TLS_DATABASE: gio::TlsDatabase,
    G_IS_MEMORY_MONITOR: gio::MemoryMonitor,
}

// After the macros, which the modules use.
#[macro_use]
mod properties;
mod client_hello;
mod handover;
mod proxy_info;
mod refusal;
mod shutdown;
mod socket_service;
mod socket_settings;
mod task;
mod threaded_socket_service;
mod version;

use properties::{CValue, is_valid};

/// `error == NULL || *error == NULL`: GLib's rule for the `GError **` of a call.
fn error_is_unset(error: *mut *mut glib::ffi::GError) -> bool {
    error.is_null() || unsafe { (*error).is_null() }
}

/// Stores `failure` in `error`, unless the caller passed NULL.
unsafe fn set_error(error: *mut *mut glib::ffi::GError, failure: glib::Error) {
    if !error.is_null() {
        unsafe { *error = failure.into_glib_ptr() };
    }
}

/// `TRUE`, or `FALSE` with `failure` in `error`.
unsafe fn boolean_or_error(
    result: Result<(), glib::Error>,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    match result {
        Ok(()) => glib::ffi::GTRUE,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            glib::ffi::GFALSE
        }
    }
}

/// A list property's C value: (transfer full), NULL for none, as GTlsConnection's
/// `advertised-protocols`.
fn strv_or_null(strings: glib::StrV) -> *mut *mut c_char {
    if strings.is_empty() {
        std::ptr::null_mut()
    } else {
        strings.into_raw()
    }
}

/// The strings of the NULL-terminated array `strv`, none for NULL.
unsafe fn strv_from_c(strv: *const *const c_char) -> Vec<glib::GString> {
    unsafe { FromGlibPtrContainer::from_glib_none(strv) }
}

/// Whether `string`, a `gchar *` or NULL, is UTF-8, as GLib's API strings are.
fn string_is_utf8(string: *const c_char) -> bool {
    string.is_null() || unsafe { std::ffi::CStr::from_ptr(string) }.to_str().is_ok()
}

/// Whether every string of the NULL-terminated array `strv` (or NULL) is UTF-8: `gchar *`
/// strings in GLib's API are.
fn strv_is_utf8(strv: *const *const c_char) -> bool {
    if strv.is_null() {
        return true;
    }
    (0..)
        .map(|index| unsafe { *strv.add(index) })
        .take_while(|string| !string.is_null())
        .all(|string| unsafe { std::ffi::CStr::from_ptr(string) }.to_str().is_ok())
}

/// A file name from C (GLib's file name encoding: bytes), or `None` for NULL.
unsafe fn path_from_c(path: *const c_char) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    (!path.is_null()).then(|| {
        let bytes = unsafe { std::ffi::CStr::from_ptr(path) }.to_bytes();
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    })
}

/// Whether `string` is NULL or UTF-8: `gchar *` strings in GLib's API are.
fn is_utf8_or_null(string: *const c_char) -> bool {
    string.is_null() || unsafe { std::ffi::CStr::from_ptr(string) }.to_str().is_ok()
}
