//! The C API: the `usher_*` functions declared in `include/usher/*.h`.
//!
//! Every function checks its arguments as `g_return_if_fail()` does, with a GLib critical and an
//! early return, never a crash, then translates to the Rust API. Behaviour lives in the Rust
//! types, not here. Only meson's build of `libusher-1.so` compiles this module (feature `capi`).

#![allow(clippy::missing_safety_doc)]

use std::ffi::{CStr, c_int};

use glib::translate::*;

use crate::ffi::{UsherSocketService, UsherThreadedSocketService};
use crate::prelude::*;
use crate::{SocketService, ThreadedSocketService};

/// `g_return_val_if_fail()`: log a critical naming the function and the failed check, return.
macro_rules! return_val_if_fail {
    ($function:literal, $check:literal, $condition:expr, $value:expr) => {
        if !$condition {
            g_return_if_fail_warning(c"Usher", $function, $check);
            return $value;
        }
    };
}

fn g_return_if_fail_warning(domain: &CStr, function: &CStr, check: &CStr) {
    unsafe { glib::ffi::g_return_if_fail_warning(domain.as_ptr(), function.as_ptr(), check.as_ptr()) }
}

/// Whether `instance` is a non-NULL instance of `T` or a subclass.
fn is_a<T: glib::prelude::StaticType>(instance: *const impl Sized) -> bool {
    !instance.is_null()
        && unsafe {
            glib::gobject_ffi::g_type_check_instance_is_a(
                instance as *mut glib::gobject_ffi::GTypeInstance,
                T::static_type().into_glib(),
            ) != glib::ffi::GFALSE
        }
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_socket_service_get_type() -> glib::ffi::GType {
    <SocketService as glib::prelude::StaticType>::static_type().into_glib()
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_socket_service_new() -> *mut UsherSocketService {
    SocketService::new().into_glib_ptr()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_start(service: *mut UsherSocketService) {
    return_val_if_fail!(
        c"usher_socket_service_start",
        c"USHER_IS_SOCKET_SERVICE (service)",
        is_a::<SocketService>(service),
        ()
    );
    unsafe { SocketService::from_glib_borrow(service).start() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_stop(service: *mut UsherSocketService) {
    return_val_if_fail!(
        c"usher_socket_service_stop",
        c"USHER_IS_SOCKET_SERVICE (service)",
        is_a::<SocketService>(service),
        ()
    );
    unsafe { SocketService::from_glib_borrow(service).stop() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_is_active(
    service: *mut UsherSocketService,
) -> glib::ffi::gboolean {
    return_val_if_fail!(
        c"usher_socket_service_is_active",
        c"USHER_IS_SOCKET_SERVICE (service)",
        is_a::<SocketService>(service),
        glib::ffi::GFALSE
    );
    unsafe { SocketService::from_glib_borrow(service).is_active().into_glib() }
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_threaded_socket_service_get_type() -> glib::ffi::GType {
    <ThreadedSocketService as glib::prelude::StaticType>::static_type().into_glib()
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_threaded_socket_service_new(max_threads: c_int) -> *mut UsherSocketService {
    return_val_if_fail!(
        c"usher_threaded_socket_service_new",
        c"max_threads >= -1",
        max_threads >= -1,
        std::ptr::null_mut()
    );
    let service: *mut UsherThreadedSocketService =
        ThreadedSocketService::new(max_threads).into_glib_ptr();
    service as *mut UsherSocketService
}
