//! `UsherSocketService`: the GObject, its properties and signals. What accepting means lives in
//! the [engine](crate::engine); this is the face it shows to GObject.

use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use gio::prelude::*;
use glib::subclass::{Signal, prelude::*};

use crate::client_hello::ClientHello;
use crate::engine::{Adding, Changes, Engine, Host};
use crate::ffi;
use crate::glib_property::{DescribedAsGlibs, glib_property};
use crate::log::LOG_DOMAIN;
use crate::refusal::Refusal;
use crate::signals::{
    accept_certificate_args, accept_error_args, all_agree, connection_args, first_object,
    true_handled,
};
use crate::socket_settings::SocketSettings;
use crate::socket_settings::{ProxySettings, TlsSettings};
use crate::subclass::socket_listener::{SocketListenerImpl, SocketListenerImplExt};
use crate::sys::{SendObject, SendWeak};

#[derive(glib::Properties)]
#[properties(wrapper_type = super::SocketService, ext_trait = SocketServicePropertiesExt)]
pub struct SocketService {
    /// Whether the service accepts connections: what the application asked for with
    /// [`start`](crate::SocketServiceExt::start) and [`stop`](crate::SocketServiceExt::stop).
    /// A service waiting for a free thread, a free connection slot or free file descriptors
    /// stays active meanwhile; one whose listener is closed is inactive for good.
    #[property(name = "active", type = bool, get = Self::is_active, set = Self::set_active,
        construct, default = true,
        builder().described_as(&glib_property(gio::SocketService::static_type(), "active")))]
    /// The most live connections before the service stops accepting; 0 (the default) for no
    /// limit. At the limit, new clients wait in the kernel's backlog (neither accepted nor
    /// refused) until a connection closes. A connection counts from its accept until it is
    /// closed or finalized.
    #[property(name = "max-connections", type = u32,
        get = |imp: &Self| imp.engine.max_connections(), set = Self::set_max_connections,
        explicit_notify, nick = "Maximum connections",
        blurb = "The most live connections before the service stops accepting (0: no limit)")]
    /// The most live connections from one IP address; 0 (the default) for no limit. IPv4 and
    /// IPv6 addresses count apart, except that a v4-mapped IPv6 address counts as its IPv4
    /// address, and each IPv6 address counts on its own (not with its /64 prefix, as the
    /// rates and handshake budget of `SocketSettings` do); Unix-domain sockets are not limited. A client beyond its peer's limit is
    /// accepted and closed at once, so that it holds up nobody in the backlog, and reported
    /// with `accept-error`. Behind a balancer trusted with `proxy-protocol-peers`, a
    /// connection counts as the client's its header names, once read; as the balancer's only
    /// while it has to wait for its header, or if the header names no client.
    #[property(name = "max-connections-per-peer", type = u32,
        get = |imp: &Self| imp.engine.max_connections_per_peer(),
        set = Self::set_max_connections_per_peer, explicit_notify,
        nick = "Maximum connections per peer",
        blurb = "The most live connections from one IP address (0: no limit)")]
    /// The I/O timeout, in seconds, of every accepted socket (`g_socket_set_timeout()`), as
    /// `GSocketClient:timeout` is for clients; 0 (the default) for none. A read or write that
    /// waits longer fails with `G_IO_ERROR_TIMED_OUT`. With TLS it applies after the
    /// handshake, which has `tls-handshake-timeout`. A view of the service's
    /// [`socket-settings`](crate::SocketSettings): a socket's own settings may set another.
    #[property(name = "timeout", type = u32, get = |imp: &Self| imp.defaults().timeout(),
        set = |imp: &Self, value: u32| imp.defaults().set_timeout(value), explicit_notify,
        nick = "Timeout", blurb = "The I/O timeout of accepted sockets, in seconds (0: none)")]
    /// The connections the service accepted and that are not yet closed or finalized, those in
    /// their TLS handshake included. Notified on the service's context.
    #[property(name = "n-connections", type = u32, get = |imp: &Self| imp.engine.n_connections(),
        nick = "Live connections", blurb = "The connections accepted and not yet closed")]
    /// The connections accepted since the service was created. Notified on the service's
    /// context.
    #[property(name = "n-accepted", type = u64, get = |imp: &Self| imp.engine.n_accepted(),
        nick = "Accepted connections",
        blurb = "The connections accepted since the service was created")]
    /// The failed accepts since the service was created: the errors `accept-error` reported.
    /// Notified on the service's context.
    #[property(name = "n-accept-errors", type = u64,
        get = |imp: &Self| imp.engine.n_accept_errors(), nick = "Accept errors",
        blurb = "The failed accepts since the service was created")]
    /// The settings of every listening socket of the service that was given none of its own,
    /// and of every setting a socket's own settings leave unset: see
    /// [`SocketSettings`](crate::SocketSettings). The `tls-*`, `proxy-protocol-*` and
    /// `timeout` properties of the service are views of these.
    #[property(name = "socket-settings", type = SocketSettings,
        get = |imp: &Self| imp.defaults().clone(), nick = "Socket settings",
        blurb = "The settings of the listening sockets that set none of their own")]
    /// The certificate, with its private key, the service serves TLS with; `None` (the
    /// default) for plain TCP. With one, every connection is taken through its TLS handshake
    /// before `incoming`, and handed out as a `GTcpWrapperConnection` whose base stream is the
    /// `GTlsServerConnection`.
    #[property(name = "tls-certificate", type = Option<gio::TlsCertificate>, nullable,
        get = |imp: &Self| imp.defaults().tls_certificate(),
        set = |imp: &Self, value: Option<gio::TlsCertificate>|
            imp.defaults().set_tls_certificate(value.as_ref()),
        explicit_notify, nick = "TLS certificate",
        blurb = "The certificate to serve TLS with (none: plain TCP)")]
    /// The database client certificates are verified with; `None` (the default) for the TLS
    /// backend's default database.
    #[property(name = "tls-database", type = Option<gio::TlsDatabase>, nullable,
        get = |imp: &Self| imp.defaults().tls_database(),
        set = |imp: &Self, value: Option<gio::TlsDatabase>|
            imp.defaults().set_tls_database(value.as_ref()),
        explicit_notify, nick = "TLS database",
        blurb = "The database to verify client certificates with (none: the default)")]
    /// Whether the service asks clients for a certificate: `None` (the default), `Requested`
    /// or `Required`.
    #[property(name = "tls-authentication-mode", type = gio::TlsAuthenticationMode,
        get = |imp: &Self| imp.defaults().tls_authentication_mode(),
        set = |imp: &Self, value: gio::TlsAuthenticationMode| imp.defaults().set_tls_authentication_mode(value),
        explicit_notify,
        builder(gio::TlsAuthenticationMode::None)
            .nick("TLS authentication mode")
            .blurb("Whether to ask clients for a certificate"))]
    /// The application protocols the service offers with ALPN (`"http/1.1"`, …), in order of
    /// preference; empty (the default) for no ALPN.
    #[property(name = "tls-advertised-protocols", type = glib::StrV,
        get = |imp: &Self| imp.defaults().tls_advertised_protocols(),
        set = |imp: &Self, value: glib::StrV| imp.defaults().set_tls_advertised_protocols(value),
        explicit_notify, nick = "TLS advertised protocols",
        blurb = "The protocols to offer with ALPN")]
    /// The most seconds a client may take to complete its TLS handshake; 0 for no limit. The
    /// default is 10.
    #[property(name = "tls-handshake-timeout", type = u32,
        get = |imp: &Self| imp.defaults().tls_handshake_timeout(),
        set = |imp: &Self, value: u32| imp.defaults().set_tls_handshake_timeout(value),
        explicit_notify, default = TlsSettings::DEFAULT_HANDSHAKE_TIMEOUT,
        nick = "TLS handshake timeout",
        blurb = "The most seconds a TLS handshake may take (0: no limit)")]
    /// The load balancers trusted to send a PROXY protocol header (HAProxy's `send-proxy`,
    /// nginx's `proxy_protocol on`): IPv4 and IPv6 addresses and CIDR ranges (`127.0.0.1`,
    /// `10.0.0.0/8`, `fd00::/8`). Empty (the default): the service speaks no PROXY protocol.
    ///
    /// With peers set, a connection from one of them is taken through its header, version 1
    /// or 2, before its TLS handshake and `incoming`; from then on its client's address is the
    /// one `max-connections-per-peer` counts and messages name, and
    /// `ProxyInfo::for_connection()` gives what the header said. A connection from anyone else
    /// is served as it is, and refused if it starts with a header: a header from a peer not in
    /// the list is never believed. Set through the property, an entry that is neither an
    /// address nor a range logs a critical and leaves the list as it was;
    /// `try_set_proxy_protocol_peers()` returns the error instead.
    #[property(name = "proxy-protocol-peers", type = glib::StrV,
        get = |imp: &Self| imp.defaults().proxy_protocol_peers(),
        set = |imp: &Self, value: glib::StrV| imp.defaults().set_proxy_protocol_peers(value),
        explicit_notify, nick = "PROXY protocol peers",
        blurb = "The balancers trusted to send a PROXY protocol header (none: no PROXY protocol)")]
    /// Whether a trusted peer (`proxy-protocol-peers`) must send a PROXY protocol header: with
    /// this on (the default), as the specification asks, a connection from one without a header
    /// is refused. Off, a connection from a trusted peer that does not start with a header is
    /// served as it is, with its own addresses, for a balancer whose health checks send none.
    #[property(name = "proxy-protocol-required", type = bool,
        get = |imp: &Self| imp.defaults().proxy_protocol_required(),
        set = |imp: &Self, value: bool| imp.defaults().set_proxy_protocol_required(value),
        explicit_notify, default = true, nick = "PROXY protocol required",
        blurb = "Whether a trusted peer must send a PROXY protocol header")]
    /// The most seconds a connection may take to send its PROXY protocol header, from its
    /// accept, however slowly the bytes trickle in; 0 for no limit. The default is 5. A
    /// connection from a peer that may send no header (not trusted, or with
    /// `proxy-protocol-required` off) waits as long for its first bytes before it is handed
    /// out (with 0, until it sends some).
    #[property(name = "proxy-protocol-timeout", type = u32,
        get = |imp: &Self| imp.defaults().proxy_protocol_timeout(),
        set = |imp: &Self, value: u32| imp.defaults().set_proxy_protocol_timeout(value),
        explicit_notify, default = ProxySettings::DEFAULT_TIMEOUT, nick = "PROXY protocol timeout",
        blurb = "The most seconds a PROXY protocol header may take (0: no limit)")]
    /// The memory monitor whose warnings pause accepting: from `MEDIUM` on
    /// (`low-memory-warning`), the service accepts no new connection, and the kernel's backlog
    /// holds the clients, until a warning below `MEDIUM` comes, or none for 10 s. `None` (the
    /// default) for none: pass `gio::MemoryMonitor::dup_default()` to follow the desktop's.
    #[property(name = "memory-monitor", type = Option<gio::MemoryMonitor>, nullable,
        get = |imp: &Self| imp.memory_monitor.lock().unwrap_or_else(PoisonError::into_inner)
            .as_ref().map(|(monitor, _)| (**monitor).clone()),
        set = Self::set_memory_monitor, explicit_notify, nick = "Memory monitor",
        blurb = "The monitor whose warnings pause accepting (none: none)")]
    /// How close to its descriptor limit (`RLIMIT_NOFILE`) the process may come before the
    /// service pauses accepting: a client accepted with a descriptor within this many of the
    /// limit is the last until the lowest free descriptor is twice as far from it again, when
    /// connections close. The kernel's backlog holds the clients meanwhile; the process keeps
    /// descriptors for the rest of its work, and never spins on `EMFILE`. 0 for no pause
    /// before the limit. The default is 32.
    #[property(name = "descriptor-margin", type = u32,
        get = |imp: &Self| imp.engine.descriptor_margin(), set = Self::set_descriptor_margin,
        explicit_notify, default = 32, nick = "Descriptor margin",
        blurb = "Descriptors kept free before accepting pauses (0: none)")]
    /// Whether accepting is paused for the process's sake: the memory monitor warned of
    /// pressure, or descriptors are short (`descriptor-margin`). Notified on the service's
    /// context.
    #[property(name = "overloaded", type = bool, get = |imp: &Self| imp.engine.overloaded(),
        nick = "Overloaded", blurb = "Whether accepting is paused for want of memory or descriptors")]
    pub(crate) engine: Arc<Engine>,
    /// The memory monitor, and the handler of its warnings.
    memory_monitor: Mutex<Option<(SendObject<gio::MemoryMonitor>, glib::SignalHandlerId)>>,
}

