//! [`SocketSettings`]: the settings of a service's listening sockets.

mod certificate_files;
mod imp;
mod values;

use gio::prelude::*;
use glib::subclass::prelude::*;

use std::sync::Arc;

use crate::sys::{SendObject, SendWeak};
pub(crate) use values::{
    AdmissionSettings, ProxySettings, Resolved, TcpSettings, TlsSettings, UnixSettings, Values,
};

glib::wrapper! {
    /// The settings of a listening socket: whether it serves TLS and with which certificate,
    /// which load balancers it trusts to send a PROXY protocol header, the I/O timeout of its
    /// connections, and its TCP options (keepalive, `TCP_USER_TIMEOUT`, `TCP_DEFER_ACCEPT`).
    ///
    /// Each setting is *set* or not. A socket given settings takes each setting they set, and
    /// its service's for the others: the service's own settings
    /// ([`socket_settings()`](crate::SocketServicePropertiesExt::socket_settings), of which
    /// its `tls-*`, `proxy-protocol-*` and `timeout` properties are views) are the default of
    /// every socket; a setting set nowhere has its property's default. Setting a property
    /// sets it, to `None` too: a socket whose `tls-certificate` is set to `None` serves plain
    /// TCP whatever the service's certificate. [`unset()`](Self::unset) makes the socket take
    /// its service's value again.
    ///
    /// Settings are given when sockets are added
    /// ([`add_inet_port_with_settings()`](crate::SocketServiceExt::add_inet_port_with_settings)
    /// and the other `add_*_with_settings()`), or later, to a socket of the service
    /// ([`set_socket_settings()`](crate::SocketServiceExt::set_socket_settings)). One settings
    /// object may serve several sockets, of several services. A change, from any thread,
    /// applies to the connections accepted from then on: the TCP options at once to the
    /// listening sockets, whose new connections inherit them; the others to each connection
    /// as it is accepted.
    ///
    /// ```no_run
    /// use gio::prelude::*;
    /// use usher::prelude::*;
    ///
    /// # fn certificate() -> gio::TlsCertificate { unimplemented!() }
    /// let service = usher::SocketService::new();
    /// service.set_tls_certificate(Some(&certificate())); // every socket serves TLS…
    /// service.add_inet_port(8443, None::<&glib::Object>)?;
    ///
    /// let plain = usher::SocketSettings::new();
    /// plain.set_tls_certificate(None::<&gio::TlsCertificate>); // …but this one
    /// plain.set_tcp_keepalive(true);
    /// plain.set_tcp_keepalive_idle(60);
    /// service.add_inet_port_with_settings(8080, None::<&glib::Object>, Some(&plain))?;
    ///
    /// service.connect_incoming(|_, connection, _| {
    ///     let settings = usher::SocketSettings::for_connection(connection);
    ///     println!("plain: {}", settings.is_some_and(|settings| settings.tls_certificate().is_none()));
    ///     false
    /// });
    /// # Ok::<(), glib::Error>(())
    /// ```
    ///
    /// GObject type: `UsherSocketSettings`. It may be read and changed from any thread.
    #[doc(alias = "UsherSocketSettings")]
    pub struct SocketSettings(ObjectSubclass<imp::SocketSettings>);
}

/// Where a connection came from, recorded on the connection the service hands out: one for a
/// listening socket and the settings in force for it, shared by its connections (a weak
/// reference per connection would cost each a `GWeakRef`, and the socket a list of them).
pub(crate) struct Origin {
    /// `None` for a connection the service accepted through its listener, which does not say.
    /// Weak: a connection does not keep its listening socket open.
    listening: Option<SendWeak<gio::Socket>>,
    settings: SendObject<SocketSettings>,
}

