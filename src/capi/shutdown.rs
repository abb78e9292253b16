//! `usher_socket_service_shutdown_async()` and `_finish()`: the engine's shutdown as a `GTask`.

use std::sync::{Arc, Mutex, PoisonError};

use gio::prelude::*;
use glib::translate::*;

use super::socket_service::service;
use super::*;
use crate::engine::Engine;
use crate::ffi::UsherSocketService;

/// A `GTask` of `usher_socket_service_shutdown_async()`, returned into once: with the
/// shutdown's outcome, or, if it is dropped first (its service gone), an error.
struct PendingTask(*mut gio::ffi::GTask);

// SAFETY: a GTask may be returned into and unreferenced from any thread; GTask then calls back
// on the context it was created on.
unsafe impl Send for PendingTask {}

impl PendingTask {
    fn complete(self, result: Result<(), glib::Error>) {
        let task = std::mem::ManuallyDrop::new(self);
        unsafe {
            match result {
                Ok(()) => gio::ffi::g_task_return_boolean(task.0, glib::ffi::GTRUE),
                Err(error) => gio::ffi::g_task_return_error(task.0, error.into_glib_ptr()),
            }
            glib::gobject_ffi::g_object_unref(task.0 as *mut glib::gobject_ffi::GObject);
        }
    }
}

impl Drop for PendingTask {
    fn drop(&mut self) {
        PendingTask(self.0).complete(Err(glib::Error::new(
            gio::IOErrorEnum::Cancelled,
            "The service went away before its shutdown completed",
        )));
    }
}

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
        let task = gio::ffi::g_task_new(
            service as *mut glib::gobject_ffi::GObject,
            cancellable,
            callback,
            user_data,
        );
        gio::ffi::g_task_set_source_tag(task, shutdown_source_tag());
        gio::ffi::g_task_set_name(task, c"usher_socket_service_shutdown_async".as_ptr());
        if gio::ffi::g_task_return_error_if_cancelled(task) != glib::ffi::GFALSE {
            glib::gobject_ffi::g_object_unref(task as *mut glib::gobject_ffi::GObject);
            return;
        }
        task
    };
    let pending = Arc::new(Mutex::new(Some(PendingTask(task))));
    let cancellable: Option<gio::Cancellable> = unsafe { from_glib_none(cancellable) };
    let watch = cancellable.and_then(|cancellable| {
        let pending = pending.clone();
        let handler = cancellable.connect_cancelled(move |_| {
            if let Some(task) = take(&pending) {
                task.complete(Err(glib::Error::new(
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
