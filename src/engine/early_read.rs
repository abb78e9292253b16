//! Reading what a connection starts with, on the service's context, before its next stage: its
//! PROXY protocol header ([`super::proxy`]), its TLS ClientHello ([`super::hello`]). A stage
//! says what is its own ([`EarlyRead`]): what one look at the socket does, what the deadline
//! means, and how the read is concluded. This module drives the looks: one in the dispatch
//! that accepted the connection, then one each time the socket is readable, or after a pause
//! growing from 5 ms to 200 ms where the stage asks for one, until the stage is done or the
//! deadline passes. The engine's state lists the reads in progress ([`Reads`]), to close their
//! connections when the service goes away ([`abandon`]).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use gio::prelude::*;

use super::arriving::{Arriving, Next};
use super::gate::Refused;
use super::{Engine, Host};
use crate::sys::SendWeak;

/// The pause of the first [`Step::Retry`]; each next one is twice as long, up to
/// [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(200);

/// How one look at the socket ended.
pub(super) enum Step<T> {
    /// More bytes are needed: wait for the socket to be readable again.
    Wait,
    /// The bytes there leave the socket readable and cannot tell yet: look again after a pause
    /// instead of spinning on them.
    Retry,
    /// The read is complete, or failed.
    Done(Result<T, glib::Error>),
}

/// Which look at the socket this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Look {
    /// The first, in the dispatch that accepted the connection, before any readiness.
    First,
    /// A later one, before any pause.
    Again,
    /// A later one, once a pause was taken ([`Step::Retry`]).
    AfterPause,
}

/// How the looks go on after the pause of a [`Step::Retry`].
pub(super) enum Resume {
    /// The next look waits for the socket to be readable.
    WhenReadable,
    /// The next look is at once, and again after the same pause while it says [`Step::Wait`].
    Look,
}

/// A stage that reads what a connection starts with: what it keeps of the read between looks,
/// and what it alone knows of it.
pub(super) trait EarlyRead: Send + Sized + 'static {
    /// What a complete read gives.
    type Output;

    /// The name of the source that waits for the socket's readiness, as debuggers and profilers
    /// show it; the deadline's and the pauses' add ` timeout` and ` retry`.
    const SOURCE_NAME: &'static str;

    /// How the looks go on after a pause.
    const AFTER_PAUSE: Resume;

    /// One look at `socket`, the connection's: what it has, and what comes next.
    fn step(&mut self, socket: &gio::Socket, look: Look) -> Step<Self::Output>;

    /// What the read ends with when its deadline, `timeout` seconds, passes first.
    fn timed_out(&self, timeout: u32) -> Result<Self::Output, glib::Error>;

    /// Readies `arriving` for its next stage with what the read gave; or why it is refused.
    fn conclude<H: Host>(
        self,
        host: &H,
        arriving: &mut Arriving,
        result: Result<Self::Output, glib::Error>,
    ) -> Result<(), Refused>;

    /// Gives back what the read of `arriving` counted in `engine`'s state besides the
    /// connection, which is closed next: the service is going away. Nothing, unless the stage
    /// counted something.
    fn abandoned(&self, _engine: &Engine, _arriving: &Arriving) {}

    // The engine's state lists the reads of each stage in a place of the stage's own, which
    // this module, below the state, does not name: the stages list and delist them.

    /// Lists `read` in the engine's state as its connection, from `peer`, begins to wait for
    /// the socket; or why the connection may not wait.
    fn enlist<H: Host>(host: &H, read: &Shared<Self>, peer: Option<IpAddr>) -> Result<(), Refused>;

    /// Takes `read`, ended, off the engine's list.
    fn delist<H: Host>(host: &H, read: &Shared<Self>);
}

/// A read in progress.
pub(super) struct Read<S> {
    arriving: Arriving,
    stage: S,
    /// The sources that drive the read: readiness (or a pause), and the deadline.
    sources: Vec<glib::Source>,
    /// The last pause taken, if any.
    paused: Option<Duration>,
}

/// A read in progress, shared by its sources; `None` once it ended.
pub(super) type Shared<S> = Arc<Mutex<Option<Read<S>>>>;

/// The reads of one stage in progress, in the engine's state: weak, as their sources hold them.
pub(super) struct Reads<S>(Vec<Weak<Mutex<Option<Read<S>>>>>);

