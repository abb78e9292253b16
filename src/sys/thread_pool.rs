//! A `GThreadPool` that neither waits for nor cancels its jobs when dropped.

use glib::translate::*;

/// A shared (non-exclusive) `GThreadPool` that runs boxed jobs, as `GThreadedSocketService`'s.
///
/// glib-rs's `ThreadPool` waits for its jobs when dropped, which would deadlock when the last
/// reference to the service goes in one of its own jobs (GLib bug 712570); this one neither
/// waits nor cancels: its owner drops it only once every job is done.
pub(crate) struct ThreadPool(std::ptr::NonNull<glib::ffi::GThreadPool>);

type Job = Box<dyn FnOnce() + Send>;

// SAFETY: GThreadPool is thread-safe.
unsafe impl Send for ThreadPool {}
unsafe impl Sync for ThreadPool {}

impl ThreadPool {
    /// A pool of at most `max_threads` threads (`None`: no limit).
    pub(crate) fn new(max_threads: Option<u32>) -> Self {
        unsafe extern "C" fn run(job: glib::ffi::gpointer, _pool_data: glib::ffi::gpointer) {
            let job = unsafe { Box::from_raw(job as *mut Job) };
            job()
        }
        let max_threads = max_threads.map_or(-1, |limit| i32::try_from(limit).unwrap_or(i32::MAX));
        // SAFETY: a shared pool is never refused.
        let pool = unsafe {
            glib::ffi::g_thread_pool_new(
                Some(run),
                std::ptr::null_mut(),
                max_threads,
                glib::ffi::GFALSE,
                std::ptr::null_mut(),
            )
        };
        Self(std::ptr::NonNull::new(pool).expect("g_thread_pool_new() of a shared pool"))
    }

    /// Queues `job` for a thread of the pool.
    pub(crate) fn push(&self, job: impl FnOnce() + Send + 'static) -> Result<(), glib::Error> {
        let job: *mut Job = Box::into_raw(Box::new(Box::new(job)));
        let mut error = std::ptr::null_mut();
        // SAFETY: the pool owns `job` once pushed, and gives it back to `run`.
        unsafe {
            if from_glib(glib::ffi::g_thread_pool_push(
                self.0.as_ptr(),
                job as glib::ffi::gpointer,
                &mut error,
            )) {
                Ok(())
            } else {
                drop(Box::from_raw(job));
                Err(from_glib_full(error))
            }
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        // SAFETY: neither cancel nor wait, which would deadlock in a worker (see above).
        unsafe {
            glib::ffi::g_thread_pool_free(self.0.as_ptr(), glib::ffi::GFALSE, glib::ffi::GFALSE)
        }
    }
}
