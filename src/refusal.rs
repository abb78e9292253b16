//! [`Refusal`]: why a service refused a connection, or held new ones back.

/// Why a service refused a connection after its accept (reported with the service's `refused`
/// signal and `accept-error`, and counted: `n_refused()`), or, for
/// [`MaxConnections`](Refusal::MaxConnections) and [`Overload`](Refusal::Overload), why it
/// paused accepting (counted once per pause; the clients wait in the kernel's backlog, nobody
/// is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, glib::Enum)]
#[enum_type(name = "UsherRefusal")]
#[doc(alias = "UsherRefusal")]
pub enum Refusal {
    /// The peer came back faster than its socket's `peer-rate`.
    #[doc(alias = "USHER_REFUSAL_PEER_RATE")]
    #[enum_value(name = "USHER_REFUSAL_PEER_RATE", nick = "peer-rate")]
    PeerRate = 0,
    /// Connections came faster than the socket's `rate`.
    #[doc(alias = "USHER_REFUSAL_RATE")]
    #[enum_value(name = "USHER_REFUSAL_RATE", nick = "rate")]
    Rate = 1,
    /// The peer had `tls-handshakes-per-peer` TLS handshakes in progress already.
    #[doc(alias = "USHER_REFUSAL_HANDSHAKES_PER_PEER")]
    #[enum_value(
        name = "USHER_REFUSAL_HANDSHAKES_PER_PEER",
        nick = "handshakes-per-peer"
    )]
    HandshakesPerPeer = 2,
    /// TLS handshakes started faster than the socket's `tls-handshake-rate`.
    #[doc(alias = "USHER_REFUSAL_HANDSHAKE_RATE")]
    #[enum_value(name = "USHER_REFUSAL_HANDSHAKE_RATE", nick = "handshake-rate")]
    HandshakeRate = 3,
    /// The peer's address is in `denied-peers`, or not in `allowed-peers`.
    #[doc(alias = "USHER_REFUSAL_DENIED")]
    #[enum_value(name = "USHER_REFUSAL_DENIED", nick = "denied")]
    Denied = 4,
    /// The peer had `max-connections-per-peer` connections already.
    #[doc(alias = "USHER_REFUSAL_PEER_CAP")]
    #[enum_value(name = "USHER_REFUSAL_PEER_CAP", nick = "peer-cap")]
    PeerCap = 5,
    /// The peer's process credentials were refused (`allowed-users`, `allowed-groups`,
    /// `accept-credentials`).
    #[doc(alias = "USHER_REFUSAL_CREDENTIALS")]
    #[enum_value(name = "USHER_REFUSAL_CREDENTIALS", nick = "credentials")]
    Credentials = 6,
    /// A PROXY protocol header was bad, missing, or from a peer not trusted to send one.
    #[doc(alias = "USHER_REFUSAL_PROXY_HEADER")]
    #[enum_value(name = "USHER_REFUSAL_PROXY_HEADER", nick = "proxy-header")]
    ProxyHeader = 7,
    /// A PROXY protocol header took longer than `proxy-protocol-timeout`.
    #[doc(alias = "USHER_REFUSAL_PROXY_TIMEOUT")]
    #[enum_value(name = "USHER_REFUSAL_PROXY_TIMEOUT", nick = "proxy-timeout")]
    ProxyTimeout = 8,
    /// The TLS handshake failed.
    #[doc(alias = "USHER_REFUSAL_TLS")]
    #[enum_value(name = "USHER_REFUSAL_TLS", nick = "tls")]
    Tls = 9,
    /// The TLS handshake took longer than `tls-handshake-timeout`.
    #[doc(alias = "USHER_REFUSAL_TLS_TIMEOUT")]
    #[enum_value(name = "USHER_REFUSAL_TLS_TIMEOUT", nick = "tls-timeout")]
    TlsTimeout = 10,
    /// Not a refusal: accepting paused at `max-connections`.
    #[doc(alias = "USHER_REFUSAL_MAX_CONNECTIONS")]
    #[enum_value(name = "USHER_REFUSAL_MAX_CONNECTIONS", nick = "max-connections")]
    MaxConnections = 11,
    /// Not a refusal: accepting paused while the system is short of memory or the process of
    /// descriptors (`overloaded`).
    #[doc(alias = "USHER_REFUSAL_OVERLOAD")]
    #[enum_value(name = "USHER_REFUSAL_OVERLOAD", nick = "overload")]
    Overload = 12,
}

impl Refusal {
    /// Every reason, in the order of their values.
    pub const ALL: [Refusal; 13] = [
        Refusal::PeerRate,
        Refusal::Rate,
        Refusal::HandshakesPerPeer,
        Refusal::HandshakeRate,
        Refusal::Denied,
        Refusal::PeerCap,
        Refusal::Credentials,
        Refusal::ProxyHeader,
        Refusal::ProxyTimeout,
        Refusal::Tls,
        Refusal::TlsTimeout,
        Refusal::MaxConnections,
        Refusal::Overload,
    ];
}

/// A count per reason.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RefusalCounts([u64; Refusal::ALL.len()]);

impl RefusalCounts {
    pub(crate) fn count(&mut self, reason: Refusal) {
        self.0[reason as usize] += 1;
    }

    pub(crate) fn get(&self, reason: Refusal) -> u64 {
        self.0[reason as usize]
    }
}
