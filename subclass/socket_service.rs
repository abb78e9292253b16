//! Subclassing support for [`SocketService`].

use glib::{prelude::*, subclass::prelude::*, translate::*};

use super::socket_listener::SocketListenerImpl;
use crate::socket_service::imp::ConnectionVfunc;
use crate::{SocketService, ffi};

/// The virtual methods of [`SocketService`] (`UsherSocketServiceClass`).
///
/// Overriding [`incoming`](Self::incoming) is GLib's second way to write a service (the first is
/// connecting to the signal); C, Vala, Python and JavaScript subclasses override the same slot.
///
/// ```
/// use gio::prelude::*;
/// use glib::subclass::prelude::*;
/// use usher::subclass::prelude::*;
///
/// mod imp {
///     use super::*;
///
///     #[derive(Default)]
///     pub struct Greeter;
///
///     #[glib::object_subclass]
///     impl ObjectSubclass for Greeter {
///         const NAME: &'static str = "DocGreeter";
///         type Type = super::Greeter;
///         type ParentType = usher::SocketService;
///     }
///
///     impl ObjectImpl for Greeter {}
///     impl SocketListenerImpl for Greeter {}
///
///     impl SocketServiceImpl for Greeter {
///         fn incoming(
///             &self,
///             connection: &gio::SocketConnection,
///             _source_object: Option<&glib::Object>,
///         ) -> bool {
///             let _ = connection.output_stream().write_all(b"hello\n", gio::Cancellable::NONE);
///             true
///         }
///     }
/// }
///
/// glib::wrapper! {
///     pub struct Greeter(ObjectSubclass<imp::Greeter>)
///         @extends usher::SocketService, gio::SocketListener;
/// }
///
/// fn main() {
///     let greeter: Greeter = glib::Object::new();
///     greeter.add_any_inet_port(None::<&glib::Object>).unwrap();
/// }
/// ```
pub trait SocketServiceImpl: SocketListenerImpl + ObjectSubclass<Type: IsA<SocketService>> {
    /// Class handler of [`incoming`](crate::SocketServiceExt::connect_incoming), run
    /// after the handlers connected to the signal, unless one of them returned `true`.
    ///
    /// It must start handling `connection` and return without blocking. Return `true` to stop
    /// the handlers connected with `connect_after`. The default returns `false`.
    fn incoming(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        self.parent_incoming(connection, source_object)
    }

    /// Class handler of [`accept-error`](crate::SocketServiceExt::connect_accept_error).
    ///
    /// The default logs a warning, at most once a second, when no handler is connected.
    fn accept_error(&self, error: &glib::Error) {
        self.parent_accept_error(error)
    }
}

/// Calls into the parent class's implementation of [`SocketServiceImpl`].
pub trait SocketServiceImplExt: SocketServiceImpl {
    /// Chains up to the parent class's `incoming`.
    fn parent_incoming(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        unsafe {
            let data = Self::type_data();
            let parent_class = data.as_ref().parent_class() as *const ffi::UsherSocketServiceClass;
            call_connection_vfunc(
                (*parent_class).incoming,
                self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                connection,
                source_object,
            )
        }
    }

    /// Chains up to the parent class's `accept_error`.
    fn parent_accept_error(&self, error: &glib::Error) {
        unsafe {
            let data = Self::type_data();
            let parent_class = data.as_ref().parent_class() as *const ffi::UsherSocketServiceClass;
            if let Some(f) = (*parent_class).accept_error {
                f(
                    self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                    error.to_glib_none().0,
                )
            }
        }
    }
}

impl<T: SocketServiceImpl> SocketServiceImplExt for T {}

unsafe impl<T: SocketServiceImpl> IsSubclassable<T> for SocketService {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class);

        let klass = class.as_mut();
        klass.incoming = Some(incoming::<T>);
        klass.accept_error = Some(accept_error::<T>);
    }
}

unsafe extern "C" fn incoming<T: SocketServiceImpl>(
    service: *mut ffi::UsherSocketService,
    connection: *mut gio::ffi::GSocketConnection,
    source_object: *mut glib::gobject_ffi::GObject,
) -> glib::ffi::gboolean {
    unsafe {
        let instance = &*(service as *mut T::Instance);
        with_connection_args(connection, source_object, |connection, source_object| {
            instance.imp().incoming(connection, source_object)
        })
    }
}

