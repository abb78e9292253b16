//! `UsherSocketSettings`: the GObject, a property per setting, and which of them are set.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};

use glib::prelude::*;
use glib::subclass::prelude::*;

use super::Watcher;
use super::values::{ProxySettings, TlsSettings, Values};
use crate::log::LOG_DOMAIN;
use crate::proxy_protocol::PeerRange;
use crate::sys::{self, SendObject};

#[derive(Default, glib::Properties)]
#[properties(wrapper_type = super::SocketSettings)]
pub struct SocketSettings {
    /// The certificate, with its private key, the socket serves TLS with. Set to `None`, the
    /// socket serves plain TCP whatever its service's certificate.
    #[property(name = "tls-certificate", type = Option<gio::TlsCertificate>, nullable,
        get = |imp: &Self| imp.get(|v| &v.tls_certificate).flatten().map(SendObject::into_inner),
        set = |imp: &Self, value: Option<gio::TlsCertificate>|
            imp.set("tls-certificate", |v| &mut v.tls_certificate, value.map(SendObject::new)),
        explicit_notify, nick = "TLS certificate",
        blurb = "The certificate to serve TLS with (none: plain TCP)")]
    /// The database client certificates are verified with; `None` for the TLS backend's
    /// default.
    #[property(name = "tls-database", type = Option<gio::TlsDatabase>, nullable,
        get = |imp: &Self| imp.get(|v| &v.tls_database).flatten().map(SendObject::into_inner),
        set = |imp: &Self, value: Option<gio::TlsDatabase>|
            imp.set("tls-database", |v| &mut v.tls_database, value.map(SendObject::new)),
        explicit_notify, nick = "TLS database",
        blurb = "The database to verify client certificates with (none: the default)")]
    /// Whether clients are asked for a certificate: `None` (the default), `Requested` or
    /// `Required`.
    #[property(name = "tls-authentication-mode", type = gio::TlsAuthenticationMode,
        get = |imp: &Self| imp.get(|v| &v.tls_authentication_mode)
            .unwrap_or(gio::TlsAuthenticationMode::None),
        set = |imp: &Self, value| imp.set("tls-authentication-mode",
            |v| &mut v.tls_authentication_mode, value),
        explicit_notify,
        builder(gio::TlsAuthenticationMode::None)
            .nick("TLS authentication mode")
            .blurb("Whether to ask clients for a certificate"))]
    /// The application protocols offered with ALPN (`"http/1.1"`, …), in order of
    /// preference; empty (the default) for no ALPN.
    #[property(name = "tls-advertised-protocols", type = glib::StrV,
        get = |imp: &Self| imp.get(|v| &v.tls_advertised_protocols).unwrap_or_default()
            .into_iter().collect(),
        set = |imp: &Self, value: glib::StrV| imp.set("tls-advertised-protocols",
            |v| &mut v.tls_advertised_protocols,
            value.iter().map(|protocol| protocol.as_str().into()).collect()),
        explicit_notify, nick = "TLS advertised protocols",
        blurb = "The protocols to offer with ALPN")]
    /// The most seconds a client may take to complete its TLS handshake; 0 for no limit. The
    /// default is 10.
    #[property(name = "tls-handshake-timeout", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tls_handshake_timeout)
            .unwrap_or(TlsSettings::DEFAULT_HANDSHAKE_TIMEOUT),
        set = |imp: &Self, value| imp.set("tls-handshake-timeout",
            |v| &mut v.tls_handshake_timeout, value),
        explicit_notify, default = TlsSettings::DEFAULT_HANDSHAKE_TIMEOUT,
        nick = "TLS handshake timeout",
        blurb = "The most seconds a TLS handshake may take (0: no limit)")]
    /// The load balancers trusted to send a PROXY protocol header (HAProxy's `send-proxy`,
    /// nginx's `proxy_protocol on`): IPv4 and IPv6 addresses and CIDR ranges (`127.0.0.1`,
    /// `10.0.0.0/8`, `fd00::/8`). Empty (the default): no PROXY protocol. Set through the
    /// property, an entry that is neither an address nor a range logs a critical and leaves
    /// the list as it was; `try_set_proxy_protocol_peers()` returns the error instead.
    #[property(name = "proxy-protocol-peers", type = glib::StrV,
        get = |imp: &Self| ranges_to_strv(imp.get(|v| &v.proxy_protocol_peers)),
        set = |imp: &Self, value: glib::StrV|
            imp.set_or_complain("proxy-protocol-peers", value, Self::try_set_proxy_protocol_peers),
        explicit_notify, nick = "PROXY protocol peers",
        blurb = "The balancers trusted to send a PROXY protocol header (none: no PROXY protocol)")]
    /// Whether a trusted peer (`proxy-protocol-peers`) must send a PROXY protocol header: with
    /// this on (the default), as the specification asks, a connection from one without a
    /// header is refused. Off, one that does not start with a header is served as it is, with
    /// its own addresses, for a balancer whose health checks send none.
    #[property(name = "proxy-protocol-required", type = bool,
        get = |imp: &Self| imp.get(|v| &v.proxy_protocol_required).unwrap_or(true),
        set = |imp: &Self, value| imp.set("proxy-protocol-required",
            |v| &mut v.proxy_protocol_required, value),
        explicit_notify, default = true, nick = "PROXY protocol required",
        blurb = "Whether a trusted peer must send a PROXY protocol header")]
    /// The most seconds a connection may take to send its PROXY protocol header, from its
    /// accept; 0 for no limit. The default is 5. A connection from a peer that may send no
    /// header waits as long for its first bytes before it is handed out (with 0, until it
    /// sends some).
    #[property(name = "proxy-protocol-timeout", type = u32,
        get = |imp: &Self| imp.get(|v| &v.proxy_protocol_timeout)
            .unwrap_or(ProxySettings::DEFAULT_TIMEOUT),
        set = |imp: &Self, value| imp.set("proxy-protocol-timeout",
            |v| &mut v.proxy_protocol_timeout, value),
        explicit_notify, default = ProxySettings::DEFAULT_TIMEOUT,
        nick = "PROXY protocol timeout",
        blurb = "The most seconds a PROXY protocol header may take (0: no limit)")]
    /// The I/O timeout, in seconds, of every accepted socket (`g_socket_set_timeout()`); 0
    /// (the default) for none. With TLS it applies after the handshake.
    #[property(name = "timeout", type = u32,
        get = |imp: &Self| imp.get(|v| &v.timeout).unwrap_or(0),
        set = |imp: &Self, value| imp.set("timeout", |v| &mut v.timeout, value),
        explicit_notify, nick = "Timeout",
        blurb = "The I/O timeout of accepted sockets, in seconds (0: none)")]
    /// Whether TCP keepalive probes are sent on idle connections (`SO_KEEPALIVE`), to notice
    /// a peer that vanished (a laptop suspended, a network gone). Off by default, as GLib's.
    #[property(name = "tcp-keepalive", type = bool,
        get = |imp: &Self| imp.get(|v| &v.tcp_keepalive).unwrap_or(false),
        set = |imp: &Self, value| imp.set("tcp-keepalive", |v| &mut v.tcp_keepalive, value),
        explicit_notify, nick = "TCP keepalive",
        blurb = "Whether to send keepalive probes on idle connections")]
    /// The seconds a connection stays idle before the first keepalive probe
    /// (`TCP_KEEPIDLE`); 0 (the default) for the system's (two hours).
    #[property(name = "tcp-keepalive-idle", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tcp_keepalive_idle).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tcp-keepalive-idle",
            |v| &mut v.tcp_keepalive_idle, value),
        explicit_notify, maximum = 32767, nick = "TCP keepalive idle time",
        blurb = "Seconds idle before the first keepalive probe (0: the system's)")]
    /// The seconds between keepalive probes (`TCP_KEEPINTVL`); 0 (the default) for the
    /// system's (75).
    #[property(name = "tcp-keepalive-interval", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tcp_keepalive_interval).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tcp-keepalive-interval",
            |v| &mut v.tcp_keepalive_interval, value),
        explicit_notify, maximum = 32767, nick = "TCP keepalive interval",
        blurb = "Seconds between keepalive probes (0: the system's)")]
    /// The unanswered keepalive probes after which the connection is dropped
    /// (`TCP_KEEPCNT`); 0 (the default) for the system's (9).
    #[property(name = "tcp-keepalive-count", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tcp_keepalive_count).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tcp-keepalive-count",
            |v| &mut v.tcp_keepalive_count, value),
        explicit_notify, maximum = 127, nick = "TCP keepalive count",
        blurb = "Unanswered keepalive probes before dropping (0: the system's)")]
    /// The milliseconds data written may stay unacknowledged before the connection is dropped
    /// (`TCP_USER_TIMEOUT`, RFC 5482): a peer gone while data is in flight is noticed in that
    /// time rather than after some fifteen minutes of retransmissions. 0 (the default) for the
    /// system's.
    #[property(name = "tcp-user-timeout", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tcp_user_timeout).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tcp-user-timeout",
            |v| &mut v.tcp_user_timeout, value),
        explicit_notify, maximum = i32::MAX as u32, nick = "TCP user timeout",
        blurb = "Milliseconds written data may stay unacknowledged (0: the system's)")]
    /// The most seconds the kernel holds a new connection until its client sends data, before
    /// the service accepts it (`TCP_DEFER_ACCEPT`); 0 (the default) for none. Only for
    /// protocols where the client speaks first (TLS, the PROXY protocol, HTTP): a client that
    /// connects and sends nothing costs the service nothing meanwhile. The kernel rounds the
    /// time to its retransmissions, and after it accepts the connection all the same.
    #[property(name = "tcp-defer-accept", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tcp_defer_accept).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tcp-defer-accept",
            |v| &mut v.tcp_defer_accept, value),
        explicit_notify, maximum = i32::MAX as u32, nick = "TCP deferred accept",
        blurb = "Seconds to hold a new connection until its client sends data (0: none)")]
    /// The permission bits (`0o660`, at most `0o7777`) of the file of a Unix socket the service
    /// makes at a path, set between its `bind()` and its `listen()`, before any client can
    /// connect; by default, what the process's umask gives.
    #[property(name = "unix-mode", type = u32,
        get = |imp: &Self| imp.get(|v| &v.unix_mode).unwrap_or(0o777),
        set = |imp: &Self, value| imp.set("unix-mode", |v| &mut v.unix_mode, value),
        explicit_notify, maximum = 0o7777, default = 0o777, nick = "Unix socket mode",
        blurb = "The permission bits of a Unix socket's file")]
    /// The user id owning the file of a Unix socket the service makes at a path, set before
    /// any client can connect (changing it takes privileges); by default, the process's.
    #[property(name = "unix-owner", type = u32,
        get = |imp: &Self| imp.get(|v| &v.unix_owner).unwrap_or(u32::MAX),
        set = |imp: &Self, value| imp.set("unix-owner", |v| &mut v.unix_owner, value),
        explicit_notify, default = u32::MAX, nick = "Unix socket owner",
        blurb = "The user id owning a Unix socket's file")]
    /// The group id of the file of a Unix socket the service makes at a path, set before any
    /// client can connect; by default, the process's.
    #[property(name = "unix-group", type = u32,
        get = |imp: &Self| imp.get(|v| &v.unix_group).unwrap_or(u32::MAX),
        set = |imp: &Self, value| imp.set("unix-group", |v| &mut v.unix_group, value),
        explicit_notify, default = u32::MAX, nick = "Unix socket group",
        blurb = "The group id of a Unix socket's file")]
    /// The users who may connect, by the credentials of the peer's process (`SO_PEERCRED`,
    /// read at the accept, before anything else): user ids or names (`"0"`, `"root"`), names
    /// resolved when set. A peer whose user is not here and whose group is not in
    /// `allowed-groups` is refused, and so is every connection without credentials (TCP).
    /// Unset (the default), with `allowed-groups` unset too, anyone may connect. Set through
    /// the property, an entry that is neither an id nor a known name logs a critical and
    /// leaves the list as it was; `try_set_allowed_users()` returns the error instead.
    #[property(name = "allowed-users", type = glib::StrV,
        get = |imp: &Self| ids_to_strv(imp.get(|v| &v.allowed_users)),
        set = |imp: &Self, value: glib::StrV|
            imp.set_or_complain("allowed-users", value, Self::try_set_allowed_users),
        explicit_notify, nick = "Allowed users",
        blurb = "The users who may connect (none set: anyone)")]
    /// The groups whose members may connect, by the primary group of the peer's process: group
    /// ids or names (`"0"`, `"wheel"`), as `allowed-users` takes users.
    #[property(name = "allowed-groups", type = glib::StrV,
        get = |imp: &Self| ids_to_strv(imp.get(|v| &v.allowed_groups)),
        set = |imp: &Self, value: glib::StrV|
            imp.set_or_complain("allowed-groups", value, Self::try_set_allowed_groups),
        explicit_notify, nick = "Allowed groups",
        blurb = "The groups whose members may connect (none set: anyone)")]
    /// The new connections one peer may make a second (a token bucket per IP address; an IPv6
    /// address counts with its /64 prefix), judged on the client behind a trusted balancer;
    /// beyond, a connection is refused at once. 0 (the default) for no limit.
    #[property(name = "peer-rate", type = u32,
        get = |imp: &Self| imp.get(|v| &v.peer_rate).unwrap_or(0),
        set = |imp: &Self, value| imp.set("peer-rate", |v| &mut v.peer_rate, value),
        explicit_notify, nick = "Peer rate",
        blurb = "New connections a second one peer may make (0: no limit)")]
    /// How many connections a peer may make at once beyond `peer-rate`, after a pause; 0 (the
    /// default) for a second's worth.
    #[property(name = "peer-rate-burst", type = u32,
        get = |imp: &Self| imp.get(|v| &v.peer_rate_burst).unwrap_or(0),
        set = |imp: &Self, value| imp.set("peer-rate-burst", |v| &mut v.peer_rate_burst, value),
        explicit_notify, nick = "Peer rate burst",
        blurb = "Connections one peer may make at once (0: a second's worth)")]
    /// The new connections everyone together may make a second, counted by the service; beyond,
    /// a connection is refused at once. 0 (the default) for no limit.
    #[property(name = "rate", type = u32,
        get = |imp: &Self| imp.get(|v| &v.rate).unwrap_or(0),
        set = |imp: &Self, value| imp.set("rate", |v| &mut v.rate, value),
        explicit_notify, nick = "Rate",
        blurb = "New connections a second (0: no limit)")]
    /// How many connections may come at once beyond `rate`; 0 (the default) for a second's
    /// worth.
    #[property(name = "rate-burst", type = u32,
        get = |imp: &Self| imp.get(|v| &v.rate_burst).unwrap_or(0),
        set = |imp: &Self, value| imp.set("rate-burst", |v| &mut v.rate_burst, value),
        explicit_notify, nick = "Rate burst",
        blurb = "Connections that may come at once (0: a second's worth)")]
    /// The TLS handshakes one peer may have in progress at once, counted before a handshake
    /// starts; beyond, the connection is refused at once, never queued. 0 (the default) for no
    /// limit.
    #[property(name = "tls-handshakes-per-peer", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tls_handshakes_per_peer).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tls-handshakes-per-peer",
            |v| &mut v.tls_handshakes_per_peer, value),
        explicit_notify, nick = "TLS handshakes per peer",
        blurb = "TLS handshakes one peer may have in progress (0: no limit)")]
    /// The TLS handshakes that may start a second, counted by the service; beyond, the
    /// connection is refused at once. 0 (the default) for no limit.
    #[property(name = "tls-handshake-rate", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tls_handshake_rate).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tls-handshake-rate",
            |v| &mut v.tls_handshake_rate, value),
        explicit_notify, nick = "TLS handshake rate",
        blurb = "TLS handshakes that may start a second (0: no limit)")]
    /// The only peers let in, IP addresses and CIDR ranges, judged on the client behind a
    /// trusted balancer; unset (the default), everyone. A connection from elsewhere is refused
    /// at once. Connections without an IP address (Unix-domain) are not judged by it.
    #[property(name = "allowed-peers", type = glib::StrV,
        get = |imp: &Self| ranges_to_strv(imp.get(|v| &v.allowed_peers)),
        set = |imp: &Self, value: glib::StrV|
            imp.set_or_complain("allowed-peers", value, Self::try_set_allowed_peers),
        explicit_notify, nick = "Allowed peers",
        blurb = "The only addresses let in (none set: everyone)")]
    /// Peers refused at once, IP addresses and CIDR ranges, judged on the client behind a
    /// trusted balancer; empty (the default), none.
    #[property(name = "denied-peers", type = glib::StrV,
        get = |imp: &Self| ranges_to_strv(imp.get(|v| &v.denied_peers)),
        set = |imp: &Self, value: glib::StrV|
            imp.set_or_complain("denied-peers", value, Self::try_set_denied_peers),
        explicit_notify, nick = "Denied peers",
        blurb = "Addresses refused")]
    /// The socket's name, as systemd names the sockets it passes (`FileDescriptorName=`,
    /// `LISTEN_FDNAMES`): what it is called when the service hands it to its successor or
    /// stores it with systemd, for the next instance to know it by. 1 to 255 printable ASCII
    /// characters, with neither spaces nor colons; an invalid name logs a critical and leaves
    /// the setting as it was. A socket passed to the process with a name (socket activation,
    /// a handover) keeps that one. With no name (the default), a socket goes as `"unknown"`,
    /// systemd's name for an unnamed socket.
    #[property(name = "name", type = Option<String>, nullable,
        get = |imp: &Self| imp.get(|v| &v.name).flatten(),
        set = |imp: &Self, value: Option<String>| imp.set_name(value),
        explicit_notify, nick = "Name",
        blurb = "The socket's name, for the next instance of the service")]
    values: Mutex<Values>,
    /// Bumped at every change, so that a service knows when what it resolved is stale.
    version: AtomicU64,
    /// The services that serve sockets with these settings, told of every change.
    watchers: Mutex<Vec<Weak<dyn Watcher>>>,
}

