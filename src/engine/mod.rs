//! The accept engine: everything a service does between a client's arrival in a listening
//! socket's backlog and the `incoming` signal that hands its connection to the application.
//!
//! The path of one connection runs one way through it: a socket's source fires
//! ([`dispatch`]), clients are taken off the backlog ([`State::take_in`], one `accept(2)` each,
//! [`accept`]), each is wrapped in a connection that reports its close ([`crate::connection`]),
//! counted ([`registry`]), then taken through its stages ([`Engine::advance`]): its PROXY
//! protocol header if it comes from a trusted balancer ([`proxy`]), its TLS ClientHello if its
//! certificate is chosen by name ([`hello`]), both read as the connection starts
//! ([`early_read`]), its TLS handshake if the service has a certificate ([`tls`]), and the
//! [`Host`], the GObject, which emits `incoming`.
//!
//! Where it departs from GLib's `gsocketservice.c`:
//!
//! * GLib keeps one `g_socket_listener_accept_async()` in flight and accepts one connection per
//!   main-loop turn. The engine learns the listening sockets from `GSocketListener`'s `event`
//!   vfunc (`LISTENED`) and watches each with its own `GSocketSource` on the service's context,
//!   taking every waiting client in per readiness, until `accept()` finds the
//!   backlog empty or the service has no more room (at most the socket's backlog, or 64, per
//!   dispatch).
//! * Every change of the state goes through [`Engine::update`]: lock, change, [reconcile]
//!   (attach or destroy the sources, take or release the self-reference), unlock, then run what
//!   must wait for the unlock (notifications; Usher's log messages wait for any unlock, see
//!   [`Locked`]). Stopping destroys the sources before any `accept()` can run, and clients
//!   already taken in wait for `start()`, so a waiting client is never lost (GLib can drop one:
//!   bug B6). A service started before it has any socket starts
//!   accepting when one is added (GLib wedges: bug B5).
//! * Which context accepts is GLib's rule, but for one guard: the service accepts on the
//!   thread-default context of the thread that created it, until a thread that pushed a
//!   thread-default context of its own begins its accepting (adds the first socket to an active
//!   service, or starts a stopped one with sockets, or with none yet): from then on it accepts
//!   and emits there, as GLib does ([`Engine::follow_caller`]). A thread with no context of its
//!   own (a worker, whose thread-default context is the global default) moves nothing, where
//!   GLib moves accepting to the global default context (bug B7).
//! * What happens off the service's context, or inside another object's finalization (a
//!   connection closed or finalized, a threaded job ended, the self-reference let go), is posted
//!   to the engine's mailbox and acted on in a later iteration of the service's context: no
//!   callback runs inside another object's `dispose`/`finalize` or on a thread that only dropped
//!   a reference, and no call finalizes the service inside itself.
//! * A failed accept is reported and the service keeps serving: transient errors are retried at
//!   once, resource exhaustion pauses accepting with a growing backoff instead of spinning
//!   (GLib: bug B1); a listener closed under the service stops it cleanly (GLib: bug B2).
//!
//! [reconcile]: Engine::update

mod accept;
mod arriving;
mod backoff;
mod controls;
mod credentials;
mod dispatch;
mod early_read;
mod gate;
mod handshakes;
mod hello;
mod listening;
mod proxy;
mod registry;
mod state;
mod tls;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;

use gio::prelude::*;

use crate::client_hello::ClientHello;
use crate::connection::CloseSink;
use crate::log::{Deferral, debug};
use crate::refusal::Refusal;
use crate::socket_settings::{SocketSettings, Watcher};
use crate::sys::{SendObject, SendWeak, Wakeup};
pub(crate) use credentials::checked as checked_credentials;
pub(crate) use listening::{Adding, Served, UnixFile};
pub(crate) use state::Lifecycle;
use state::{AcceptMode, Home, State};

/// The most connections taken in from one socket in one main-loop dispatch is this, or the
/// socket's listen backlog when larger (as asyncio does): one dispatch can then empty a full
/// backlog before the kernel drops new clients, and other sources still run between dispatches.
const ACCEPT_BATCH: usize = 64;

