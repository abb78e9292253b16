//! The private state of a service, guarded by its one mutex.

use std::collections::{HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use gio::prelude::*;
use glib::subclass::prelude::*;
use glib::translate::*;

use super::WeakService;
use super::accept::{Accepted, Failure};
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
    /// Brings the service back, in the next main-loop iteration, to hand out clients it took
    /// in and had no time for yet.
    pub resume: Option<glib::Source>,
    /// The reference an accepting service holds to itself, as GLib's pending `GTask` does.
    pub keep_alive: Option<crate::SocketService>,
    /// How many more connections a subclass can take now (the threaded service's free
    /// threads), if it limits them.
    pub room_for_jobs: Option<u32>,
    pub backoff: Backoff,
    pub connections: Connections,
    pub n_accepted: u64,
    pub n_accept_errors: u64,
    pub warnings: WarningLimiter,
    /// Threaded jobs running: a shutdown waits for them as for connections.
    pub busy: u32,
    /// The `shutdown_async` calls waiting for the last connection to close.
    pub shutdown_waiters: Vec<Waiter>,
    /// Readers of an `IncomingStream`, to wake when the listener closes.
    pub closed_wakers: Vec<std::task::Waker>,
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
            resume: None,
            keep_alive: None,
            room_for_jobs: None,
            backoff: Backoff::default(),
            connections: Connections::default(),
            n_accepted: 0,
            n_accept_errors: 0,
            warnings: WarningLimiter::default(),
            busy: 0,
            shutdown_waiters: Vec::new(),
            closed_wakers: Vec::new(),
        }
    }

    /// Whether nothing the service handed out is still alive: a shutdown may complete.
    pub fn drained(&self) -> bool {
        self.connections.live_count() == 0 && self.busy == 0
    }

    /// The listener is closed, for good: let go of its sockets. Returns the streams' readers
    /// to wake once the lock is released.
    pub fn close(&mut self) -> Vec<std::task::Waker> {
        self.closed = true;
        self.forget_sockets();
        std::mem::take(&mut self.closed_wakers)
    }

    /// Stops watching every listening socket and lets go of them, and of the clients they had
    /// waiting (which a closed listening socket would have dropped too).
    pub fn forget_sockets(&mut self) {
        for listening in self.sockets.drain(..) {
            if let Some(source) = listening.source {
                source.destroy();
            }
        }
        self.stop_resuming();
    }

    pub fn stop_resuming(&mut self) {
        if let Some(resume) = self.resume.take() {
            resume.destroy();
        }
    }

    /// Whether any socket has clients waiting to be handed out.
    pub fn has_waiting(&self) -> bool {
        self.sockets
            .iter()
            .any(|listening| !listening.waiting.is_empty())
    }

    /// The sockets with clients waiting to be handed out.
    pub fn sockets_with_waiting(&self) -> Vec<gio::Socket> {
        self.sockets
            .iter()
            .filter(|listening| !listening.waiting.is_empty())
            .map(|listening| listening.socket.clone())
            .collect()
    }

    /// Clients taken in from every socket and not yet handed out.
    fn waiting(&self) -> usize {
        self.sockets
            .iter()
            .map(|listening| listening.waiting.len())
            .sum()
    }

    /// How many more clients the service may take in: connections and waiting clients stay
    /// within `max-connections`, and within the room a subclass gives (its free threads).
    fn room(&self) -> usize {
        let taken = self.connections.live_count() as usize + self.waiting();
        let limits = [
            (self.connections.max != 0).then_some(self.connections.max as usize),
            self.room_for_jobs
                .map(|room| room as usize + self.connections.live_count() as usize),
        ];
        limits
            .into_iter()
            .flatten()
            .map(|limit| limit.saturating_sub(taken))
            .min()
            .unwrap_or(usize::MAX)
    }

    /// Takes clients off `socket`'s backlog into its waiting queue, as many as the pacing allows
    /// and the service has room for (`max-connections`, free threads). `None` if the service
    /// does not accept on `socket` now.
    pub fn take_in(&mut self, socket: &gio::Socket) -> Option<Intake> {
        if !self.may_take_in() || self.unannounced {
            return None;
        }
        let room = self.room();
        // Only a socket the service watches: one it stopped watching is not served now.
        let listening = self
            .listening_mut(socket)
            .filter(|listening| listening.source.is_some())?;
        let wanted = listening.pacing.allowance().min(room);
        let mut intake = Intake::default();
        while intake.taken < wanted {
            match super::accept::accept(socket) {
                Accepted::Client(client) => {
                    listening.waiting.push_back(client);
                    intake.taken += 1;
                }
                Accepted::Empty => {
                    intake.emptied = true;
                    break;
                }
                Accepted::Closed => {
                    intake.closed = true;
                    break;
                }
                Accepted::Failed(error, failure) => {
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

    /// The oldest client waiting on `socket`, to hand out now, if the service may.
    pub fn next_waiting(&mut self, socket: &gio::Socket) -> Option<OwnedFd> {
        if !self.may_hand_out() {
            return None;
        }
        self.listening_mut(socket)?.waiting.pop_front()
    }

    fn listening_mut(&mut self, socket: &gio::Socket) -> Option<&mut Listening> {
        self.sockets
            .iter_mut()
            .find(|listening| listening.socket == *socket)
    }

    /// Whether the service may hand out the clients it has taken in.
    pub fn may_hand_out(&self) -> bool {
        self.active && !self.closed
    }

    /// Whether the service should take clients off its sockets' backlogs now.
    pub fn may_take_in(&self) -> bool {
        self.may_hand_out() && self.backoff.timer.is_none() && self.room() > 0
    }

    /// A dispatch took `intake` in from `socket`: paces the next one. Returns the priority of
    /// the next dispatch, and whether clients are still waiting to be handed out.
    pub fn pace(
        &mut self,
        socket: &gio::Socket,
        intake: &Intake,
        most: usize,
    ) -> (glib::Priority, bool) {
        let Some(listening) = self.listening_mut(socket) else {
            return (glib::Priority::DEFAULT, false);
        };
        let waiting = !listening.waiting.is_empty();
        let priority = listening.pacing.adjust(
            intake.taken,
            intake.emptied && !waiting,
            most,
            Instant::now(),
        );
        if let Some(source) = &listening.source
            && source.priority() != priority.into_glib()
        {
            // SAFETY: a plain source (no children) may change priority while attached.
            unsafe { glib::ffi::g_source_set_priority(source.as_ptr(), priority.into_glib()) }
        }
        (priority, waiting)
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
                self.sockets.push(Listening::new(socket));
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
    pub pacing: Pacing,
    /// Clients taken off the kernel's backlog and not yet handed out, oldest first.
    pub waiting: VecDeque<OwnedFd>,
}

impl Listening {
    fn new(socket: gio::Socket) -> Self {
        Self {
            socket,
            source: None,
            pacing: Pacing::default(),
            waiting: VecDeque::new(),
        }
    }
}

/// What a dispatch found in a socket's backlog.
#[derive(Default)]
pub(crate) struct Intake {
    pub taken: usize,
    /// The backlog was found empty.
    pub emptied: bool,
    /// The listening socket was closed under the service.
    pub closed: bool,
    pub failures: Vec<(glib::Error, Failure)>,
}

/// How a socket's connections are accepted, adapted to the load.
///
/// Under light load a readiness brings one connection, and accepting once more only to find the
/// backlog empty would cost a system call per connection: the allowance follows what the last
/// dispatch found, and grows to the most allowed when a dispatch uses all of it.
///
/// During a burst (a dispatch that finds more than one client waiting), the next dispatches run
/// before the context's default-priority sources, the handlers' I/O among them: accepting is
/// cheap and the handlers are not, and a listen backlog left waiting behind them overflows, the
/// kernel then dropping clients that retry only a second later. So that a flood of connections
/// cannot starve the rest of the context, the raised priority lasts at most
/// [`Pacing::LONGEST_RAISE`] at a time, then one dispatch runs at the default priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pacing {
    allowance: usize,
    /// When the priority was raised, during a burst.
    raised_at: Option<Instant>,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            allowance: 1,
            raised_at: None,
        }
    }
}

impl Pacing {
    const LONGEST_RAISE: Duration = Duration::from_millis(50);

    /// How many connections to try to accept in this dispatch.
    pub fn allowance(self) -> usize {
        self.allowance
    }

    /// A dispatch ending `now` accepted `accepted` connections and `emptied` the backlog (or
    /// not); `most` is the most one may accept. Returns the priority of the next dispatch.
    pub fn adjust(
        &mut self,
        accepted: usize,
        emptied: bool,
        most: usize,
        now: Instant,
    ) -> glib::Priority {
        self.allowance = if emptied {
            accepted.max(1)
        } else if accepted >= self.allowance {
            most
        } else {
            self.allowance
        };
        let burst = accepted > 1 || !emptied && accepted >= 1;
        self.raised_at = match self.raised_at {
            _ if !burst => None,
            None => Some(now),
            Some(raised_at) if now.duration_since(raised_at) > Self::LONGEST_RAISE => None,
            raised => raised,
        };
        if self.raised_at.is_some() {
            glib::Priority::HIGH
        } else {
            glib::Priority::DEFAULT
        }
    }
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
    /// Readers of an `IncomingStream` to wake.
    pub wake: Vec<std::task::Waker>,
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
        for waker in self.wake {
            waker.wake();
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
    fn pacing_follows_the_load_and_never_starves_the_context() {
        use glib::Priority;
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut pacing = Pacing::default();
        assert_eq!(pacing.allowance(), 1);
        // Light load: one connection per readiness, at the default priority.
        assert_eq!(pacing.adjust(1, true, 1024, at(0)), Priority::DEFAULT);
        assert_eq!(pacing.allowance(), 1);
        // A burst: all the allowance used, clients still waiting.
        assert_eq!(pacing.adjust(1, false, 1024, at(1)), Priority::HIGH);
        assert_eq!(pacing.allowance(), 1024);
        assert_eq!(pacing.adjust(300, true, 1024, at(2)), Priority::HIGH);
        assert_eq!(pacing.allowance(), 300);
        assert_eq!(pacing.adjust(300, false, 1024, at(40)), Priority::HIGH);
        // A flood: after LONGEST_RAISE, one dispatch at the default priority, then raised again.
        assert_eq!(pacing.adjust(1024, false, 1024, at(52)), Priority::DEFAULT);
        assert_eq!(pacing.adjust(1024, false, 1024, at(60)), Priority::HIGH);
        // Over: back to the default priority and one accept at a time.
        assert_eq!(pacing.adjust(1, true, 1024, at(70)), Priority::DEFAULT);
        assert_eq!(pacing.allowance(), 1);
        assert_eq!(pacing.adjust(0, true, 1024, at(80)), Priority::DEFAULT);
        assert_eq!(pacing.allowance(), 1, "a spurious wakeup");
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