#[glib::object_subclass]
impl ObjectSubclass for SocketService {
    const NAME: &'static str = "UsherSocketService";
    type Type = super::SocketService;
    type ParentType = crate::subclass::SocketListenerBase;
    type Instance = ffi::UsherSocketService;
    type Class = ffi::UsherSocketServiceClass;

    fn new() -> Self {
        Self {
            engine: Engine::new(),
            memory_monitor: Mutex::new(None),
        }
    }

    fn type_init(_: &mut glib::subclass::InitializingType<Self>) {
        // GLib 2.74 deadlocks when one thread registers `GSocket`, which adds its interfaces
        // under the class-initialization lock, while another initializes a class that needs
        // `GSocket`'s type, as `GSocketListener`'s does: register it before any of our classes.
        let _ = gio::Socket::static_type();
    }

    fn class_init(klass: &mut Self::Class) {
        ffi::set_socket_service_slots::<Self>(klass);
        INCOMING.get_or_init(|| ffi::register_incoming_signal(Self::type_()));
    }
}

ffi::impl_structs!(
    SocketService,
    ffi::UsherSocketService,
    ffi::UsherSocketServiceClass
);

/// `incoming`, registered as GLib registers it, emitted at every connection (see
/// `ffi::register_incoming_signal`).
static INCOMING: OnceLock<u32> = OnceLock::new();

