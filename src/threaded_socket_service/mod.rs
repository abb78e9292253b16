//! [`ThreadedSocketService`]: GLib's `GThreadedSocketService`, re-implemented.

pub(crate) mod imp;

/// The accessors of [`ThreadedSocketService`]'s properties: `max_threads()`,
/// `connect_max_threads_notify()` and `notify_max_threads()`.
#[doc(inline)]
pub use imp::ThreadedSocketServicePropertiesExt;

use glib::{prelude::*, signal::SignalHandlerId};

use crate::signals::connect_connection_handler;
use crate::socket_service::SocketService;

glib::wrapper! {
    /// A [`SocketService`] that runs a blocking handler per connection in a thread pool.
    ///
    /// Each new connection is handed to a worker thread that emits
    /// [`run`](ThreadedSocketServiceExt::connect_run); the handler may block, and need not return
    /// until it is done with the connection. At most `max-threads` handlers run at once; while
    /// they are all busy, the service stops accepting and new clients wait in the kernel's
    /// backlog, and it accepts again, on its own context, as soon as one returns.
    ///
    /// It behaves as GLib's [`gio::ThreadedSocketService`], except that a saturated pool does
    /// not touch `active`, and that `max-threads = 0` means one thread per processor.
    ///
    /// ```no_run
    /// use std::io::{BufRead, BufReader, Write};
    /// use gio::prelude::*;
    /// use usher::prelude::*;
    ///
    /// let service = usher::ThreadedSocketService::new(4);
    /// service.add_inet_port(1024, None::<&glib::Object>)?;
    /// service.connect_run(|_service, connection, _source_object| {
    ///     // A blocking echo of one line.
    ///     let input = gio::DataInputStream::new(&connection.input_stream());
    ///     if let Ok(Some(line)) = input.read_line_utf8(gio::Cancellable::NONE) {
    ///         let _ = connection.output_stream().write_all(format!("{line}\n").as_bytes(), gio::Cancellable::NONE);
    ///     }
    ///     false
    /// });
    /// glib::MainLoop::new(None, false).run();
    /// # Ok::<(), glib::Error>(())
    /// ```
    ///
    /// GObject type: `UsherThreadedSocketService`.
    #[doc(alias = "UsherThreadedSocketService")]
    pub struct ThreadedSocketService(ObjectSubclass<imp::ThreadedSocketService>)
        @extends SocketService, crate::subclass::SocketListenerBase, gio::SocketListener;
}

impl ThreadedSocketService {
    /// No service, for the `Option<&impl IsA<ThreadedSocketService>>` arguments of generic code.
    pub const NONE: Option<&'static ThreadedSocketService> = None;

    /// Creates a new, active service whose handlers run in at most `max_threads` threads at
    /// once: `-1` for no limit, `0` for one per processor.
    #[doc(alias = "usher_threaded_socket_service_new")]
    pub fn new(max_threads: i32) -> ThreadedSocketService {
        glib::Object::builder()
            .property("max-threads", max_threads.max(-1))
            .build()
    }
}

impl Default for ThreadedSocketService {
    /// A service with GLib's default of 10 threads.
    fn default() -> Self {
        glib::Object::new()
    }
}

/// The methods of [`ThreadedSocketService`] and its subclasses. `max-threads` is in
/// [`ThreadedSocketServicePropertiesExt`]; both are in [`prelude`](crate::prelude).
pub trait ThreadedSocketServiceExt: IsA<ThreadedSocketService> + 'static {
    /// Connects to `run`, emitted in a worker thread for each new connection.
    ///
    /// The handler may block and need not return until it is done with `connection`, which the
    /// service closes afterwards unless the handler kept a reference. Return `true` to stop the
    /// handlers after this one, the class handler included.
    ///
    /// `f` runs in the pool's threads, hence `Send + Sync`.
    #[doc(alias = "run")]
    fn connect_run<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, &gio::SocketConnection, Option<&glib::Object>) -> bool + Send + Sync + 'static,
    {
        connect_connection_handler::<ThreadedSocketService, Self>(self, imp::run_signal(), f)
    }
}

impl<O: IsA<ThreadedSocketService>> ThreadedSocketServiceExt for O {}