impl Origin {
    /// The origin of the connections of `listening` (`None`: accepted through the listener),
    /// served with `settings`.
    pub(crate) fn new(listening: Option<&gio::Socket>, settings: &SocketSettings) -> Arc<Origin> {
        Arc::new(Origin {
            listening: listening.map(SendWeak::new),
            settings: SendObject::new(settings.clone()),
        })
    }

    /// Whether these are the settings it was made with.
    pub(crate) fn has_settings(&self, settings: &SocketSettings) -> bool {
        *self.settings == *settings
    }

    fn of(connection: &impl IsA<gio::SocketConnection>) -> Option<Arc<Origin>> {
        crate::connection::origin(connection.as_ref())?
            .downcast::<Origin>()
            .ok()
    }
}

impl SocketSettings {
    /// New settings that set nothing: a socket given them takes its service's settings until
    /// some are set.
    #[doc(alias = "usher_socket_settings_new")]
    pub fn new() -> SocketSettings {
        glib::Object::new()
    }

    /// Whether the setting of the property `name` (`"tls-certificate"`, `"tcp-keepalive"`, …)
    /// is set; `false` for a name that is no setting's.
    #[doc(alias = "usher_socket_settings_is_set")]
    pub fn is_set(&self, name: &str) -> bool {
        self.imp().is_set(name).unwrap_or(false)
    }

    /// Unsets the setting of the property `name`: a socket given these settings takes its
    /// service's value again. Fails for a name that is no setting's.
    #[doc(alias = "usher_socket_settings_unset")]
    pub fn unset(&self, name: &str) -> Result<(), glib::Error> {
        self.imp().unset(name).ok_or_else(|| {
            glib::Error::new(
                gio::IOErrorEnum::InvalidArgument,
                &format!("UsherSocketSettings has no setting named {name:?}"),
            )
        })
    }

    /// Whether `name` is the name of a setting.
    #[cfg(feature = "capi")]
    pub(crate) fn has_setting(name: &str) -> bool {
        Values::default().is_set(name).is_some()
    }

    /// Sets `proxy-protocol-peers` from addresses and CIDR ranges, or returns why one of them
    /// is neither (and leaves the setting as it was).
    #[doc(alias = "usher_socket_settings_try_set_proxy_protocol_peers")]
    pub fn try_set_proxy_protocol_peers<S: AsRef<str>>(
        &self,
        peers: &[S],
    ) -> Result<(), glib::Error> {
        self.imp().try_set_proxy_protocol_peers(peers)
    }

    /// Sets `allowed-users` from user ids and names (`"0"`, `"root"`), or returns why one of
    /// them is neither (and leaves the setting as it was).
    #[doc(alias = "usher_socket_settings_try_set_allowed_users")]
    pub fn try_set_allowed_users<S: AsRef<str>>(&self, users: &[S]) -> Result<(), glib::Error> {
        self.imp().try_set_allowed_users(users)
    }

    /// Sets `allowed-groups` from group ids and names (`"0"`, `"wheel"`), or returns why one
    /// of them is neither (and leaves the setting as it was).
    #[doc(alias = "usher_socket_settings_try_set_allowed_groups")]
    pub fn try_set_allowed_groups<S: AsRef<str>>(&self, groups: &[S]) -> Result<(), glib::Error> {
        self.imp().try_set_allowed_groups(groups)
    }

    /// Loads `tls-certificate` from `certificate_file`, a PEM file, with its private key from
    /// `key_file`, or from the same file if `None`, and watches the files from now on: when
    /// they change (rewritten, or replaced by a rename, as certificate tools do) the
    /// certificate is loaded again and served to the handshakes that start after that. A
    /// certificate is taken only once it loaded completely and its key matches it: a file
    /// half-written, unreadable or with another key leaves the certificate loaded before
    /// serving, and is reported with `tls-certificate-reload-failed` (or a warning, if nobody
    /// listens); the next good write is taken.
    ///
    /// Fails, and changes nothing, if the files do not make a certificate now. The files are
    /// watched on the thread-default main context of the calling thread, which must run.
    /// Setting `tls-certificate` stops watching them.
    #[doc(alias = "usher_socket_settings_set_tls_certificate_files")]
    pub fn set_tls_certificate_files(
        &self,
        certificate_file: impl AsRef<std::path::Path>,
        key_file: Option<&std::path::Path>,
    ) -> Result<(), glib::Error> {
        self.imp()
            .set_tls_certificate_files(certificate_file.as_ref(), key_file)
    }

