//! The values of a [`SocketSettings`](super::SocketSettings), each set or not, and what a
//! listening socket's connections are served with once a socket's settings and its service's
//! are put together.

use std::net::IpAddr;
use std::sync::Arc;

use super::certificate_files::Watch;
use crate::admission::Rate;
use crate::proxy_protocol::PeerRange;
use crate::sys::SendObject;
use crate::tls_hello::{self, NamePattern};

/// A certificate, with its private key.
pub(crate) type Certificate = SendObject<gio::TlsCertificate>;

/// A certificate for the server names a pattern matches, and the files it was loaded from,
/// watched.
#[derive(Clone)]
pub(crate) struct NamedCertificate {
    pub pattern: NamePattern,
    pub certificate: Certificate,
    pub files: Option<Arc<Watch>>,
}

/// The TLS a socket serves: the `tls-*` settings.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    /// `tls-certificate`: the certificate served to a client that asks for no name, or for a
    /// name without one of its own. With none, and no names, the socket serves plain TCP.
    pub certificate: Option<Certificate>,
    /// `tls-certificate-names`: the certificates chosen by the name a client asks for.
    pub names: Vec<(NamePattern, Certificate)>,
    /// `tls-database`: how client certificates are verified (none: the backend's default).
    pub database: Option<SendObject<gio::TlsDatabase>>,
    /// `tls-authentication-mode`: whether client certificates are asked for.
    pub authentication_mode: gio::TlsAuthenticationMode,
    /// `tls-advertised-protocols`: ALPN, empty for none.
    pub advertised_protocols: Vec<glib::GString>,
    /// `tls-handshake-timeout`, in seconds: 0 for none.
    pub handshake_timeout: u32,
}

impl TlsSettings {
    pub(crate) const DEFAULT_HANDSHAKE_TIMEOUT: u32 = 10;

    /// Whether the socket serves TLS: it has a certificate, or certificates by name.
    pub(crate) fn serves(&self) -> bool {
        self.certificate.is_some() || !self.names.is_empty()
    }

    /// The certificate for a client that asks for `server_name` (normalized): its name's, else
    /// the one of a wildcard that matches it, else `tls-certificate`.
    pub(crate) fn choose(&self, server_name: Option<&str>) -> Option<&Certificate> {
        tls_hello::choose(&self.names, server_name).or(self.certificate.as_ref())
    }
}

/// The PROXY protocol a socket speaks: the `proxy-protocol-*` settings.
#[derive(Debug, Clone)]
pub(crate) struct ProxySettings {
    /// `proxy-protocol-peers`: the balancers trusted to send a header; none, no PROXY protocol.
    pub peers: Vec<PeerRange>,
    /// `proxy-protocol-required`: whether a trusted peer must send a header.
    pub required: bool,
    /// `proxy-protocol-timeout`, in seconds: 0 for none.
    pub timeout: u32,
}

impl ProxySettings {
    /// A few seconds: at least the 3 of a TCP retransmission, as the specification asks.
    pub(crate) const DEFAULT_TIMEOUT: u32 = 5;
}

/// The TCP options of a listening socket, which the connections it accepts inherit from it
/// (Linux copies them into every connection it creates for the socket): the `tcp-*` settings,
/// `None` where no settings set them, and the socket keeps what it has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TcpSettings {
    /// `tcp-keepalive`: `SO_KEEPALIVE`.
    pub keepalive: Option<bool>,
    /// `tcp-keepalive-idle`, `-interval`, in seconds, and `-count`: `TCP_KEEPIDLE`,
    /// `TCP_KEEPINTVL` and `TCP_KEEPCNT`; 0 for the system's.
    pub keepalive_idle: Option<u32>,
    pub keepalive_interval: Option<u32>,
    pub keepalive_count: Option<u32>,
    /// `tcp-user-timeout`, in milliseconds: `TCP_USER_TIMEOUT`; 0 for the system's.
    pub user_timeout: Option<u32>,
    /// `tcp-defer-accept`, in seconds: `TCP_DEFER_ACCEPT`; 0 for none.
    pub defer_accept: Option<u32>,
}

/// The file of a Unix socket the service made at a path: the `unix-*` settings, `None` where
/// no settings set them, and the file keeps what it has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UnixSettings {
    /// `unix-mode`: the file's permission bits.
    pub mode: Option<u32>,
    /// `unix-owner` and `unix-group`: the file's user and group ids.
    pub owner: Option<u32>,
    pub group: Option<u32>,
}

