//! The state of a service's accept engine, guarded by its one mutex, and the decisions made
//! from it alone: how much room there is, what may be accepted, what is waiting.

use std::net::IpAddr;
use std::sync::Arc;

use gio::prelude::*;

use super::accept::{Failure, Outcome, accept, client_waits};
use super::backoff::Backoff;
use super::gate::{Descriptors, Gate, Refused, refused};
use super::listening::{self, Adding, Listening};
use super::proxy::{self, Proxy};
use super::registry::{Registry, refusal};
use super::tls::Tls;
use super::{Changes, Waiter};
use crate::log::{WarningLimiter, debug};
use crate::refusal::Refusal;
use crate::socket_settings::{Resolved, SocketSettings};
use crate::sys::{self, SendObject, SendWeak, Wakeup};

/// Where the service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Stopped, or created inactive: clients wait in the kernel's backlog until a start.
    Stopped,
    /// Accepting, whenever there is room.
    Active,
    /// A shutdown closed the listener; it serves the clients already accepted and waits for
    /// the live connections to end.
    ShuttingDown,
    /// The listener is closed; the service will never accept again.
    Closed,
}

/// How the service learns of clients.
pub(super) enum AcceptMode {
    /// Sources of its own on the sockets the listener announced (its `event` vfunc).
    Own,
    /// A socket came through `g_socket_listener_add_socket()`, which announces nothing: accept
    /// through `g_socket_listener_accept_socket_async()`, as GLib does, one at a time; with the
    /// cancellable of the accept in flight, if any.
    Listener { in_flight: Option<gio::Cancellable> },
}

/// The work of a threaded service's pool.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Jobs {
    /// The most jobs that run at once; `None` for no limit.
    pub limit: Option<u32>,
    pub running: u32,
}

/// What the application set to protect the service.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Limits {
    /// `max-connections`: 0 for no limit.
    pub max_connections: u32,
    /// `max-connections-per-peer`: 0 for no limit.
    pub max_per_peer: u32,
    /// Who chose the listener's `listen-backlog`.
    pub backlog: Backlog,
}

/// Who chose the listener's `listen-backlog` (`g_socket_listener_set_backlog()` does not
/// notify: a value other than GLib's default tells too, see `Engine::listen_backlog`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backlog {
    /// Nobody: GLib's default.
    #[default]
    Default,
    /// The service is constructed: `g_object_new()` is about to notify the property it set
    /// (to its default, or to a value given), which says nothing of the application's choice.
    Constructed,
    /// The application set the property.
    Chosen,
}

/// A socket the listener announced, to adopt with its settings and name.
struct Announced {
    socket: SendWeak<gio::Socket>,
    adding: Adding,
}

/// What happened off the service's context, for it to act on in its next iteration.
#[derive(Default)]
pub(super) struct Mail {
    /// Keys of connections that reported their close.
    pub closed: Vec<u64>,
    /// References the service held to itself, to drop after everything else.
    pub release: Vec<SendObject<glib::Object>>,
    /// Properties to notify.
    pub changes: Changes,
    /// `close_connections()` was called from another thread.
    pub close_connections: bool,
}

/// What a dispatch found in a socket's backlog.
#[derive(Default)]
pub(super) struct Intake {
    pub taken: usize,
    /// The listening socket was closed under the service.
    pub closed: bool,
    pub failures: Vec<(glib::Error, Failure)>,
    /// Clients closed at once: why, and their peers.
    pub refusals: Vec<Refused>,
}

/// The pauses of accepting the service noticed last: to count each once, and notify
/// `overloaded` when it changes.
#[derive(Default)]
pub(super) struct Pauses {
    pub at_max_connections: bool,
    pub overloaded: bool,
    /// Looks whether descriptors are free again, while they are short.
    pub descriptor_check: Option<glib::Source>,
    /// Ends the memory pressure when no warning came for a while.
    pub memory_quiet: Option<glib::Source>,
}

/// The main context the service accepts and emits on, and its mailbox there.
///
/// It is the thread-default context of the thread that created the service, until a thread
/// that pushed a thread-default context of its own begins the service's accepting there (see
/// [`Engine::follow_caller`](super::Engine)).
pub(super) struct Home {
    pub context: glib::MainContext,
    /// Brings the engine to its context to act on what happened elsewhere; `None` until the
    /// service is constructed.
    pub mailbox: Option<Wakeup>,
}

