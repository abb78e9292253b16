//! Handlers of the signals shaped like `incoming` and `run`, connected from Rust without glib-rs's
//! closures, which convert every argument and the return value through `GValue`s in Rust.

use gio::prelude::*;
use glib::translate::*;

/// The public fields of `GClosure`, which gobject-sys leaves opaque: its bit fields, in one
/// `guint`, then its marshaller, its data and its notifiers.
#[repr(C)]
struct ClosureFields {
    bits: u32,
    marshal: glib::ffi::gpointer,
    data: glib::ffi::gpointer,
    notifiers: glib::ffi::gpointer,
}

/// Connects `f` to `signal_id`, a signal of `instance` with the arguments `(GSocketConnection,
/// GObject?)` that returns a `gboolean`: `f` gets the instance, the connection and the source
/// object, borrowed from the emission (a handler takes no reference of its own, as a C one would
/// not), and returns whether it handled the connection.
pub(crate) fn connect_connection_handler<F>(
    instance: &impl ObjectType,
    signal_id: u32,
    f: F,
) -> glib::SignalHandlerId
where
    F: Fn(&glib::Object, &gio::SocketConnection, Option<&glib::Object>) -> bool
        + Send
        + Sync
        + 'static,
{
    unsafe extern "C" fn marshal<F>(
        closure: *mut glib::gobject_ffi::GClosure,
        return_value: *mut glib::gobject_ffi::GValue,
        n_param_values: u32,
        param_values: *const glib::gobject_ffi::GValue,
        _invocation_hint: glib::ffi::gpointer,
        _marshal_data: glib::ffi::gpointer,
    ) where
        F: Fn(&glib::Object, &gio::SocketConnection, Option<&glib::Object>) -> bool + 'static,
    {
        // SAFETY: the closure's data is the `F` it was made with; the values are the signal's
        // instance, connection and source object, alive for the emission.
        unsafe {
            debug_assert_eq!(n_param_values, 3);
            let f = &*((*(closure as *const ClosureFields)).data as *const F);
            let value =
                |index: usize| glib::gobject_ffi::g_value_peek_pointer(param_values.add(index));
            let instance: Borrowed<glib::Object> = from_glib_borrow(value(0) as *mut _);
            let connection: Borrowed<gio::SocketConnection> =
                from_glib_borrow(value(1) as *mut gio::ffi::GSocketConnection);
            let source: Borrowed<Option<glib::Object>> = from_glib_borrow(value(2) as *mut _);
            let handled = f(&instance, &connection, source.as_ref().as_ref());
            if !return_value.is_null() {
                glib::gobject_ffi::g_value_set_boolean(return_value, handled.into_glib());
            }
        }
    }
    unsafe extern "C" fn drop_handler<F>(
        data: glib::ffi::gpointer,
        _closure: *mut glib::gobject_ffi::GClosure,
    ) {
        // SAFETY: the `F` boxed below, dropped once, when the closure is finalized.
        drop(unsafe { Box::from_raw(data as *mut F) })
    }

    let data = Box::into_raw(Box::new(f)) as glib::ffi::gpointer;
    // SAFETY: a closure of `GClosure`'s size whose data is `f`, marshalled by `marshal::<F>` and
    // dropping `f` when finalized; the signal takes it.
    unsafe {
        let closure = glib::gobject_ffi::g_closure_new_simple(
            std::mem::size_of::<ClosureFields>() as u32,
            data,
        );
        glib::gobject_ffi::g_closure_set_marshal(closure, Some(marshal::<F>));
        glib::gobject_ffi::g_closure_add_finalize_notifier(closure, data, Some(drop_handler::<F>));
        from_glib(glib::gobject_ffi::g_signal_connect_closure_by_id(
            instance.as_ptr() as *mut glib::gobject_ffi::GObject,
            signal_id,
            0,
            closure,
            glib::ffi::GFALSE,
        ))
    }
}