/// Who may connect, by the credentials of the peer process (`SO_PEERCRED`): the
/// `allowed-users` and `allowed-groups` settings. With neither set, anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CredentialsPolicy {
    pub users: Option<Vec<u32>>,
    pub groups: Option<Vec<u32>>,
}

impl CredentialsPolicy {
    /// Whether the policy restricts anything: the peer's credentials are then needed.
    pub(crate) fn restricts(&self) -> bool {
        self.users.is_some() || self.groups.is_some()
    }

    /// Whether a peer running as `uid` with primary group `gid` may connect: its user or its
    /// group is allowed.
    pub(crate) fn allows(&self, uid: u32, gid: u32) -> bool {
        !self.restricts()
            || self
                .users
                .as_ref()
                .is_some_and(|users| users.contains(&uid))
            || self
                .groups
                .as_ref()
                .is_some_and(|groups| groups.contains(&gid))
    }
}

/// Who gets in, and how fast: the `peer-rate`, `rate`, `tls-handshake*`, `allowed-peers` and
/// `denied-peers` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AdmissionSettings {
    /// New connections a peer may make, a second.
    pub peer_rate: Option<Rate>,
    /// New connections everyone together may make, a second.
    pub rate: Option<Rate>,
    /// TLS handshakes a peer may have in progress at once; 0 for no limit.
    pub handshakes_per_peer: u32,
    /// TLS handshakes that may start, a second.
    pub handshake_rate: Option<Rate>,
    /// The only peers let in, if set.
    pub allowed: Option<Vec<PeerRange>>,
    /// Peers refused.
    pub denied: Vec<PeerRange>,
}

impl AdmissionSettings {
    /// Whether a connection from `peer` (its client, behind a trusted balancer) may come in by
    /// its address: not denied, and allowed if there is a list. Connections without an IP
    /// address (Unix-domain) are judged by their credentials instead.
    pub(crate) fn admits(&self, peer: Option<IpAddr>) -> bool {
        let Some(peer) = peer else { return true };
        !self.denied.iter().any(|range| range.contains(peer))
            && self
                .allowed
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|range| range.contains(peer)))
    }
}

/// What one `SocketSettings` sets: `None` where it sets nothing, and the socket takes its
/// service's value (or, for the service's own settings, the default).
#[derive(Clone, Default)]
pub(crate) struct Values {
    pub tls_certificate: Option<Option<Certificate>>,
    /// The files `tls_certificate` was loaded from, watched: part of that setting.
    pub tls_certificate_files: Option<Arc<Watch>>,
    pub tls_certificate_names: Option<Vec<NamedCertificate>>,
    pub tls_database: Option<Option<SendObject<gio::TlsDatabase>>>,
    pub tls_authentication_mode: Option<gio::TlsAuthenticationMode>,
    pub tls_advertised_protocols: Option<Vec<glib::GString>>,
    pub tls_handshake_timeout: Option<u32>,
    pub proxy_protocol_peers: Option<Vec<PeerRange>>,
    pub proxy_protocol_required: Option<bool>,
    pub proxy_protocol_timeout: Option<u32>,
    pub timeout: Option<u32>,
    pub tcp_keepalive: Option<bool>,
    pub tcp_keepalive_idle: Option<u32>,
    pub tcp_keepalive_interval: Option<u32>,
    pub tcp_keepalive_count: Option<u32>,
    pub tcp_user_timeout: Option<u32>,
    pub tcp_defer_accept: Option<u32>,
    pub unix_mode: Option<u32>,
    pub unix_owner: Option<u32>,
    pub unix_group: Option<u32>,
    pub allowed_users: Option<Vec<u32>>,
    pub allowed_groups: Option<Vec<u32>>,
    pub peer_rate: Option<u32>,
    pub peer_rate_burst: Option<u32>,
    pub rate: Option<u32>,
    pub rate_burst: Option<u32>,
    pub tls_handshakes_per_peer: Option<u32>,
    pub tls_handshake_rate: Option<u32>,
    pub allowed_peers: Option<Vec<PeerRange>>,
    pub denied_peers: Option<Vec<PeerRange>>,
    pub name: Option<Option<String>>,
}

/// A setting of any type, to ask whether it is set or to unset it.
trait Setting {
    fn is_set(&self) -> bool;
    /// Unsets it; returns whether it was set.
    fn unset(&mut self) -> bool;
}

impl<T> Setting for Option<T> {
    fn is_set(&self) -> bool {
        self.is_some()
    }

    fn unset(&mut self) -> bool {
        self.take().is_some()
    }
}

