//! The private state of a service, guarded by its one mutex.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gio::prelude::*;
use glib::subclass::prelude::*;

use super::WeakService;
use super::imp::SocketService;
use super::shutdown::Waiter;

pub(crate) struct State {
    /// The `active` property: what the application asked for.
    pub active: bool,
    /// The listener was closed (`g_socket_listener_close()` or a shutdown): for good.
    pub closed: bool,
    /// Sockets announced by the `event` vfunc, waiting for the `changed` that adds them.
    announced: Vec<glib::WeakRef<gio::Socket>>,
    /// The listening sockets, each with its source while the service accepts.
    pub sockets: Vec<Listening>,
    /// A socket reached the listener unannounced (`g_socket_listener_add_socket()`), so the
    /// service cannot watch it and accepts through `g_socket_listener_accept_socket_async()`.
    pub unannounced: bool,
    /// The cancellable of that accept while it is in flight.
    pub listener_accept: Option<gio::Cancellable>,
    /// The reference an accepting service holds to itself, as GLib's pending `GTask` does.
    pub keep_alive: Option<crate::SocketService>,
    /// Pauses asked for by subclasses (a saturated thread pool): accepting waits for none.
    pub holds: u32,
    pub backoff: Backoff,
    pub connections: Connections,
    pub n_accepted: u64,
    pub n_accept_errors: u64,
    pub warnings: WarningLimiter,
    /// Threaded jobs running: a shutdown waits for them as for connections.
    pub busy: u32,
    /// The `shutdown_async` calls waiting for the last connection to close.
    pub shutdown_waiters: Vec<Waiter>,
}

impl State {
    pub fn new() -> Self {
        Self {
            // GLib's services are active from `init`; the `active` construct property may change it.
            active: true,
            closed: false,
            announced: Vec::new(),
            sockets: Vec::new(),
            unannounced: false,
            listener_accept: None,
            keep_alive: None,
            holds: 0,
            backoff: Backoff::default(),
            connections: Connections::default(),
            n_accepted: 0,
            n_accept_errors: 0,
            warnings: WarningLimiter::default(),
            busy: 0,
            shutdown_waiters: Vec::new(),
        }
    }

    /// Whether nothing the service handed out is still alive: a shutdown may complete.
    pub fn drained(&self) -> bool {
        self.connections.live_count() == 0 && self.busy == 0
    }

    /// Stops watching every listening socket and lets go of them.
    pub fn forget_sockets(&mut self) {
        for listening in self.sockets.drain(..) {
            if let Some(source) = listening.source {
                source.destroy();
            }
        }
    }

    /// Whether the service should be accepting now.
    pub fn may_accept(&self) -> bool {
        self.active
            && !self.closed
            && self.holds == 0
            && self.backoff.timer.is_none()
            && !self.connections.at_capacity()
    }

    /// Whether the service accepts on `socket` through its own source right now.
    pub fn serves(&self, socket: &gio::Socket) -> bool {
        self.may_accept()
            && !self.unannounced
            && self
                .sockets
                .iter()
                .any(|listening| listening.socket == *socket && listening.source.is_some())
    }

    pub fn announce(&mut self, socket: &gio::Socket) {
        self.announced.push(socket.downgrade());
    }

    pub fn forget_announced(&mut self, socket: &gio::Socket) {
        self.announced
            .retain(|announced| announced.upgrade().as_ref() != Some(socket));
    }

    /// The listener's set of sockets changed: take in the sockets announced since the last
    /// change. If there are none, a socket came through `g_socket_listener_add_socket()`.
    pub fn adopt_announced(&mut self) {
        // A socket a failed `add_*()` announced and then dropped is gone by now.
        let announced: Vec<gio::Socket> = self
            .announced
            .drain(..)
            .filter_map(|socket| socket.upgrade())
            .collect();
        if announced.is_empty() {
            self.unannounced = true;
        }
        for socket in announced {
            if !self
                .sockets
                .iter()
                .any(|listening| listening.socket == socket)
            {
                self.sockets.push(Listening {
                    socket,
                    source: None,
                });
            }
        }
    }

