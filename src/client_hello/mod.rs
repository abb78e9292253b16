//! [`ClientHello`]: what a client's TLS ClientHello asked for.

mod imp;

use gio::prelude::*;
use glib::subclass::prelude::*;

use crate::sys::DataKey;
use crate::tls_hello::Hello;

glib::wrapper! {
    /// What a client asked for in its TLS ClientHello, the first message of its handshake: the
    /// server name (SNI), and the application protocols it offers (ALPN).
    ///
    /// A service reads the ClientHello of each connection on a socket that chooses its
    /// certificate by name (`tls-certificate-names` in its
    /// [`SocketSettings`](crate::SocketSettings)) or when a
    /// [`select-certificate`](crate::SocketServiceExt::connect_select_certificate) handler is
    /// connected, before the handshake: it peeks at the bytes, which stay for the TLS library.
    /// The connection handed to `incoming` carries what it read:
    ///
    /// ```no_run
    /// use usher::prelude::*;
    ///
    /// let service = usher::SocketService::new();
    /// service.connect_incoming(|_service, connection, _source_object| {
    ///     if let Some(hello) = usher::ClientHello::for_connection(connection) {
    ///         println!("{:?} offering {:?}", hello.server_name(), hello.alpn_protocols());
    ///     }
    ///     false
    /// });
    /// ```
    ///
    /// GObject type: `UsherClientHello`. It is immutable, and may be read from any thread.
    #[doc(alias = "UsherClientHello")]
    pub struct ClientHello(ObjectSubclass<imp::ClientHello>);
}

/// The ClientHello attached to a connection.
static CLIENT_HELLO: DataKey<ClientHello> = DataKey::new("usher-client-hello");

impl ClientHello {
    /// What the ClientHello of `connection` asked for, if it came from a service that read
    /// it; `None` for a connection whose ClientHello was not read (plain TCP, or a socket
    /// with one certificate and no `select-certificate` handler).
    #[doc(alias = "usher_client_hello_get_for_connection")]
    pub fn for_connection(connection: &impl IsA<gio::SocketConnection>) -> Option<ClientHello> {
        CLIENT_HELLO.get(connection.as_ref())
    }

    /// Attaches it to `connection`, the connection the service hands out.
    pub(crate) fn attach(&self, connection: &gio::SocketConnection) {
        CLIENT_HELLO.set(connection, self.clone());
    }

    /// What `hello` says.
    pub(crate) fn new(hello: Hello) -> ClientHello {
        let object: ClientHello = glib::Object::new();
        let _ = object.imp().data.set(imp::Data::new(hello));
        object
    }

    /// The server name, borrowed for as long as the object lives (the C getter's).
    #[cfg(feature = "capi")]
    pub(crate) fn server_name_text(&self) -> Option<&glib::GStr> {
        self.imp()
            .data()
            .server_name
            .as_ref()
            .map(|name| name.as_gstr())
    }

    /// The protocols, borrowed for as long as the object lives (the C getter's).
    #[cfg(feature = "capi")]
    pub(crate) fn alpn_protocols_strv(&self) -> &glib::StrV {
        &self.imp().data().alpn
    }

    /// The protocols the client offers, as bytes, those that are not UTF-8 or hold a NUL included.
    pub fn alpn_protocol_bytes(&self) -> Vec<glib::Bytes> {
        self.imp()
            .data()
            .alpn_bytes
            .iter()
            .map(glib::Bytes::from)
            .collect()
    }
}