impl Values {
    /// The setting of the property `name`, if there is one.
    fn setting(&mut self, name: &str) -> Option<&mut dyn Setting> {
        Some(match name {
            "tls-certificate" => &mut self.tls_certificate,
            "tls-certificate-names" => &mut self.tls_certificate_names,
            "tls-database" => &mut self.tls_database,
            "tls-authentication-mode" => &mut self.tls_authentication_mode,
            "tls-advertised-protocols" => &mut self.tls_advertised_protocols,
            "tls-handshake-timeout" => &mut self.tls_handshake_timeout,
            "proxy-protocol-peers" => &mut self.proxy_protocol_peers,
            "proxy-protocol-required" => &mut self.proxy_protocol_required,
            "proxy-protocol-timeout" => &mut self.proxy_protocol_timeout,
            "timeout" => &mut self.timeout,
            "tcp-keepalive" => &mut self.tcp_keepalive,
            "tcp-keepalive-idle" => &mut self.tcp_keepalive_idle,
            "tcp-keepalive-interval" => &mut self.tcp_keepalive_interval,
            "tcp-keepalive-count" => &mut self.tcp_keepalive_count,
            "tcp-user-timeout" => &mut self.tcp_user_timeout,
            "tcp-defer-accept" => &mut self.tcp_defer_accept,
            "unix-mode" => &mut self.unix_mode,
            "unix-owner" => &mut self.unix_owner,
            "unix-group" => &mut self.unix_group,
            "allowed-users" => &mut self.allowed_users,
            "allowed-groups" => &mut self.allowed_groups,
            "peer-rate" => &mut self.peer_rate,
            "peer-rate-burst" => &mut self.peer_rate_burst,
            "rate" => &mut self.rate,
            "rate-burst" => &mut self.rate_burst,
            "tls-handshakes-per-peer" => &mut self.tls_handshakes_per_peer,
            "tls-handshake-rate" => &mut self.tls_handshake_rate,
            "allowed-peers" => &mut self.allowed_peers,
            "denied-peers" => &mut self.denied_peers,
            "name" => &mut self.name,
            _ => return None,
        })
    }

    /// Whether these settings say which certificates to serve: `tls-certificate` or
    /// `tls-certificate-names` is set.
    fn sets_certificates(&self) -> bool {
        self.tls_certificate.is_some() || self.tls_certificate_names.is_some()
    }

    /// Whether the setting of the property `name` is set; `None` if no setting has that name.
    /// The files `tls-certificate` was loaded from are part of that setting: set while it is
    /// loaded from them.
    pub(crate) fn is_set(&mut self, name: &str) -> Option<bool> {
        match name {
            "tls-certificate-file" => Some(self.tls_certificate_files.is_some()),
            "tls-key-file" => Some(
                self.tls_certificate_files
                    .as_ref()
                    .is_some_and(|files| files.key_file.is_some()),
            ),
            _ => self.setting(name).map(|setting| setting.is_set()),
        }
    }

    /// Unsets the setting of the property `name`; whether it was set, `None` if no setting has
    /// that name. Unsetting the files of `tls-certificate` unsets it; the caller takes the
    /// watch of its files out first, to let go of it unlocked.
    pub(crate) fn unset(&mut self, name: &str) -> Option<bool> {
        let name = if CERTIFICATE_FILES.contains(&name) {
            "tls-certificate"
        } else {
            name
        };
        self.setting(name).map(|setting| setting.unset())
    }
}

/// The properties of the files `tls-certificate` was loaded from, part of that setting.
pub(crate) const CERTIFICATE_FILES: [&str; 2] = ["tls-certificate-file", "tls-key-file"];

/// What a listening socket's connections are served with: its own settings where it has them,
/// its service's elsewhere, the defaults where neither sets anything.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub tls: TlsSettings,
    pub proxy: ProxySettings,
    /// `timeout`: the I/O timeout of every accepted socket, in seconds; 0 for none.
    pub timeout: u32,
    pub tcp: TcpSettings,
    pub unix: UnixSettings,
    pub credentials: CredentialsPolicy,
    pub admission: AdmissionSettings,
    /// `name`: what the socket is called when handed to another process.
    pub name: Option<String>,
}

