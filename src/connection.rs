//! Connections that tell their service when they are closed.
//!
//! `GIOStream` has no signal or notification for its closing, and a service must know when a
//! connection it handed out is closed to count live connections (`n-connections`,
//! `max-connections`, graceful shutdown). So the service creates each connection itself, as a
//! private subclass of the type GLib's connection factory would have chosen (`GTcpConnection`,
//! `GUnixConnection` or `GSocketConnection`) whose close reports itself. A connection is thus
//! still a `GTcpConnection` for every caller; only its exact type differs.
//!
//! The report is a [`Guard`] stored in the connection's instance (its private data: no
//! allocation of its own): closing takes it out and drops it, and so does finalization if the
//! connection was never closed, so it reports exactly once either way.
//! It may report on any thread, inside the connection's finalization among others: its
//! [`CloseSink`] only records the close, and acts on it later, on the service's own context.

use std::any::Any;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use gio::prelude::*;
use glib::translate::IntoGlib;

use crate::sys::{
    CloseReporting, CloseReportingType, DataKey, new_connection, register_close_reporting_type,
};

/// Where connections report their close: the service's accept engine.
pub(crate) trait CloseSink: Send + Sync {
    /// The connection registered as `key` was closed or finalized. Called on any thread, at any
    /// time: it must neither block nor call out, beyond letting go of its own reference to the
    /// connection's socket (which runs none of the service's code).
    fn closed(&self, key: u64);
}

/// Reports the close of one connection, once, when dropped.
pub(crate) struct Guard {
    sink: Arc<dyn CloseSink>,
    key: u64,
}

impl Guard {
    pub(crate) fn new(sink: Arc<dyn CloseSink>, key: u64) -> Self {
        Self { sink, key }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.sink.closed(self.key)
    }
}

/// What the service records on a connection it hands out, for the application to read later
/// (where it came from): shared by many connections, opaque here.
pub(crate) type Origin = Arc<dyn Any + Send + Sync>;

/// The guard and the origin of a connection of one of our types, in its instance.
#[derive(Default)]
struct Tracked(Mutex<(Option<Guard>, Option<Origin>)>);

impl Tracked {
    fn lock(&self) -> MutexGuard<'_, (Option<Guard>, Option<Origin>)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> Option<Guard> {
        self.lock().0.take()
    }

    fn set(&self, guard: Guard) {
        self.lock().0 = Some(guard);
    }
}

impl CloseReporting for Tracked {
    fn closed(&self) {
        // Unlocked: the report may let go of the last reference to the socket.
        drop(self.take())
    }
}

/// The guard and the origin of a connection of a type registered by a third party, which has
/// no room for them.
static GUARD: DataKey<Guard> = DataKey::new("usher-connection-close-guard");
static ORIGIN: DataKey<Origin> = DataKey::new("usher-connection-origin");

/// The instance data of `connection`, if it is of one of our types.
fn tracked(connection: &gio::SocketConnection) -> Option<&Tracked> {
    TRACKED_TYPES
        .iter()
        .find_map(|(_, tracked)| tracked.data(connection))
        .or_else(|| {
            // Not made before a TLS connection needs it.
            let wrapper = gio::TcpWrapperConnection::static_type();
            connection
                .type_()
                .is_a(wrapper)
                .then(|| TRACKED_WRAPPER_TYPE.data(connection))
                .flatten()
        })
}

/// Records where `connection`, which the service hands out, came from.
pub(crate) fn set_origin(connection: &gio::SocketConnection, origin: Origin) {
    match tracked(connection) {
        Some(tracked) => tracked.lock().1 = Some(origin),
        None => ORIGIN.set(connection, origin),
    }
}

/// Where `connection` came from, if a service handed it out.
pub(crate) fn origin(connection: &gio::SocketConnection) -> Option<Origin> {
    match tracked(connection) {
        Some(tracked) => tracked.lock().1.clone(),
        None => ORIGIN.get(connection),
    }
}

/// Our subclasses of the three types GLib's factory picks from, keyed by parent type.
static TRACKED_TYPES: LazyLock<[(glib::Type, CloseReportingType<Tracked>); 3]> =
    LazyLock::new(|| {
        [
            (gio::TcpConnection::static_type(), c"UsherTcpConnection"),
            (gio::UnixConnection::static_type(), c"UsherUnixConnection"),
            (
                gio::SocketConnection::static_type(),
                c"UsherSocketConnection",
            ),
        ]
        .map(|(parent, name)| (parent, register_close_reporting_type(parent, name)))
    });

/// Our subclass of `GTcpWrapperConnection`, for connections over TLS.
static TRACKED_WRAPPER_TYPE: LazyLock<CloseReportingType<Tracked>> = LazyLock::new(|| {
    register_close_reporting_type(
        gio::TcpWrapperConnection::static_type(),
        c"UsherTcpWrapperConnection",
    )
});

/// Wraps an accepted socket in a connection of the type GLib would pick, made to drop `guard`
/// when it is closed or finalized.
pub(crate) fn new_tracked(socket: &gio::Socket, guard: Guard) -> gio::SocketConnection {
    let factory_type = gio::SocketConnection::factory_lookup_type(
        socket.family(),
        socket.socket_type(),
        socket.protocol().into_glib(),
    );
    match TRACKED_TYPES
        .iter()
        .find(|(parent, _)| *parent == factory_type)
    {
        Some((_, tracked)) => {
            let connection = new_connection(tracked.type_(), socket);
            tracked
                .data(&connection)
                .expect("an instance of the type just made")
                .set(guard);
            connection
        }
        // A type registered by a third party: its close goes unseen, its finalization is not.
        None => {
            let connection = socket.connection_factory_create_connection();
            GUARD.set(&connection, guard);
            connection
        }
    }
}

/// Wraps `tls`, the TLS connection over `base`, a connection made by [`new_tracked`], in the
/// `GTcpWrapperConnection` that `GSocketClient` returns with `tls` set, and moves the guard to
/// it: closing the wrapper closes the socket, not the TLS connection or `base`, so the close the
/// service must see is the wrapper's.
pub(crate) fn wrap_tls(
    base: &gio::SocketConnection,
    tls: &gio::TlsConnection,
) -> gio::SocketConnection {
    let wrapper = glib::Object::builder_with_type(TRACKED_WRAPPER_TYPE.type_())
        .property("base-io-stream", tls)
        .property("socket", base.socket())
        .build()
        .downcast::<gio::SocketConnection>()
        .expect("GTcpWrapperConnection derives from GSocketConnection");
    let guard = TRACKED_TYPES
        .iter()
        .find_map(|(_, tracked)| tracked.data(base))
        .map_or_else(|| GUARD.take(base), Tracked::take);
    if let (Some(guard), Some(data)) = (guard, TRACKED_WRAPPER_TYPE.data(&wrapper)) {
        data.set(guard);
    }
    wrapper
}