/// The id of `incoming`, once the class is initialized (an instance exists).
pub(crate) fn incoming_signal() -> u32 {
    *INCOMING.get().expect("the class registered incoming")
}

/// The other signals, in the order of `signals()`.
const SIGNAL_ACCEPT_ERROR: usize = 0;
const SIGNAL_ACCEPT_CERTIFICATE: usize = 1;
const SIGNAL_ACCEPT_CREDENTIALS: usize = 2;
const SIGNAL_REFUSED: usize = 3;
const SIGNAL_SELECT_CERTIFICATE: usize = 4;

static SIGNALS: LazyLock<Vec<Signal>> = LazyLock::new(|| {
    vec![
        Signal::builder("accept-error")
            .run_last()
            .param_types([glib::Error::static_type()])
            .class_handler(|args| {
                if let Some((service, error)) = accept_error_args::<super::SocketService>(args) {
                    ffi::call_accept_error::<SocketService>(service, error);
                }
                None
            })
            .build(),
        Signal::builder("accept-certificate")
            .run_last()
            .param_types([
                gio::TlsConnection::static_type(),
                gio::TlsCertificate::static_type(),
                gio::TlsCertificateFlags::static_type(),
            ])
            .return_type::<bool>()
            .class_handler(|args| {
                let accepted = accept_certificate_args::<super::SocketService>(args).is_some_and(
                    |(service, connection, certificate, errors)| {
                        ffi::call_accept_certificate::<SocketService>(
                            service,
                            connection,
                            certificate,
                            errors,
                        )
                    },
                );
                Some(accepted.to_value())
            })
            .accumulator(true_handled)
            .build(),
        Signal::builder("accept-credentials")
            .run_last()
            .param_types([
                gio::SocketConnection::static_type(),
                gio::Credentials::static_type(),
            ])
            .return_type::<bool>()
            .class_handler(|args| {
                let accepted = connection_args::<super::SocketService, gio::Credentials>(args)
                    .is_none_or(|(service, connection, credentials)| {
                        ffi::call_accept_credentials::<SocketService>(
                            service,
                            connection,
                            credentials,
                        )
                    });
                Some(accepted.to_value())
            })
            .accumulator(all_agree)
            .build(),
        Signal::builder("refused")
            .run_last()
            .param_types([
                gio::InetAddress::static_type(),
                Refusal::static_type(),
                glib::Error::static_type(),
            ])
            .build(),
        Signal::builder("select-certificate")
            .run_last()
            .param_types([
                gio::SocketConnection::static_type(),
                ClientHello::static_type(),
            ])
            .return_type_from(gio::TlsCertificate::static_type())
            .class_handler(|args| {
                let certificate = connection_args::<super::SocketService, ClientHello>(args)
                    .and_then(|(service, connection, client_hello)| {
                        ffi::call_select_certificate::<SocketService>(
                            service,
                            connection,
                            client_hello,
                        )
                    });
                Some(certificate.to_value())
            })
            .accumulator(first_object)
            .build(),
    ]
});

