//! Graceful shutdown and forced close of a service's connections.
//!
//! `shutdown_async` is a GIO asynchronous operation on a `GTask`, so that C, Vala, Python, gjs
//! and Rust all finish it the same way: the service stops accepting and closes its listening
//! sockets at once, then the task completes when the last live connection is closed (and, for
//! the threaded service, the last `run` handler has returned). The task may complete from any
//! thread; GTask delivers the result on the context the operation was started in.

use gio::prelude::*;
use glib::subclass::prelude::*;
use glib::translate::*;

use super::imp::SocketService;

/// A pending `shutdown_async`: its task, and the source that watches its cancellable.
pub(super) struct Waiter {
    task: glib::Object,
    cancel_watch: Option<glib::Source>,
}

// SAFETY: GTask may be returned and unreferenced from any thread, and sources destroyed.
unsafe impl Send for Waiter {}

impl Waiter {
    /// Returns `Ok(())` into the task; the wait is over.
    fn complete(self) {
        if let Some(watch) = &self.cancel_watch {
            watch.destroy();
        }
        unsafe { gio::ffi::g_task_return_boolean(self.task_ptr(), glib::ffi::GTRUE) }
    }

    fn task_ptr(&self) -> *mut gio::ffi::GTask {
        self.task.as_ptr() as *mut gio::ffi::GTask
    }
}

impl SocketService {
    /// `usher_socket_service_shutdown_async()`.
    ///
    /// # Safety
    /// `callback` and `user_data` must be valid for a `GAsyncReadyCallback` on this service.
    pub(crate) unsafe fn shutdown_async(
        &self,
        cancellable: Option<&gio::Cancellable>,
        callback: gio::ffi::GAsyncReadyCallback,
        user_data: glib::ffi::gpointer,
    ) {
        let task: glib::Object = unsafe {
            let task = gio::ffi::g_task_new(
                self.obj().as_ptr() as *mut glib::gobject_ffi::GObject,
                cancellable.to_glib_none().0,
                callback,
                user_data,
            );
            gio::ffi::g_task_set_source_tag(task, shutdown_source_tag());
            gio::ffi::g_task_set_name(task, c"usher_socket_service_shutdown_async".as_ptr());
            from_glib_full(task as *mut glib::gobject_ffi::GObject)
        };
        let task_ptr = task.as_ptr() as *mut gio::ffi::GTask;
        if unsafe { gio::ffi::g_task_return_error_if_cancelled(task_ptr) } != glib::ffi::GFALSE {
            return;
        }

        self.close_listener();

        let cancel_watch =
            cancellable.map(|cancellable| self.watch_cancellation(cancellable, &task));
        let waiter = Waiter { task, cancel_watch };
        let drained = {
            let mut state = self.state();
            if state.drained() {
                Some(waiter)
            } else {
                state.shutdown_waiters.push(waiter);
                None
            }
        };
        if let Some(waiter) = drained {
            waiter.complete();
        }
    }

    /// `usher_socket_service_shutdown_finish()`.
    pub(crate) fn shutdown_finish(&self, result: &gio::AsyncResult) -> Result<(), glib::Error> {
        unsafe {
            let task = result.as_ptr() as *mut gio::ffi::GTask;
            let is_ours = gio::ffi::g_task_is_valid(
                result.as_ptr(),
                self.obj().as_ptr() as *mut glib::gobject_ffi::GObject,
            ) != glib::ffi::GFALSE
                && gio::ffi::g_task_get_source_tag(task) == shutdown_source_tag();
            if !is_ours {
                return Err(glib::Error::new(
                    gio::IOErrorEnum::InvalidArgument,
                    "The result is not from this service's shutdown_async()",
                ));
            }
            let mut error = std::ptr::null_mut();
            gio::ffi::g_task_propagate_boolean(task, &mut error);
            if error.is_null() {
                Ok(())
            } else {
                Err(from_glib_full(error))
            }
        }
    }

    /// Stops accepting for good and closes every listening socket, freeing the ports now.
    fn close_listener(&self) {
        self.end_accepting();
        // The listener closes every socket it has, also those it never announced.
        self.obj().close();
        self.set_active(false);
    }

