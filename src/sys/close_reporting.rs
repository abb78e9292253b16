//! Registering a `GIOStream` subclass that reports its close, with Rust data in each instance,
//! and making connections of such a type.

use std::ffi::CStr;

use gio::prelude::*;
use glib::translate::*;

/// The Rust data each instance of a type registered by [`register_close_reporting_type`]
/// carries, in the instance's private data (no allocation of its own): made with `default()`
/// when the instance is, told by `closed()` after every close of the stream, dropped when the
/// instance is finalized.
pub(crate) trait CloseReporting: Default + Send + Sync + 'static {
    /// The stream was closed (`close_fn` or `close_finish` returned, whatever the outcome:
    /// `GIOStream` marks the stream closed either way).
    fn closed(&self);
}

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

/// The class of the type an instance of one of ours belongs to: ours, which nothing derives
/// from (the types are private).
unsafe fn class_of(instance: *mut glib::gobject_ffi::GTypeInstance) -> glib::ffi::gpointer {
    unsafe { (*instance).g_class as glib::ffi::gpointer }
}

/// The `T` in the private data of `instance`, an instance of a type registered with `T`.
unsafe fn data<'a, T>(instance: *mut glib::gobject_ffi::GTypeInstance) -> &'a T {
    unsafe {
        let offset =
            glib::gobject_ffi::g_type_class_get_instance_private_offset(class_of(instance));
        &*((instance as *mut u8).offset(offset as isize) as *const T)
    }
}

/// A type registered by [`register_close_reporting_type`], whose instances carry a `T`.
pub(crate) struct CloseReportingType<T> {
    type_: glib::Type,
    data: std::marker::PhantomData<fn() -> T>,
}

impl<T: CloseReporting> CloseReportingType<T> {
    pub(crate) fn type_(&self) -> glib::Type {
        self.type_
    }

    /// The `T` of `stream`, if it is an instance of this type.
    pub(crate) fn data<'a>(&self, stream: &'a impl IsA<gio::IOStream>) -> Option<&'a T> {
        // SAFETY: an instance of this type carries a `T`, alive while the instance is.
        (stream.type_() == self.type_)
            .then(|| unsafe { data::<T>(stream.as_ptr() as *mut glib::gobject_ffi::GTypeInstance) })
    }
}

/// The class of the GLib type one of ours derives from.
unsafe fn parent_class(instance: *mut glib::gobject_ffi::GTypeInstance) -> glib::ffi::gpointer {
    unsafe { glib::gobject_ffi::g_type_class_peek_parent(class_of(instance)) }
}

unsafe fn report<T: CloseReporting>(stream: *mut gio::ffi::GIOStream) {
    unsafe { data::<T>(stream as *mut glib::gobject_ffi::GTypeInstance).closed() }
}

unsafe extern "C" fn close_fn<T: CloseReporting>(
    stream: *mut gio::ffi::GIOStream,
    cancellable: *mut gio::ffi::GCancellable,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    unsafe {
        let parent = parent_class(stream as *mut _) as *const gio::ffi::GIOStreamClass;
        let closed = match (*parent).close_fn {
            Some(parent_close) => parent_close(stream, cancellable, error),
            None => glib::ffi::GTRUE,
        };
        report::<T>(stream);
        closed
    }
}

unsafe extern "C" fn close_finish<T: CloseReporting>(
    stream: *mut gio::ffi::GIOStream,
    result: *mut gio::ffi::GAsyncResult,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    unsafe {
        // `GTcpConnection`'s graceful close calls its parent's `close_fn` directly, not ours,
        // but every asynchronous close ends here.
        let parent = parent_class(stream as *mut _) as *const gio::ffi::GIOStreamClass;
        let closed = match (*parent).close_finish {
            Some(parent_finish) => parent_finish(stream, result, error),
            None => glib::ffi::GTRUE,
        };
        report::<T>(stream);
        closed
    }
}

unsafe extern "C" fn instance_init<T: CloseReporting>(
    instance: *mut glib::gobject_ffi::GTypeInstance,
    klass: glib::ffi::gpointer,
) {
    unsafe {
        let offset = glib::gobject_ffi::g_type_class_get_instance_private_offset(klass);
        std::ptr::write(
            (instance as *mut u8).offset(offset as isize) as *mut T,
            T::default(),
        );
    }
}

unsafe extern "C" fn finalize<T: CloseReporting>(object: *mut glib::gobject_ffi::GObject) {
    unsafe {
        let instance = object as *mut glib::gobject_ffi::GTypeInstance;
        std::ptr::drop_in_place(data::<T>(instance) as *const T as *mut T);
        let parent = parent_class(instance) as *const glib::gobject_ffi::GObjectClass;
        if let Some(parent_finalize) = (*parent).finalize {
            parent_finalize(object);
        }
    }
}

unsafe extern "C" fn class_init<T: CloseReporting>(
    klass: glib::ffi::gpointer,
    _data: glib::ffi::gpointer,
) {
    unsafe {
        // Registers `T` as the type's private data (`G_ADD_PRIVATE`'s way).
        let mut size = std::mem::size_of::<T>() as i32;
        glib::gobject_ffi::g_type_class_adjust_private_offset(klass, &mut size);
        (*(klass as *mut glib::gobject_ffi::GObjectClass)).finalize = Some(finalize::<T>);
        let klass = klass as *mut gio::ffi::GIOStreamClass;
        (*klass).close_fn = Some(close_fn::<T>);
        (*klass).close_finish = Some(close_finish::<T>);
    }
}

/// Registers `name`, a subclass of the `GIOStream` subclass `parent` whose instances carry a
/// `T` and tell it after every close (`close_fn` and `close_finish`, after the parent's).
pub(crate) fn register_close_reporting_type<T: CloseReporting>(
    parent: glib::Type,
    name: &'static CStr,
) -> CloseReportingType<T> {
    assert!(parent.is_a(gio::IOStream::static_type()));
    // SAFETY: a static type derived from `parent` with its class and instance sizes, and `T` as
    // private data, which `instance_init` makes and `finalize` drops.
    unsafe {
        let mut query = std::mem::MaybeUninit::<glib::gobject_ffi::GTypeQuery>::zeroed();
        glib::gobject_ffi::g_type_query(parent.into_glib(), query.as_mut_ptr());
        let query = query.assume_init();
        let info = glib::gobject_ffi::GTypeInfo {
            class_size: query.class_size as u16,
            base_init: None,
            base_finalize: None,
            class_init: Some(class_init::<T>),
            class_finalize: None,
            class_data: std::ptr::null(),
            instance_size: query.instance_size as u16,
            n_preallocs: 0,
            instance_init: Some(instance_init::<T>),
            value_table: std::ptr::null(),
        };
        let type_ = from_glib(glib::gobject_ffi::g_type_register_static(
            parent.into_glib(),
            name.as_ptr(),
            &info,
            0,
        ));
        CloseReportingType {
            type_,
            data: std::marker::PhantomData,
        }
    }
}