/// The class handlers of the service itself, as GLib's: `incoming` is not handled (as
/// `g_socket_service_real_incoming`), a client certificate the backend could not verify is
/// refused; a failed accept is logged, at most once a second, when nobody listens.
impl ffi::SocketServiceClassHandlers for SocketService {
    fn incoming(&self, _: &gio::SocketConnection, _: Option<&glib::Object>) -> bool {
        false
    }

    fn accept_error(&self, error: &glib::Error) {
        let obj = self.obj();
        if glib::signal::signal_has_handler_pending(
            &*obj,
            SIGNALS[SIGNAL_ACCEPT_ERROR].signal_id(),
            None,
            false,
        ) {
            return;
        }
        match self.engine.admit_warning() {
            Some(0) => glib::g_warning!(LOG_DOMAIN, "{}", error.message()),
            Some(more) => glib::g_warning!(
                LOG_DOMAIN,
                "{} ({more} more failed accepts since the last warning)",
                error.message()
            ),
            None => {}
        }
    }

    fn accept_certificate(
        &self,
        _: &gio::TlsConnection,
        _: &gio::TlsCertificate,
        _: gio::TlsCertificateFlags,
    ) -> bool {
        false
    }

    fn accept_credentials(&self, _: &gio::SocketConnection, _: &gio::Credentials) -> bool {
        true
    }

