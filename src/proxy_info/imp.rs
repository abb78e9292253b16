//! `UsherProxyInfo`: the GObject and its read-only properties.

use std::sync::OnceLock;

use glib::prelude::*;
use glib::subclass::prelude::*;

use super::ProxyCommand;

/// What a header said, set once when the object is made.
pub(crate) struct Data {
    pub version: u32,
    pub command: ProxyCommand,
    /// The source, destination and proxy addresses, as `GSocketAddress`es once asked for: most
    /// applications never ask, and making them costs more than reading the header.
    pub addresses: [Address; 3],
    /// The ALPN and AUTHORITY TLVs, which the parser checked are UTF-8.
    pub alpn: Option<glib::GString>,
    pub authority: Option<glib::GString>,
    pub tlvs: Vec<(u8, glib::Bytes)>,
}

/// An address, and its `GSocketAddress` once made.
pub(crate) struct Address {
    pub address: std::net::SocketAddr,
    pub object: OnceLock<gio::SocketAddress>,
}

impl Address {
    pub(crate) fn new(address: std::net::SocketAddr) -> Self {
        Self {
            address,
            object: OnceLock::new(),
        }
    }

    fn object(&self) -> gio::SocketAddress {
        self.object
            .get_or_init(|| gio::InetSocketAddress::from(self.address).upcast())
            .clone()
    }
}

/// The indices of [`Data::addresses`].
pub(crate) const SOURCE: usize = 0;
pub(crate) const DESTINATION: usize = 1;
pub(crate) const PROXY: usize = 2;

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
        get = |imp: &Self| imp.data().addresses[SOURCE].object())]
    /// The address the client connected to: the original destination the header gives, or,
    /// where it gives none, the socket's local address.
    #[property(name = "destination-address", type = gio::SocketAddress,
        get = |imp: &Self| imp.data().addresses[DESTINATION].object())]
    /// The address of the balancer that sent the header: the socket's remote address.
    #[property(name = "proxy-address", type = gio::SocketAddress,
        get = |imp: &Self| imp.data().addresses[PROXY].object())]
    /// The ALPN protocol the balancer negotiated with the client (TLV `PP2_TYPE_ALPN`), if the
    /// header has one.
    #[property(name = "alpn", type = Option<String>,
        get = |imp: &Self| imp.data().alpn.as_ref().map(|alpn| alpn.to_string()))]
    /// The host name the client asked for (TLV `PP2_TYPE_AUTHORITY`, the SNI under TLS), if the
    /// header has one.
    #[property(name = "authority", type = Option<String>,
        get = |imp: &Self| imp.data().authority.as_ref().map(|authority| authority.to_string()))]
    /// The balancer's unique id of the connection (TLV `PP2_TYPE_UNIQUE_ID`, at most 128
    /// bytes), if the header has one.
    #[property(name = "unique-id", type = Option<glib::Bytes>,
        get = |imp: &Self| imp.tlv(crate::proxy_protocol::tlv::UNIQUE_ID))]
    pub(super) data: OnceLock<Data>,
}

#[glib::object_subclass]
impl ObjectSubclass for ProxyInfo {
    const NAME: &'static str = "UsherProxyInfo";
    // As `G_DECLARE_FINAL_TYPE` declares it: only the service makes them.
    const FINAL: bool = true;
    type Type = super::ProxyInfo;
}

#[glib::derived_properties]
impl ObjectImpl for ProxyInfo {}

impl ProxyInfo {
    /// What the header said; for an info made with `g_object_new()` rather than by a service,
    /// which no header filled, an empty v1 header from and to `0.0.0.0:0`.
    pub(super) fn data(&self) -> &Data {
        self.data.get_or_init(|| {
            let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
            Data {
                version: 1,
                command: ProxyCommand::Proxy,
                addresses: [unspecified; 3].map(Address::new),
                alpn: None,
                authority: None,
                tlvs: Vec::new(),
            }
        })
    }

    /// The value of the first TLV of type `kind`.
    pub(super) fn tlv(&self, kind: u8) -> Option<glib::Bytes> {
        self.data()
            .tlvs
            .iter()
            .find(|(tlv, _)| *tlv == kind)
            .map(|(_, value)| value.clone())
    }
}
