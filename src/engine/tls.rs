//! TLS built into the service, as `GSocketClient:tls` is for clients: with a certificate set,
//! each accepted connection is wrapped in a `GTlsServerConnection` from the default
//! `GTlsBackend`, its handshake runs on the service's context, and only a completed handshake
//! reaches `incoming`, as a `GTcpWrapperConnection` over the TLS connection and the accepted
//! socket (the shape `GSocketClient` returns with `tls` set).
//!
//! The certificate is chosen as the handshake starts, from the settings of the connection's
//! socket as they are then, so that a certificate changed or reloaded from any thread serves
//! every handshake that starts after the change (one in progress, and the connections
//! established, keep theirs): the application's (`select-certificate`), else the one for the
//! server name the client asked for (`tls-certificate-names`, read by [`super::hello`]), else
//! `tls-certificate`.
//!
//! A connection counts toward `max-connections` (and the threaded service's threads) from its
//! accept, its handshake included. A failed handshake (a plaintext client, a refused
//! certificate, the timeout) closes the connection and is reported as a failed accept; it does
//! not pause accepting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gio::prelude::*;

use super::arriving::{Arriving, Next};
use super::early_read::Reads;
use super::handshakes;
use super::hello::HelloRead;
use super::{Engine, Host};
use crate::connection;
use crate::log::{LOG_DOMAIN, debug};
use crate::refusal::Refusal;
use crate::socket_settings::{Resolved, TlsSettings};
use crate::sys::{self, SendObject, SendWeak};

/// The TLS part of the engine's state.
#[derive(Default)]
pub(crate) struct Tls {
    /// Handshakes in progress, those whose ClientHello is being read included.
    pub(super) handshakes: u32,
    /// ClientHellos being read, before their handshake.
    pub(super) hellos: Reads<HelloRead>,
}

impl Tls {
    /// Handshakes in progress, those whose ClientHello is being read included.
    pub(super) fn handshakes(&self) -> u32 {
        self.handshakes
    }
}

/// Runs the TLS handshake of `arriving`, then takes it on to `next` as the wrapper over its TLS
/// connection, or reports why it failed.
pub(super) fn handshake<H: Host>(host: &H, mut arriving: Arriving, next: Next<H>) {
    let peer = arriving.peer;
    // Counted before anything is spent on it, unless it was as its ClientHello's read began.
    if arriving.tls_started.is_none() && !handshakes::admit(host, &arriving) {
        return;
    }
    // The settings the connection's socket has now, and the certificate for it.
    let resolved = current_settings(host, &arriving);
    let settings = &resolved.tls;
    let tls = certificate(host, settings, &arriving).and_then(|certificate| {
        server_connection(host, settings, &certificate, &arriving.connection)
    });
    let tls = match tls {
        Ok(tls) => tls,
        Err(error) => {
            handshakes::end(host, peer);
            Engine::refuse_arriving(host, &arriving, error, Refusal::Tls);
            return;
        }
    };
    let cancellable = gio::Cancellable::new();
    // The timeout runs from the start of the TLS stage: the ClientHello's read, if any.
    let timeout = Duration::from_secs(settings.handshake_timeout.into());
    let left = arriving
        .tls_started
        .map_or(timeout, |started| timeout.saturating_sub(started.elapsed()));
    // Attached once the handshake has started.
    let timer = (settings.handshake_timeout != 0).then(|| {
        let cancellable = cancellable.clone();
        // Not `timeout_source_new_seconds()`, whose rounding to a whole second may fire up to
        // a quarter of a second early: a client is given all its time.
        glib::timeout_source_new(
            left.max(Duration::from_millis(1)),
            Some("[usher] TLS handshake timeout"),
            glib::Priority::DEFAULT,
            move || {
                cancellable.cancel();
                glib::ControlFlow::Break
            },
        )
    });
    let weak = SendWeak::new(host);
    let handshaking = SendObject::new(tls.clone());
    let timeout = settings.handshake_timeout;
    let handshake_timer = timer.clone();
    let done = move |result: Result<(), glib::Error>| {
        if let Some(timer) = handshake_timer {
            timer.destroy();
        }
        let Some(host) = weak.upgrade() else { return };
        handshakes::end(&host, peer);
        match result {
            Ok(()) => {
                let wrapper = connection::wrap_tls(&arriving.connection, handshaking.upcast_ref());
                arriving.connection = SendObject::new(wrapper);
                next(&host, arriving);
            }
            Err(error) => {
                let (error, reason) = if error.matches(gio::IOErrorEnum::Cancelled) {
                    let error = glib::Error::new(
                        gio::IOErrorEnum::TimedOut,
                        &format!("TLS handshake timed out after {timeout} s"),
                    );
                    (error, Refusal::TlsTimeout)
                } else {
                    (error, Refusal::Tls)
                };
                debug!("TLS handshake failed: {}", error.message());
                Engine::refuse_arriving(&host, &arriving, error, reason);
            }
        }
    };
    let context = host.engine().context();
    match context
        .with_thread_default(|| sys::tls_handshake_async(tls.upcast_ref(), &cancellable, done))
    {
        Ok(()) => {
            if let Some(timer) = timer {
                timer.attach(Some(&context));
            }
        }
        // Not started: the connection went with the callback.
        Err(_) => {
            handshakes::end(host, peer);
            glib::g_critical!(LOG_DOMAIN, "Cannot acquire the service's main context")
        }
    }
}