    /// Serves `certificate` to the clients that ask for `name` (`a.example.org`) or for a name
    /// `name` matches (`*.example.org`: one label before `example.org`), by the server name of
    /// their TLS ClientHello (SNI); `None` takes the name's certificate away. A name's own
    /// certificate comes before a wildcard's; `tls-certificate` serves the clients that ask
    /// for no name or for one without a certificate (with none, they are refused).
    ///
    /// Fails for a `name` that is neither a server name nor a wildcard. Once a socket has
    /// names, the service reads each client's ClientHello before its handshake (a peek: the
    /// bytes stay for the TLS library), and [`ClientHello::for_connection()`](crate::ClientHello::for_connection)
    /// gives the name and the ALPN protocols it offered.
    #[doc(alias = "usher_socket_settings_set_tls_certificate_for_name")]
    pub fn set_tls_certificate_for_name(
        &self,
        name: &str,
        certificate: Option<&gio::TlsCertificate>,
    ) -> Result<(), glib::Error> {
        self.imp().set_tls_certificate_for_name(name, certificate)
    }

    /// Serves the certificate in `certificate_file` (with its key in `key_file`, or in the
    /// same file) to the clients that ask for `name`, as
    /// [`set_tls_certificate_for_name()`](Self::set_tls_certificate_for_name), and watches the
    /// files as [`set_tls_certificate_files()`](Self::set_tls_certificate_files) does.
    #[doc(alias = "usher_socket_settings_set_tls_certificate_files_for_name")]
    pub fn set_tls_certificate_files_for_name(
        &self,
        name: &str,
        certificate_file: impl AsRef<std::path::Path>,
        key_file: Option<&std::path::Path>,
    ) -> Result<(), glib::Error> {
        self.imp()
            .set_tls_certificate_files_for_name(name, certificate_file.as_ref(), key_file)
    }

    /// The certificate these settings serve a client that asks for `server_name` (`None`: a
    /// client that asks for none): the name's own, else a matching wildcard's, else
    /// `tls-certificate`.
    #[doc(alias = "usher_socket_settings_get_tls_certificate_for_name")]
    pub fn tls_certificate_for_name(
        &self,
        server_name: Option<&str>,
    ) -> Option<gio::TlsCertificate> {
        self.imp().tls_certificate_for_name(server_name)
    }

    /// Loads every certificate these settings load from files again now, as a change of the
    /// files would: each that loads is served from the next handshake on; one that does not
    /// leaves the certificate loaded before, and the first error is returned.
    #[doc(alias = "usher_socket_settings_reload_tls_certificates")]
    pub fn reload_tls_certificates(&self) -> Result<(), glib::Error> {
        self.imp().reload_tls_certificates()
    }