/// What the engine needs of the GObject it serves: its signals.
pub(crate) trait Host: IsA<gio::SocketListener> + IsA<glib::Object> {
    fn engine(&self) -> &Arc<Engine>;

    /// Emits `incoming` for a new connection.
    fn incoming(&self, connection: &gio::SocketConnection, source_object: Option<&glib::Object>);

    /// Emits `accept-error`.
    fn accept_error(&self, error: &glib::Error);

    /// Emits `accept-certificate`: whether the application accepts `peer_certificate`.
    fn accept_certificate(
        &self,
        connection: &gio::TlsConnection,
        peer_certificate: &gio::TlsCertificate,
        errors: gio::TlsCertificateFlags,
    ) -> bool;

    /// Emits `refused`: a connection from `peer` was refused for `reason`.
    fn refused(&self, peer: Option<std::net::IpAddr>, reason: Refusal, error: &glib::Error);

    /// Whether `accept-credentials` has something to decide: a handler, or a class handler of
    /// a subclass.
    fn decides_credentials(&self) -> bool;

    /// Emits `accept-credentials`: whether the application accepts the peer whose process has
    /// `credentials`.
    fn accept_credentials(
        &self,
        connection: &gio::SocketConnection,
        credentials: &gio::Credentials,
    ) -> bool;

    /// Whether `select-certificate` has something to decide: a handler, or a class handler of
    /// a subclass.
    fn selects_certificate(&self) -> bool;

    /// Emits `select-certificate`: the certificate the application chooses for a client whose
    /// ClientHello said `hello`, if it chooses one.
    fn select_certificate(
        &self,
        connection: &gio::SocketConnection,
        hello: &ClientHello,
    ) -> Option<gio::TlsCertificate>;

    /// Notifies the properties in `changes`, if anyone listens.
    fn notify_changes(&self, changes: Changes);
}

/// Properties whose value changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changes {
    pub active: bool,
    pub n_connections: bool,
    pub n_accepted: bool,
    pub n_accept_errors: bool,
    pub overloaded: bool,
}

impl Changes {
    /// `active` changed.
    const ACTIVE: Changes = Changes {
        active: true,
        n_connections: false,
        n_accepted: false,
        n_accept_errors: false,
        overloaded: false,
    };

    fn merge(&mut self, other: Changes) {
        self.active |= other.active;
        self.n_connections |= other.n_connections;
        self.n_accepted |= other.n_accepted;
        self.n_accept_errors |= other.n_accept_errors;
        self.overloaded |= other.overloaded;
    }
}

/// A pending shutdown: called on the service's context once nothing is left to wait for.
pub(crate) type Waiter = Box<dyn FnOnce() + Send>;

/// A service's accept engine: its state, with the context everything happens on.
///
/// It is shared with the connections the service handed out, which report their close to it
/// from any thread, and outlives the service while they live.
pub(crate) struct Engine {
    state: Mutex<State>,
    /// The service's own settings, the default of every socket: `socket-settings`.
    defaults: SendObject<SocketSettings>,
}

/// The engine's state, locked. Usher's messages logged meanwhile on this thread are logged once
/// it is unlocked: a log writer that reads a property of the service would lock it again.
pub(super) struct Locked<'a> {
    state: MutexGuard<'a, State>,
    // Dropped after `state`, as fields drop in order: the messages go out unlocked.
    _deferral: Deferral,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

/// What a change of state leaves to do once the lock is released.
#[derive(Default)]
#[must_use = "run it after unlocking the state"]
pub(super) struct Effects {
    /// Notified in the calling thread, as GLib notifies `active`.
    changes: Changes,
    /// Start an accept through the listener with this cancellable, on the service's context.
    listener_accept: Option<gio::Cancellable>,
    /// Readers of an `IncomingStream` to wake: the service hands out no more connections.
    wake: Vec<Waker>,
}