/// Calls a class's `incoming` or `run`, if it has one: the `parent_*` calls.
///
/// # Safety
/// `instance` must be an instance of the class that `vfunc` comes from, or of a subclass.
pub(super) unsafe fn call_connection_vfunc<I>(
    vfunc: Option<ConnectionVfunc<I>>,
    instance: *mut I,
    connection: &gio::SocketConnection,
    source_object: Option<&glib::Object>,
) -> bool {
    match vfunc {
        Some(vfunc) => unsafe {
            from_glib(vfunc(
                instance,
                connection.to_glib_none().0,
                source_object.to_glib_none().0,
            ))
        },
        None => false,
    }
}

/// Calls `f` with the arguments of `incoming` or `run` from C, and gives its answer back: the
/// trampolines of the Rust overrides.
///
/// # Safety
/// The arguments must be those of a signal emission: a connection, and an object or NULL.
pub(super) unsafe fn with_connection_args(
    connection: *mut gio::ffi::GSocketConnection,
    source_object: *mut glib::gobject_ffi::GObject,
    f: impl FnOnce(&gio::SocketConnection, Option<&glib::Object>) -> bool,
) -> glib::ffi::gboolean {
    unsafe {
        let source_object = Option::<glib::Object>::from_glib_borrow(source_object);
        f(
            &from_glib_borrow(connection),
            source_object.as_ref().as_ref(),
        )
        .into_glib()
    }
}

unsafe extern "C" fn accept_error<T: SocketServiceImpl>(
    service: *mut ffi::UsherSocketService,
    error: *const glib::ffi::GError,
) {
    unsafe {
        let instance = &*(service as *mut T::Instance);
        instance
            .imp()
            .accept_error(&from_glib_borrow(error as *mut glib::ffi::GError))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::prelude::*;
    use gio::prelude::*;

    mod imp {
        use super::*;

        /// Records its calls and answers with `handled`.
        #[derive(Default)]
        pub struct Recorder {
            pub calls: RefCell<Vec<&'static str>>,
            pub handled: std::cell::Cell<bool>,
        }

        #[glib::object_subclass]
        impl ObjectSubclass for Recorder {
            const NAME: &'static str = "UsherTestRecorder";
            type Type = super::Recorder;
            type ParentType = SocketService;
        }

        impl ObjectImpl for Recorder {}
        impl SocketListenerImpl for Recorder {}

        impl SocketServiceImpl for Recorder {
            fn incoming(
                &self,
                connection: &gio::SocketConnection,
                source_object: Option<&glib::Object>,
            ) -> bool {
                self.calls.borrow_mut().push("recorder");
                assert!(!self.parent_incoming(connection, source_object));
                self.handled.get()
            }
        }

        /// Overrides nothing: everything must behave as in `Recorder`.
        #[derive(Default)]
        pub struct Chained;

        #[glib::object_subclass]
        impl ObjectSubclass for Chained {
            const NAME: &'static str = "UsherTestChained";
            type Type = super::Chained;
            type ParentType = super::Recorder;
        }

        impl ObjectImpl for Chained {}
        impl SocketListenerImpl for Chained {}
        impl SocketServiceImpl for Chained {}
    }

    glib::wrapper! {
        pub struct Recorder(ObjectSubclass<imp::Recorder>)
            @extends SocketService, gio::SocketListener;
    }

    glib::wrapper! {
        pub struct Chained(ObjectSubclass<imp::Chained>)
            @extends Recorder, SocketService, gio::SocketListener;
    }

    unsafe impl<T: SocketServiceImpl> IsSubclassable<T> for Recorder {}

    fn emit_incoming(service: &impl IsA<SocketService>) -> bool {
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let connection = gio::Socket::from_fd(ours.into())
            .unwrap()
            .connection_factory_create_connection();
        service.emit_by_name::<bool>("incoming", &[&connection, &None::<glib::Object>])
    }

    #[test]
    fn class_handler_runs_and_chains_up() {
        let recorder: Recorder = glib::Object::new();
        recorder.imp().handled.set(true);
        assert!(emit_incoming(&recorder));
        assert_eq!(*recorder.imp().calls.borrow(), ["recorder"]);

        let chained: Chained = glib::Object::new();
        assert!(!emit_incoming(&chained));
        let recorder = chained.upcast_ref::<Recorder>().imp();
        assert_eq!(*recorder.calls.borrow(), ["recorder"]);
    }

    #[test]
    fn handler_returning_true_skips_class_handler() {
        let recorder: Recorder = glib::Object::new();
        recorder.connect_incoming(|_, _, _| true);
        assert!(emit_incoming(&recorder));
        assert!(recorder.imp().calls.borrow().is_empty());
    }
}