    /// Connects to `tls-certificate-reload-failed`, emitted when a certificate file watched
    /// (`set_tls_certificate_files()`, `set_tls_certificate_files_for_name()`) changed but
    /// could not be loaded: `file` is the file at fault, `error` says why (a half-written
    /// PEM, a key that is not the certificate's, a file that cannot be read). The certificate
    /// loaded before goes on serving. Emitted on the thread-default main context of the thread
    /// that set the files; without a handler, a warning is logged instead.
    #[doc(alias = "tls-certificate-reload-failed")]
    pub fn connect_tls_certificate_reload_failed<F: Fn(&Self, &str, &glib::Error) + 'static>(
        &self,
        f: F,
    ) -> glib::SignalHandlerId {
        self.connect_local("tls-certificate-reload-failed", false, move |args| {
            if let (Ok(settings), Ok(file), Ok(error)) = (
                args[0].get::<&SocketSettings>(),
                args[1].get::<&str>(),
                args[2].get::<&glib::Error>(),
            ) {
                f(settings, file, error);
            }
            None
        })
    }

    /// Sets `allowed-peers` from addresses and CIDR ranges, or returns why one of them is
    /// neither (and leaves the setting as it was).
    #[doc(alias = "usher_socket_settings_try_set_allowed_peers")]
    pub fn try_set_allowed_peers<S: AsRef<str>>(&self, peers: &[S]) -> Result<(), glib::Error> {
        self.imp().try_set_allowed_peers(peers)
    }

    /// Sets `denied-peers` from addresses and CIDR ranges, or returns why one of them is
    /// neither (and leaves the setting as it was).
    #[doc(alias = "usher_socket_settings_try_set_denied_peers")]
    pub fn try_set_denied_peers<S: AsRef<str>>(&self, peers: &[S]) -> Result<(), glib::Error> {
        self.imp().try_set_denied_peers(peers)
    }

    /// The settings in force for the listening socket `connection` came through, if a
    /// [`SocketService`](crate::SocketService) handed it out: those the socket was given, or,
    /// for a socket given none, its service's
    /// ([`socket_settings()`](crate::SocketServicePropertiesExt::socket_settings)).
    #[doc(alias = "usher_socket_settings_get_for_connection")]
    pub fn for_connection(connection: &impl IsA<gio::SocketConnection>) -> Option<SocketSettings> {
        Origin::of(connection).map(|origin| (*origin.settings).clone())
    }

    /// The listening socket `connection` came through, if a service handed it out and the
    /// socket is still there.
    pub(crate) fn listening_socket_of(
        connection: &impl IsA<gio::SocketConnection>,
    ) -> Option<gio::Socket> {
        Origin::of(connection).and_then(|origin| origin.listening.as_ref()?.upgrade())
    }

    /// Tells `watcher` of every change from now on, until it is gone.
    pub(crate) fn watch(&self, watcher: std::sync::Weak<dyn Watcher>) {
        self.imp().watch(watcher)
    }

    /// What is set, and the version it is: bumped at every change.
    pub(crate) fn snapshot(&self) -> (Values, u64) {
        self.imp().snapshot()
    }

    /// The version of what is set: bumped at every change.
    pub(crate) fn version(&self) -> u64 {
        self.imp().version()
    }
}

/// Whether `name` may name a socket passed between processes, as systemd's `fdname_is_valid()`
/// has it: at most 255 bytes (`FDNAME_MAX`), each printable ASCII (spaces too) but a colon,
/// which separates the names of `LISTEN_FDNAMES`. The empty name is one.
pub(crate) fn is_valid_name(name: &str) -> bool {
    name.len() <= 255
        && name
            .bytes()
            .all(|byte| (b' '..=b'~').contains(&byte) && byte != b':')
}

/// What is told of every change of the settings it watches, after the change, on the thread
/// that made it.
pub(crate) trait Watcher: Send + Sync {
    fn settings_changed(&self);
}

impl Default for SocketSettings {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_name;

    #[test]
    fn names_are_those_systemd_takes() {
        let longest = "n".repeat(255);
        let printable: String = (b' '..=b'~')
            .filter(|byte| *byte != b':')
            .map(char::from)
            .collect();
        for valid in ["web", "web admin", "", " ", &printable, &longest] {
            assert!(is_valid_name(valid), "{valid:?}");
        }
        let too_long = "n".repeat(256);
        for invalid in [
            "web:admin",
            ":",
            "tab\t",
            "line\n",
            "del\x7f",
            "\0",
            "wéb",
            &too_long,
        ] {
            assert!(!is_valid_name(invalid), "{invalid:?}");
        }
    }
}