impl Effects {
    fn merge(&mut self, other: Effects) {
        self.changes.merge(other.changes);
        self.listener_accept = self.listener_accept.take().or(other.listener_accept);
        self.wake.extend(other.wake);
    }
}

impl Engine {
    /// An engine for a service created now, on this thread's thread-default context.
    pub(crate) fn new() -> Arc<Self> {
        let defaults = SocketSettings::new();
        let engine = Arc::new(Self {
            state: Mutex::new(State::new(
                glib::MainContext::ref_thread_default(),
                defaults.clone(),
            )),
            defaults: SendObject::new(defaults),
        });
        engine
            .defaults
            .watch(Arc::downgrade(&engine) as Weak<dyn Watcher>);
        engine
    }

    /// The service's own settings: `socket-settings`.
    pub(crate) fn defaults(&self) -> &SocketSettings {
        &self.defaults
    }

    /// Binds the engine to the service it serves, once the service is constructed.
    pub(crate) fn bind<H: Host>(host: &H) {
        let mut state = host.engine().state();
        state.home.mailbox = Some(Self::mailbox(host, &state.home.context));
    }

    /// A mailbox on `context` that makes the engine read its mail there.
    fn mailbox<H: Host>(host: &H, context: &glib::MainContext) -> Wakeup {
        let weak_engine: Weak<Engine> = Arc::downgrade(host.engine());
        let weak_host = SendWeak::new(host);
        Wakeup::new(
            context,
            c"[usher] service",
            glib::Priority::DEFAULT,
            move || {
                if let Some(engine) = weak_engine.upgrade() {
                    engine.read_mail(weak_host.upgrade().as_ref());
                }
            },
        )
    }

    /// The main context the service accepts and emits on now.
    pub(crate) fn context(&self) -> glib::MainContext {
        self.state().home.context.clone()
    }

