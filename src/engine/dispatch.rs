//! The path of a connection, on the service's context: a listening socket is readable, clients
//! are taken off its backlog, and each is handed out — wrapped and counted, then taken through
//! its stages in order: its PROXY protocol header if the service expects one, its TLS
//! ClientHello if its certificate is chosen by name, its TLS handshake if there is one, and the
//! host's `incoming`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gio::prelude::*;

use super::accept::Failure;
use super::arriving::Arriving;
use super::gate::Refused;
use super::state::{AcceptMode, Lifecycle, State};
use super::{Changes, Engine, Host, credentials, gate, hello, proxy, tls};
use crate::connection::{self, Shared};
use crate::log::{LOG_DOMAIN, debug};
use crate::refusal::Refusal;
use crate::socket_settings::{Origin, Resolved};
use crate::sys::{self, SendObject, SendWeak};

/// How a dispatch serves a listening socket's clients.
struct Serving {
    /// The most clients to hand out per dispatch.
    most: usize,
    /// What the socket's connections are served with.
    resolved: Arc<Resolved>,
    /// What they share: where they report their close, where they come from.
    shared: Arc<Shared>,
    /// The socket's id; `None` for the listener's accepts.
    listening: Option<u32>,
}

/// The stages of a connection's way to `incoming`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Credentials,
    ProxyHeader,
    ClientHello,
    Tls,
    Incoming,
}

impl Engine {
    /// A source on `context`, the service's, that serves the listening socket `id` when
    /// readable.
    pub(super) fn watch<H: Host>(
        host: &H,
        context: &glib::MainContext,
        id: u32,
        socket: &gio::Socket,
    ) -> glib::Source {
        let weak = SendWeak::new(host);
        let source = SocketExtManual::create_source(
            socket,
            glib::IOCondition::IN,
            None::<&gio::Cancellable>,
            Some("[usher] accept"),
            glib::Priority::DEFAULT,
            move |_, _| match weak.upgrade() {
                Some(host) => {
                    Self::serve(&host, id);
                    glib::ControlFlow::Continue
                }
                None => glib::ControlFlow::Break,
            },
        );
        source.attach(Some(context));
        source
    }

    /// Serves socket `id`, which is readable or has clients waiting: takes every client off its
    /// backlog that the service has room for (all of a burst: it is cheap, and keeps the kernel
    /// from dropping new ones), then hands them out, which is not (the handlers run). At most the
    /// socket's `most` of each per dispatch: the others wait for a later iteration, so that the
    /// rest of the context runs in between.
    fn serve<H: Host>(host: &H, id: u32) {
        let engine = host.engine();
        let Some((socket, serving)) = engine.state().listening(id, engine) else {
            return;
        };
        // Under the lock, so that `stop()` from another thread is strictly before or after.
        // Taking in may be paused (no room, a backoff) while clients taken in earlier wait.
        let mut intake = engine.state().take_in(id).unwrap_or_default();
        if intake.closed {
            // Noticed by the reconcile, which stops the service if it was the last.
            Self::update(host, |_| ());
            return;
        }
        for (error, failure) in std::mem::take(&mut intake.failures) {
            Self::accept_failed(host, error, failure);
        }
        for refused in std::mem::take(&mut intake.refusals) {
            Self::refuse(host, refused);
        }

        let source_object = sys::listener_source_object(&socket);
        let mut changes = Changes::default();
        let mut handed_out = 0;
        while handed_out < serving.most {
            let Some(client) = engine.state().next_waiting(id) else {
                break;
            };
            handed_out += 1;
            match gio::Socket::from_fd(client.fd) {
                Ok(socket) => changes.merge(Self::hand_out(
                    host,
                    socket,
                    client.peer,
                    &source_object,
                    &serving,
                )),
                Err(error) => {
                    engine.state().dropped(client.peer);
                    Self::accept_failed(host, error, Failure::Transient);
                }
            }
        }
        if intake.taken > 1 {
            debug!(
                "socket {id}: took {} clients in, handed {handed_out} out",
                intake.taken
            );
        }

        Self::update(host, |state| {
            // Only now, with those handed out counted live: a shutdown waits for them.
            state.forget_drained();
            if state.has_waiting_on(id) && state.may_hand_out() && state.resume.is_none() {
                state.resume = Some(Self::resume(host, &state.home.context));
            }
        });
        host.notify_changes(changes);
    }