impl Resolved {
    /// The settings of a socket with `own` settings (or none) of a service with `service`'s.
    pub(crate) fn new(own: Option<&Values>, service: &Values) -> Self {
        macro_rules! pick_set {
            ($field:ident) => {
                own.and_then(|own| own.$field.clone())
                    .or_else(|| service.$field.clone())
            };
        }
        macro_rules! pick {
            ($field:ident, $default:expr) => {
                pick_set!($field).unwrap_or_else(|| $default)
            };
        }
        // The certificates go together: `tls-certificate` and `tls-certificate-names` come from
        // the first settings that set either, so that a socket given a certificate of its own
        // (or none: plain TCP) is not served its service's names.
        let certificates = match own {
            Some(own) if own.sets_certificates() => own,
            _ => service,
        };
        Self {
            tls: TlsSettings {
                certificate: certificates.tls_certificate.clone().flatten(),
                names: certificates
                    .tls_certificate_names
                    .iter()
                    .flatten()
                    .map(|named| (named.pattern.clone(), named.certificate.clone()))
                    .collect(),
                database: pick!(tls_database, None),
                authentication_mode: pick!(
                    tls_authentication_mode,
                    gio::TlsAuthenticationMode::None
                ),
                advertised_protocols: pick!(tls_advertised_protocols, Vec::new()),
                handshake_timeout: pick!(
                    tls_handshake_timeout,
                    TlsSettings::DEFAULT_HANDSHAKE_TIMEOUT
                ),
            },
            proxy: ProxySettings {
                peers: pick!(proxy_protocol_peers, Vec::new()),
                required: pick!(proxy_protocol_required, true),
                timeout: pick!(proxy_protocol_timeout, ProxySettings::DEFAULT_TIMEOUT),
            },
            timeout: pick!(timeout, 0),
            tcp: TcpSettings {
                keepalive: pick_set!(tcp_keepalive),
                keepalive_idle: pick_set!(tcp_keepalive_idle),
                keepalive_interval: pick_set!(tcp_keepalive_interval),
                keepalive_count: pick_set!(tcp_keepalive_count),
                user_timeout: pick_set!(tcp_user_timeout),
                defer_accept: pick_set!(tcp_defer_accept),
            },
            unix: UnixSettings {
                mode: pick_set!(unix_mode),
                owner: pick_set!(unix_owner),
                group: pick_set!(unix_group),
            },
            credentials: CredentialsPolicy {
                users: pick_set!(allowed_users),
                groups: pick_set!(allowed_groups),
            },
            admission: AdmissionSettings {
                peer_rate: Rate::new(pick!(peer_rate, 0), pick!(peer_rate_burst, 0)),
                rate: Rate::new(pick!(rate, 0), pick!(rate_burst, 0)),
                handshakes_per_peer: pick!(tls_handshakes_per_peer, 0),
                handshake_rate: Rate::new(pick!(tls_handshake_rate, 0), 0),
                allowed: pick_set!(allowed_peers),
                denied: pick!(denied_peers, Vec::new()),
            },
            name: pick!(name, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_takes_its_own_settings_then_its_services_then_the_defaults() {
        let service = Values {
            timeout: Some(30),
            proxy_protocol_required: Some(false),
            tls_handshake_timeout: Some(3),
            ..Values::default()
        };
        let own = Values {
            timeout: Some(5),
            tls_certificate: Some(None),
            ..Values::default()
        };

        let resolved = Resolved::new(Some(&own), &service);
        assert_eq!(resolved.timeout, 5, "its own");
        assert!(!resolved.proxy.required, "its service's");
        assert_eq!(resolved.tls.handshake_timeout, 3);
        assert_eq!(
            resolved.proxy.timeout,
            ProxySettings::DEFAULT_TIMEOUT,
            "the default"
        );
        assert!(resolved.tls.certificate.is_none(), "set to none: plain");
        assert_eq!(
            resolved.tcp,
            TcpSettings::default(),
            "no TCP option set anywhere"
        );

        let resolved = Resolved::new(None, &service);
        assert_eq!(resolved.timeout, 30);
    }

    #[test]
    fn settings_are_set_and_unset_by_their_property_names() {
        let mut values = Values::default();
        assert_eq!(values.is_set("tls-certificate"), Some(false));
        values.tls_certificate = Some(None);
        assert_eq!(values.is_set("tls-certificate"), Some(true));
        assert_eq!(values.unset("tls-certificate"), Some(true));
        assert_eq!(values.unset("tls-certificate"), Some(false));
        assert_eq!(values.is_set("no-such-setting"), None);
        // The certificates by name are a setting; the files of tls-certificate, part of it.
        assert_eq!(values.is_set("tls-certificate-names"), Some(false));
        values.tls_certificate_names = Some(Vec::new());
        assert_eq!(values.is_set("tls-certificate-names"), Some(true));
        assert_eq!(values.is_set("tls-certificate-file"), Some(false));
        values.tls_certificate = Some(None);
        assert_eq!(
            values.unset("tls-key-file"),
            Some(true),
            "unsets tls-certificate"
        );
        assert_eq!(values.is_set("tls-certificate"), Some(false));
    }
}
