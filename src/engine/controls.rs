//! The engine's interface to its service: starting and stopping, limits and TLS settings, the
//! listener's sockets, the threaded service's jobs, and shutting down.

use std::sync::{Arc, OnceLock, Weak};
use std::task::Waker;

use gio::prelude::*;

use super::early_read;
use super::listening::{Adding, Served};
use super::state::{AcceptMode, Backlog, Jobs, Lifecycle};
use super::{Changes, Engine, Host, Waiter};
use crate::log::debug;
use crate::refusal::Refusal;
use crate::socket_settings::{Resolved, SocketSettings, Watcher};
use crate::sys::{SendObject, SendWeak};

/// How long memory pressure lasts after the last warning of `MEDIUM` or worse: monitors warn
/// again while the pressure lasts (low-memory-monitor at each new threshold crossed), and say
/// nothing when it ends.
pub(crate) const MEMORY_QUIET: std::time::Duration = std::time::Duration::from_secs(10);

impl Engine {
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        self.state().lifecycle
    }

    /// `start()` and `stop()`: safe from any thread. A service whose listener is closed stays
    /// inactive. Notifies `active` in the calling thread on a change, as GLib does. A start
    /// accepts on the caller's context, where the caller has one.
    pub(crate) fn set_active<H: Host>(host: &H, active: bool) {
        let changed = Self::update(host, |state| {
            state.lifecycle = match (state.lifecycle, active) {
                (Lifecycle::Stopped, true) => {
                    Self::follow_caller(host, state);
                    Lifecycle::Active
                }
                (Lifecycle::Active, false) => Lifecycle::Stopped,
                _ => return false,
            };
            true
        });
        if changed {
            debug!("{}", if active { "started" } else { "stopped" });
            host.notify_changes(Changes::ACTIVE);
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.lifecycle() == Lifecycle::Active
    }

    /// Sets `max-connections`; whether it changed.
    pub(crate) fn set_max_connections<H: Host>(host: &H, max: u32) -> bool {
        Self::update(host, |state| {
            std::mem::replace(&mut state.limits.max_connections, max) != max
        })
    }

    /// Sets `max-connections-per-peer`; whether it changed. Peers are counted only while it is
    /// set.
    pub(crate) fn set_max_connections_per_peer<H: Host>(host: &H, max: u32) -> bool {
        Self::update(host, |state| {
            let changed = std::mem::replace(&mut state.limits.max_per_peer, max) != max;
            state.count_peers();
            changed
        })
    }

    pub(crate) fn max_connections(&self) -> u32 {
        self.state().limits.max_connections
    }

    pub(crate) fn max_connections_per_peer(&self) -> u32 {
        self.state().limits.max_per_peer
    }

    pub(crate) fn n_connections(&self) -> u32 {
        self.state().registry.live()
    }

    pub(crate) fn n_accepted(&self) -> u64 {
        self.state().n_accepted
    }

    pub(crate) fn n_accept_errors(&self) -> u64 {
        self.state().n_accept_errors
    }

    /// Runs `add`, an `add_*()` of the listener, so that the sockets it adds are served as
    /// `adding` says.
    pub(crate) fn adding<R>(self: &Arc<Self>, adding: Adding, add: impl FnOnce() -> R) -> R {
        if let Some(settings) = &adding.settings {
            settings.watch(Arc::downgrade(self) as Weak<dyn Watcher>);
        }
        let previous = self.state().adding.replace(adding);
        let result = add();
        self.state().adding = previous;
        result
    }

    /// What a socket with `settings` (`None`: the service's) would be served with now.
    pub(crate) fn resolve(&self, settings: Option<&SocketSettings>) -> Arc<Resolved> {
        super::listening::resolve(settings, &self.defaults).0
    }

    /// Serves the listening `socket` with `settings` from now on (`None`: the service's);
    /// fails if the service does not accept on `socket` itself.
    pub(crate) fn set_socket_settings(
        self: &Arc<Self>,
        socket: &gio::Socket,
        settings: Option<&SocketSettings>,
    ) -> Result<(), glib::Error> {
        if let Some(settings) = settings {
            settings.watch(Arc::downgrade(self) as Weak<dyn Watcher>);
        }
        let settings = settings.cloned().map(SendObject::new);
        let previous = self.state().set_socket_settings(socket, settings);
        match previous {
            Some(previous) => {
                // Unlocked: it may be the last reference to the application's object.
                drop(previous);
                Ok(())
            }
            None => Err(glib::Error::new(
                gio::IOErrorEnum::NotFound,
                "Not a listening socket the service accepts on itself",
            )),
        }
    }

    /// Serves the listening sockets named `name`, now and adopted later, with `settings` (`None`:
    /// the service's).
    pub(crate) fn set_named_settings(
        self: &Arc<Self>,
        name: &str,
        settings: Option<&SocketSettings>,
    ) {
        if let Some(settings) = settings {
            settings.watch(Arc::downgrade(self) as Weak<dyn Watcher>);
        }
        let settings = settings.cloned().map(SendObject::new);
        let previous = self.state().set_named_settings(name, settings);
        drop(previous);
    }

    /// The listening sockets the service accepts on itself, with their names, in the order
    /// they were added: what it hands to a successor or stores with systemd.
    pub(crate) fn served_sockets(&self) -> Vec<Served> {
        self.state().served()
    }

    /// `sockets` went to another process, which serves them on: the files the service made for
    /// them are that process's, which the service never removes or changes from now on.
    pub(crate) fn give_up_files(&self, sockets: &[gio::Socket]) {
        self.state().give_up_files(sockets);
    }

    /// The service is constructed: the next `listen-backlog` notification is construction's.
    pub(crate) fn backlog_constructed(&self) {
        self.state().limits.backlog = Backlog::Constructed;
    }

    /// `listen-backlog` was notified: after construction's own notification, the application
    /// set it, and its value is honoured.
    pub(crate) fn backlog_notified(&self) {
        let mut state = self.state();
        state.limits.backlog = match state.limits.backlog {
            Backlog::Constructed => Backlog::Default,
            Backlog::Default | Backlog::Chosen => Backlog::Chosen,
        };
    }

    /// The backlog to listen with, where the listener's `listen-backlog` is `backlog`: that,
    /// unless the application left GLib's default of 10, which a burst of clients overflows at
    /// once; then the system's maximum (`net.core.somaxconn`), beyond `GSocketListener`'s cap
    /// of 2000.
    pub(crate) fn listen_backlog(&self, backlog: i32) -> i32 {
        const GLIB_DEFAULT: i32 = 10;
        static SYSTEM_MAXIMUM: OnceLock<i32> = OnceLock::new();
        if self.state().limits.backlog == Backlog::Chosen || backlog != GLIB_DEFAULT {
            return backlog;
        }
        *SYSTEM_MAXIMUM.get_or_init(|| {
            std::fs::read_to_string("/proc/sys/net/core/somaxconn")
                .ok()
                .and_then(|maximum| maximum.trim().parse().ok())
                .filter(|maximum| *maximum > 0)
                .unwrap_or(4096)
        })
    }

    /// The listener is about to put `socket` to listening (its `event` vfunc): with the
    /// backlog [`listen_backlog`](Self::listen_backlog) chooses.
    pub(crate) fn tune_backlog(&self, socket: &gio::Socket) {
        let backlog = self.listen_backlog(socket.listen_backlog());
        if backlog != socket.listen_backlog() {
            debug!("listening with a backlog of {backlog}");
            socket.set_listen_backlog(backlog);
        }
    }

    /// Drops `object`, a reference to the service taken off its context, on the service's
    /// context: it may be the last one, and no call may finalize the service.
    pub(crate) fn release_on_context(&self, object: impl IsA<glib::Object>) {
        self.state()
            .mail
            .release
            .push(SendObject::new(object.upcast()));
        self.wake_mailbox();
    }

    /// Whether the service may still take sockets: its listener is not closed.
    pub(crate) fn takes_sockets<H: Host>(host: &H) -> bool {
        Self::update(host, |state| {
            !matches!(state.lifecycle, Lifecycle::ShuttingDown | Lifecycle::Closed)
        })
    }

    /// The listener put `socket` to listening (its `event` vfunc): the next `changed` adopts it.
    pub(crate) fn announce(&self, socket: &gio::Socket) {
        self.state().announce(socket);
    }

    /// An announced socket was not added after all.
    pub(crate) fn forget_announced(&self, socket: &gio::Socket) {
        self.state().forget_announced(socket);
    }

    /// The listener's set of sockets changed (its `changed` vfunc). If that begins the
    /// service's accepting, it accepts on the caller's context, where the caller has one.
    pub(crate) fn changed<H: Host>(host: &H) {
        Self::update(host, |state| {
            let accepting = state.accepting();
            state.adopt_announced();
            if !accepting && state.accepting() {
                Self::follow_caller(host, state);
            }
            // As GLib's service: an accept through the listener watches the sockets it had when
            // it began; cancelled, it begins again, on its context, with every socket.
            if let AcceptMode::Listener {
                in_flight: Some(cancellable),
            } = &state.mode
            {
                cancellable.cancel();
            }
        });
    }

    /// Makes this the engine of a threaded service, whose jobs run in at most `limit` threads
    /// (`None`: no limit); clients are taken in only while a thread is free for them.
    pub(crate) fn set_jobs_limit<H: Host>(host: &H, limit: Option<u32>) {
        Self::update(host, |state| state.jobs = Some(Jobs { limit, running: 0 }));
    }

    /// A threaded job was queued: it counts until it ends, for the room and for a shutdown.
    pub(crate) fn job_started<H: Host>(host: &H) {
        Self::update(host, |state| {
            if let Some(jobs) = &mut state.jobs {
                jobs.running += 1;
            }
        });
    }

    /// A threaded job ended, in a worker thread: the service acts on it from its context.
    pub(crate) fn job_finished(&self) {
        {
            let mut state = self.state();
            if let Some(jobs) = &mut state.jobs {
                jobs.running = jobs.running.saturating_sub(1);
            }
        }
        self.wake_mailbox();
    }

    /// Shuts the service down: stops accepting for good and closes the listening sockets now;
    /// serves every client already taken in (those in a stage go on through it, those waiting
    /// in a socket's queue are handed out in a later iteration of the service's context); then
    /// calls `waiter` on the service's context once all of those were handed out, every
    /// connection is closed and every threaded job has ended.
    pub(crate) fn shutdown<H: Host>(host: &H, waiter: Waiter) {
        let was_active = Self::update(host, |state| {
            state.shutdown_waiters.push(waiter);
            state.end(Lifecycle::ShuttingDown)
        });
        debug!(
            "shutting down: {} live connections",
            host.engine().n_connections()
        );
        // The listener closes every socket it has, also those it never announced.
        host.upcast_ref::<gio::SocketListener>().close();
        host.engine().wake_mailbox();
        if was_active {
            host.notify_changes(Changes::ACTIVE);
        }
    }

    /// Shuts down every live connection, in both directions, and stops counting them: a pending
    /// shutdown completes. Safe from any thread: from another than the service's, it happens
    /// in the context's next iteration, where the connections are closed, so that no socket is
    /// shut down after its owner closed it and its descriptor went to a new connection.
    pub(crate) fn close_connections(&self) {
        {
            let mut state = self.state();
            if !state.home.context.is_owner() {
                state.mail.close_connections = true;
                state.home.wake();
                return;
            }
        }
        // Those still in their PROXY protocol header or ClientHello are closed, not handed out
        // dead.
        self.abandon_early_reads();
        let sockets = {
            let mut state = self.state();
            // As are the clients a shutdown has still to hand out.
            state.forget_draining();
            let sockets = state.registry.take_all();
            if !sockets.is_empty() {
                state.mail.changes.n_connections = true;
            }
            sockets
        };
        debug!("closing {} connections", sockets.len());
        for socket in &sockets {
            // A connection its owner closed meanwhile has nothing left to shut down.
            let _ = socket.shutdown(true, true);
        }
        self.wake_mailbox();
    }

    /// Whether the listener is closed for good and the service hands out no more connections
    /// (a shutdown serves those already accepted first); if not, `waker` is woken when so.
    pub(crate) fn wake_when_closed(&self, waker: &Waker) -> bool {
        let mut state = self.state();
        let closed = state.hands_out_no_more();
        if !closed
            && !state
                .stream_wakers
                .iter()
                .any(|known| known.will_wake(waker))
        {
            state.stream_wakers.push(waker.clone());
        }
        closed
    }

    /// A stream that gave `waker` to [`wake_when_closed`](Self::wake_when_closed) is gone.
    pub(crate) fn forget_stream_waker(&self, waker: &Waker) {
        self.state()
            .stream_wakers
            .retain(|known| !known.will_wake(waker));
    }

    /// The connections refused for `reason`, or the pauses for it.
    pub(crate) fn n_refused(&self, reason: Refusal) -> u64 {
        self.state().gate.refused.get(reason)
    }

    /// Whether accepting is paused for the process's sake: memory or descriptors short.
    pub(crate) fn overloaded(&self) -> bool {
        self.state().gate.overload.any()
    }

    pub(crate) fn descriptor_margin(&self) -> u32 {
        self.state().descriptors.margin
    }

    /// Sets `descriptor-margin`; whether it changed.
    pub(crate) fn set_descriptor_margin<H: Host>(host: &H, margin: u32) -> bool {
        Self::update(host, |state| {
            let changed = state.descriptors.margin != margin;
            state.descriptors.set_margin(margin);
            if margin == 0 {
                state.gate.overload.descriptors = false;
            }
            changed
        })
    }

    /// The memory monitor warned of pressure at `level`: from `MEDIUM` on, accepting pauses
    /// until a warning below `MEDIUM` comes, or none for [`MEMORY_QUIET`].
    pub(crate) fn memory_warning<H: Host>(host: &H, level: gio::MemoryMonitorWarningLevel) {
        let pressed = level >= gio::MemoryMonitorWarningLevel::Medium;
        debug!("memory pressure: {level:?}");
        Self::update(host, |state| {
            state.gate.overload.memory = pressed;
            if let Some(quiet) = state.pauses.memory_quiet.take() {
                quiet.destroy();
            }
            if pressed {
                let weak = SendWeak::new(host);
                let quiet = glib::timeout_source_new(
                    MEMORY_QUIET,
                    Some("[usher] memory quiet"),
                    glib::Priority::DEFAULT,
                    move || {
                        if let Some(host) = weak.upgrade() {
                            Self::update(&host, |state| {
                                state.pauses.memory_quiet = None;
                                state.gate.overload.memory = false;
                            });
                        }
                        glib::ControlFlow::Break
                    },
                );
                quiet.attach(Some(&state.home.context));
                state.pauses.memory_quiet = Some(quiet);
            }
        });
    }

    /// Whether a warning about a failed accept may be logged now, with the number held back.
    pub(crate) fn admit_warning(&self) -> Option<u64> {
        self.state().warnings.admit(std::time::Instant::now())
    }

    /// The service is being destroyed: let go of every source, timer and socket. The engine
    /// lives on while connections it handed out do, to complete pending shutdowns.
    pub(crate) fn dispose(&self) {
        let mut state = self.state();
        state.forget_sockets();
        state.forget_draining();
        if let AcceptMode::Listener {
            in_flight: Some(cancellable),
        } = &state.mode
        {
            cancellable.cancel();
        }
        state.backoff.expire();
        for timer in [
            state.pauses.descriptor_check.take(),
            state.pauses.memory_quiet.take(),
        ]
        .into_iter()
        .flatten()
        {
            timer.destroy();
        }
        let keep_alive = state.keep_alive.take();
        state.mail.release.extend(keep_alive);
        drop(state);
        self.abandon_early_reads();
    }

    /// Ends the reads of PROXY protocol headers and ClientHellos in progress, and closes their
    /// connections.
    fn abandon_early_reads(&self) {
        let (reads, hellos) = {
            let mut state = self.state();
            (state.proxy.reads.take(), state.tls.hellos.take())
        };
        // Unlocked: closing a connection reports its close to the engine.
        early_read::abandon(self, reads);
        early_read::abandon(self, hellos);
    }
}
