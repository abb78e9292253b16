//! The C API: the `usher_*` functions declared in `include/usher/*.h`.
//!
//! Every function checks its arguments as `g_return_if_fail()` does, with a GLib critical and an
//! early return, never a crash, then translates to the Rust API. Behaviour lives in the Rust
//! types, not here. Only meson's build of `libusher-1.so` compiles this module (feature `capi`).

#![allow(clippy::missing_safety_doc)]

use std::ffi::{CStr, c_char, c_int, c_uint};

use glib::subclass::prelude::*;
use glib::translate::*;

use crate::ffi::{UsherSocketService, UsherThreadedSocketService};
use crate::prelude::*;
use crate::{SocketService, ThreadedSocketService};

/// `g_return_val_if_fail()`: log a critical naming the function and the failed check, return.
/// Without a value, `g_return_if_fail()`.
macro_rules! return_val_if_fail {
    ($function:literal, $check:literal, $condition:expr $(, $value:expr)?) => {
        if !$condition {
            g_return_if_fail_warning(c"Usher", $function, $check);
            return $($value)?;
        }
    };
}

/// Checks that `service` is a `UsherSocketService`, as `g_return_val_if_fail()` would,
/// returning `fallback` from the calling function if not; borrows it if so.
macro_rules! borrow_service {
    ($function:literal, $service:expr $(, $fallback:expr)?) => {{
        return_val_if_fail!(
            $function,
            c"USHER_IS_SOCKET_SERVICE (service)",
            is_a::<SocketService>($service)
            $(, $fallback)?
        );
        unsafe { SocketService::from_glib_borrow($service) }
    }};
}

fn g_return_if_fail_warning(domain: &CStr, function: &CStr, check: &CStr) {
    unsafe {
        glib::ffi::g_return_if_fail_warning(domain.as_ptr(), function.as_ptr(), check.as_ptr())
    }
}

/// Stores `failure` in `error`, unless the caller passed NULL.
unsafe fn set_error(error: *mut *mut glib::ffi::GError, failure: glib::Error) {
    if !error.is_null() {
        unsafe { *error = failure.into_glib_ptr() };
    }
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
    borrow_service!(c"usher_socket_service_start", service).start()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_stop(service: *mut UsherSocketService) {
    borrow_service!(c"usher_socket_service_stop", service).stop()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_is_active(
    service: *mut UsherSocketService,
) -> glib::ffi::gboolean {
    let service = borrow_service!(
        c"usher_socket_service_is_active",
        service,
        glib::ffi::GFALSE
    );
    service.is_active().into_glib()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_max_connections(
    service: *mut UsherSocketService,
) -> c_uint {
    borrow_service!(c"usher_socket_service_get_max_connections", service, 0).max_connections()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_max_connections(
    service: *mut UsherSocketService,
    max_connections: c_uint,
) {
    borrow_service!(c"usher_socket_service_set_max_connections", service)
        .set_max_connections(max_connections)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_n_connections(
    service: *mut UsherSocketService,
) -> c_uint {
    borrow_service!(c"usher_socket_service_get_n_connections", service, 0).n_connections()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_n_accepted(
    service: *mut UsherSocketService,
) -> u64 {
    borrow_service!(c"usher_socket_service_get_n_accepted", service, 0).n_accepted()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_n_accept_errors(
    service: *mut UsherSocketService,
) -> u64 {
    borrow_service!(c"usher_socket_service_get_n_accept_errors", service, 0).n_accept_errors()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_shutdown_async(
    service: *mut UsherSocketService,
    cancellable: *mut gio::ffi::GCancellable,
    callback: gio::ffi::GAsyncReadyCallback,
    user_data: glib::ffi::gpointer,
) {
    let service = borrow_service!(c"usher_socket_service_shutdown_async", service);
    return_val_if_fail!(
        c"usher_socket_service_shutdown_async",
        c"cancellable == NULL || G_IS_CANCELLABLE (cancellable)",
        cancellable.is_null() || is_a::<gio::Cancellable>(cancellable)
    );
    unsafe {
        let cancellable = Option::<gio::Cancellable>::from_glib_borrow(cancellable);
        service
            .imp()
            .shutdown_async(cancellable.as_ref().as_ref(), callback, user_data)
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_shutdown_finish(
    service: *mut UsherSocketService,
    result: *mut gio::ffi::GAsyncResult,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    let service = borrow_service!(
        c"usher_socket_service_shutdown_finish",
        service,
        glib::ffi::GFALSE
    );
    return_val_if_fail!(
        c"usher_socket_service_shutdown_finish",
        c"G_IS_ASYNC_RESULT (result)",
        is_a::<gio::AsyncResult>(result),
        glib::ffi::GFALSE
    );
    let result: Borrowed<gio::AsyncResult> = unsafe { from_glib_borrow(result) };
    match service.imp().shutdown_finish(&result) {
        Ok(()) => glib::ffi::GTRUE,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            glib::ffi::GFALSE
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_reuse_port_address(
    service: *mut UsherSocketService,
    address: *mut gio::ffi::GSocketAddress,
    source_object: *mut glib::gobject_ffi::GObject,
    effective_address: *mut *mut gio::ffi::GSocketAddress,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    let service = borrow_service!(
        c"usher_socket_service_add_reuse_port_address",
        service,
        glib::ffi::GFALSE
    );
    return_val_if_fail!(
        c"usher_socket_service_add_reuse_port_address",
        c"G_IS_SOCKET_ADDRESS (address)",
        is_a::<gio::SocketAddress>(address),
        glib::ffi::GFALSE
    );
    return_val_if_fail!(
        c"usher_socket_service_add_reuse_port_address",
        c"source_object == NULL || G_IS_OBJECT (source_object)",
        source_object.is_null() || is_a::<glib::Object>(source_object),
        glib::ffi::GFALSE
    );
    let address: Borrowed<gio::SocketAddress> = unsafe { from_glib_borrow(address) };
    let source_object: Borrowed<Option<glib::Object>> = unsafe { from_glib_borrow(source_object) };
    match service.add_reuse_port_address(&*address, source_object.as_ref().as_ref()) {
        Ok(effective) => {
            if !effective_address.is_null() {
                unsafe { *effective_address = effective.into_glib_ptr() };
            }
            glib::ffi::GTRUE
        }
        Err(failure) => {
            unsafe { set_error(error, failure) };
            glib::ffi::GFALSE
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_close_connections(service: *mut UsherSocketService) {
    borrow_service!(c"usher_socket_service_close_connections", service).close_connections()
}

/// `UsherActivatedSourceFunc`: returns a new reference, or NULL.
pub type ActivatedSourceFunc = Option<
    unsafe extern "C" fn(
        name: *const c_char,
        user_data: glib::ffi::gpointer,
    ) -> *mut glib::gobject_ffi::GObject,
>;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_activated_sockets(
    service: *mut UsherSocketService,
    source_func: ActivatedSourceFunc,
    user_data: glib::ffi::gpointer,
    error: *mut *mut glib::ffi::GError,
) -> c_uint {
    let service = borrow_service!(c"usher_socket_service_add_activated_sockets", service, 0);
    let source_object_for = |name: &str| {
        let func = source_func?;
        let name = std::ffi::CString::new(name).ok()?;
        unsafe { from_glib_full(func(name.as_ptr(), user_data)) }
    };
    match service.add_activated_sockets(source_object_for) {
        Ok(added) => added,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            0
        }
    }
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