    /// Lets go of every source and timer; the service is being destroyed.
    pub fn dispose(&mut self) -> Deferred {
        self.forget_sockets();
        if let Some(cancellable) = self.listener_accept.take() {
            cancellable.cancel();
        }
        self.backoff.expire();
        Deferred {
            release: self.keep_alive.take(),
            ..Deferred::default()
        }
    }
}

/// A listening socket and, while the service accepts on it, the source watching it.
pub(crate) struct Listening {
    pub socket: gio::Socket,
    pub source: Option<glib::Source>,
}

/// The pause after an accept failed for want of resources.
pub(crate) struct Backoff {
    /// Set while accepting is paused.
    pub timer: Option<glib::Source>,
    delay: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const LONGEST: Duration = Duration::from_millis(640);

    /// The pause to take now; the next one will be twice as long, up to [`Self::LONGEST`].
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.delay;
        self.delay = (delay * 2).min(Self::LONGEST);
        delay
    }

    /// An accept succeeded: the next failure starts from a short pause again.
    pub fn reset(&mut self) {
        self.delay = Self::FIRST;
    }

    /// Ends the pause now.
    pub fn expire(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.destroy();
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            timer: None,
            delay: Self::FIRST,
        }
    }
}

/// The live connections the service handed out: from `incoming` until closed or finalized.
#[derive(Default)]
pub(crate) struct Connections {
    /// `max-connections`: 0 for no limit.
    pub max: u32,
    live: HashMap<u64, glib::WeakRef<gio::SocketConnection>>,
    next_id: u64,
}

impl Connections {
    pub fn live_count(&self) -> u32 {
        u32::try_from(self.live.len()).unwrap_or(u32::MAX)
    }

    pub fn at_capacity(&self) -> bool {
        self.max != 0 && self.live_count() >= self.max
    }

    /// The identifier of the next connection, for its close guard.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn insert(&mut self, id: u64, connection: &gio::SocketConnection) {
        self.live.insert(id, connection.downgrade());
    }

    /// Stops counting the connection `id`; whether it was counted.
    pub fn close(&mut self, id: u64) -> bool {
        self.live.remove(&id).is_some()
    }

    /// Stops counting every connection, and returns those that still exist as objects.
    pub fn take_all(&mut self) -> Vec<gio::SocketConnection> {
        self.live
            .drain()
            .filter_map(|(_, weak)| weak.upgrade())
            .collect()
    }
}

/// Lets through one warning a second and counts the others.
#[derive(Default)]
pub(crate) struct WarningLimiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl WarningLimiter {
    const INTERVAL: Duration = Duration::from_secs(1);

    /// Whether a warning may be logged `now`: if so, with the number of warnings held back
    /// since the last one.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < Self::INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// What a change of state leaves to do once the lock is released.
#[derive(Default)]
#[must_use = "run it after unlocking the state"]
pub(crate) struct Deferred {
    /// The service's reference to itself, to drop: it may be the last one.
    pub release: Option<crate::SocketService>,
    /// Start an accept through the listener, on the service's context.
    pub accept_through_listener: bool,
}

impl Deferred {
    pub fn run(self, imp: &SocketService) {
        if self.accept_through_listener {
            if imp.context.is_owner() {
                imp.accept_through_listener();
            } else {
                let service = WeakService::new(&imp.obj());
                imp.context.invoke(move || {
                    if let Some(service) = service.upgrade() {
                        service.imp().accept_through_listener();
                    }
                });
            }
        }
        drop(self.release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_longest_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..10)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 640, 640]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Backoff::FIRST);
    }

    #[test]
    fn warnings_are_admitted_once_a_second_with_the_held_back_count() {
        let mut limiter = WarningLimiter::default();
        let start = Instant::now();
        assert_eq!(limiter.admit(start), Some(0));
        for ms in [1, 10, 500, 999] {
            assert_eq!(limiter.admit(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(limiter.admit(start + Duration::from_millis(1000)), Some(4));
        assert_eq!(limiter.admit(start + Duration::from_millis(1001)), None);
    }
}