#[glib::object_subclass]
impl ObjectSubclass for SocketSettings {
    const NAME: &'static str = "UsherSocketSettings";
    type Type = super::SocketSettings;
}

#[glib::derived_properties]
impl ObjectImpl for SocketSettings {}

impl SocketSettings {
    fn values(&self) -> MutexGuard<'_, Values> {
        // Nothing panics while holding the lock; never turn a poisoned lock into a panic in C.
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of what is set, and the version it is.
    pub(crate) fn snapshot(&self) -> (Values, u64) {
        let values = self.values();
        (values.clone(), self.version.load(Ordering::Acquire))
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn get<T: Clone>(&self, field: impl FnOnce(&Values) -> &Option<T>) -> Option<T> {
        field(&self.values()).clone()
    }

    /// Sets a setting, and notifies its property if that changed its value or set it.
    fn set<T: PartialEq>(
        &self,
        name: &str,
        field: impl FnOnce(&mut Values) -> &mut Option<T>,
        value: T,
    ) {
        let previous = {
            let mut values = self.values();
            let field = field(&mut values);
            if field.as_ref() == Some(&value) {
                return;
            }
            let previous = field.replace(value);
            self.version.fetch_add(1, Ordering::AcqRel);
            previous
        };
        // Unlocked: the previous value may hold the last reference to an application's object.
        drop(previous);
        self.changed(name);
    }

    /// Tells the watchers, then notifies the property `name`.
    fn changed(&self, name: &str) {
        let watchers: Vec<_> = self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for watcher in watchers {
            watcher.settings_changed();
        }
        self.obj().notify(name);
    }

    pub(crate) fn watch(&self, watcher: Weak<dyn Watcher>) {
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        watchers.retain(|known| known.strong_count() > 0);
        if !watchers.iter().any(|known| known.ptr_eq(&watcher)) {
            watchers.push(watcher);
        }
    }

    pub(crate) fn try_set_proxy_protocol_peers<S: AsRef<str>>(
        &self,
        peers: &[S],
    ) -> Result<(), glib::Error> {
        self.set(
            "proxy-protocol-peers",
            |v| &mut v.proxy_protocol_peers,
            ranges(peers)?,
        );
        Ok(())
    }

    pub(crate) fn try_set_allowed_peers<S: AsRef<str>>(
        &self,
        peers: &[S],
    ) -> Result<(), glib::Error> {
        self.set("allowed-peers", |v| &mut v.allowed_peers, ranges(peers)?);
        Ok(())
    }

    pub(crate) fn try_set_denied_peers<S: AsRef<str>>(
        &self,
        peers: &[S],
    ) -> Result<(), glib::Error> {
        self.set("denied-peers", |v| &mut v.denied_peers, ranges(peers)?);
        Ok(())
    }

    pub(crate) fn try_set_allowed_users<S: AsRef<str>>(
        &self,
        users: &[S],
    ) -> Result<(), glib::Error> {
        let ids = ids("user", users, sys::user_id)?;
        self.set("allowed-users", |v| &mut v.allowed_users, ids);
        Ok(())
    }

    pub(crate) fn try_set_allowed_groups<S: AsRef<str>>(
        &self,
        groups: &[S],
    ) -> Result<(), glib::Error> {
        let ids = ids("group", groups, sys::group_id)?;
        self.set("allowed-groups", |v| &mut v.allowed_groups, ids);
        Ok(())
    }

    fn set_name(&self, name: Option<String>) {
        if let Some(invalid) = name.as_deref().filter(|name| !super::is_valid_name(name)) {
            glib::g_critical!(
                LOG_DOMAIN,
                "name left as it was: {invalid:?} is not 1 to 255 printable ASCII characters \
                 without spaces or colons"
            );
            return;
        }
        self.set("name", |v| &mut v.name, name);
    }

    /// Sets the list setting `name` with `try_set`, or logs a critical saying why not, as a
    /// property's setter must.
    fn set_or_complain(
        &self,
        name: &str,
        value: glib::StrV,
        try_set: fn(&Self, &[String]) -> Result<(), glib::Error>,
    ) {
        let entries: Vec<String> = value.iter().map(|entry| entry.to_string()).collect();
        if let Err(error) = try_set(self, &entries) {
            glib::g_critical!(LOG_DOMAIN, "{name} left as it was: {}", error.message());
        }
    }

    /// Whether the setting `name` is set; `None` if there is no such setting.
    pub(crate) fn is_set(&self, name: &str) -> Option<bool> {
        self.values().is_set(name)
    }

    /// Unsets the setting `name`, and notifies its property if it was set; `None` if there is
    /// no such setting.
    pub(crate) fn unset(&self, name: &str) -> Option<()> {
        let was_set = {
            let mut values = self.values();
            let was_set = values.unset(name)?;
            if was_set {
                self.version.fetch_add(1, Ordering::AcqRel);
            }
            was_set
        };
        if was_set {
            self.changed(name);
        }
        Some(())
    }
}

/// The ids of `entries`, each an id or a name `lookup` knows, or why one is neither.
fn ids<S: AsRef<str>>(
    kind: &str,
    entries: &[S],
    lookup: fn(&str) -> Option<u32>,
) -> Result<Vec<u32>, glib::Error> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.as_ref();
            // (uid_t)-1 means "no change" to chown(2): no id.
            let id = match entry.parse::<u32>() {
                Ok(id) if id != u32::MAX => Some(id),
                Ok(_) => None,
                Err(_) => lookup(entry),
            };
            id.ok_or_else(|| {
                glib::Error::new(
                    gio::IOErrorEnum::InvalidArgument,
                    &format!("{entry:?} is neither a {kind} id nor a known {kind} name"),
                )
            })
        })
        .collect()
}

/// A list of ids as strings, as the property gives them.
fn ids_to_strv(ids: Option<Vec<u32>>) -> glib::StrV {
    ids.unwrap_or_default()
        .iter()
        .map(|id| glib::GString::from(id.to_string()))
        .collect()
}

/// The addresses and ranges `peers` give, or why one is neither.
fn ranges<S: AsRef<str>>(peers: &[S]) -> Result<Vec<PeerRange>, glib::Error> {
    peers
        .iter()
        .map(|peer| PeerRange::parse(peer.as_ref()))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|error| glib::Error::new(gio::IOErrorEnum::InvalidArgument, &error))
}

/// A list of ranges as strings, as the property gives them.
fn ranges_to_strv(ranges: Option<Vec<PeerRange>>) -> glib::StrV {
    ranges
        .unwrap_or_default()
        .iter()
        .map(|range| glib::GString::from(range.to_string()))
        .collect()
}
