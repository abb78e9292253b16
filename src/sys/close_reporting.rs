//! Registering a `GIOStream` subclass that reports its close, and making connections of such a
//! type.

use std::ffi::CStr;

use gio::prelude::*;
use glib::translate::*;

/// A new connection of `connection_type`, a `GSocketConnection` subclass, over `socket`:
/// `g_object_new (connection_type, "socket", socket, NULL)`, as GLib's connection factory makes
/// it. glib-rs's `ObjectBuilder` would look the property up and check the value's type once
/// more, at every accept.
pub(crate) fn new_connection(
    connection_type: glib::Type,
    socket: &gio::Socket,
) -> gio::SocketConnection {
    assert!(connection_type.is_a(gio::SocketConnection::static_type()));
    let mut value = socket.to_value();
    let name = c"socket";
    // SAFETY: a `GSocketConnection` subclass has a construct property `socket` of type
    // `GSocket`, and `value` holds one; the new object is returned with a reference of ours.
    unsafe {
        let object = glib::gobject_ffi::g_object_new_with_properties(
            connection_type.into_glib(),
            1,
            &mut name.as_ptr(),
            value.to_glib_none_mut().0 as *const glib::gobject_ffi::GValue,
        );
        from_glib_full(object as *mut gio::ffi::GSocketConnection)
    }
}

/// Registers `name`, a subclass of the `GIOStream` subclass `parent` that calls `report` after
/// every close (`close_fn` and `close_finish`, after the parent's), whatever its outcome:
/// `GIOStream` marks the stream closed either way.
pub(crate) fn register_close_reporting_type(
    parent: glib::Type,
    name: &'static CStr,
    report: fn(&gio::IOStream),
) -> glib::Type {
    unsafe extern "C" fn class_init(klass: glib::ffi::gpointer, _data: glib::ffi::gpointer) {
        unsafe {
            let klass = klass as *mut gio::ffi::GIOStreamClass;
            (*klass).close_fn = Some(close_fn);
            (*klass).close_finish = Some(close_finish);
        }
    }
    /// The class of the GLib type one of ours derives from.
    unsafe fn parent_class(stream: *mut gio::ffi::GIOStream) -> *const gio::ffi::GIOStreamClass {
        unsafe {
            let klass = (*(stream as *mut glib::gobject_ffi::GTypeInstance)).g_class;
            glib::gobject_ffi::g_type_class_peek_parent(klass as glib::ffi::gpointer)
                as *const gio::ffi::GIOStreamClass
        }
    }
    unsafe fn call_report(stream: *mut gio::ffi::GIOStream) {
        if let Some(report) = REPORT.get() {
            report(&*unsafe { gio::IOStream::from_glib_borrow(stream) })
        }
    }
    unsafe extern "C" fn close_fn(
        stream: *mut gio::ffi::GIOStream,
        cancellable: *mut gio::ffi::GCancellable,
        error: *mut *mut glib::ffi::GError,
    ) -> glib::ffi::gboolean {
        unsafe {
            let closed = match (*parent_class(stream)).close_fn {
                Some(parent_close) => parent_close(stream, cancellable, error),
                None => glib::ffi::GTRUE,
            };
            call_report(stream);
            closed
        }
    }
    unsafe extern "C" fn close_finish(
        stream: *mut gio::ffi::GIOStream,
        result: *mut gio::ffi::GAsyncResult,
        error: *mut *mut glib::ffi::GError,
    ) -> glib::ffi::gboolean {
        unsafe {
            // `GTcpConnection`'s graceful close calls its parent's `close_fn` directly, not
            // ours, but every asynchronous close ends here.
            let closed = match (*parent_class(stream)).close_finish {
                Some(parent_finish) => parent_finish(stream, result, error),
                None => glib::ffi::GTRUE,
            };
            call_report(stream);
            closed
        }
    }
    static REPORT: std::sync::OnceLock<fn(&gio::IOStream)> = std::sync::OnceLock::new();

    assert!(parent.is_a(gio::IOStream::static_type()));
    // Usher has one report for all such types.
    let _ = REPORT.set(report);
    // SAFETY: a static type derived from `parent` with its class and instance sizes.
    unsafe {
        let mut query = std::mem::MaybeUninit::<glib::gobject_ffi::GTypeQuery>::zeroed();
        glib::gobject_ffi::g_type_query(parent.into_glib(), query.as_mut_ptr());
        let query = query.assume_init();
        let info = glib::gobject_ffi::GTypeInfo {
            class_size: query.class_size as u16,
            base_init: None,
            base_finalize: None,
            class_init: Some(class_init),
            class_finalize: None,
            class_data: std::ptr::null(),
            instance_size: query.instance_size as u16,
            n_preallocs: 0,
            instance_init: None,
            value_table: std::ptr::null(),
        };
        from_glib(glib::gobject_ffi::g_type_register_static(
            parent.into_glib(),
            name.as_ptr(),
            &info,
            0,
        ))
    }
}
