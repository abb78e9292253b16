//! Subclassing support for `GSocketListener`, which gio-rs does not provide.

use glib::{prelude::*, subclass::prelude::*, translate::*};

glib::wrapper! {
    /// `GSocketListener` under a second Rust name.
    ///
    /// It has the GType of [`gio::SocketListener`]. It exists because Rust's orphan rule forbids
    /// this crate to implement `IsSubclassable<T>` for `gio::SocketListener`, a foreign type, for
    /// a generic `T`; it may implement it for this local type. Subclasses never name it: they
    /// write `@extends usher::SocketService, gio::SocketListener`.
    #[doc(hidden)]
    pub struct SocketListenerBase(Object<gio::ffi::GSocketListener, gio::ffi::GSocketListenerClass>);

    match fn {
        type_ => || gio::ffi::g_socket_listener_get_type(),
    }
}

/// The virtual methods of `GSocketListener` (`GSocketListenerClass`).
///
/// Every method chains up to the parent class by default.
pub trait SocketListenerImpl: ObjectImpl + ObjectSubclass<Type: IsA<gio::SocketListener>> {
    /// Called when the set of sockets listened to changes.
    ///
    /// [`SocketService`](crate::SocketService) uses it to start accepting on new sockets: an
    /// override must chain up with [`parent_changed`](SocketListenerImplExt::parent_changed).
    fn changed(&self) {
        self.parent_changed()
    }

    /// Class handler of the `event` signal, emitted while a socket is bound and put to listening.
    ///
    /// [`SocketService`](crate::SocketService) learns of new sockets here: an override must chain
    /// up with [`parent_event`](SocketListenerImplExt::parent_event).
    fn event(&self, event: gio::SocketListenerEvent, socket: &gio::Socket) {
        self.parent_event(event, socket)
    }
}

/// Calls into the parent class's implementation of [`SocketListenerImpl`].
pub trait SocketListenerImplExt: SocketListenerImpl {
    /// Chains up to the parent class's `changed`.
    fn parent_changed(&self) {
        unsafe {
            let data = Self::type_data();
            let parent_class =
                data.as_ref().parent_class() as *const gio::ffi::GSocketListenerClass;
            if let Some(f) = (*parent_class).changed {
                f(self
                    .obj()
                    .unsafe_cast_ref::<gio::SocketListener>()
                    .to_glib_none()
                    .0)
            }
        }
    }

    /// Chains up to the parent class's `event`.
    fn parent_event(&self, event: gio::SocketListenerEvent, socket: &gio::Socket) {
        unsafe {
            let data = Self::type_data();
            let parent_class =
                data.as_ref().parent_class() as *const gio::ffi::GSocketListenerClass;
            if let Some(f) = (*parent_class).event {
                f(
                    self.obj()
                        .unsafe_cast_ref::<gio::SocketListener>()
                        .to_glib_none()
                        .0,
                    event.into_glib(),
                    socket.to_glib_none().0,
                )
            }
        }
    }
}

impl<T: SocketListenerImpl> SocketListenerImplExt for T {}

unsafe impl<T: SocketListenerImpl> IsSubclassable<T> for SocketListenerBase {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class);

        let klass = class.as_mut();
        klass.changed = Some(changed::<T>);
        klass.event = Some(event::<T>);
    }
}

unsafe extern "C" fn changed<T: SocketListenerImpl>(listener: *mut gio::ffi::GSocketListener) {
    unsafe {
        let instance = &*(listener as *mut T::Instance);
        instance.imp().changed()
    }
}

unsafe extern "C" fn event<T: SocketListenerImpl>(
    listener: *mut gio::ffi::GSocketListener,
    event: gio::ffi::GSocketListenerEvent,
    socket: *mut gio::ffi::GSocket,
) {
    unsafe {
        let instance = &*(listener as *mut T::Instance);
        instance
            .imp()
            .event(from_glib(event), &from_glib_borrow(socket))
    }
}
