//! `UsherClientHello`: the GObject and its read-only properties.

use std::sync::OnceLock;

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::tls_hello::Hello;

/// What a ClientHello said, set once when the object is made.
pub(crate) struct Data {
    pub server_name: Option<glib::GString>,
    /// The protocols that are UTF-8 without a NUL, as the property gives them (a C string
    /// would end at the NUL).
    pub alpn: glib::StrV,
    pub alpn_bytes: Vec<Vec<u8>>,
}

impl Data {
    pub(crate) fn new(hello: Hello) -> Data {
        Data {
            server_name: hello.server_name.map(glib::GString::from),
            alpn: hello
                .alpn
                .iter()
                .filter_map(|protocol| glib::GString::from_utf8_checked(protocol.clone()).ok())
                .collect(),
            alpn_bytes: hello.alpn,
        }
    }
}

#[derive(Default, glib::Properties)]
#[properties(wrapper_type = super::ClientHello)]
pub struct ClientHello {
    /// The server name the client asked for (SNI), lowercase, without a trailing dot; `None`
    /// when it asked for none (it connected by address, or sends no SNI).
    #[property(name = "server-name", type = Option<String>,
        get = |imp: &Self| imp.data().server_name.as_ref().map(|name| name.to_string()))]
    /// The application protocols the client offers (ALPN), in its order of preference; empty
    /// when it offers none. A protocol name that is not UTF-8, or holds a NUL, is left out
    /// (`alpn_protocol_bytes()` in Rust has them all).
    #[property(name = "alpn-protocols", type = glib::StrV,
        get = |imp: &Self| imp.data().alpn.clone())]
    pub(super) data: OnceLock<Data>,
}

#[glib::object_subclass]
impl ObjectSubclass for ClientHello {
    const NAME: &'static str = "UsherClientHello";
    // As `G_DECLARE_FINAL_TYPE` declares it: only the service makes them.
    const FINAL: bool = true;
    type Type = super::ClientHello;
}

#[glib::derived_properties]
impl ObjectImpl for ClientHello {}

impl ClientHello {
    /// What the ClientHello said; for one made with `g_object_new()` rather than by a service,
    /// nothing.
    pub(super) fn data(&self) -> &Data {
        self.data.get_or_init(|| Data::new(Hello::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_name_with_a_nul_is_left_out_of_the_property() {
        // A peer's ClientHello may offer any bytes: a NUL would end a C string early, and
        // made a `GString` panic (across the source callback, an abort).
        let hello = Hello {
            alpn: vec![b"h2\0x".to_vec(), b"\xff".to_vec(), b"http/1.1".to_vec()],
            ..Hello::default()
        };
        let data = Data::new(hello);
        assert_eq!(data.alpn, glib::StrV::from(["http/1.1"]));
        assert_eq!(data.alpn_bytes.len(), 3);
    }
}