    fn state(&self) -> Locked<'_> {
        let deferral = Deferral::begin();
        Locked {
            // Nothing panics while holding the lock; never turn a poisoned lock into a panic in C.
            state: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            _deferral: deferral,
        }
    }

    fn wake_mailbox(&self) {
        self.state().home.wake();
    }

    /// GLib's service accepts on the thread-default context of the thread that begins its
    /// accepting (`do_accept()` in the thread that adds a socket or starts it): call this where
    /// the service begins accepting. If the calling thread pushed a thread-default context of
    /// its own, the service moves there: its sources, its mailbox, and so the emissions of
    /// `incoming` for the connections accepted from then on (those already in a stage, their
    /// PROXY header or TLS handshake, finish on the context they started on). A thread with no
    /// context of its own moves nothing: it would move accepting to the global default context,
    /// which such a service's application may never run (GLib's bug B7).
    fn follow_caller<H: Host>(host: &H, state: &mut State) {
        let Some(caller) = glib::MainContext::thread_default() else {
            return;
        };
        if caller == state.home.context {
            return;
        }
        debug!("accepting on the thread-default context of the thread that began accepting");
        // The reconcile that follows watches the sockets and resumes anew, on the new context.
        for listening in &mut state.sockets {
            if let Some(source) = listening.source.take() {
                source.destroy();
            }
        }
        if let Some(resume) = state.resume.take() {
            resume.destroy();
        }
        // A pause for exhausted descriptors would end on the old context: try again now.
        state.backoff.expire();
        if let AcceptMode::Listener { in_flight } = &mut state.mode
            && let Some(cancellable) = in_flight.take()
        {
            cancellable.cancel();
        }
        let mailbox = Self::mailbox(host, &caller);
        let previous = std::mem::replace(
            &mut state.home,
            Home {
                context: caller,
                mailbox: Some(mailbox),
            },
        );
        // Mail posted to the old context is read on the new one.
        state.home.wake();
        drop(previous);
    }

    /// Locks the state, applies `change`, brings the sources, the fallback accept and the
    /// self-reference in line with the new state, unlocks, and runs what had to wait for the
    /// unlock (notifications, wakers). Every change that may call for one of those goes through
    /// here; the others (counting, queueing, settings read later) only lock the state.
    pub(crate) fn update<H: Host, R>(host: &H, change: impl FnOnce(&mut State) -> R) -> R {
        let engine = host.engine();
        let (result, effects) = {
            let mut state = engine.state();
            // Before the change, so that it sees the listener as it is: a start() does not
            // start a service whose listener was closed meanwhile.
            let mut effects = Self::notice_closed_listener(&mut state);
            let result = change(&mut state);
            effects.merge(Self::reconcile(host, &mut state));
            (result, effects)
        };
        Self::run(host, effects);
        result
    }

    /// Notices a listener closed under the service (`g_socket_listener_close()`) whenever the
    /// service looks at its sockets, not only when a source fires: nothing can be accepted any
    /// more.
    fn notice_closed_listener(state: &mut State) -> Effects {
        let mut effects = Effects::default();
        if state.forget_closed_sockets() && matches!(state.mode, AcceptMode::Own) {
            effects.changes.active = state.close_for_good();
        }
        effects
    }

    fn reconcile<H: Host>(host: &H, state: &mut State) -> Effects {
        let mut effects = Self::notice_closed_listener(state);
        if state.lifecycle == Lifecycle::ShuttingDown && state.drained() {
            state.lifecycle = Lifecycle::Closed;
            // The mailbox completes the shutdown, also when no mail drained it (the last
            // client waiting could not be handed out).
            state.home.wake();
        }
        if state.hands_out_no_more() {
            // The incoming streams end.
            effects.wake.append(&mut state.stream_wakers);
        }

        effects.changes.merge(Self::notice_pauses(host, state));
        let may_take_in = state.may_take_in();
        let watched = may_take_in && matches!(state.mode, AcceptMode::Own);
        for index in 0..state.sockets.len() {
            let listening = &mut state.sockets[index];
            match (listening.source.is_some(), watched) {
                (false, true) => {
                    listening.source = Some(Self::watch(
                        host,
                        &state.home.context,
                        listening.id,
                        &listening.socket,
                    ))
                }
                (true, false) => {
                    if let Some(source) = listening.source.take() {
                        source.destroy();
                    }
                }
                _ => {}
            }
        }

        // Clients taken in before a stop are handed out after the start, never dropped.
        if !state.may_hand_out() {
            if let Some(resume) = state.resume.take() {
                resume.destroy();
            }
        } else if state.has_waiting() && state.resume.is_none() {
            state.resume = Some(Self::resume(host, &state.home.context));
        }

        let mut accepting_through_listener = false;
        if let AcceptMode::Listener { in_flight } = &mut state.mode {
            match in_flight {
                None if may_take_in => {
                    let cancellable = gio::Cancellable::new();
                    *in_flight = Some(cancellable.clone());
                    effects.listener_accept = Some(cancellable);
                }
                Some(cancellable) if !may_take_in => cancellable.cancel(),
                _ => {}
            }
            accepting_through_listener = in_flight.is_some();
        }

        // Like GLib's pending accept, an active service with sockets keeps itself alive. While an
        // accept through the listener is in flight its `GTask` holds that reference, as in GLib.
        // A shutdown keeps it alive until it has handed out every client already accepted:
        // the application may let go of it (a future dropped, the last reference in a handler).
        let serving_accepted =
            state.lifecycle == Lifecycle::ShuttingDown && !state.hands_out_no_more();
        let keep_alive = (state.accepting() && !accepting_through_listener) || serving_accepted;
        match (&state.keep_alive, keep_alive) {
            (None, true) => {
                state.keep_alive = Some(SendObject::new(host.clone().upcast::<glib::Object>()))
            }
            (Some(_), false) => {
                // Let go of it from the service's context, after the notifications: the
                // reference may be the last one, and no call may finalize the service.
                state.mail.release.extend(state.keep_alive.take());
                state.home.wake();
            }
            _ => {}
        }
        effects
    }

    /// Counts the pauses that began (at `max-connections`, for the process's sake), keeps a
    /// check of the descriptors going while they are short, and says whether `overloaded`
    /// changed.
    fn notice_pauses<H: Host>(host: &H, state: &mut State) -> Changes {
        let at_max = state.at_max_connections();
        if at_max && !state.pauses.at_max_connections {
            state.gate.refused.count(Refusal::MaxConnections);
        }
        state.pauses.at_max_connections = at_max;

        let overloaded = state.gate.overload.any();
        if state.gate.overload.descriptors {
            if state.pauses.descriptor_check.is_none() {
                state.pauses.descriptor_check =
                    Some(Self::descriptor_check(host, &state.home.context));
            }
        } else if let Some(check) = state.pauses.descriptor_check.take() {
            check.destroy();
        }
        if overloaded == state.pauses.overloaded {
            return Changes::default();
        }
        state.pauses.overloaded = overloaded;
        if overloaded {
            state.gate.refused.count(Refusal::Overload);
            debug!("accepting paused: {:?}", state.gate.overload);
        } else {
            debug!("accepting again");
        }
        Changes {
            overloaded: true,
            ..Changes::default()
        }
    }

    /// A timer that looks, every second while descriptors are short, whether they are free
    /// again (descriptors closed elsewhere than in the service's connections).
    fn descriptor_check<H: Host>(host: &H, context: &glib::MainContext) -> glib::Source {
        let weak = SendWeak::new(host);
        let timer = glib::timeout_source_new(
            std::time::Duration::from_secs(1),
            Some("[usher] descriptor check"),
            glib::Priority::DEFAULT,
            move || {
                let Some(host) = weak.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                Self::update(&host, |state| state.check_descriptors());
                glib::ControlFlow::Continue
            },
        );
        timer.attach(Some(context));
        timer
    }

    fn run<H: Host>(host: &H, effects: Effects) {
        if let Some(cancellable) = effects.listener_accept {
            Self::accept_through_listener(host, cancellable);
        }
        for waker in effects.wake {
            waker.wake();
        }
        if effects.changes != Changes::default() {
            host.notify_changes(effects.changes);
        }
    }

    /// Acts, on the service's context, on what happened elsewhere: connections closed, jobs
    /// ended, references to let go. `host` is gone once the service is.
    fn read_mail<H: Host>(self: &Arc<Self>, host: Option<&H>) {
        if std::mem::take(&mut self.state().mail.close_connections) {
            self.close_connections();
        }
        let (effects, changes, waiters, release) = {
            let mut state = self.state();
            let mail = std::mem::take(&mut state.mail);
            let mut changes = mail.changes;
            let mut closed = 0;
            for key in mail.closed {
                closed += usize::from(state.registry.remove(key));
            }
            if closed > 0 {
                debug!(
                    "{closed} connections closed, {} live",
                    state.registry.live()
                );
                changes.n_connections = true;
                // A closed connection frees a descriptor: worth retrying an exhausted accept now.
                state.backoff.expire();
                state.check_descriptors();
            }
            let effects = match host {
                Some(host) => Self::reconcile(host, &mut state),
                None => Effects::default(),
            };
            let waiters = if state.drained() {
                std::mem::take(&mut state.shutdown_waiters)
            } else {
                Vec::new()
            };
            (effects, changes, waiters, mail.release)
        };
        if let Some(host) = host {
            Self::run(host, effects);
            host.notify_changes(changes);
        }
        if !waiters.is_empty() {
            debug!("shutdown complete");
        }
        for waiter in waiters {
            waiter();
        }
        drop(release);
    }
}

/// A change of the service's settings, or of a socket's: its TCP options apply to its listening
/// sockets at once, not at their next accept.
impl Watcher for Engine {
    fn settings_changed(&self) {
        self.state().settings_changed();
    }
}

impl CloseSink for Engine {
    fn closed(&self, key: u64) {
        let socket = {
            let mut state = self.state();
            state.mail.closed.push(key);
            state.home.wake();
            state.registry.let_go(key)
        };
        // Now, not with the count: a connection finalized without a close closes its descriptor
        // in its finalization, as GLib's does (its socket runs no callbacks of ours).
        drop(socket);
    }
}
