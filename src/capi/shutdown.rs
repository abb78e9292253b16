//! `usher_socket_service_shutdown_async()` and `_finish()`: the engine's shutdown as a `GTask`.

use std::sync::{Arc, Mutex, PoisonError};

use gio::prelude::*;
use glib::translate::*;

use super::socket_service::service;
use super::task::{PendingTask, own_task};
use super::*;
use crate::engine::Engine;
use crate::ffi::UsherSocketService;

/// The source tag of the tasks of `shutdown_async`, to recognise them in `shutdown_finish`.
fn shutdown_source_tag() -> glib::ffi::gpointer {
    usher_socket_service_shutdown_async as *const () as glib::ffi::gpointer
}

/// The `GAsyncReadyCallback` adapter of the engine's shutdown: the task completes when the
/// shutdown does, or with `G_IO_ERROR_CANCELLED` when `cancellable` is cancelled first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_shutdown_async(
    service: *mut UsherSocketService,
    cancellable: *mut gio::ffi::GCancellable,
    callback: gio::ffi::GAsyncReadyCallback,
    user_data: glib::ffi::gpointer,
) {
    return_if_fail! {
        usher_socket_service_shutdown_async;
        USHER_IS_SOCKET_SERVICE(service),
        cancellable.is_null() || G_IS_CANCELLABLE(cancellable),
    }
    let task = unsafe {
        PendingTask::new(
            service,
            cancellable,
            callback,
            user_data,
            (
                shutdown_source_tag(),
                c"usher_socket_service_shutdown_async",
            ),
            "The service went away before its shutdown completed",
        )
    };
    let Some(task) = task.unless_cancelled() else {
        return;
    };
    let pending = Arc::new(Mutex::new(Some(task)));
    let cancellable: Option<gio::Cancellable> = unsafe { from_glib_none(cancellable) };
    let watch = cancellable.and_then(|cancellable| {
        let pending = pending.clone();
        let handler = cancellable.connect_cancelled(move |_| {
            if let Some(task) = take(&pending) {
                task.complete::<()>(Err(glib::Error::new(
                    gio::IOErrorEnum::Cancelled,
                    "Operation was cancelled",
                )));
            }
        })?;
        Some((cancellable, handler))
    });
    let completion = Completion { pending, watch };
    let service = unsafe { self::service(service) };
    Engine::shutdown(&*service, Box::new(move || completion.complete()));
}

/// Takes the task out of `pending`, if nobody did yet.
fn take(pending: &Mutex<Option<PendingTask>>) -> Option<PendingTask> {
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

/// The engine's waiter of a shutdown task: returns `Ok` into it, unless the cancellable's
/// handler returned `CANCELLED` first; dropped unrun (its service gone), lets the task go with
/// an error.
struct Completion {
    pending: Arc<Mutex<Option<PendingTask>>>,
    watch: Option<(gio::Cancellable, gio::CancelledHandlerId)>,
}

impl Completion {
    fn complete(self) {
        if let Some(task) = take(&self.pending) {
            task.complete(Ok(()));
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some((cancellable, handler)) = self.watch.take() {
            cancellable.disconnect_cancelled(handler);
        }
        // The task, if neither completed nor cancelled, goes with an error.
        drop(take(&self.pending));
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_shutdown_finish(
    service: *mut UsherSocketService,
    result: *mut gio::ffi::GAsyncResult,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_shutdown_finish => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_ASYNC_RESULT(result),
        error_is_unset(error),
    }
    let Some(task) = (unsafe {
        own_task(
            service,
            result,
            shutdown_source_tag(),
            "shutdown_async()",
            error,
        )
    }) else {
        return glib::ffi::GFALSE;
    };
    unsafe { gio::ffi::g_task_propagate_boolean(task, error) }
}
