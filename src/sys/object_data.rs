//! Typed Rust data on GObjects, and the `source_object` `GSocketListener` keeps on its sockets.

use std::marker::PhantomData;

use gio::prelude::*;
use glib::translate::*;

/// A key for Rust data of type `T` attached to GObjects; one key, one type.
pub(crate) struct DataKey<T> {
    name: &'static str,
    quark: std::sync::OnceLock<glib::Quark>,
    kind: PhantomData<fn(T) -> T>,
}

impl<T: 'static> DataKey<T> {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            quark: std::sync::OnceLock::new(),
            kind: PhantomData,
        }
    }

    fn quark(&self) -> glib::Quark {
        *self.quark.get_or_init(|| glib::Quark::from_str(self.name))
    }

    pub(crate) fn set(&self, object: &impl IsA<glib::Object>, data: T) {
        // SAFETY: data under this quark is only ever of type `T`.
        unsafe { object.as_ref().set_qdata(self.quark(), data) }
    }

    pub(crate) fn get(&self, object: &impl IsA<glib::Object>) -> Option<T>
    where
        T: Clone,
    {
        // SAFETY: as above; the data is only read, and lives while `object` holds it.
        unsafe {
            object
                .as_ref()
                .qdata::<T>(self.quark())
                .map(|data| data.as_ref().clone())
        }
    }
}

/// The `source_object` that `GSocketListener` keeps on each of its sockets (a plain `GObject *`
/// under the quark `g-socket-listener-source`), as `g_socket_listener_accept_finish()` reads it.
pub(crate) fn listener_source_object(socket: &gio::Socket) -> Option<glib::Object> {
    static QUARK: std::sync::LazyLock<glib::Quark> =
        std::sync::LazyLock::new(|| glib::Quark::from_str("g-socket-listener-source"));
    // SAFETY: GSocketListener stores a `GObject *` it owns under this key.
    unsafe {
        let data = glib::gobject_ffi::g_object_get_qdata(
            socket.as_ptr() as *mut glib::gobject_ffi::GObject,
            QUARK.into_glib(),
        );
        from_glib_none(data as *mut glib::gobject_ffi::GObject)
    }
}
