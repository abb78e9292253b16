//! `UsherProxyInfo`: the GObject and its read-only properties.

use std::sync::OnceLock;

use glib::prelude::*;
use glib::subclass::prelude::*;

use super::ProxyCommand;

/// What a header said, set once when the object is made.
pub(crate) struct Data {
    pub version: u32,
    pub command: ProxyCommand,
    pub source_address: gio::SocketAddress,
    pub destination_address: gio::SocketAddress,
    pub proxy_address: gio::SocketAddress,
    pub tlvs: Vec<(u8, glib::Bytes)>,
}

#[derive(Default, glib::Properties)]
#[properties(wrapper_type = super::ProxyInfo)]
pub struct ProxyInfo {
    /// The PROXY protocol version of the header: 1 (text) or 2 (binary).
    #[property(name = "version", type = u32, get = |imp: &Self| imp.data().version,
        minimum = 1, maximum = 2, default = 1)]
    /// Whether the balancer relayed a client's connection (`Proxy`, every v1 header) or opened
    /// the connection itself, as for a health check (`Local`, v2 only).
    #[property(name = "command", type = ProxyCommand, get = |imp: &Self| imp.data().command,
        builder(ProxyCommand::Proxy))]
    /// The client's address: the original source the header gives, or, for a `Local` header,
    /// a v1 `UNKNOWN` line and a v2 header without TCP addresses, the socket's remote address.
    #[property(name = "source-address", type = gio::SocketAddress,
        get = |imp: &Self| imp.data().source_address.clone())]
    /// The address the client connected to: the original destination the header gives, or,
    /// where it gives none, the socket's local address.
    #[property(name = "destination-address", type = gio::SocketAddress,
        get = |imp: &Self| imp.data().destination_address.clone())]
    /// The address of the balancer that sent the header: the socket's remote address.
    #[property(name = "proxy-address", type = gio::SocketAddress,
        get = |imp: &Self| imp.data().proxy_address.clone())]
    /// The ALPN protocol the balancer negotiated with the client (TLV `PP2_TYPE_ALPN`), if the
    /// header has one.
    #[property(name = "alpn", type = Option<String>,
        get = |imp: &Self| imp.text(crate::proxy_protocol::tlv::ALPN))]
    /// The host name the client asked for (TLV `PP2_TYPE_AUTHORITY`, the SNI under TLS), if the
    /// header has one.
    #[property(name = "authority", type = Option<String>,
        get = |imp: &Self| imp.text(crate::proxy_protocol::tlv::AUTHORITY))]
    /// The balancer's unique id of the connection (TLV `PP2_TYPE_UNIQUE_ID`, at most 128
    /// bytes), if the header has one.
    #[property(name = "unique-id", type = Option<glib::Bytes>,
        get = |imp: &Self| imp.tlv(crate::proxy_protocol::tlv::UNIQUE_ID))]
    pub(super) data: OnceLock<Data>,
}

#[glib::object_subclass]
impl ObjectSubclass for ProxyInfo {
    const NAME: &'static str = "UsherProxyInfo";
    type Type = super::ProxyInfo;
}

#[glib::derived_properties]
impl ObjectImpl for ProxyInfo {}

impl ProxyInfo {
    pub(super) fn data(&self) -> &Data {
        self.data
            .get()
            .expect("a ProxyInfo is made with its data (ProxyInfo::new)")
    }

    /// The value of the first TLV of type `kind`.
    pub(super) fn tlv(&self, kind: u8) -> Option<glib::Bytes> {
        self.data()
            .tlvs
            .iter()
            .find(|(tlv, _)| *tlv == kind)
            .map(|(_, value)| value.clone())
    }

    /// The value of the first TLV of type `kind`, whose values the parser checked are UTF-8.
    fn text(&self, kind: u8) -> Option<String> {
        self.tlv(kind)
            .and_then(|value| String::from_utf8(value.to_vec()).ok())
    }
}
