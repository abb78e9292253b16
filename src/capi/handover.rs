//! `usher_socket_service_hand_over_async()` and `_finish()`: the handover as a `GTask`.

use std::ffi::c_uint;

use glib::translate::*;

use super::socket_service::service;
use super::task::{PendingTask, own_task};
use super::*;
use crate::ffi::UsherSocketService;
use crate::prelude::*;

/// The source tag of the tasks of `hand_over_async`, to recognise them in `hand_over_finish`.
fn hand_over_source_tag() -> glib::ffi::gpointer {
    usher_socket_service_hand_over_async as *const () as glib::ffi::gpointer
}

/// Whether this thread may run what the handover does on its thread-default context: it owns
/// the context, or no other thread does (the Rust API would panic otherwise).
fn thread_default_context_is_usable() -> bool {
    let context = glib::MainContext::ref_thread_default();
    context.is_owner() || context.acquire().is_ok()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_hand_over_async(
    service: *mut UsherSocketService,
    address: *mut gio::ffi::GSocketAddress,
    cancellable: *mut gio::ffi::GCancellable,
    callback: gio::ffi::GAsyncReadyCallback,
    user_data: glib::ffi::gpointer,
) {
    return_if_fail! {
        usher_socket_service_hand_over_async;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_SOCKET_ADDRESS(address),
        cancellable.is_null() || G_IS_CANCELLABLE(cancellable),
        thread_default_context_is_usable(),
    }
    let task = unsafe {
        PendingTask::new(
            service,
            cancellable,
            callback,
            user_data,
            (
                hand_over_source_tag(),
                c"usher_socket_service_hand_over_async",
            ),
            "The handover was dropped before it completed",
        )
    };
    let address: Borrowed<gio::SocketAddress> = unsafe { from_glib_borrow(address) };
    let cancellable: Borrowed<Option<gio::Cancellable>> = unsafe { from_glib_borrow(cancellable) };
    unsafe { self::service(service) }.hand_over_async(
        &*address,
        cancellable.as_ref().as_ref(),
        move |result| task.complete(result),
    );
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_hand_over_finish(
    service: *mut UsherSocketService,
    result: *mut gio::ffi::GAsyncResult,
    error: *mut *mut glib::ffi::GError,
) -> c_uint {
    return_if_fail! {
        usher_socket_service_hand_over_finish => 0;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_ASYNC_RESULT(result),
        error_is_unset(error),
    }
    let Some(task) = (unsafe {
        own_task(
            service,
            result,
            hand_over_source_tag(),
            "hand_over_async()",
            error,
        )
    }) else {
        return 0;
    };
    let handed = unsafe { gio::ffi::g_task_propagate_int(task, error) };
    c_uint::try_from(handed).unwrap_or(0)
}