    /// A source that serves, in the next iteration of `context`, the service's, every socket
    /// with clients taken in and not yet handed out.
    pub(super) fn resume<H: Host>(host: &H, context: &glib::MainContext) -> glib::Source {
        let weak = SendWeak::new(host);
        let resume = glib::idle_source_new(
            Some("[usher] hand out"),
            glib::Priority::DEFAULT,
            move || {
                if let Some(host) = weak.upgrade() {
                    let waiting = {
                        let mut state = host.engine().state();
                        state.resume = None;
                        state.sockets_with_waiting()
                    };
                    for id in waiting {
                        Self::serve(&host, id);
                    }
                }
                glib::ControlFlow::Break
            },
        );
        resume.attach(Some(context));
        resume
    }

    /// Wraps a new client in a counted connection and takes it on its way to `incoming`, to
    /// be served as `serving` says. Returns the properties that changed.
    fn hand_out<H: Host>(
        host: &H,
        socket: gio::Socket,
        peer: Option<IpAddr>,
        source_object: &Option<glib::Object>,
        serving: &Serving,
    ) -> Changes {
        let engine = host.engine();
        let key = engine
            .state()
            .counted(SendObject::new(socket.clone()), peer);
        let connection = connection::new_tracked(&socket, serving.shared.clone(), key);
        let arriving = Arriving {
            connection: SendObject::new(connection),
            key,
            peer,
            source_object: source_object.clone().map(SendObject::new),
            proxy_info: None,
            client_hello: None,
            tls_started: None,
            credentials: None,
            settings: serving.resolved.clone(),
            listening: serving.listening,
        };
        Self::advance(host, arriving, Stage::Credentials);
        Changes {
            n_connections: true,
            n_accepted: true,
            ..Changes::default()
        }
    }

    /// Takes `arriving` through `stage`, or, where the service has nothing to do there, on to
    /// the next; a stage that waits (for a header, a handshake) comes back here when done.
    pub(super) fn advance<H: Host>(host: &H, mut arriving: Arriving, stage: Stage) {
        match stage {
            Stage::Credentials => match credentials::check(host, &arriving) {
                Ok(credentials) => {
                    arriving.credentials = credentials;
                    Self::advance(host, arriving, Stage::ProxyHeader)
                }
                Err(error) => Self::refuse_arriving(host, &arriving, error, Refusal::Credentials),
            },
            Stage::ProxyHeader => {
                match proxy::expectation(&arriving.settings.proxy, arriving.peer) {
                    Some((expect, timeout)) => {
                        proxy::read(host, expect, timeout, arriving, |host, arriving| {
                            Self::advance(host, arriving, Stage::ClientHello)
                        })
                    }
                    None => Self::advance(host, arriving, Stage::ClientHello),
                }
            }
            Stage::ClientHello => {
                if hello::wanted(host, &arriving.settings.tls) {
                    hello::read(host, arriving, |host, arriving| {
                        Self::advance(host, arriving, Stage::Tls)
                    })
                } else {
                    Self::advance(host, arriving, Stage::Tls)
                }
            }
            Stage::Tls => {
                if arriving.settings.tls.serves() {
                    tls::handshake(host, arriving, |host, arriving| {
                        Self::advance(host, arriving, Stage::Incoming)
                    })
                } else {
                    Self::advance(host, arriving, Stage::Incoming)
                }
            }
            Stage::Incoming => {
                let dropped = {
                    let state = host.engine().state();
                    // A shutdown hands out the connections in a stage. A listener the
                    // application closed without one (`g_socket_listener_close()`) hands out
                    // nothing more, as before; nor does one whose connection
                    // `close_connections()` let go of in its stage.
                    state.lifecycle == Lifecycle::Closed || !state.registry.is_counted(arriving.key)
                };
                if dropped {
                    debug!("a connection completed its stages after its service closed it: closed");
                    let _ = arriving.connection.close(gio::Cancellable::NONE);
                    return;
                }
                // The I/O timeout starts now: the stages have their own.
                if arriving.settings.timeout != 0 {
                    arriving
                        .connection
                        .socket()
                        .set_timeout(arriving.settings.timeout);
                }
                if let Some(info) = &arriving.proxy_info {
                    info.attach(&arriving.connection);
                }
                if let Some(hello) = &arriving.client_hello {
                    hello.attach(&arriving.connection);
                }
                if let Some(credentials) = arriving.credentials.take() {
                    credentials::attach(&arriving.connection, credentials);
                }
                host.incoming(&arriving.connection, arriving.source_object.as_deref());
            }
        }
    }