/// The settings of the socket `arriving` came through as they are now, if it still serves TLS
/// (a handshake does not turn into plain TCP); those it had at its accept otherwise, or when
/// the socket is gone.
fn current_settings<H: Host>(host: &H, arriving: &Arriving) -> Arc<Resolved> {
    let engine = host.engine();
    let mut state = engine.state();
    let state = &mut *state;
    let now = match arriving.listening {
        Some(id) => {
            let defaults = &state.defaults;
            state
                .sockets
                .iter_mut()
                .find(|listening| listening.id == id)
                .map(|listening| listening.resolved(defaults).clone())
        }
        None => Some(state.fallback()),
    };
    match now {
        Some(now) if now.tls.serves() => now,
        _ => arriving.settings.clone(),
    }
}

/// The certificate to serve `arriving` with: the application's choice, else the one for the
/// server name its ClientHello asked for, else `tls-certificate`; or why there is none.
fn certificate<H: Host>(
    host: &H,
    settings: &TlsSettings,
    arriving: &Arriving,
) -> Result<gio::TlsCertificate, glib::Error> {
    let hello = arriving.client_hello.as_deref();
    if let Some(hello) = hello
        && host.selects_certificate()
        && let Some(certificate) = host.select_certificate(&arriving.connection, hello)
    {
        return Ok(certificate);
    }
    let name = hello.and_then(|hello| hello.server_name());
    if let Some(certificate) = settings.choose(name.as_deref()) {
        return Ok((**certificate).clone());
    }
    Err(glib::Error::new(
        gio::TlsError::Misc,
        &format!(
            "Refused a connection from {}: no certificate for {} (tls-certificate-names), and \
             no tls-certificate",
            super::registry::describe(arriving.peer),
            name.map_or(
                "a client that asks for no server name".into(),
                |name| format!("the server name {name:?}")
            ),
        ),
    ))
}

/// A `GTlsServerConnection` over `connection` with the service's settings and `certificate`,
/// which accepts the client certificates the backend verified, and asks the service about the
/// others.
fn server_connection<H: Host>(
    host: &H,
    settings: &TlsSettings,
    certificate: &gio::TlsCertificate,
    connection: &gio::SocketConnection,
) -> Result<gio::TlsServerConnection, glib::Error> {
    let backend = gio::TlsBackend::default();
    // As `g_tls_server_connection_new()`, but with the database decided at construction: a
    // connection that verifies no client certificate needs none, and glib-networking (before
    // 2.80) parses the system's whole trust store for every connection made with the default one.
    let database = match (&settings.database, settings.authentication_mode) {
        (Some(database), _) => Some((**database).clone()),
        (None, gio::TlsAuthenticationMode::None) => None,
        (None, _) => Some(backend.default_database()),
    };
    let tls = gio::Initable::builder_with_type(backend.server_connection_type())
        .property("base-io-stream", connection)
        .property("certificate", certificate)
        .property("authentication-mode", settings.authentication_mode)
        .property("database", database)
        .build(gio::Cancellable::NONE)
        .inspect_err(|_| warn_once_if_unavailable())?
        .downcast::<gio::TlsServerConnection>()
        .map_err(|_| {
            glib::Error::new(
                gio::TlsError::Unavailable,
                "The TLS backend made no server connection",
            )
        })?;
    if !settings.advertised_protocols.is_empty() {
        tls.set_advertised_protocols(settings.advertised_protocols.as_slice());
    }
    // glib-networking asks on the context the handshake runs on, the service's; the callback's
    // type must be `Send` all the same.
    let weak = SendWeak::new(host);
    tls.connect_accept_certificate(move |tls, peer_certificate, errors| {
        // glib-networking asks a server about every client certificate, verified or not.
        errors.is_empty()
            || weak.upgrade().is_some_and(|host| {
                host.accept_certificate(tls.upcast_ref(), peer_certificate, errors)
            })
    });
    Ok(tls)
}

/// Says once why every TLS connection fails where no TLS backend is installed.
fn warn_once_if_unavailable() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !gio::TlsBackend::default().supports_tls() && !WARNED.swap(true, Ordering::Relaxed) {
        glib::g_warning!(
            LOG_DOMAIN,
            "A TLS certificate is set but GIO has no TLS backend (install glib-networking): \
             every connection fails its handshake"
        );
    }
}
