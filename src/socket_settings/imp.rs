//! `UsherSocketSettings`: the GObject, a property per setting, and which of them are set.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};

use gio::prelude::*;
use glib::subclass::{Signal, prelude::*};

use super::Watcher;
use super::certificate_files::{self, LoadError, Watch};
use super::values::{
    CERTIFICATE_FILES, Certificate, NamedCertificate, ProxySettings, TlsSettings, Values,
};
use crate::log::{LOG_DOMAIN, debug};
use crate::proxy_protocol::PeerRange;
use crate::sys::{self, SendObject, SendWeak};
use crate::tls_hello::{self, NamePattern};

#[derive(Default, glib::Properties)]
#[properties(wrapper_type = super::SocketSettings)]
pub struct SocketSettings {
    /// The certificate, with its private key, the socket serves TLS with: to every client, or,
    /// with `tls-certificate-names`, to those that ask for no name or for a name without a
    /// certificate of its own. Set to `None` with no names, the socket serves plain TCP
    /// whatever its service's certificate. Loaded from files with
    /// `set_tls_certificate_files()`, it is the certificate last loaded; setting it stops
    /// watching them.
    #[property(name = "tls-certificate", type = Option<gio::TlsCertificate>, nullable,
        get = |imp: &Self| imp.get(|v| &v.tls_certificate).flatten().map(SendObject::into_inner),
        set = Self::set_tls_certificate,
        explicit_notify, nick = "TLS certificate",
        blurb = "The certificate to serve TLS with (none: plain TCP)")]
    /// The file `tls-certificate` was loaded from, watched, and reloaded from when it changes
    /// (`set_tls_certificate_files()`); `None` for a certificate given as an object. Part of
    /// the `tls-certificate` setting: `is_set()` tells whether it is loaded from files,
    /// `unset()` unsets it.
    #[property(name = "tls-certificate-file", type = Option<String>,
        get = |imp: &Self| imp.watched_file(|watch| Some(&watch.certificate_file)),
        nick = "TLS certificate file",
        blurb = "The file the certificate is loaded from, and reloaded when it changes")]
    /// The file `tls-certificate`'s private key was loaded from, if not the certificate's
    /// own.
    #[property(name = "tls-key-file", type = Option<String>,
        get = |imp: &Self| imp.watched_file(|watch| watch.key_file.as_ref()),
        nick = "TLS key file",
        blurb = "The file the certificate's private key is loaded from")]
    /// The server names (`a.example.org`) and wildcards (`*.example.org`) with a certificate
    /// of their own, chosen by the name a client asks for in its TLS ClientHello (SNI), in the
    /// order they were given; `tls-certificate` serves the others. Set with
    /// `set_tls_certificate_for_name()` and `set_tls_certificate_files_for_name()`; it goes
    /// with `tls-certificate`: a socket takes both from the first settings that set either.
    #[property(name = "tls-certificate-names", type = glib::StrV,
        get = |imp: &Self| imp.get(|v| &v.tls_certificate_names).unwrap_or_default().iter()
            .map(|named| glib::GString::from(named.pattern.to_string())).collect(),
        nick = "TLS certificate names",
        blurb = "The server names with a certificate of their own")]
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
    /// The new connections one peer may make a second on the socket (a token bucket per IP
    /// address and socket; an IPv6 address counts with its /64 prefix), judged on the client
    /// behind a trusted balancer; beyond, a connection is refused at once. 0 (the default) for
    /// no limit.
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
    /// The new connections everyone together may make a second on the socket, counted for each
    /// socket apart; beyond, a connection is refused at once. 0 (the default) for no limit.
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
    /// starts, on all the service's sockets together (an IPv6 address counts with its /64
    /// prefix); beyond, the connection is refused at once, never queued. 0 (the default) for no
    /// limit.
    #[property(name = "tls-handshakes-per-peer", type = u32,
        get = |imp: &Self| imp.get(|v| &v.tls_handshakes_per_peer).unwrap_or(0),
        set = |imp: &Self, value| imp.set("tls-handshakes-per-peer",
            |v| &mut v.tls_handshakes_per_peer, value),
        explicit_notify, nick = "TLS handshakes per peer",
        blurb = "TLS handshakes one peer may have in progress (0: no limit)")]
    /// The TLS handshakes that may start a second on the socket, counted for each socket apart;
    /// beyond, the connection is refused at once. 0 (the default) for no limit.
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
    /// stores it with systemd, for the next instance to know it by. As systemd has it: at most
    /// 255 printable ASCII characters, spaces included, but no colon (the empty name is one);
    /// an invalid name logs a critical and leaves the setting as it was. A socket passed to the
    /// process with a name (socket activation, a handover) keeps that one. With no name (the
    /// default), a socket goes as `"unknown"`, systemd's name for an unnamed socket.
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