    /// Closes a connection on its way to `incoming`, and reports why it was refused.
    pub(super) fn refuse_arriving<H: Host>(
        host: &H,
        arriving: &Arriving,
        error: glib::Error,
        reason: Refusal,
    ) {
        let _ = arriving.connection.close(gio::Cancellable::NONE);
        Self::refuse(
            host,
            Refused {
                error,
                reason,
                peer: arriving.peer,
            },
        );
    }

    /// Counts and reports a connection refused.
    pub(super) fn refuse<H: Host>(host: &H, refused: Refused) {
        Self::update(host, |state| {
            state.n_accept_errors += 1;
            state.gate.refused.count(refused.reason);
        });
        debug!("{}", refused.error.message());
        host.refused(refused.peer, refused.reason, &refused.error);
        Self::report_failure(host, &refused.error);
    }

    /// Counts and reports a failed accept, or a client refused; on exhaustion, pauses accepting
    /// for a while.
    pub(super) fn accept_failed<H: Host>(host: &H, error: glib::Error, failure: Failure) {
        Self::update(host, |state| {
            Self::record_failure(host, state, &error, failure)
        });
        Self::report_failure(host, &error);
    }

    /// Counts a failed accept; on exhaustion, pauses accepting for a while.
    fn record_failure<H: Host>(host: &H, state: &mut State, error: &glib::Error, failure: Failure) {
        state.n_accept_errors += 1;
        if failure == Failure::Persistent {
            let delay = state.backoff.next_delay();
            debug!("accepting paused for {delay:?}: {}", error.message());
            state.backoff.timer = Some(Self::backoff_timer(host, &state.home.context, delay));
        } else {
            debug!("{}", error.message());
        }
    }

    /// Tells the application about a failed accept, once counted.
    fn report_failure<H: Host>(host: &H, error: &glib::Error) {
        host.notify_changes(Changes {
            n_accept_errors: true,
            ..Changes::default()
        });
        host.accept_error(error);
    }

    fn backoff_timer<H: Host>(
        host: &H,
        context: &glib::MainContext,
        delay: Duration,
    ) -> glib::Source {
        let weak = SendWeak::new(host);
        let timer = glib::timeout_source_new(
            delay,
            Some("[usher] accept backoff"),
            glib::Priority::DEFAULT,
            move || {
                if let Some(host) = weak.upgrade() {
                    Self::update(&host, |state| state.backoff.timer = None);
                }
                glib::ControlFlow::Break
            },
        );
        timer.attach(Some(context));
        timer
    }

    /// Accepts one connection through `g_socket_listener_accept_socket_async()`, for listeners
    /// with sockets the service was not told about, on the service's context.
    pub(super) fn accept_through_listener<H: Host>(host: &H, cancellable: gio::Cancellable) {
        let weak = SendWeak::new(host);
        let listener = SendObject::new(host.upcast_ref::<gio::SocketListener>().clone());
        let context = host.engine().context();
        context.clone().invoke(move || {
            let accepting = cancellable.clone();
            // `invoke()` runs here when this thread owns the context, which need not be its
            // thread-default one, where the accept's sources go.
            let started = context.with_thread_default(|| {
                sys::accept_socket_async(&listener, &cancellable, move |result| {
                    if let Some(host) = weak.upgrade() {
                        Self::listener_accepted(&host, &accepting, result);
                    }
                })
            });
            if started.is_err() {
                glib::g_critical!(LOG_DOMAIN, "Cannot acquire the service's main context");
            }
        });
    }