    fn select_certificate(
        &self,
        _: &gio::SocketConnection,
        _: &ClientHello,
    ) -> Option<gio::TlsCertificate> {
        None
    }
}

#[glib::derived_properties]
impl ObjectImpl for SocketService {
    fn signals() -> &'static [Signal] {
        &SIGNALS
    }

    fn constructed(&self) {
        self.parent_constructed();
        Engine::bind(&*self.obj());
        self.engine.backlog_constructed();
        // The service's properties that are views of its settings change with them.
        let service = SendWeak::new(&*self.obj());
        self.defaults().connect_notify(None, move |_, pspec| {
            if let Some(service) = service.upgrade()
                && let Some(pspec) = service.find_property(pspec.name())
            {
                service.notify_by_pspec(&pspec);
            }
        });
    }

    fn dispose(&self) {
        // The monitor (the default one lives as long as the process) would keep a handler of
        // each service that ever watched it.
        let monitor = self
            .memory_monitor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((monitor, handler)) = monitor {
            monitor.disconnect(handler);
        }
        self.engine.dispose();
    }

    fn notify(&self, pspec: &glib::ParamSpec) {
        self.parent_notify(pspec);
        if pspec.name() == "listen-backlog" {
            self.engine.backlog_notified();
        }
    }
}

impl SocketListenerImpl for SocketService {
    fn changed(&self) {
        self.parent_changed();
        Engine::changed(&*self.obj());
    }

    fn event(&self, event: gio::SocketListenerEvent, socket: &gio::Socket) {
        self.parent_event(event, socket);
        match event {
            gio::SocketListenerEvent::Listening => self.engine.tune_backlog(socket),
            gio::SocketListenerEvent::Listened => self.engine.announce(socket),
            _ => {}
        }
    }
}

impl SocketService {
    pub(crate) fn is_active(&self) -> bool {
        self.engine.is_active()
    }

    /// `start()` and `stop()`: safe from any thread.
    pub(crate) fn set_active(&self, active: bool) {
        Engine::set_active(&*self.obj(), active)
    }

    fn set_max_connections(&self, max: u32) {
        if Engine::set_max_connections(&*self.obj(), max) {
            self.obj().notify_max_connections();
        }
    }

    fn set_max_connections_per_peer(&self, max: u32) {
        if Engine::set_max_connections_per_peer(&*self.obj(), max) {
            self.obj().notify_max_connections_per_peer();
        }
    }

    fn set_memory_monitor(&self, monitor: Option<gio::MemoryMonitor>) {
        let handler = monitor.as_ref().map(|monitor| {
            let service = SendWeak::new(&*self.obj());
            let handler = monitor.connect_low_memory_warning(move |_, level| {
                if let Some(service) = service.upgrade() {
                    Engine::memory_warning(&service, level);
                }
            });
            (SendObject::new(monitor.clone()), handler)
        });
        let previous = std::mem::replace(
            &mut *self
                .memory_monitor
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            handler,
        );
        let changed = match previous {
            Some((previous, handler)) => {
                let changed = Some(&*previous) != monitor.as_ref();
                previous.disconnect(handler);
                changed
            }
            None => monitor.is_some(),
        };
        if changed {
            // A pressure reported by the previous monitor is the previous monitor's.
            Engine::memory_warning(&*self.obj(), gio::MemoryMonitorWarningLevel::Low);
            self.obj().notify_memory_monitor();
        }
    }

    fn set_descriptor_margin(&self, margin: u32) {
        if Engine::set_descriptor_margin(&*self.obj(), margin) {
            self.obj().notify_descriptor_margin();
        }
    }

    /// The service's own settings, of which its `tls-*`, `proxy-protocol-*` and `timeout`
    /// properties are views.
    fn defaults(&self) -> &SocketSettings {
        self.engine.defaults()
    }