impl<S> Default for Reads<S> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<S> Reads<S> {
    /// How many reads are in progress.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn add(&mut self, read: &Shared<S>) {
        self.0.push(Arc::downgrade(read));
    }

    pub(super) fn remove(&mut self, read: &Shared<S>) {
        self.0
            .retain(|listed| !std::ptr::eq(listed.as_ptr(), Arc::as_ptr(read)));
    }

    /// Lets go of the reads, for [`abandon`]: the service is going away.
    pub(super) fn take(&mut self) -> Self {
        std::mem::take(self)
    }
}

fn lock<S>(shared: &Shared<S>) -> MutexGuard<'_, Option<Read<S>>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads what `arriving` starts with, as `stage` says, within `timeout` seconds (0: no limit),
/// and has the stage conclude.
pub(super) fn read<H: Host, S: EarlyRead>(
    host: &H,
    arriving: Arriving,
    mut stage: S,
    timeout: u32,
    next: Next<H>,
) {
    let socket = arriving.connection.socket();
    // A balancer sends its header, a client its ClientHello, as it connects: most often it is
    // there already, and read at once, in the dispatch that accepted the connection, with no
    // source of its own.
    if let Step::Done(result) = stage.step(&socket, Look::First) {
        return conclude(host, stage, arriving, result, next);
    }
    let peer = arriving.peer;
    let shared: Shared<S> = Arc::new(Mutex::new(Some(Read {
        arriving,
        stage,
        sources: Vec::new(),
        paused: None,
    })));
    if let Err(refused) = S::enlist(host, &shared, peer) {
        if let Some((arriving, _)) = end(&shared) {
            refuse(host, &arriving, refused);
        }
        return;
    }
    let context = host.engine().context();
    let mut sources = vec![readable_source(host, &socket, &shared, next)];
    if timeout != 0 {
        sources.push(deadline(host, timeout, &shared, next));
    }
    for source in &sources {
        source.attach(Some(&context));
    }
    if let Some(read) = lock(&shared).as_mut() {
        read.sources = sources;
    }
}

/// A source that looks at `socket`, the connection's, each time it is readable.
fn readable_source<H: Host, S: EarlyRead>(
    host: &H,
    socket: &gio::Socket,
    shared: &Shared<S>,
    next: Next<H>,
) -> glib::Source {
    let weak = SendWeak::new(host);
    let shared = shared.clone();
    SocketExtManual::create_source(
        socket,
        glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
        None::<&gio::Cancellable>,
        Some(S::SOURCE_NAME),
        glib::Priority::DEFAULT,
        move |_, _| look(&weak, &shared, next),
    )
}

/// A source that ends the read as the stage says, `timeout` seconds from now.
fn deadline<H: Host, S: EarlyRead>(
    host: &H,
    timeout: u32,
    shared: &Shared<S>,
    next: Next<H>,
) -> glib::Source {
    let weak = SendWeak::new(host);
    let shared = shared.clone();
    glib::timeout_source_new(
        Duration::from_secs(timeout.into()),
        Some(&format!("{} timeout", S::SOURCE_NAME)),
        glib::Priority::DEFAULT,
        move || {
            let result = lock(&shared)
                .as_ref()
                .map(|read| read.stage.timed_out(timeout));
            if let Some(result) = result {
                finish(weak.upgrade().as_ref(), &shared, result, next);
            }
            glib::ControlFlow::Break
        },
    )
}

/// Looks at what the socket has, and acts on it.
fn look<H: Host, S: EarlyRead>(
    weak: &SendWeak<H>,
    shared: &Shared<S>,
    next: Next<H>,
) -> glib::ControlFlow {
    let Some(host) = weak.upgrade() else {
        close(shared);
        return glib::ControlFlow::Break;
    };
    let step = match lock(shared).as_mut() {
        Some(read) => {
            let which = match read.paused {
                Some(_) => Look::AfterPause,
                None => Look::Again,
            };
            read.stage.step(&read.arriving.connection.socket(), which)
        }
        None => return glib::ControlFlow::Break,
    };
    match step {
        Step::Wait => glib::ControlFlow::Continue,
        Step::Retry => {
            pause(&host, weak, shared, next);
            glib::ControlFlow::Break
        }
        Step::Done(result) => {
            finish(Some(&host), shared, result, next);
            glib::ControlFlow::Break
        }
    }
}