    fn listener_accepted<H: Host>(
        host: &H,
        cancellable: &gio::Cancellable,
        result: Result<(gio::Socket, Option<glib::Object>), glib::Error>,
    ) {
        let (socket, source_object) = match result {
            Ok(accepted) => accepted,
            Err(error) => {
                let cancelled = error.matches(gio::IOErrorEnum::Cancelled);
                let closed = error.matches(gio::IOErrorEnum::Closed);
                let was_active = Self::update(host, |state| {
                    state.end_listener_accept(cancellable);
                    if closed {
                        return state.close_for_good();
                    }
                    if !cancelled {
                        // GLib's errors do not tell a client that gave up from a process out of
                        // descriptors: pause briefly rather than retry at once.
                        Self::record_failure(host, state, &error, Failure::Persistent);
                    }
                    false
                });
                if was_active {
                    host.notify_changes(Changes::ACTIVE);
                }
                if !closed && !cancelled {
                    Self::report_failure(host, &error);
                }
                return;
            }
        };
        let peer = socket
            .remote_address()
            .ok()
            .and_then(|address| address.downcast::<gio::InetSocketAddress>().ok())
            .map(|address| sys::canonical_ip(IpAddr::from(address.address())));
        if peer.is_some() && !super::accept::glib_sets_no_delay() {
            // As GLib ≥ 2.80 does for every TCP socket: no delay for small writes. The service's
            // own sockets pass it on (see `accept::pass_on_no_delay`); these are not its own.
            let _ = socket.set_option(libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        }
        let admitted = Self::update(host, |state| {
            state.end_listener_accept(cancellable);
            state.backoff.reset();
            let resolved = state.fallback();
            let trusted = proxy::trusts(&resolved.proxy, peer);
            state
                .gate
                .at_accept(
                    None,
                    &resolved.admission,
                    peer,
                    trusted,
                    &mut std::time::Instant::now,
                )
                .map_err(|reason| (gate::refused(reason, peer), reason))?;
            let max = if trusted {
                0
            } else {
                state.limits.max_per_peer
            };
            state.registry.admit(peer, max).map_err(|count| {
                (
                    super::registry::refusal(peer, None, count),
                    Refusal::PeerCap,
                )
            })?;
            state.in_hand += 1;
            Ok(Serving {
                most: 1,
                resolved,
                shared: Arc::new(Shared {
                    sink: host.engine().clone(),
                    origin: Origin::new(None, &state.defaults),
                }),
                listening: None,
            })
        });
        match admitted {
            Ok(serving) => {
                let changes = Self::hand_out(host, socket, peer, &source_object, &serving);
                host.notify_changes(changes);
            }
            Err((error, reason)) => {
                let _ = socket.close();
                Self::refuse(
                    host,
                    Refused {
                        error,
                        reason,
                        peer,
                    },
                );
            }
        }
    }
}

impl State {
    /// The accept through the listener with `cancellable` completed.
    fn end_listener_accept(&mut self, cancellable: &gio::Cancellable) {
        if let AcceptMode::Listener { in_flight } = &mut self.mode
            && in_flight.as_ref() == Some(cancellable)
        {
            *in_flight = None;
        }
    }

    /// Socket `id`, and how to serve it now, if the service serves it; `engine` is the service's.
    fn listening(
        &mut self,
        id: u32,
        engine: &Arc<Engine>,
    ) -> Option<(SendObject<gio::Socket>, Serving)> {
        (self.lifecycle != Lifecycle::Closed).then_some(())?;
        let Self {
            sockets,
            draining,
            defaults,
            ..
        } = self;
        let listening = sockets
            .iter_mut()
            .chain(draining)
            .find(|listening| listening.id == id)?;
        let serving = Serving {
            most: listening.most,
            resolved: listening.resolved(defaults).clone(),
            shared: listening.shared(defaults, || engine.clone()),
            listening: Some(id),
        };
        Some((listening.socket.clone(), serving))
    }
}
