//! GObject references that cross threads.

use gio::prelude::*;

/// A GObject reference that may be moved to, used on and dropped on any thread.
///
/// GObject reference counting is thread-safe, but gio-rs marks most types neither `Send` nor
/// `Sync`. Usher moves a few references between threads: the engine's state keeps its sockets
/// under its mutex, which serialises every call on them; the threaded service hands a connection
/// to a worker, as GLib does; the rest is only cloned, dropped, or given thread-safe calls
/// (`g_socket_shutdown()`, `g_object_notify()`, signal emission).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SendObject<T: ObjectType>(T);

// SAFETY: see the type's documentation: the references are used as GLib allows from any thread.
unsafe impl<T: ObjectType> Send for SendObject<T> {}
unsafe impl<T: ObjectType> Sync for SendObject<T> {}

impl<T: ObjectType> SendObject<T> {
    pub(crate) fn new(object: T) -> Self {
        Self(object)
    }

    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T: ObjectType> std::ops::Deref for SendObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A weak GObject reference that may be upgraded on any thread (`GWeakRef` is thread-safe).
pub(crate) struct SendWeak<T: ObjectType>(glib::WeakRef<T>);

// SAFETY: GWeakRef is thread-safe; what is done with an upgraded reference is the caller's,
// under the rules of `SendObject`.
unsafe impl<T: ObjectType> Send for SendWeak<T> {}
unsafe impl<T: ObjectType> Sync for SendWeak<T> {}

impl<T: ObjectType> SendWeak<T> {
    pub(crate) fn new(object: &T) -> Self {
        Self(object.downgrade())
    }

    pub(crate) fn upgrade(&self) -> Option<T> {
        self.0.upgrade()
    }
}

impl<T: ObjectType> Clone for SendWeak<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
