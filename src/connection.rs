//! Connections that tell their service when they are closed.
//!
//! `GIOStream` has no signal or notification for its closing, and a service must know when a
//! connection it handed out is closed to count live connections (`n-connections`,
//! `max-connections`, graceful shutdown). So the service creates each connection itself, as a
//! private subclass of the type GLib's connection factory would have chosen (`GTcpConnection`,
//! `GUnixConnection` or `GSocketConnection`) whose `close_fn` and `close_finish` report the close.
//! A connection is thus still a `GTcpConnection` for every caller; only its exact type differs.
//!
//! The report is a [`Guard`] stored on the connection: closing takes it out and drops it, and so
//! does finalization if the connection was never closed, so it runs exactly once either way.

use std::sync::LazyLock;

use gio::prelude::*;
use glib::translate::*;

/// Runs its function once, when the connection it is attached to closes or is finalized.
pub(crate) struct Guard(Option<Box<dyn FnOnce() + Send>>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(on_close) = self.0.take() {
            on_close()
        }
    }
}

static GUARD_QUARK: LazyLock<glib::Quark> =
    LazyLock::new(|| glib::Quark::from_str("usher-connection-close-guard"));

/// Our subclasses of the three types GLib's factory picks from, keyed by parent type.
static TRACKED_TYPES: LazyLock<[(glib::Type, glib::Type); 3]> = LazyLock::new(|| unsafe {
    [
        (gio::TcpConnection::static_type(), c"UsherTcpConnection"),
        (gio::UnixConnection::static_type(), c"UsherUnixConnection"),
        (
            gio::SocketConnection::static_type(),
            c"UsherSocketConnection",
        ),
    ]
    .map(|(parent, name)| (parent, register_tracked_type(parent, name)))
});

/// Registers a subclass of `parent` that only overrides `close_fn` and `close_finish`.
unsafe fn register_tracked_type(parent: glib::Type, name: &std::ffi::CStr) -> glib::Type {
    unsafe {
        let mut query = std::mem::MaybeUninit::<glib::gobject_ffi::GTypeQuery>::zeroed();
        glib::gobject_ffi::g_type_query(parent.into_glib(), query.as_mut_ptr());
        let query = query.assume_init();
        from_glib(glib::gobject_ffi::g_type_register_static_simple(
            parent.into_glib(),
            name.as_ptr(),
            query.class_size,
            Some(class_init),
            query.instance_size,
            None,
            0,
        ))
    }
}

unsafe extern "C" fn class_init(klass: glib::ffi::gpointer, _data: glib::ffi::gpointer) {
    unsafe {
        let klass = klass as *mut gio::ffi::GIOStreamClass;
        (*klass).close_fn = Some(close_fn);
        (*klass).close_finish = Some(close_finish);
    }
}

/// The class of the GLib type that one of our types derives from.
unsafe fn parent_class(stream: *mut gio::ffi::GIOStream) -> *const gio::ffi::GIOStreamClass {
    unsafe {
        let klass = (*(stream as *mut glib::gobject_ffi::GTypeInstance)).g_class;
        glib::gobject_ffi::g_type_class_peek_parent(klass as glib::ffi::gpointer)
            as *const gio::ffi::GIOStreamClass
    }
}

/// Takes the guard off `stream` and drops it, running its function if it is still there.
unsafe fn report_close(stream: *mut gio::ffi::GIOStream) {
    unsafe {
        let stream = glib::Object::from_glib_borrow(stream as *mut glib::gobject_ffi::GObject);
        drop(stream.steal_qdata::<Guard>(*GUARD_QUARK));
    }
}

unsafe extern "C" fn close_fn(
    stream: *mut gio::ffi::GIOStream,
    cancellable: *mut gio::ffi::GCancellable,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    unsafe {
        // GIOStream marks the stream closed whatever the parent's answer, so report it always.
        let closed = match (*parent_class(stream)).close_fn {
            Some(parent_close) => parent_close(stream, cancellable, error),
            None => glib::ffi::GTRUE,
        };
        report_close(stream);
        closed
    }
}

unsafe extern "C" fn close_finish(
    stream: *mut gio::ffi::GIOStream,
    result: *mut gio::ffi::GAsyncResult,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    unsafe {
        // `GTcpConnection`'s graceful close calls its parent's `close_fn` directly, not ours,
        // but every asynchronous close ends here.
        let closed = match (*parent_class(stream)).close_finish {
            Some(parent_finish) => parent_finish(stream, result, error),
            None => glib::ffi::GTRUE,
        };
        report_close(stream);
        closed
    }
}

/// Wraps an accepted socket in a connection of the type GLib would pick, made to call `on_close`
/// once when it is closed or finalized.
pub(crate) fn new_tracked(
    socket: &gio::Socket,
    on_close: impl FnOnce() + Send + 'static,
) -> gio::SocketConnection {
    let factory_type = gio::SocketConnection::factory_lookup_type(
        socket.family(),
        SocketExt::type_(socket),
        socket.protocol().into_glib(),
    );
    let connection = match TRACKED_TYPES
        .iter()
        .find(|(parent, _)| *parent == factory_type)
    {
        Some((_, tracked)) => glib::Object::builder_with_type(*tracked)
            .property("socket", socket)
            .build()
            .downcast::<gio::SocketConnection>()
            .expect("tracked connection types derive from GSocketConnection"),
        // A type registered by a third party: its close goes unseen, its finalization is not.
        None => socket.connection_factory_create_connection(),
    };
    unsafe { connection.set_qdata(*GUARD_QUARK, Guard(Some(Box::new(on_close)))) };
    connection
}
