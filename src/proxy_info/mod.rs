//! [`ProxyInfo`]: what a load balancer's PROXY protocol header said of a connection.

mod imp;

use std::net::SocketAddr;

use gio::prelude::*;
use glib::subclass::prelude::*;

use std::os::fd::AsFd;

use crate::proxy_protocol::{Command, Header, Version, tlv};
use crate::sys::{self, DataKey};

/// Whether a balancer relayed a client's connection or made the connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, glib::Enum)]
#[enum_type(name = "UsherProxyCommand")]
#[doc(alias = "UsherProxyCommand")]
pub enum ProxyCommand {
    /// The balancer opened the connection itself, as for a health check (a v2 `LOCAL`
    /// header): the connection's own addresses are the real ones.
    #[doc(alias = "USHER_PROXY_COMMAND_LOCAL")]
    #[enum_value(name = "USHER_PROXY_COMMAND_LOCAL", nick = "local")]
    Local = 0,
    /// The balancer relayed a client's connection (a v2 `PROXY` header, every v1 line).
    #[doc(alias = "USHER_PROXY_COMMAND_PROXY")]
    #[enum_value(name = "USHER_PROXY_COMMAND_PROXY", nick = "proxy")]
    Proxy = 1,
}

glib::wrapper! {
    /// What the PROXY protocol header a load balancer (HAProxy, nginx, a cloud balancer) sent
    /// before a connection's data said of it: the client's original address, the address it
    /// connected to, the balancer's own address, and the header's TLVs.
    ///
    /// A service with `proxy-protocol-peers` set reads the header before anything else, and the
    /// connection it hands to `incoming` carries one of these:
    ///
    /// ```no_run
    /// use usher::prelude::*;
    ///
    /// let service = usher::SocketService::new();
    /// service.try_set_proxy_protocol_peers(&["127.0.0.1", "10.0.0.0/8"])?;
    /// service.connect_incoming(|_service, connection, _source_object| {
    ///     if let Some(info) = usher::ProxyInfo::for_connection(connection) {
    ///         println!("a client at {:?}, through {:?}", info.source_address(), info.proxy_address());
    ///     }
    ///     false
    /// });
    /// # Ok::<(), glib::Error>(())
    /// ```
    ///
    /// GObject type: `UsherProxyInfo`. It is immutable, and may be read from any thread.
    #[doc(alias = "UsherProxyInfo")]
    pub struct ProxyInfo(ObjectSubclass<imp::ProxyInfo>);
}

/// The info attached to a connection.
static PROXY_INFO: DataKey<ProxyInfo> = DataKey::new("usher-proxy-info");

impl ProxyInfo {
    /// What the PROXY protocol header of `connection` said, if the connection came from a
    /// service that read one; `None` for a connection that came without a header (from a
    /// peer not trusted to send one, or with `proxy-protocol-required` off).
    #[doc(alias = "usher_proxy_info_get_for_connection")]
    pub fn for_connection(connection: &impl IsA<gio::SocketConnection>) -> Option<ProxyInfo> {
        PROXY_INFO.get(connection.as_ref())
    }

    /// Attaches the info to `connection`, the connection the service hands out.
    pub(crate) fn attach(&self, connection: &gio::SocketConnection) {
        PROXY_INFO.set(connection, self.clone());
    }

    /// The info of `header`, received on `socket`.
    pub(crate) fn new(header: Header, socket: &gio::Socket) -> Result<ProxyInfo, glib::Error> {
        let inet = |address: Result<gio::SocketAddress, glib::Error>| {
            address?
                .downcast::<gio::InetSocketAddress>()
                .map(SocketAddr::from)
                .map_err(|_| {
                    glib::Error::new(gio::IOErrorEnum::NotSupported, "Not an IP connection")
                })
        };
        // The balancer's address, and the client's where the header gives none.
        let proxy = sys::remote_address(socket.as_fd())?;
        let (source, destination) = match header.addresses {
            Some(addresses) => addresses,
            None => (proxy, inet(socket.local_address())?),
        };
        let text = |kind| {
            header
                .tlvs
                .iter()
                .find(|(tlv, _)| *tlv == kind)
                .and_then(|(_, value)| std::str::from_utf8(value).ok())
                .map(glib::GString::from)
        };
        let data = imp::Data {
            version: match header.version {
                Version::V1 => 1,
                Version::V2 => 2,
            },
            command: match header.command {
                Command::Local => ProxyCommand::Local,
                Command::Proxy => ProxyCommand::Proxy,
            },
            addresses: [source, destination, proxy].map(imp::Address::new),
            alpn: text(tlv::ALPN),
            authority: text(tlv::AUTHORITY),
            tlvs: header
                .tlvs
                .into_iter()
                .map(|(kind, value)| (kind, glib::Bytes::from_owned(value)))
                .collect(),
        };
        let info: ProxyInfo = glib::Object::new();
        let _ = info.imp().data.set(data);
        Ok(info)
    }

    /// The ALPN protocol, borrowed for as long as the info lives (the C getter's).
    #[cfg(feature = "capi")]
    pub(crate) fn alpn_text(&self) -> Option<&glib::GStr> {
        self.imp().data().alpn.as_ref().map(|alpn| alpn.as_gstr())
    }

    /// The authority, borrowed for as long as the info lives (the C getter's).
    #[cfg(feature = "capi")]
    pub(crate) fn authority_text(&self) -> Option<&glib::GStr> {
        self.imp()
            .data()
            .authority
            .as_ref()
            .map(|authority| authority.as_gstr())
    }

    /// The value of the header's first TLV of type `kind` (`PP2_TYPE_*`, the SSL TLV `0x20`
    /// or an application's `0xE0`–`0xEF` among others), if it has one. `NOOP` padding and the
    /// `CRC32C` checksum, which the service checked, are not kept.
    #[doc(alias = "usher_proxy_info_get_tlv")]
    pub fn tlv(&self, kind: u8) -> Option<glib::Bytes> {
        self.imp().tlv(kind)
    }

    /// Every TLV of the header, in order (as [`tlv`](Self::tlv) keeps them).
    pub fn tlvs(&self) -> Vec<(u8, glib::Bytes)> {
        self.imp().data().tlvs.clone()
    }
}