    /// Adds a socket the service accepts on itself (one Usher made, for activation or
    /// `SO_REUSEPORT`, or one given with settings), announcing it first so that it is served
    /// like the listener's own, as `adding` says.
    pub(crate) fn add_own_socket(
        &self,
        socket: &gio::Socket,
        source_object: Option<&glib::Object>,
        adding: Adding,
    ) -> Result<(), glib::Error> {
        self.engine.adding(adding, || {
            self.engine.announce(socket);
            let added = self.obj().add_socket(socket, source_object);
            if added.is_err() {
                self.engine.forget_announced(socket);
            }
            added
        })
    }
}

/// The engine's view of the service: the signals it emits.
impl Host for super::SocketService {
    fn engine(&self) -> &Arc<Engine> {
        &self.imp().engine
    }

    fn incoming(&self, connection: &gio::SocketConnection, source_object: Option<&glib::Object>) {
        ffi::emit_connection_signal(self, incoming_signal(), connection, source_object);
    }

    fn accept_error(&self, error: &glib::Error) {
        self.emit::<()>(SIGNALS[SIGNAL_ACCEPT_ERROR].signal_id(), &[error]);
    }

    fn accept_certificate(
        &self,
        connection: &gio::TlsConnection,
        peer_certificate: &gio::TlsCertificate,
        errors: gio::TlsCertificateFlags,
    ) -> bool {
        self.emit(
            SIGNALS[SIGNAL_ACCEPT_CERTIFICATE].signal_id(),
            &[connection, peer_certificate, &errors],
        )
    }

    fn refused(&self, peer: Option<std::net::IpAddr>, reason: Refusal, error: &glib::Error) {
        let signal = SIGNALS[SIGNAL_REFUSED].signal_id();
        // Nothing made for nobody: a flood of refusals costs no address object each.
        if glib::signal::signal_has_handler_pending(self, signal, None, false) {
            let peer = peer.map(gio::InetAddress::from);
            self.emit::<()>(signal, &[&peer, &reason, error]);
        }
    }

    fn decides_credentials(&self) -> bool {
        glib::signal::signal_has_handler_pending(
            self,
            SIGNALS[SIGNAL_ACCEPT_CREDENTIALS].signal_id(),
            None,
            false,
        ) || ffi::overrides_accept_credentials::<SocketService>(self)
    }

    fn accept_credentials(
        &self,
        connection: &gio::SocketConnection,
        credentials: &gio::Credentials,
    ) -> bool {
        self.emit(
            SIGNALS[SIGNAL_ACCEPT_CREDENTIALS].signal_id(),
            &[connection, credentials],
        )
    }

    fn selects_certificate(&self) -> bool {
        glib::signal::signal_has_handler_pending(
            self,
            SIGNALS[SIGNAL_SELECT_CERTIFICATE].signal_id(),
            None,
            false,
        ) || ffi::overrides_select_certificate::<SocketService>(self)
    }

    fn select_certificate(
        &self,
        connection: &gio::SocketConnection,
        hello: &ClientHello,
    ) -> Option<gio::TlsCertificate> {
        self.emit(
            SIGNALS[SIGNAL_SELECT_CERTIFICATE].signal_id(),
            &[connection, hello],
        )
    }

    /// Notifies only the properties someone listens to: the counters change with every
    /// connection.
    fn notify_changes(&self, changes: Changes) {
        static NOTIFY: LazyLock<(glib::subclass::SignalId, [glib::Quark; 5])> =
            LazyLock::new(|| {
                let notify =
                    glib::subclass::SignalId::lookup("notify", glib::Object::static_type())
                        .expect("GObject has a notify signal");
                let details = [
                    "active",
                    "n-connections",
                    "n-accepted",
                    "n-accept-errors",
                    "overloaded",
                ]
                .map(glib::Quark::from_str);
                (notify, details)
            });
        let (
            notify,
            [
                active,
                n_connections,
                n_accepted,
                n_accept_errors,
                overloaded,
            ],
        ) = *NOTIFY;
        // With a detail, this also finds the handlers connected to every notification.
        let listened =
            |detail| glib::signal::signal_has_handler_pending(self, notify, Some(detail), false);
        if changes.active && listened(active) {
            self.notify_active();
        }
        if changes.n_connections && listened(n_connections) {
            self.notify_n_connections();
        }
        if changes.n_accepted && listened(n_accepted) {
            self.notify_n_accepted();
        }
        if changes.n_accept_errors && listened(n_accept_errors) {
            self.notify_n_accept_errors();
        }
        if changes.overloaded && listened(overloaded) {
            self.notify_overloaded();
        }
    }
}
