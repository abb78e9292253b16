//! Connections that tell their service when they are closed.
//!
//! `GIOStream` has no signal or notification for its closing, and a service must know when a
//! connection it handed out is closed to count live connections (`n-connections`,
//! `max-connections`, graceful shutdown). So the service creates each connection itself, as a
//! private subclass of the type GLib's connection factory would have chosen (`GTcpConnection`,
//! `GUnixConnection` or `GSocketConnection`) whose close reports itself. A connection is thus
//! still a `GTcpConnection` for every caller; only its exact type differs.
//!
//! The report is kept in the connection's instance (its private data: no allocation of its own):
//! the connection's key, taken out when it is closed, or when it is finalized if it never was, so
//! that it reports exactly once either way, and a pointer to what the connections of its
//! listening socket share ([`Shared`]).
//! It may report on any thread, inside the connection's finalization among others: its
//! [`CloseSink`] only records the close, and acts on it later, on the service's own context.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

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

/// What the connections a service hands out from one listening socket share: where they report
/// their close, and where they came from, which the application may ask (opaque here). One per
/// listening socket and settings in force: a connection holds a pointer to it.
pub(crate) struct Shared {
    pub sink: Arc<dyn CloseSink>,
    pub origin: Arc<dyn Any + Send + Sync>,
}

/// No key: reported, or moved to the connection's TLS wrapper. A registry's keys never reach it.
const NO_KEY: u64 = u64::MAX;

/// A connection's report of its close, in its instance (24 bytes): reports once, when closed or
/// else finalized (dropped), to its `Shared`'s sink, which stays alive while the connection
/// does.
struct Tracked {
    key: AtomicU64,
    shared: OnceLock<Arc<Shared>>,
}

impl Default for Tracked {
    fn default() -> Self {
        Self {
            key: AtomicU64::new(NO_KEY),
            shared: OnceLock::new(),
        }
    }
}

impl Tracked {
    /// Registers the connection as `key` of `shared`: before anyone else sees it.
    fn start(&self, shared: Arc<Shared>, key: u64) {
        let _ = self.shared.set(shared);
        self.key.store(key, Ordering::Release);
    }

    /// The key and what the connection shares, taken from it: it reports nothing from now on.
    fn take(&self) -> Option<(Arc<Shared>, u64)> {
        let key = self.key.swap(NO_KEY, Ordering::AcqRel);
        (key != NO_KEY)
            .then(|| self.shared.get().cloned())
            .flatten()
            .map(|shared| (shared, key))
    }
}

impl CloseReporting for Tracked {
    fn closed(&self) {
        if let Some((shared, key)) = self.take() {
            shared.sink.closed(key);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.closed();
    }
}

/// The report of a connection of a type registered by a third party, which has no room for it:
/// its close goes unseen, its finalization is not.
static THIRD_PARTY: DataKey<Arc<Tracked>> = DataKey::new("usher-connection-close-guard");

/// The report in `connection`, if a service handed it out.
fn tracked<R>(connection: &gio::SocketConnection, f: impl FnOnce(&Tracked) -> R) -> Option<R> {
    let ours = TRACKED_TYPES
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
        });
    match ours {
        Some(tracked) => Some(f(tracked)),
        None => THIRD_PARTY.get(connection).map(|tracked| f(&tracked)),
    }
}

/// Where `connection` came from, if a service handed it out.
pub(crate) fn origin(connection: &gio::SocketConnection) -> Option<Arc<dyn Any + Send + Sync>> {
    tracked(connection, |tracked| {
        tracked.shared.get().map(|shared| shared.origin.clone())
    })
    .flatten()
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

/// Wraps an accepted socket in a connection of the type GLib would pick, registered as `key` of
/// `shared`: it reports its close or finalization there.
pub(crate) fn new_tracked(
    socket: &gio::Socket,
    shared: Arc<Shared>,
    key: u64,
) -> gio::SocketConnection {
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
                .start(shared, key);
            connection
        }
        None => {
            let connection = socket.connection_factory_create_connection();
            let tracked = Tracked::default();
            tracked.start(shared, key);
            THIRD_PARTY.set(&connection, Arc::new(tracked));
            connection
        }
    }
}

/// Wraps `tls`, the TLS connection over `base`, a connection made by [`new_tracked`], in the
/// `GTcpWrapperConnection` that `GSocketClient` returns with `tls` set, and moves the report to
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
    if let (Some((shared, key)), Some(tracked)) = (
        tracked(base, Tracked::take).flatten(),
        TRACKED_WRAPPER_TYPE.data(&wrapper),
    ) {
        tracked.start(shared, key);
    }
    wrapper
}
