//! The C ABI of Usher's types: instance and class structures.
//!
//! These mirror `include/usher/socket-service.h` and `include/usher/threaded-socket-service.h`
//! field for field; keep them in sync. The class structures have the size of GLib's
//! `GSocketServiceClass` and `GThreadedSocketServiceClass`, with the virtual methods at the same
//! offsets, so that code written for GLib's types keeps its layout (the C ABI tests check this).

#![allow(non_camel_case_types)]

use gio::ffi::{GSocketConnection, GSocketListener, GSocketListenerClass};
use glib::ffi::{GError, gboolean, gpointer};
use glib::gobject_ffi::GObject;

/// `UsherSocketService`: the instance structure. It has no public fields.
#[repr(C)]
pub struct UsherSocketService {
    pub parent_instance: GSocketListener,
}

/// `UsherSocketServiceClass`: the class structure, laid out like `GSocketServiceClass`.
#[repr(C)]
pub struct UsherSocketServiceClass {
    pub parent_class: GSocketListenerClass,
    /// Class handler of `::incoming`, at the offset of `GSocketServiceClass.incoming`.
    pub incoming: Option<
        unsafe extern "C" fn(
            service: *mut UsherSocketService,
            connection: *mut GSocketConnection,
            source_object: *mut GObject,
        ) -> gboolean,
    >,
    /// Class handler of `::accept-error`, in GLib's first reserved slot.
    pub accept_error:
        Option<unsafe extern "C" fn(service: *mut UsherSocketService, error: *const GError)>,
    pub padding: [gpointer; 5],
}

/// `UsherThreadedSocketService`: the instance structure. It has no public fields.
#[repr(C)]
pub struct UsherThreadedSocketService {
    pub parent_instance: UsherSocketService,
}

/// `UsherThreadedSocketServiceClass`: laid out like `GThreadedSocketServiceClass`.
#[repr(C)]
pub struct UsherThreadedSocketServiceClass {
    pub parent_class: UsherSocketServiceClass,
    /// Class handler of `::run`, at the offset of `GThreadedSocketServiceClass.run`.
    pub run: Option<
        unsafe extern "C" fn(
            service: *mut UsherThreadedSocketService,
            connection: *mut GSocketConnection,
            source_object: *mut GObject,
        ) -> gboolean,
    >,
    pub padding: [gpointer; 5],
}

unsafe impl glib::subclass::types::InstanceStruct for UsherSocketService {
    type Type = crate::socket_service::imp::SocketService;
}

unsafe impl glib::subclass::types::ClassStruct for UsherSocketServiceClass {
    type Type = crate::socket_service::imp::SocketService;
}

unsafe impl glib::subclass::types::InstanceStruct for UsherThreadedSocketService {
    type Type = crate::threaded_socket_service::imp::ThreadedSocketService;
}

unsafe impl glib::subclass::types::ClassStruct for UsherThreadedSocketServiceClass {
    type Type = crate::threaded_socket_service::imp::ThreadedSocketService;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    // The sizes GLib 2.74 has on LP64 (x86_64, aarch64): see the C ABI test for the check
    // against the installed headers.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_matches_glib() {
        assert_eq!(size_of::<GSocketListenerClass>(), 192);
        assert_eq!(size_of::<UsherSocketServiceClass>(), 248);
        assert_eq!(offset_of!(UsherSocketServiceClass, incoming), 192);
        assert_eq!(size_of::<UsherThreadedSocketServiceClass>(), 296);
        assert_eq!(offset_of!(UsherThreadedSocketServiceClass, run), 248);
    }
}
