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
//!   the application made meanwhile. Usher's engine counts the jobs instead, and takes in no
//!   more clients than it has threads for: `active` keeps the application's word, and accepts
//!   stay on the service's context.
//! * `max-threads = 0` makes GLib's pool run nothing, ever (bug B11); here it means one thread
//!   per processor.
//! * A failed push into the pool releases its slot (GLib leaks it: bug B10).

use std::sync::{Mutex, OnceLock, PoisonError};

use glib::{prelude::*, subclass::prelude::*};

use crate::engine::{Engine, Host};
use crate::ffi;
use crate::glib_property::{DescribedAsGlibs, glib_property};
use crate::log::LOG_DOMAIN;
use crate::socket_service::SocketService;
use crate::subclass::socket_listener::SocketListenerImpl;
use crate::subclass::socket_service::SocketServiceImpl;
use crate::sys::{SendObject, ThreadPool};

/// The `max-threads` GLib uses by default.
const DEFAULT_MAX_THREADS: i32 = 10;

#[derive(glib::Properties)]
#[properties(
    wrapper_type = super::ThreadedSocketService,
    ext_trait = ThreadedSocketServicePropertiesExt
)]
pub struct ThreadedSocketService {
    /// The most `run` handlers that run at once, as given at construction: -1 for no limit, 0
    /// for one per processor. The default is 10, as GLib's.
    #[property(get, construct_only, minimum = -1, default = DEFAULT_MAX_THREADS,
        builder().described_as(&glib_property(
            gio::ThreadedSocketService::static_type(), "max-threads")))]
    max_threads: Mutex<i32>,
    pool: OnceLock<ThreadPool>,
}

impl Default for ThreadedSocketService {
    fn default() -> Self {
        Self {
            max_threads: Mutex::new(DEFAULT_MAX_THREADS),
            pool: OnceLock::new(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ThreadedSocketService {
    const NAME: &'static str = "UsherThreadedSocketService";
    type Type = super::ThreadedSocketService;
    type ParentType = SocketService;
    type Instance = ffi::UsherThreadedSocketService;
    type Class = ffi::UsherThreadedSocketServiceClass;

    fn class_init(_: &mut Self::Class) {
        RUN.get_or_init(|| ffi::register_run_signal(Self::type_()));
    }
}

ffi::impl_structs!(
    ThreadedSocketService,
    ffi::UsherThreadedSocketService,
    ffi::UsherThreadedSocketServiceClass
);

/// `run`, registered as GLib registers it (see `ffi::register_run_signal`).
static RUN: OnceLock<u32> = OnceLock::new();

/// The id of `run`, once the class is initialized (an instance exists).
pub(crate) fn run_signal() -> u32 {
    *RUN.get().expect("the class registered run")
}

#[glib::derived_properties]
impl ObjectImpl for ThreadedSocketService {
    fn constructed(&self) {
        self.parent_constructed();
        let limit = self.thread_limit();
        let _ = self.pool.set(ThreadPool::new(limit));
        Engine::set_jobs_limit(self.obj().upcast_ref::<SocketService>(), limit);
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
        let service = self.obj();
        let service = service.upcast_ref::<SocketService>();
        Engine::job_started(service);
        let job = Job {
            service: SendObject::new(self.obj().clone()),
            connection: SendObject::new(connection.clone()),
            source_object: source_object.cloned().map(SendObject::new),
        };
        if let Err(error) = pool.push(move || job.run()) {
            glib::g_warning!(LOG_DOMAIN, "Error handling incoming socket: {error}");
            service.engine().job_finished();
        }
        false
    }
}

impl ThreadedSocketService {
    /// The most handlers that run at once; `None` for no limit.
    fn thread_limit(&self) -> Option<u32> {
        match *self
            .max_threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            0 => Some(glib::num_processors().max(1)),
            limit => u32::try_from(limit).ok(),
        }
    }
}

/// One connection for a worker: the references GLib's `GThreadedSocketServiceData` holds.
struct Job {
    service: SendObject<super::ThreadedSocketService>,
    connection: SendObject<gio::SocketConnection>,
    source_object: Option<SendObject<glib::Object>>,
}

impl Job {
    /// Runs in a worker thread. The last reference to the service may go here, as in GLib.
    fn run(self) {
        let Job {
            service,
            connection,
            source_object,
        } = self;
        let source_object = source_object.map(SendObject::into_inner);
        ffi::emit_connection_signal(&*service, run_signal(), &connection, source_object.as_ref());
        // Everything the job holds goes before it counts as done: a shutdown that waits for the
        // jobs then finds the connections closed too, and an application that exits once its
        // shutdown completes (Python, say) does not see the service finalized in a worker
        // meanwhile. The last reference to the service may still go here, as in GLib.
        drop((connection, source_object));
        let engine = service.upcast_ref::<SocketService>().engine().clone();
        drop(service);
        engine.job_finished();
    }
}