/// Goes on looking after a pause, longer than the last one, as the stage says.
fn pause<H: Host, S: EarlyRead>(host: &H, weak: &SendWeak<H>, shared: &Shared<S>, next: Next<H>) {
    let pause = {
        let mut guard = lock(shared);
        let Some(read) = guard.as_mut() else {
            return;
        };
        let pause = read
            .paused
            .map_or(FIRST_PAUSE, |paused| (paused * 2).min(LONGEST_PAUSE));
        read.paused = Some(pause);
        pause
    };
    let timer = glib::timeout_source_new(
        pause,
        Some(&format!("{} retry", S::SOURCE_NAME)),
        glib::Priority::DEFAULT,
        {
            let (weak, shared) = (weak.clone(), shared.clone());
            move || match S::AFTER_PAUSE {
                Resume::Look => look(&weak, &shared, next),
                Resume::WhenReadable => {
                    watch_again(&weak, &shared, next);
                    glib::ControlFlow::Break
                }
            }
        },
    );
    timer.attach(Some(&host.engine().context()));
    keep(shared, timer);
}

/// Looks again once the socket is readable.
fn watch_again<H: Host, S: EarlyRead>(weak: &SendWeak<H>, shared: &Shared<S>, next: Next<H>) {
    let socket = lock(shared)
        .as_ref()
        .map(|read| read.arriving.connection.socket());
    if let (Some(host), Some(socket)) = (weak.upgrade(), socket) {
        let source = readable_source(&host, &socket, shared, next);
        source.attach(Some(&host.engine().context()));
        keep(shared, source);
    }
}

/// Keeps `source`, attached, with the read's sources, to destroy when the read ends.
fn keep<S>(shared: &Shared<S>, source: glib::Source) {
    if let Some(read) = lock(shared).as_mut() {
        // The sources of earlier looks are done with.
        read.sources.retain(|source| !source.is_destroyed());
        read.sources.push(source);
    }
}

/// Ends the read, once, and has the stage conclude it with `result`. Without `host`, the
/// service is gone: the connection is closed.
fn finish<H: Host, S: EarlyRead>(
    host: Option<&H>,
    shared: &Shared<S>,
    result: Result<S::Output, glib::Error>,
    next: Next<H>,
) {
    let Some(host) = host else {
        return close(shared);
    };
    if let Some((arriving, stage)) = end(shared) {
        S::delist(host, shared);
        conclude(host, stage, arriving, result, next);
    }
}

/// Has `stage` conclude the read of `arriving` with `result`, and takes the connection on to
/// `next`, or refuses it.
fn conclude<H: Host, S: EarlyRead>(
    host: &H,
    stage: S,
    mut arriving: Arriving,
    result: Result<S::Output, glib::Error>,
    next: Next<H>,
) {
    match stage.conclude(host, &mut arriving, result) {
        Ok(()) => next(host, arriving),
        Err(refused) => refuse(host, &arriving, refused),
    }
}

/// Closes the connection of `arriving`, and reports why it was refused.
fn refuse<H: Host>(host: &H, arriving: &Arriving, refused: Refused) {
    let _ = arriving.connection.close(gio::Cancellable::NONE);
    Engine::refuse(host, refused);
}

/// Ends the read, if it has not ended yet, and closes its connection: the service is gone.
fn close<S: EarlyRead>(shared: &Shared<S>) {
    if let Some((arriving, _)) = end(shared) {
        let _ = arriving.connection.close(gio::Cancellable::NONE);
    }
}

/// Ends a read, if it has not ended yet: destroys its sources, and gives its connection and
/// its stage back.
fn end<S>(shared: &Shared<S>) -> Option<(Arriving, S)> {
    let read = lock(shared).take()?;
    for source in read.sources {
        source.destroy();
    }
    Some((read.arriving, read.stage))
}

/// Ends the reads [`Reads::take`] took from `engine`'s state, and closes their connections.
pub(super) fn abandon<S: EarlyRead>(engine: &Engine, reads: Reads<S>) {
    for (arriving, stage) in reads
        .0
        .iter()
        .filter_map(Weak::upgrade)
        .filter_map(|read| end(&read))
    {
        stage.abandoned(engine, &arriving);
        let _ = arriving.connection.close(gio::Cancellable::NONE);
    }
}
