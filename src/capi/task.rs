//! The `GTask`s of the asynchronous calls (`shutdown_async()`, `hand_over_async()`): made with
//! a source tag, returned into once, and recognised again by their `_finish()`.

use std::ffi::CStr;

use glib::translate::*;

use crate::ffi::UsherSocketService;

/// A value a task returns into its `GTask`.
pub(super) trait TaskValue {
    /// # Safety
    /// `task` is a live `GTask` not yet returned into.
    unsafe fn return_into(self, task: *mut gio::ffi::GTask);
}

impl TaskValue for () {
    unsafe fn return_into(self, task: *mut gio::ffi::GTask) {
        unsafe { gio::ffi::g_task_return_boolean(task, glib::ffi::GTRUE) }
    }
}

impl TaskValue for u32 {
    unsafe fn return_into(self, task: *mut gio::ffi::GTask) {
        unsafe { gio::ffi::g_task_return_int(task, self as isize) }
    }
}

/// A `GTask` of `service`, returned into once, on the context it was created on; dropped
/// unreturned (its operation or its service gone), it returns `G_IO_ERROR_CANCELLED` saying
/// `dropped`.
pub(super) struct PendingTask {
    task: *mut gio::ffi::GTask,
    dropped: &'static str,
}

// SAFETY: a GTask may be returned into and unreferenced from any thread; GTask then calls back
// on the context it was created on.
unsafe impl Send for PendingTask {}

impl PendingTask {
    /// A task of `service` for the call named `name`, whose `_finish()` knows it by `tag`.
    ///
    /// # Safety
    /// `service` is a live service; `cancellable` NULL or a live cancellable.
    pub(super) unsafe fn new(
        service: *mut UsherSocketService,
        cancellable: *mut gio::ffi::GCancellable,
        callback: gio::ffi::GAsyncReadyCallback,
        user_data: glib::ffi::gpointer,
        (tag, name): (glib::ffi::gpointer, &CStr),
        dropped: &'static str,
    ) -> Self {
        unsafe {
            let task = gio::ffi::g_task_new(
                service as *mut glib::gobject_ffi::GObject,
                cancellable,
                callback,
                user_data,
            );
            gio::ffi::g_task_set_source_tag(task, tag);
            gio::ffi::g_task_set_name(task, name.as_ptr());
            Self { task, dropped }
        }
    }

    /// Returns `G_IO_ERROR_CANCELLED` into the task if its cancellable is cancelled already;
    /// the task otherwise.
    pub(super) fn unless_cancelled(self) -> Option<Self> {
        // SAFETY: the task is live and not yet returned into.
        let cancelled =
            unsafe { gio::ffi::g_task_return_error_if_cancelled(self.task) } != glib::ffi::GFALSE;
        if cancelled {
            let task = std::mem::ManuallyDrop::new(self);
            unsafe {
                glib::gobject_ffi::g_object_unref(task.task as *mut glib::gobject_ffi::GObject)
            };
            return None;
        }
        Some(self)
    }

    pub(super) fn complete<T: TaskValue>(self, result: Result<T, glib::Error>) {
        let task = std::mem::ManuallyDrop::new(self);
        // SAFETY: the task is live and returned into once: `self` is consumed, its drop skipped.
        unsafe {
            match result {
                Ok(value) => value.return_into(task.task),
                Err(error) => gio::ffi::g_task_return_error(task.task, error.into_glib_ptr()),
            }
            glib::gobject_ffi::g_object_unref(task.task as *mut glib::gobject_ffi::GObject);
        }
    }
}

impl Drop for PendingTask {
    fn drop(&mut self) {
        PendingTask {
            task: self.task,
            dropped: self.dropped,
        }
        .complete::<()>(Err(glib::Error::new(
            gio::IOErrorEnum::Cancelled,
            self.dropped,
        )));
    }
}

/// `result` as the `GTask` that `service`'s `what` (such as `shutdown_async()`) made with
/// source tag `tag`; otherwise `None`, with an error in `error` that says so.
///
/// # Safety
/// `service` is a live service, `result` a live `GAsyncResult`, `error` NULL or unset.
pub(super) unsafe fn own_task(
    service: *mut UsherSocketService,
    result: *mut gio::ffi::GAsyncResult,
    tag: glib::ffi::gpointer,
    what: &str,
    error: *mut *mut glib::ffi::GError,
) -> Option<*mut gio::ffi::GTask> {
    let task = result as *mut gio::ffi::GTask;
    // SAFETY: g_task_is_valid() checks that `result` is a GTask before the source tag is read.
    let ours = unsafe {
        gio::ffi::g_task_is_valid(result, service as *mut glib::gobject_ffi::GObject)
            != glib::ffi::GFALSE
            && gio::ffi::g_task_get_source_tag(task) == tag
    };
    if !ours {
        let failure = glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            &format!("The result is not from this service's {what}"),
        );
        unsafe { super::set_error(error, failure) };
        return None;
    }
    Some(task)
}
