//! Subclassing support for [`SocketService`].

use glib::{prelude::*, subclass::prelude::*, translate::*};

use super::socket_listener::SocketListenerImpl;
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

    /// Class handler of
    /// [`accept-certificate`](crate::SocketServiceExt::connect_accept_certificate), run after
    /// the connected handlers unless one of them returned `true`: whether to accept a client
    /// certificate the TLS backend could not verify. The default refuses it.
    fn accept_certificate(
        &self,
        connection: &gio::TlsConnection,
        peer_certificate: &gio::TlsCertificate,
        errors: gio::TlsCertificateFlags,
    ) -> bool {
        self.parent_accept_certificate(connection, peer_certificate, errors)
    }

    /// Class handler of
    /// [`accept-credentials`](crate::SocketServiceExt::connect_accept_credentials), run after
    /// the connected handlers if each of them returned `true`: whether the peer whose process
    /// has `credentials` may connect. The default accepts it.
    fn accept_credentials(
        &self,
        connection: &gio::SocketConnection,
        credentials: &gio::Credentials,
    ) -> bool {
        self.parent_accept_credentials(connection, credentials)
    }

    /// Class handler of
    /// [`select-certificate`](crate::SocketServiceExt::connect_select_certificate), run after
    /// the connected handlers unless one of them chose a certificate: the certificate to serve
    /// the client whose ClientHello said `client_hello`, or `None` for the socket's settings
    /// to choose (by name, else `tls-certificate`). The default returns `None`. Overriding it
    /// has the service read every client's ClientHello before its handshake.
    fn select_certificate(
        &self,
        connection: &gio::SocketConnection,
        client_hello: &crate::ClientHello,
    ) -> Option<gio::TlsCertificate> {
        self.parent_select_certificate(connection, client_hello)
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
            ffi::call_connection_vfunc_raw(
                (*parent_class::<Self>()).incoming,
                self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                connection,
                source_object,
            )
        }
    }

    /// Chains up to the parent class's `accept_error`.
    fn parent_accept_error(&self, error: &glib::Error) {
        unsafe {
            if let Some(f) = (*parent_class::<Self>()).accept_error {
                f(
                    self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                    error.to_glib_none().0,
                )
            }
        }
    }

    /// Chains up to the parent class's `accept_certificate`.
    fn parent_accept_certificate(
        &self,
        connection: &gio::TlsConnection,
        peer_certificate: &gio::TlsCertificate,
        errors: gio::TlsCertificateFlags,
    ) -> bool {
        unsafe {
            match (*parent_class::<Self>()).accept_certificate {
                Some(f) => from_glib(f(
                    self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                    connection.to_glib_none().0,
                    peer_certificate.to_glib_none().0,
                    errors.into_glib(),
                )),
                None => false,
            }
        }
    }

    /// Chains up to the parent class's `accept_credentials`.
    fn parent_accept_credentials(
        &self,
        connection: &gio::SocketConnection,
        credentials: &gio::Credentials,
    ) -> bool {
        unsafe {
            match (*parent_class::<Self>()).accept_credentials {
                Some(f) => from_glib(f(
                    self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                    connection.to_glib_none().0,
                    credentials.to_glib_none().0,
                )),
                None => true,
            }
        }
    }

    /// Chains up to the parent class's `select_certificate`.
    fn parent_select_certificate(
        &self,
        connection: &gio::SocketConnection,
        client_hello: &crate::ClientHello,
    ) -> Option<gio::TlsCertificate> {
        unsafe {
            match (*parent_class::<Self>()).select_certificate {
                Some(f) => from_glib_full(f(
                    self.obj().unsafe_cast_ref::<SocketService>().as_ptr(),
                    connection.to_glib_none().0,
                    client_hello.to_glib_none().0,
                )),
                None => None,
            }
        }
    }
}

impl<T: SocketServiceImpl> SocketServiceImplExt for T {}

/// The class structure of `T`'s parent class.
///
/// # Safety
/// `T` derives from `SocketService`, so its parent's class structure begins with
/// `UsherSocketServiceClass`.
unsafe fn parent_class<T: SocketServiceImpl>() -> *const ffi::UsherSocketServiceClass {
    let data = T::type_data();
    unsafe { data.as_ref().parent_class() as *const ffi::UsherSocketServiceClass }
}

unsafe impl<T: SocketServiceImpl> IsSubclassable<T> for SocketService {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class);
        ffi::set_socket_service_slots::<T>(class.as_mut());
    }
}

/// What the class slots call for a Rust subclass: its `SocketServiceImpl`.
impl<T: SocketServiceImpl> ffi::SocketServiceClassHandlers for T {
    fn incoming(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        SocketServiceImpl::incoming(self, connection, source_object)
    }

    fn accept_error(&self, error: &glib::Error) {
        SocketServiceImpl::accept_error(self, error)
    }

    fn accept_certificate(
        &self,
        connection: &gio::TlsConnection,
        peer_certificate: &gio::TlsCertificate,
        errors: gio::TlsCertificateFlags,
    ) -> bool {
        SocketServiceImpl::accept_certificate(self, connection, peer_certificate, errors)
    }

    fn accept_credentials(
        &self,
        connection: &gio::SocketConnection,
        credentials: &gio::Credentials,
    ) -> bool {
        SocketServiceImpl::accept_credentials(self, connection, credentials)
    }

    fn select_certificate(
        &self,
        connection: &gio::SocketConnection,
        client_hello: &crate::ClientHello,
    ) -> Option<gio::TlsCertificate> {
        SocketServiceImpl::select_certificate(self, connection, client_hello)
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
