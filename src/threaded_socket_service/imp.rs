//! `UsherThreadedSocketService`: the GObject subclass and its private state.
//!
//! As `gthreadedsocketservice.c`: the `incoming` class handler hands each connection to a
//! shared (non-exclusive) `GThreadPool` and returns FALSE; a worker emits `run`. A job holds one
//! reference each to the service, the connection and the source object, and nothing else does.
//!
//! Where it departs from GLib:
//!
//! * At `max-threads` busy handlers GLib calls `stop()`, and `start()` from the worker that
//!   finishes, which moves later accepts to that worker's context (bug B7) and undoes a `stop()`
//!   the application made meanwhile. Usher tells the service how many threads are free instead,
//!   and the service takes in no more clients than that: `active` keeps the application's word,
//!   and accepts stay on the creating thread's context.
//! * `max-threads = 0` makes GLib's pool run nothing, ever (bug B11); here it means one thread
//!   per processor.
//! * A failed push into the pool releases its slot (GLib leaks it: bug B10).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};

use glib::{prelude::*, subclass::Signal, subclass::prelude::*, translate::*};

use crate::ffi;
use crate::socket_service::imp::connection_signal;
use crate::subclass::prelude::*;

/// The `max-threads` GLib uses by default.
const DEFAULT_MAX_THREADS: i32 = 10;

pub struct ThreadedSocketService {
    /// The `max-threads` construct-only property, as given.
    max_threads: AtomicI32,
    pool: OnceLock<Pool>,
    /// The jobs pushed and not yet finished.
    jobs: Mutex<u32>,
}

impl Default for ThreadedSocketService {
    fn default() -> Self {
        Self {
            max_threads: AtomicI32::new(DEFAULT_MAX_THREADS),
            pool: OnceLock::new(),
            jobs: Mutex::new(0),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ThreadedSocketService {
    const NAME: &'static str = "UsherThreadedSocketService";
    type Type = super::ThreadedSocketService;
    type ParentType = crate::SocketService;
    type Instance = ffi::UsherThreadedSocketService;
    type Class = ffi::UsherThreadedSocketServiceClass;
}

static SIGNALS: LazyLock<Vec<Signal>> = LazyLock::new(|| {
    vec![connection_signal(
        "run",
        |class: &ffi::UsherThreadedSocketServiceClass| class.run,
    )]
});

impl ObjectImpl for ThreadedSocketService {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            // As GLib 2.74's `GThreadedSocketService:max-threads`.
            vec![
                glib::ParamSpecInt::builder("max-threads")
                    .nick("Max threads")
                    .blurb("The max number of threads handling clients for this service")
                    .minimum(-1)
                    .default_value(DEFAULT_MAX_THREADS)
                    .construct_only()
                    .build(),
            ]
        });
        &PROPERTIES
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "max-threads" => self.max_threads.store(
                value.get().unwrap_or(DEFAULT_MAX_THREADS),
                Ordering::Relaxed,
            ),
            _ => unreachable!("GObject only sets the writable properties it knows"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "max-threads" => self.max_threads.load(Ordering::Relaxed).to_value(),
            _ => unreachable!("GObject only reads the properties it knows"),
        }
    }

    fn signals() -> &'static [Signal] {
        &SIGNALS
    }

    fn constructed(&self) {
        self.parent_constructed();
        let limit = self.thread_limit();
        let _ = self.pool.set(Pool::new(limit));
        self.with_service(|service| service.set_room_for_jobs(limit));
    }
}

impl SocketListenerImpl for ThreadedSocketService {}

impl SocketServiceImpl for ThreadedSocketService {
    fn incoming(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        let Some(pool) = self.pool.get() else {
            return false;
        };
        let job = Job {
            service: self.obj().clone(),
            connection: connection.clone(),
            source_object: source_object.cloned(),
        };
        self.with_service(|service| service.work_started());
        self.count_jobs(|jobs| *jobs += 1);
        if let Err(error) = pool.push(job) {
            glib::g_warning!(
                crate::socket_service::imp::LOG_DOMAIN,
                "Error handling incoming socket: {error}"
            );
            self.job_finished();
        }
        false
    }
}