impl Home {
    /// Makes the engine read its mail in a later iteration of its context; safe from any
    /// thread, and under the state's lock (it calls nothing of the engine's).
    pub fn wake(&self) {
        if let Some(mailbox) = &self.mailbox {
            mailbox.wake();
        }
    }
}

pub(crate) struct State {
    pub lifecycle: Lifecycle,
    pub(super) home: Home,
    pub(super) mode: AcceptMode,
    /// Sockets announced by the `event` vfunc, waiting for the `changed` that adds them.
    announced: Vec<Announced>,
    /// The settings of the sockets an `add_*()` in progress adds, and their name.
    pub(super) adding: Option<Adding>,
    /// The settings of the sockets named so, for those adopted later.
    named: Vec<(String, SendObject<SocketSettings>)>,
    /// The service's own settings, the default of every socket.
    pub(super) defaults: SendObject<SocketSettings>,
    /// What connections accepted through the listener are served with (their socket is not
    /// known), resolved from the versions of the service's settings given.
    fallback: (Arc<Resolved>, (u64, u64)),
    pub(super) sockets: Vec<Listening>,
    /// Sockets a shutdown closed with clients still waiting in their queue: kept, unwatched,
    /// until those are handed out, as a shutdown serves every client already taken in.
    pub(super) draining: Vec<Listening>,
    /// Clients taken off a queue and not yet counted live, between the two locks of a hand-out:
    /// a shutdown from another thread meanwhile still serves them.
    pub(super) in_hand: usize,
    next_id: u32,
    /// Brings the service back, in the next main-loop iteration, to hand out clients it took
    /// in and had no time for yet.
    pub(super) resume: Option<glib::Source>,
    pub(super) backoff: Backoff,
    pub(super) limits: Limits,
    pub(super) registry: Registry,
    pub(super) jobs: Option<Jobs>,
    pub(super) tls: Tls,
    pub(super) proxy: Proxy,
    /// Who gets in, and the service's overload.
    pub(super) gate: Gate,
    /// How close the process is to its descriptor limit.
    pub(super) descriptors: Descriptors,
    /// The pauses in progress, as last noticed.
    pub(super) pauses: Pauses,
    pub(super) n_accepted: u64,
    pub(super) n_accept_errors: u64,
    pub(super) warnings: WarningLimiter,
    /// The reference an accepting service holds to itself, as GLib's pending `GTask` does, and
    /// a shutting down one while it has clients to hand out.
    pub(super) keep_alive: Option<SendObject<glib::Object>>,
    pub(super) mail: Mail,
    /// The shutdowns waiting for the last connection to end.
    pub(super) shutdown_waiters: Vec<Waiter>,
    /// Readers of an `IncomingStream`, to wake once the service hands out no more
    /// connections.
    pub(super) stream_wakers: Vec<std::task::Waker>,
}

impl State {
    pub(super) fn new(context: glib::MainContext, defaults: SocketSettings) -> Self {
        let fallback = listening::resolve(None, &defaults);
        Self {
            // GLib's services are active from `init`; the `active` construct property may change it.
            lifecycle: Lifecycle::Active,
            home: Home {
                context,
                mailbox: None,
            },
            mode: AcceptMode::Own,
            announced: Vec::new(),
            adding: None,
            named: Vec::new(),
            defaults: SendObject::new(defaults),
            fallback,
            sockets: Vec::new(),
            draining: Vec::new(),
            in_hand: 0,
            next_id: 0,
            resume: None,
            backoff: Backoff::default(),
            limits: Limits::default(),
            registry: Registry::default(),
            jobs: None,
            tls: Tls::default(),
            proxy: Proxy::default(),
            gate: Gate::default(),
            descriptors: Descriptors::default(),
            pauses: Pauses::default(),
            n_accepted: 0,
            n_accept_errors: 0,
            warnings: WarningLimiter::default(),
            keep_alive: None,
            mail: Mail::default(),
            shutdown_waiters: Vec::new(),
            stream_wakers: Vec::new(),
        }
    }

    /// Whether nothing the service handed out is still alive, and no client it took in still
    /// waits to be handed out: a shutdown may complete. (Connections in a stage are live.)
    pub(super) fn drained(&self) -> bool {
        self.registry.live() == 0
            && self.jobs.is_none_or(|jobs| jobs.running == 0)
            && self.draining.is_empty()
            && self.in_hand == 0
    }