/// The signals, in the order of `signals()`.
const SIGNAL_TLS_CERTIFICATE_RELOAD_FAILED: usize = 0;

static SIGNALS: LazyLock<Vec<Signal>> = LazyLock::new(|| {
    vec![
        Signal::builder("tls-certificate-reload-failed")
            .run_last()
            .param_types([String::static_type(), glib::Error::static_type()])
            .build(),
    ]
});

#[glib::derived_properties]
impl ObjectImpl for SocketSettings {
    fn signals() -> &'static [Signal] {
        &SIGNALS
    }
}

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

    /// The `tls-certificate` property's setter: the certificate is no longer loaded from files.
    fn set_tls_certificate(&self, certificate: Option<gio::TlsCertificate>) {
        let (previous, files) = {
            let mut values = self.values();
            let files = values.tls_certificate_files.take();
            let certificate = Some(certificate.map(SendObject::new));
            if files.is_none() && values.tls_certificate == certificate {
                return;
            }
            let previous = std::mem::replace(&mut values.tls_certificate, certificate);
            self.version.fetch_add(1, Ordering::AcqRel);
            (previous, files)
        };
        let watched = files.is_some();
        drop((previous, files));
        self.changed("tls-certificate");
        if watched {
            self.obj().notify("tls-certificate-file");
            self.obj().notify("tls-key-file");
        }
    }

    /// A file of the watch of `tls-certificate`, as the property gives it.
    fn watched_file(&self, file: impl Fn(&Watch) -> Option<&std::path::PathBuf>) -> Option<String> {
        let watch = self.values().tls_certificate_files.clone()?;
        file(&watch).map(|path| path.to_string_lossy().into_owned())
    }

    /// Watches `certificate_file` and `key_file` and loads a certificate from them: the watch
    /// and the certificate, or why it was not taken.
    fn load_and_watch(
        &self,
        certificate_file: &Path,
        key_file: Option<&Path>,
    ) -> Result<(Arc<Watch>, Certificate), glib::Error> {
        let absolute = |path: &Path| {
            std::path::absolute(path).map_err(|error| {
                glib::Error::new(
                    gio::IOErrorEnum::InvalidFilename,
                    &format!("{}: {error}", path.display()),
                )
            })
        };
        let certificate_file = absolute(certificate_file)?;
        let key_file = key_file.map(absolute).transpose()?;
        // Watched first: a change while it loads is not missed.
        let settings = SendWeak::new(&*self.obj());
        let watch = Watch::new(&certificate_file, key_file.as_deref(), move |watch| {
            if let Some(settings) = settings.upgrade() {
                settings.imp().files_changed(watch);
            }
        })?;
        let certificate = certificate_files::load(&certificate_file, key_file.as_deref())
            .map_err(|failure| failure.error)?;
        debug!("loaded a certificate from {}", certificate_file.display());
        Ok((watch, SendObject::new(certificate)))
    }

    pub(crate) fn set_tls_certificate_files(
        &self,
        certificate_file: &Path,
        key_file: Option<&Path>,
    ) -> Result<(), glib::Error> {
        let (watch, certificate) = self.load_and_watch(certificate_file, key_file)?;
        let previous = {
            let mut values = self.values();
            let previous = (
                values.tls_certificate.replace(Some(certificate)),
                values.tls_certificate_files.replace(watch),
            );
            self.version.fetch_add(1, Ordering::AcqRel);
            previous
        };
        drop(previous);
        self.changed("tls-certificate");
        self.obj().notify("tls-certificate-file");
        self.obj().notify("tls-key-file");
        Ok(())
    }

    /// Gives the names `pattern` matches `certificate` (loaded from the files `watch` watches),
    /// or, with none, takes their certificate away.
    fn set_named(
        &self,
        pattern: NamePattern,
        certificate: Option<(Certificate, Option<Arc<Watch>>)>,
    ) {
        let previous = {
            let mut values = self.values();
            let names = values.tls_certificate_names.get_or_insert_with(Vec::new);
            let at = names.iter().position(|named| named.pattern == pattern);
            let previous = match (at, certificate) {
                (Some(at), Some((certificate, files))) => Some(std::mem::replace(
                    &mut names[at],
                    NamedCertificate {
                        pattern,
                        certificate,
                        files,
                    },
                )),
                (None, Some((certificate, files))) => {
                    names.push(NamedCertificate {
                        pattern,
                        certificate,
                        files,
                    });
                    None
                }
                (Some(at), None) => Some(names.remove(at)),
                (None, None) => None,
            };
            self.version.fetch_add(1, Ordering::AcqRel);
            previous
        };
        drop(previous);
        self.changed("tls-certificate-names");
    }

    pub(crate) fn set_tls_certificate_for_name(
        &self,
        name: &str,
        certificate: Option<&gio::TlsCertificate>,
    ) -> Result<(), glib::Error> {
        let pattern = pattern(name)?;
        self.set_named(
            pattern,
            certificate.map(|certificate| (SendObject::new(certificate.clone()), None)),
        );
        Ok(())
    }

    pub(crate) fn set_tls_certificate_files_for_name(
        &self,
        name: &str,
        certificate_file: &Path,
        key_file: Option<&Path>,
    ) -> Result<(), glib::Error> {
        let pattern = pattern(name)?;
        let (watch, certificate) = self.load_and_watch(certificate_file, key_file)?;
        self.set_named(pattern, Some((certificate, Some(watch))));
        Ok(())
    }

    /// The certificate these settings serve a client asking for `server_name`.
    pub(crate) fn tls_certificate_for_name(
        &self,
        server_name: Option<&str>,
    ) -> Option<gio::TlsCertificate> {
        let values = self.values();
        let names: Vec<(NamePattern, Certificate)> = values
            .tls_certificate_names
            .iter()
            .flatten()
            .map(|named| (named.pattern.clone(), named.certificate.clone()))
            .collect();
        let server_name = server_name.map(tls_hello::normalize);
        tls_hello::choose(&names, server_name.as_deref())
            .cloned()
            .or_else(|| values.tls_certificate.clone().flatten())
            .map(SendObject::into_inner)
    }

    /// Every watch of these settings: `tls-certificate`'s, and those of the names.
    fn watches(&self) -> Vec<Arc<Watch>> {
        let values = self.values();
        values
            .tls_certificate_files
            .iter()
            .chain(
                values
                    .tls_certificate_names
                    .iter()
                    .flatten()
                    .filter_map(|named| named.files.as_ref()),
            )
            .cloned()
            .collect()
    }

    pub(crate) fn reload_tls_certificates(&self) -> Result<(), glib::Error> {
        let mut result = Ok(());
        for watch in self.watches() {
            watch.mark_seen();
            if let Err(failure) = self.reload(&watch) {
                debug!("{}", failure.error.message());
                result = result.and(Err(failure.error));
            }
        }
        result
    }

    /// What `watch` watches changed: reloads it, or reports why not.
    fn files_changed(&self, watch: &Arc<Watch>) {
        if let Err(LoadError { file, error }) = self.reload(watch) {
            self.report_reload_failure(&file, &error);
        }
    }

    /// Loads the certificate `watch` watches again, and serves it where the one loaded before
    /// is served, if it is another; an error leaves the one loaded before.
    fn reload(&self, watch: &Arc<Watch>) -> Result<(), LoadError> {
        let is_watched = |values: &Values| {
            values
                .tls_certificate_files
                .as_ref()
                .is_some_and(|files| Arc::ptr_eq(files, watch))
        };
        let named_at = |values: &Values| {
            values.tls_certificate_names.as_ref().and_then(|names| {
                names.iter().position(|named| {
                    named
                        .files
                        .as_ref()
                        .is_some_and(|files| Arc::ptr_eq(files, watch))
                })
            })
        };
        {
            let values = self.values();
            if !is_watched(&values) && named_at(&values).is_none() {
                return Ok(());
            }
        }
        let certificate =
            certificate_files::load(&watch.certificate_file, watch.key_file.as_deref())?;
        let certificate = SendObject::new(certificate);
        let (previous, property) = {
            let mut values = self.values();
            let same = |old: &Certificate| old.is_same(&*certificate);
            let (previous, property) = if is_watched(&values) {
                if values
                    .tls_certificate
                    .clone()
                    .flatten()
                    .is_some_and(|old| same(&old))
                {
                    return Ok(());
                }
                (
                    values.tls_certificate.replace(Some(certificate)).flatten(),
                    "tls-certificate",
                )
            } else if let Some(at) = named_at(&values)
                && let Some(names) = values.tls_certificate_names.as_mut()
            {
                if same(&names[at].certificate) {
                    return Ok(());
                }
                (
                    Some(std::mem::replace(&mut names[at].certificate, certificate)),
                    "tls-certificate-names",
                )
            } else {
                return Ok(());
            };
            self.version.fetch_add(1, Ordering::AcqRel);
            (previous, property)
        };
        drop(previous);
        debug!(
            "reloaded the certificate of {}",
            watch.certificate_file.display()
        );
        self.changed(property);
        Ok(())
    }

    /// Tells the application a certificate file could not be reloaded: with
    /// `tls-certificate-reload-failed`, or, if nobody listens, a warning.
    fn report_reload_failure(&self, file: &Path, error: &glib::Error) {
        debug!("kept the certificate loaded before: {}", error.message());
        let obj = self.obj();
        let signal = SIGNALS[SIGNAL_TLS_CERTIFICATE_RELOAD_FAILED].signal_id();
        if glib::signal::signal_has_handler_pending(&*obj, signal, None, false) {
            let file = file.to_string_lossy().into_owned();
            obj.emit::<()>(signal, &[&file, error]);
        } else {
            glib::g_warning!(
                LOG_DOMAIN,
                "A certificate could not be reloaded, the one loaded before goes on serving: {}",
                error.message()
            );
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
                "name left as it was: {invalid:?} is not at most 255 printable ASCII \
                 characters without a colon"
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
        let certificate = name == "tls-certificate" || CERTIFICATE_FILES.contains(&name);
        let (was_set, files) = {
            let mut values = self.values();
            // The files go with the certificate, and are let go of unlocked.
            let files = values.tls_certificate_files.take_if(|_| certificate);
            let was_set = values.unset(name)?;
            if was_set {
                self.version.fetch_add(1, Ordering::AcqRel);
            }
            (was_set, files)
        };
        let watched = files.is_some();
        drop(files);
        if was_set {
            self.changed(if certificate { "tls-certificate" } else { name });
        }
        if watched {
            self.obj().notify("tls-certificate-file");
            self.obj().notify("tls-key-file");
        }
        Some(())
    }
}

/// The pattern of a server name or wildcard, or why `name` is neither.
fn pattern(name: &str) -> Result<NamePattern, glib::Error> {
    NamePattern::parse(name)
        .map_err(|why| glib::Error::new(gio::IOErrorEnum::InvalidArgument, &why))
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