    /// Completes the pending shutdowns if nothing is left to wait for. Called after every
    /// close of a connection and end of a threaded job, from any thread.
    pub(super) fn complete_shutdown_if_drained(&self) {
        let waiters = {
            let mut state = self.state();
            if !state.drained() {
                return;
            }
            std::mem::take(&mut state.shutdown_waiters)
        };
        for waiter in waiters {
            waiter.complete();
        }
    }

    /// Ends the wait of `task` with `G_IO_ERROR_CANCELLED` when `cancellable` is cancelled,
    /// from the task's own context: the connections stay open, the listener stays closed.
    fn watch_cancellation(
        &self,
        cancellable: &gio::Cancellable,
        task: &glib::Object,
    ) -> glib::Source {
        struct Watch {
            service: super::WeakService,
            task: glib::Object,
        }
        unsafe extern "C" fn cancelled(
            _cancellable: *mut gio::ffi::GCancellable,
            watch: glib::ffi::gpointer,
        ) -> glib::ffi::gboolean {
            unsafe {
                let watch = &*(watch as *const Watch);
                let waiter = watch.service.upgrade().and_then(|service| {
                    let mut state = service.imp().state();
                    let index = state
                        .shutdown_waiters
                        .iter()
                        .position(|waiter| waiter.task == watch.task)?;
                    Some(state.shutdown_waiters.swap_remove(index))
                });
                if let Some(waiter) = waiter {
                    gio::ffi::g_task_return_error_if_cancelled(waiter.task_ptr());
                }
                glib::ffi::GFALSE
            }
        }
        unsafe extern "C" fn free_watch(watch: glib::ffi::gpointer) {
            unsafe { drop(Box::from_raw(watch as *mut Watch)) }
        }
        unsafe {
            let source = gio::ffi::g_cancellable_source_new(cancellable.to_glib_none().0);
            let cancelled: unsafe extern "C" fn(
                *mut gio::ffi::GCancellable,
                glib::ffi::gpointer,
            ) -> glib::ffi::gboolean = cancelled;
            glib::ffi::g_source_set_callback(
                source,
                Some(std::mem::transmute::<
                    unsafe extern "C" fn(
                        *mut gio::ffi::GCancellable,
                        glib::ffi::gpointer,
                    ) -> glib::ffi::gboolean,
                    unsafe extern "C" fn(glib::ffi::gpointer) -> glib::ffi::gboolean,
                >(cancelled)),
                Box::into_raw(Box::new(Watch {
                    service: super::WeakService::new(&self.obj()),
                    task: task.clone(),
                })) as glib::ffi::gpointer,
                Some(free_watch),
            );
            let context = gio::ffi::g_task_get_context(task.as_ptr() as *mut gio::ffi::GTask);
            glib::ffi::g_source_attach(source, context);
            from_glib_full(source)
        }
    }

    /// `usher_socket_service_close_connections()`: shuts down, in both directions, every live
    /// connection the service handed out, and stops counting them.
    ///
    /// `shutdown(2)` is safe from any thread and wakes a handler blocked on the connection in
    /// another one; the `GSocketConnection` releases its descriptor when its owner closes or
    /// drops it, as it will on reading the end of the stream.
    pub(crate) fn close_connections(&self) {
        let connections = {
            let mut state = self.state();
            state.connections.take_all()
        };
        for connection in &connections {
            // A connection its owner closed meanwhile has nothing left to shut down.
            let _ = connection.socket().shutdown(true, true);
        }
        let deferred = {
            let mut state = self.state();
            self.reconcile(&mut state)
        };
        deferred.run(self);
        if !connections.is_empty() {
            self.notify_on_context("n-connections");
        }
        self.complete_shutdown_if_drained();
    }

    /// A threaded job started: a pending shutdown waits for it.
    pub(crate) fn work_started(&self) {
        self.state().busy += 1;
    }

    /// A threaded job ended.
    pub(crate) fn work_finished(&self) {
        {
            let mut state = self.state();
            state.busy = state.busy.saturating_sub(1);
        }
        self.complete_shutdown_if_drained();
    }
}

/// The source tag of the tasks of `shutdown_async`, to recognise them in `shutdown_finish`.
fn shutdown_source_tag() -> glib::ffi::gpointer {
    static TAG: u8 = 0;
    &TAG as *const u8 as glib::ffi::gpointer
}