    /// Whether the service will hand out no more connections: its listener is closed and, in a
    /// shutdown, no client it took in still waits or is in a stage (its PROXY protocol header,
    /// its ClientHello, its TLS handshake).
    pub(super) fn hands_out_no_more(&self) -> bool {
        match self.lifecycle {
            Lifecycle::Closed => true,
            Lifecycle::ShuttingDown => {
                self.draining.is_empty()
                    && self.in_hand == 0
                    && self.proxy.reads.len() == 0
                    && self.tls.handshakes == 0
            }
            Lifecycle::Active | Lifecycle::Stopped => false,
        }
    }

    /// Whether the service has begun accepting: it is active and has a socket to accept on
    /// (GLib's service then has an accept outstanding).
    pub(super) fn accepting(&self) -> bool {
        self.lifecycle == Lifecycle::Active
            && match self.mode {
                AcceptMode::Own => !self.sockets.is_empty(),
                AcceptMode::Listener { .. } => true,
            }
    }

    /// Whether `max-connections` holds new clients back now.
    pub(super) fn at_max_connections(&self) -> bool {
        let max = self.limits.max_connections as usize;
        max != 0 && self.registry.live() as usize + self.waiting() >= max
    }

    /// Ends the pause for descriptors, if they are free again.
    pub(super) fn check_descriptors(&mut self) {
        if self.gate.overload.descriptors && self.descriptors.are_free_again() {
            self.gate.overload.descriptors = false;
        }
    }

