//! A connection on its way from its accept to `incoming`, as its stages pass it on.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::client_hello::ClientHello;
use crate::proxy_info::ProxyInfo;
use crate::socket_settings::Resolved;
use crate::sys::SendObject;

/// A connection on its way to `incoming`, between its stages.
pub(super) struct Arriving {
    /// The connection the service hands out: the accepted socket's, then, with TLS, the
    /// wrapper over its TLS connection.
    pub connection: SendObject<gio::SocketConnection>,
    /// Its key in the registry.
    pub key: u64,
    /// The IP address it is counted under: the socket's peer, then the client's that a PROXY
    /// protocol header gave; `None` for other families.
    pub peer: Option<IpAddr>,
    pub source_object: Option<SendObject<glib::Object>>,
    /// What its PROXY protocol header said, if it had one.
    pub proxy_info: Option<SendObject<ProxyInfo>>,
    /// What its TLS ClientHello asked for, if it was read.
    pub client_hello: Option<SendObject<ClientHello>>,
    /// When its TLS stage began, if it began with its ClientHello: the handshake's timeout
    /// runs from then.
    pub tls_started: Option<Instant>,
    /// The credentials of its peer's process, if they were checked.
    pub credentials: Option<SendObject<gio::Credentials>>,
    /// What its listening socket's settings said at its accept.
    pub settings: Arc<Resolved>,
    /// The id of the listening socket it came through; `None` through the listener.
    pub listening: Option<u32>,
}

/// Where a stage takes a connection once done with it: the next stage.
pub(super) type Next<H> = fn(&H, Arriving);