impl ThreadedSocketService {
    /// Calls `f` with the `UsherSocketService` part of this service.
    fn with_service<R>(
        &self,
        f: impl FnOnce(&crate::socket_service::imp::SocketService) -> R,
    ) -> R {
        f(self.obj().upcast_ref::<crate::SocketService>().imp())
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, u32> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most handlers that run at once; `None` for no limit.
    fn thread_limit(&self) -> Option<u32> {
        match self.max_threads.load(Ordering::Relaxed) {
            0 => Some(glib::num_processors().max(1)),
            limit => u32::try_from(limit).ok(),
        }
    }

    /// A job returned from `run`: its thread is free again.
    fn job_finished(&self) {
        self.count_jobs(|jobs| *jobs -= 1);
        self.with_service(|service| service.work_finished());
    }

    /// Changes the job count, and tells the service how many more connections it has threads
    /// for: none left, and it stops accepting until a job ends.
    fn count_jobs(&self, change: impl FnOnce(&mut u32)) {
        let mut jobs = self.jobs();
        change(&mut jobs);
        // Under the jobs lock, so that the service learns the counts in order.
        let room = self.thread_limit().map(|limit| limit.saturating_sub(*jobs));
        self.with_service(|service| service.set_room_for_jobs(room));
    }
}

/// One connection for a worker: the references GLib's `GThreadedSocketServiceData` holds.
struct Job {
    service: super::ThreadedSocketService,
    connection: gio::SocketConnection,
    source_object: Option<glib::Object>,
}

// SAFETY: GObject reference counting is thread-safe, and GLib hands these same objects to its
// workers; the service's own methods used by the worker only lock its state.
unsafe impl Send for Job {}

impl Job {
    /// Runs in a worker thread. The last reference to the service may go here.
    fn run(self) {
        let Job {
            service,
            connection,
            source_object,
        } = self;
        let _handled: bool = service.emit(SIGNALS[0].signal_id(), &[&connection, &source_object]);
        // The connection closes here unless a handler kept it, before the job counts as done:
        // a shutdown that waits for the jobs then finds the connections closed too.
        drop((connection, source_object));
        service.imp().job_finished();
    }
}

/// A shared `GThreadPool` that runs [`Job`]s.
///
/// glib's `ThreadPool` waits for its jobs when dropped, which would deadlock when the last
/// reference to the service goes in one of its own jobs (GLib bug 712570).
struct Pool(std::ptr::NonNull<glib::ffi::GThreadPool>);

// SAFETY: GThreadPool is thread-safe.
unsafe impl Send for Pool {}
unsafe impl Sync for Pool {}

impl Pool {
    fn new(max_threads: Option<u32>) -> Self {
        unsafe extern "C" fn run_job(job: glib::ffi::gpointer, _pool_data: glib::ffi::gpointer) {
            unsafe { Box::from_raw(job as *mut Job).run() }
        }
        let max_threads = max_threads.map_or(-1, |limit| i32::try_from(limit).unwrap_or(i32::MAX));
        // A non-exclusive pool never fails to be created.
        let pool = unsafe {
            glib::ffi::g_thread_pool_new(
                Some(run_job),
                std::ptr::null_mut(),
                max_threads,
                glib::ffi::GFALSE,
                std::ptr::null_mut(),
            )
        };
        Self(std::ptr::NonNull::new(pool).expect("g_thread_pool_new() of a shared pool"))
    }

    fn push(&self, job: Job) -> Result<(), glib::Error> {
        let job = Box::into_raw(Box::new(job));
        let mut error = std::ptr::null_mut();
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

impl Drop for Pool {
    fn drop(&mut self) {
        // Every job holds a reference to the service, so the pool is empty by now: neither
        // cancel nor wait, which would deadlock in a worker.
        unsafe {
            glib::ffi::g_thread_pool_free(self.0.as_ptr(), glib::ffi::GFALSE, glib::ffi::GFALSE)
        }
    }
}