    /// Whether the service hands out the clients it has taken in: while active, and in a
    /// shutdown, which serves every client already taken in.
    pub(super) fn may_hand_out(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Active | Lifecycle::ShuttingDown)
    }

    /// Whether the service takes clients off its sockets' backlogs now.
    pub(super) fn may_take_in(&self) -> bool {
        self.lifecycle == Lifecycle::Active
            && self.backoff.timer.is_none()
            && !self.gate.overload.any()
            && self.room() > 0
    }

    /// Every socket that may have clients waiting: those served, and those a shutdown closed.
    fn listenings(&self) -> impl Iterator<Item = &Listening> {
        self.sockets.iter().chain(&self.draining)
    }

    /// Clients taken in from every socket and not yet handed out.
    fn waiting(&self) -> usize {
        self.listenings()
            .map(|listening| listening.waiting.len())
            .sum()
    }

    pub(super) fn has_waiting(&self) -> bool {
        self.listenings()
            .any(|listening| !listening.waiting.is_empty())
    }

    /// How many more clients the service may take in: live and waiting connections stay within
    /// `max-connections`, and clients waiting for a thread, or in a stage (their PROXY protocol
    /// header, their TLS handshake), within the threaded service's free threads.
    fn room(&self) -> usize {
        let waiting = self.waiting();
        let connections = (self.limits.max_connections != 0).then(|| {
            (self.limits.max_connections as usize)
                .saturating_sub(self.registry.live() as usize + waiting)
        });
        let threads = self.jobs.and_then(|jobs| {
            let limit = jobs.limit? as usize;
            let in_stages = self.proxy.reads.len() + self.tls.handshakes() as usize;
            let coming = jobs.running as usize + waiting + in_stages;
            Some(limit.saturating_sub(coming))
        });
        connections
            .into_iter()
            .chain(threads)
            .min()
            .unwrap_or(usize::MAX)
    }

    /// Socket `id`, served or closed by a shutdown with clients waiting.
    fn listening_mut(&mut self, id: u32) -> Option<&mut Listening> {
        self.sockets
            .iter_mut()
            .chain(&mut self.draining)
            .find(|listening| listening.id == id)
    }

    /// Takes clients off the backlog of socket `id` into its waiting queue until the backlog is
    /// empty, in at most the socket's `most` calls of `accept()` and as many clients as the
    /// service has room for (stopping earlier would leave clients for a later iteration, which
    /// costs more than the `accept()` that finds the backlog empty); a client whose peer is at
    /// `max-connections-per-peer` is closed at once and reported. `None` if the service does
    /// not accept on that socket now.
    pub(super) fn take_in(&mut self, id: u32) -> Option<Intake> {
        if !self.may_take_in() || !matches!(self.mode, AcceptMode::Own) {
            return None;
        }
        let room = self.room();
        let max_per_peer = self.limits.max_per_peer;
        let Self {
            sockets,
            registry,
            defaults,
            gate,
            descriptors,
            ..
        } = self;
        // Only a socket the service watches: one it stopped watching is not served now.
        let listening = sockets
            .iter_mut()
            .find(|listening| listening.id == id && listening.source.is_some())?;
        let resolved = listening.resolved(defaults).clone();
        let wanted = listening.most.min(room);
        let mut intake = Intake::default();
        // The time, once, for the dispatch: read only if a rate needs it.
        let mut instant = None;
        let mut now = || *instant.get_or_insert_with(std::time::Instant::now);
        // Refusals and failures count too: a flood of either cannot hold the dispatch.
        for attempt in 0..wanted {
            // The first accept() is the one the socket's readiness called for. If no other
            // client waits now, as when clients come one at a time, stop without an accept()
            // that finds the backlog empty (see `client_waits`); if one does, this is a burst,
            // taken until empty.
            if attempt == 1 && !client_waits(&listening.socket) {
                listening.no_delay_each = false;
                break;
            }
            match accept(&listening.socket, listening.no_delay_each) {
                Outcome::Client(client) => {
                    let peer = client.peer;
                    let near_limit = descriptors.is_near_limit(&client.fd);
                    let trusted = proxy::trusts(&resolved.proxy, peer);
                    let admitted = gate
                        .at_accept(Some(id), &resolved.admission, peer, trusted, &mut now)
                        .map_err(|reason| (refused(reason, peer), reason))
                        .and_then(|()| {
                            let max = if trusted { 0 } else { max_per_peer };
                            registry
                                .admit(peer, max)
                                .map_err(|count| (refusal(peer, None, count), Refusal::PeerCap))
                        });
                    match admitted {
                        Ok(()) => {
                            listening.waiting.push_back(client);
                            intake.taken += 1;
                        }
                        // Closed at once: the client holds up nobody.
                        Err((error, reason)) => intake.refusals.push(Refused {
                            error,
                            reason,
                            peer,
                        }),
                    }
                    if near_limit {
                        // Before the limit, not after it: the backlog holds the others.
                        gate.overload.descriptors = true;
                        break;
                    }
                }
                Outcome::Empty => {
                    listening.no_delay_each = false;
                    break;
                }
                Outcome::Closed => {
                    intake.closed = true;
                    break;
                }
                Outcome::Failed(error, failure) => {
                    intake.failures.push((error, failure));
                    if failure == Failure::Persistent {
                        break;
                    }
                }
            }
        }
        if intake.taken > 0 {
            self.backoff.reset();
        }
        Some(intake)
    }

    /// Counts connections per peer while `max-connections-per-peer` is set, and only then:
    /// starts, counting those live and taken in, or stops.
    pub(super) fn count_peers(&mut self) {
        let counted = self.limits.max_per_peer != 0;
        let Self {
            sockets,
            draining,
            registry,
            ..
        } = self;
        let waiting = sockets
            .iter()
            .chain(&*draining)
            .flat_map(|listening| listening.waiting.iter().map(|client| client.peer));
        registry.count_peers(counted.then_some(waiting));
    }

    /// The refusal of a connection counted under `peer`, if that puts the peer beyond its
    /// `max-connections-per-peer`.
    pub(super) fn over_cap(&self, peer: Option<IpAddr>) -> Option<glib::Error> {
        let peer = peer?;
        let (max, count) = (self.limits.max_per_peer, self.registry.peer_count(peer));
        (max != 0 && count > max).then(|| refusal(Some(peer), None, count - 1))
    }

    /// The oldest client waiting on socket `id`, to hand out now, if the service may: in hand
    /// until [`counted()`](Self::counted) or [`dropped()`](Self::dropped).
    pub(super) fn next_waiting(&mut self, id: u32) -> Option<sys::Accepted> {
        if !self.may_hand_out() {
            return None;
        }
        let client = self.listening_mut(id)?.waiting.pop_front()?;
        self.in_hand += 1;
        Some(client)
    }

    /// Counts a client in hand as a live connection (`socket`); returns its key.
    pub(super) fn counted(&mut self, socket: SendObject<gio::Socket>, peer: Option<IpAddr>) -> u64 {
        self.in_hand -= 1;
        self.n_accepted += 1;
        self.registry.insert(socket, peer)
    }

    /// Lets go of a client in hand that could not be handed out.
    pub(super) fn dropped(&mut self, peer: Option<IpAddr>) {
        self.in_hand -= 1;
        self.registry.release(peer);
    }

    /// The ids of the sockets with clients waiting to be handed out.
    pub(super) fn sockets_with_waiting(&self) -> Vec<u32> {
        self.listenings()
            .filter(|listening| !listening.waiting.is_empty())
            .map(|listening| listening.id)
            .collect()
    }

    /// Whether clients taken in from socket `id` still wait to be handed out.
    pub(super) fn has_waiting_on(&self, id: u32) -> bool {
        self.listenings()
            .any(|listening| listening.id == id && !listening.waiting.is_empty())
    }

    /// The listener put `socket` to listening: it is adopted, with the settings of the
    /// `add_*()` in progress, at the next change.
    pub(super) fn announce(&mut self, socket: &gio::Socket) {
        let mut adding = self.adding.clone().unwrap_or_default();
        if adding.settings.is_none()
            && let Some(name) = &adding.name
        {
            adding.settings = self
                .named
                .iter()
                .find(|(named, _)| named == name)
                .map(|(_, settings)| settings.clone());
        }
        // Announced again (by the `event` signal of a socket the service made, then as its
        // own), the last announcement says how it is served.
        self.forget_announced(socket);
        self.announced.push(Announced {
            socket: SendWeak::new(socket),
            adding,
        });
    }

    pub(super) fn forget_announced(&mut self, socket: &gio::Socket) {
        self.announced
            .retain(|announced| announced.socket.upgrade().as_ref() != Some(socket));
    }

    /// What connections accepted through the listener are served with now.
    pub(super) fn fallback(&mut self) -> Arc<Resolved> {
        let defaults = &self.defaults;
        if self.fallback.1 != (0, defaults.version()) {
            self.fallback = listening::resolve(None, defaults);
        }
        self.fallback.0.clone()
    }

    /// Serves the listening `socket` with `settings` from now on (`None`: the service's);
    /// returns those it had, to let go of unlocked, or `None` if the service does not serve
    /// the socket itself.
    pub(super) fn set_socket_settings(
        &mut self,
        socket: &gio::Socket,
        settings: Option<SendObject<SocketSettings>>,
    ) -> Option<Option<SendObject<SocketSettings>>> {
        let Self {
            sockets, defaults, ..
        } = self;
        let listening = sockets
            .iter_mut()
            .find(|listening| *listening.socket == *socket)?;
        Some(listening.set_settings(settings, defaults))
    }

    /// Serves the listening sockets named `name` with `settings` from now on (`None`: the
    /// service's), and returns those they had, to let go of unlocked.
    pub(super) fn set_named_settings(
        &mut self,
        name: &str,
        settings: Option<SendObject<SocketSettings>>,
    ) -> Vec<SendObject<SocketSettings>> {
        let mut previous: Vec<_> = self
            .named
            .extract_if(.., |(named, _)| named == name)
            .map(|(_, settings)| settings)
            .collect();
        if let Some(settings) = &settings {
            self.named.push((name.to_owned(), settings.clone()));
        }
        let Self {
            sockets, defaults, ..
        } = self;
        previous.extend(
            sockets
                .iter_mut()
                .filter(|listening| listening.name.as_deref() == Some(name))
                .filter_map(|listening| listening.set_settings(settings.clone(), defaults)),
        );
        previous
    }

    /// The listening sockets the service serves itself, with their names, in the order they
    /// were added.
    pub(super) fn served(&mut self) -> Vec<listening::Served> {
        let Self {
            sockets, defaults, ..
        } = self;
        let mut served: Vec<_> = sockets
            .iter_mut()
            .map(|l| (l.id, l.served(defaults)))
            .collect();
        served.sort_by_key(|(id, _)| *id);
        served.into_iter().map(|(_, served)| served).collect()
    }

    /// `sockets` went to another process: the files the service made for them are that
    /// process's now.
    pub(super) fn give_up_files(&mut self, sockets: &[gio::Socket]) {
        for listening in &mut self.sockets {
            if sockets.contains(&*listening.socket) {
                listening.give_up_file();
            }
        }
    }

    /// Settings changed: resolves the sockets' again, and applies their TCP options.
    pub(super) fn settings_changed(&mut self) {
        let Self {
            sockets, defaults, ..
        } = self;
        for listening in sockets {
            listening.resolved(defaults);
        }
    }

    /// The listener's set of sockets changed: take in the sockets announced since the last
    /// change. If there are none, a socket came through `g_socket_listener_add_socket()`.
    pub(super) fn adopt_announced(&mut self) {
        // A socket a failed `add_*()` announced and then dropped is gone by now.
        let announced: Vec<(gio::Socket, Adding)> = self
            .announced
            .drain(..)
            .filter_map(|announced| Some((announced.socket.upgrade()?, announced.adding)))
            .collect();
        if announced.is_empty() {
            // The listener accepts from all its sockets from now on; clients taken in from
            // the service's own are still handed out.
            if matches!(self.mode, AcceptMode::Own) {
                debug!("a socket came through add_socket(): accepting through the listener");
                self.mode = AcceptMode::Listener { in_flight: None };
            }
            return;
        }
        for (socket, adding) in announced {
            let known = self
                .sockets
                .iter()
                .any(|listening| *listening.socket == socket);
            if !known && matches!(self.mode, AcceptMode::Own) {
                debug!(
                    "serving {}, listening with a backlog of {}",
                    describe(&socket),
                    socket.listen_backlog()
                );
                self.next_id += 1;
                let listening = Listening::new(self.next_id, socket, adding, &self.defaults);
                self.sockets.push(listening);
            }
        }
    }

    /// Lets go of socket `id`, which was closed under the service.
    pub(super) fn forget_socket(&mut self, id: u32) {
        if let Some(index) = self.sockets.iter().position(|listening| listening.id == id) {
            let listening = self.sockets.swap_remove(index);
            self.release_listening(listening);
            self.gate.forget_socket(id);
        }
    }

    /// Stops watching every listening socket and lets go of them, and of the clients they had
    /// waiting (which a closed listening socket would have dropped too).
    pub(super) fn forget_sockets(&mut self) {
        for listening in std::mem::take(&mut self.sockets) {
            self.release_listening(listening);
        }
        self.gate.forget_sockets();
        if let Some(resume) = self.resume.take() {
            resume.destroy();
        }
    }

    /// Lets go of the sockets a shutdown closed, and of the clients they still had waiting:
    /// `close_connections()` drops those too, and a disposed service hands nothing out.
    pub(super) fn forget_draining(&mut self) {
        for listening in std::mem::take(&mut self.draining) {
            self.release_listening(listening);
        }
    }

    /// Lets go of the sockets a shutdown closed whose clients were all handed out.
    pub(super) fn forget_drained(&mut self) {
        self.draining
            .retain(|listening| !listening.waiting.is_empty());
    }

    fn release_listening(&mut self, mut listening: Listening) {
        if let Some(source) = listening.source.take() {
            source.destroy();
        }
        for client in listening.waiting.drain(..) {
            self.registry.release(client.peer);
        }
    }

    /// The listener is closed: nothing can be accepted any more. Returns whether the service
    /// was active.
    pub(super) fn close_for_good(&mut self) -> bool {
        debug!("the listener is closed: the service stops for good");
        self.end(Lifecycle::Closed)
    }

    /// Stops accepting for good: unless the service is already shutting down or closed, moves
    /// to `ending` (either of those), and lets go of the sockets. In a shutdown, those with
    /// clients waiting are kept, unwatched, to hand these out. Returns whether the service was
    /// active.
    pub(super) fn end(&mut self, ending: Lifecycle) -> bool {
        let was_active = self.lifecycle == Lifecycle::Active;
        if matches!(self.lifecycle, Lifecycle::Active | Lifecycle::Stopped) {
            self.lifecycle = ending;
        }
        if self.lifecycle == Lifecycle::ShuttingDown {
            let Self {
                sockets, draining, ..
            } = self;
            draining.extend(
                sockets
                    .extract_if(.., |listening| !listening.waiting.is_empty())
                    .map(Listening::closed_with_waiting),
            );
        }
        self.forget_sockets();
        was_active
    }

    /// Lets go of the sockets `g_socket_listener_close()` closed; whether that left the service
    /// without a socket, having had some.
    pub(super) fn forget_closed_sockets(&mut self) -> bool {
        if self.sockets.is_empty() {
            return false;
        }
        let closed: Vec<u32> = self
            .sockets
            .iter()
            .filter(|listening| listening.socket.is_closed())
            .map(|listening| listening.id)
            .collect();
        for id in closed {
            self.forget_socket(id);
        }
        self.sockets.is_empty()
    }
}

/// The local address of a listening socket, for debug messages.
fn describe(socket: &gio::Socket) -> String {
    match socket.local_address() {
        Ok(address) => match address.downcast::<gio::InetSocketAddress>() {
            Ok(inet) => format!("{}:{}", inet.address(), inet.port()),
            Err(address) => format!("a {:?} socket", address.family()),
        },
        Err(_) => "a socket".to_owned(),
    }
}
