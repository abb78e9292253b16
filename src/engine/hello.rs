//! The ClientHello stage, between the PROXY protocol header and the TLS handshake, on a socket
//! that chooses its certificate by the name a client asks for (`tls-certificate-names`), or
//! when the application decides (`select-certificate`): the client's ClientHello is read for
//! its server name and its ALPN protocols, without taking a byte off the socket, so that the
//! TLS library then reads it whole. Elsewhere the stage costs nothing.
//!
//! The bytes are peeked at when the socket is readable, and put together by the parser across
//! records and segments. To wait for the rest of a ClientHello whose beginning stays in the
//! socket (which therefore stays readable), the socket's receive low-water mark
//! (`SO_RCVLOWAT`) is raised to the bytes the parser wants, and set back to 1 before the
//! handshake; where readiness does not honour it, the stage looks again after a growing pause.
//! At most [`MAX_LENGTH`] bytes; the handshake's timeout (`tls-handshake-timeout`) starts here
//! and covers the ClientHello and the handshake. A malformed ClientHello, a client that is not
//! TLS or that leaves in its ClientHello, or one too slow, is a refused connection (`Tls`,
//! `TlsTimeout`), reported with `refused` and `accept-error`, which does not pause accepting.
//! The stage counts as the handshake's toward `tls-handshakes-per-peer` and
//! `tls-handshake-rate`, from its start.

use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use gio::prelude::*;

use super::arriving::{Arriving, Next};
use super::handshakes;
use super::{Engine, Host};
use crate::client_hello::ClientHello;
use crate::log::debug;
use crate::refusal::Refusal;
use crate::socket_settings::TlsSettings;
use crate::sys::{self, SendObject, SendWeak};
use crate::tls_hello::{self, Hello, MAX_LENGTH, Parsed};

/// The ClientHellos being read: weak, as their sources hold them.
#[derive(Default)]
pub(crate) struct Hellos {
    reads: Vec<Weak<Mutex<Option<Read>>>>,
}

impl Hellos {
    /// Lets go of the reads, for [`abandon`]: the service is going away.
    pub(super) fn take_reads(&mut self) -> Vec<Weak<Mutex<Option<Read>>>> {
        std::mem::take(&mut self.reads)
    }
}

/// Whether a connection on a socket with `settings` has its ClientHello read.
pub(super) fn wanted<H: Host>(host: &H, settings: &TlsSettings) -> bool {
    settings.serves() && (!settings.names.is_empty() || host.selects_certificate())
}

/// A ClientHello being read.
pub(super) struct Read {
    arriving: Arriving,
    /// The sources that drive the read: readiness (or a pause), and the deadline.
    sources: Vec<glib::Source>,
    /// The bytes seen at the last look, to tell a socket readable with nothing new.
    seen: usize,
    /// The receive low-water mark was raised, and is to be set back.
    raised: bool,
    /// The pause before the next look where readiness does not honour the low-water mark.
    retry: Option<Duration>,
}

/// How one look at the socket ended.
enum Step {
    /// Wait for the socket to be readable (with enough bytes, past the low-water mark).
    Wait,
    /// Look again after a pause.
    Retry,
    Done(Result<Hello, glib::Error>),
}

type Shared = Arc<Mutex<Option<Read>>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Option<Read>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads the ClientHello of `arriving`, then takes it on to `next` with what it said, or
/// refuses it.
pub(super) fn read<H: Host>(host: &H, mut arriving: Arriving, next: Next<H>) {
    // The TLS stage begins here: counted toward the handshake limits from now on.
    if !handshakes::admit(host, &arriving) {
        return;
    }
    arriving.tls_started = Some(Instant::now());
    let timeout = arriving.settings.tls.handshake_timeout;
    let mut read = Read {
        arriving,
        sources: Vec::new(),
        seen: 0,
        raised: false,
        retry: None,
    };
    // A client sends its ClientHello as it connects: most often it is there already, and read
    // in the dispatch that accepted the connection, with no source of its own.
    if let Step::Done(result) = step(&mut read, true) {
        return conclude(host, read, result, next);
    }
    let socket = read.arriving.connection.socket();
    let shared: Shared = Arc::new(Mutex::new(Some(read)));
    Engine::update(host, |state| {
        state.tls.hellos.reads.push(Arc::downgrade(&shared));
    });
    let context = host.engine().context();
    let mut sources = vec![readable_source(host, &socket, &shared, next)];
    if timeout != 0 {
        let weak = SendWeak::new(host);
        let shared = shared.clone();
        sources.push(glib::timeout_source_new(
            Duration::from_secs(timeout.into()),
            Some("[usher] TLS ClientHello timeout"),
            glib::Priority::DEFAULT,
            move || {
                let seen = lock(&shared).as_ref().map_or(0, |read| read.seen);
                let error = glib::Error::new(
                    gio::IOErrorEnum::TimedOut,
                    &format!(
                        "TLS handshake timed out after {timeout} s, in its ClientHello \
                         ({seen} bytes)"
                    ),
                );
                finish(weak.upgrade().as_ref(), &shared, Err(error), next);
                glib::ControlFlow::Break
            },
        ));
    }
    for source in &sources {
        source.attach(Some(&context));
    }
    if let Some(read) = lock(&shared).as_mut() {
        read.sources = sources;
    }
}

/// A source that looks at `socket` each time it is readable.
fn readable_source<H: Host>(
    host: &H,
    socket: &gio::Socket,
    shared: &Shared,
    next: Next<H>,
) -> glib::Source {
    let weak = SendWeak::new(host);
    let shared = shared.clone();
    SocketExtManual::create_source(
        socket,
        glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
        None::<&gio::Cancellable>,
        Some("[usher] TLS ClientHello"),
        glib::Priority::DEFAULT,
        move |_, _| look(&weak, &shared, next),
    )
}

/// Looks at what the socket has, and acts on it.
fn look<H: Host>(weak: &SendWeak<H>, shared: &Shared, next: Next<H>) -> glib::ControlFlow {
    let Some(host) = weak.upgrade() else {
        finish(None, shared, Ok(Hello::default()), next);
        return glib::ControlFlow::Break;
    };
    let step = match lock(shared).as_mut() {
        Some(read) => step(read, false),
        None => return glib::ControlFlow::Break,
    };
    match step {
        Step::Wait => glib::ControlFlow::Continue,
        Step::Retry => {
            let pause = {
                let mut guard = lock(shared);
                let Some(read) = guard.as_mut() else {
                    return glib::ControlFlow::Break;
                };
                let pause = read.retry.unwrap_or(Duration::from_millis(5));
                read.retry = Some((pause * 2).min(Duration::from_millis(200)));
                pause
            };
            let timer = glib::timeout_source_new(
                pause,
                Some("[usher] TLS ClientHello retry"),
                glib::Priority::DEFAULT,
                {
                    let (weak, shared) = (weak.clone(), shared.clone());
                    move || look(&weak, &shared, next)
                },
            );
            timer.attach(Some(&host.engine().context()));
            if let Some(read) = lock(shared).as_mut() {
                read.sources.retain(|source| !source.is_destroyed());
                read.sources.push(timer);
            }
            glib::ControlFlow::Break
        }
        Step::Done(result) => {
            finish(Some(&host), shared, result, next);
            glib::ControlFlow::Break
        }
    }
}

/// One look at the socket: peeks at what it has and tells what comes next. `first`: the look
/// at the accept, before any readiness.
fn step(read: &mut Read, first: bool) -> Step {
    let socket = read.arriving.connection.socket();
    let mut peeked = [0u8; MAX_LENGTH];
    let received = match sys::receive(socket.as_fd(), &mut peeked, true) {
        Ok(0) => {
            return Step::Done(Err(glib::Error::new(
                gio::IOErrorEnum::BrokenPipe,
                "The connection closed before its TLS ClientHello",
            )));
        }
        Ok(received) => received,
        Err(libc::EAGAIN) => return Step::Wait,
        Err(errno) => {
            return Step::Done(Err(sys::errno_error(
                errno,
                "Error reading the TLS ClientHello",
            )));
        }
    };
    match tls_hello::parse(&peeked[..received]) {
        Ok(Parsed::Complete { hello, .. }) => Step::Done(Ok(hello)),
        Err(error) => Step::Done(Err(if error.not_tls {
            glib::Error::new(gio::TlsError::NotTls, &error.to_string())
        } else {
            glib::Error::new(gio::IOErrorEnum::InvalidData, &error.to_string())
        })),
        Ok(Parsed::Incomplete { wanted }) => {
            let progress = received > read.seen;
            read.seen = received;
            if !first && !progress {
                // Readable with nothing new: the client left, or readiness does not honour
                // the low-water mark (a Unix-domain socket).
                if sys::peer_closed(socket.as_fd()) {
                    return Step::Done(Err(glib::Error::new(
                        gio::IOErrorEnum::BrokenPipe,
                        &format!(
                            "The connection closed in its TLS ClientHello, after {received} \
                             bytes"
                        ),
                    )));
                }
                return Step::Retry;
            }
            if read.retry.is_some() {
                return Step::Retry;
            }
            // Readable again once the bytes wanted are there: no look before.
            let lowat = i32::try_from(wanted).unwrap_or(i32::MAX);
            match socket.set_option(libc::SOL_SOCKET, libc::SO_RCVLOWAT, lowat) {
                Ok(()) => {
                    read.raised = true;
                    Step::Wait
                }
                Err(_) => Step::Retry,
            }
        }
    }
}

/// Ends the read, once: takes the connection on with what its ClientHello said, or refuses
/// it. Without `host`, the service is gone: the connection is closed.
fn finish<H: Host>(
    host: Option<&H>,
    shared: &Shared,
    result: Result<Hello, glib::Error>,
    next: Next<H>,
) {
    let Some(read) = end(shared) else {
        return;
    };
    match host {
        Some(host) => {
            let this = Arc::downgrade(shared);
            Engine::update(host, |state| {
                state.tls.hellos.reads.retain(|read| !read.ptr_eq(&this))
            });
            conclude(host, read, result, next)
        }
        None => {
            let _ = read.arriving.connection.close(gio::Cancellable::NONE);
        }
    }
}

/// Takes the connection of `read`, whose ClientHello was read with `result`, on to `next`,
/// or refuses it.
fn conclude<H: Host>(host: &H, read: Read, result: Result<Hello, glib::Error>, next: Next<H>) {
    let mut arriving = read.arriving;
    if read.raised {
        // The TLS library's reads wait for readiness, which must come with the first byte.
        let _ = arriving
            .connection
            .socket()
            .set_option(libc::SOL_SOCKET, libc::SO_RCVLOWAT, 1);
    }
    match result {
        Ok(hello) => {
            debug!(
                "a ClientHello for {}",
                hello.server_name.as_deref().unwrap_or("no name")
            );
            arriving.client_hello = Some(SendObject::new(ClientHello::new(hello)));
            next(host, arriving);
        }
        Err(error) => {
            handshakes::end(host, arriving.peer);
            let reason = if error.matches(gio::IOErrorEnum::TimedOut) {
                Refusal::TlsTimeout
            } else {
                Refusal::Tls
            };
            let message = format!(
                "Refused a connection from {}: {}",
                super::registry::describe(arriving.peer),
                error.message()
            );
            let error = match error.kind::<gio::TlsError>() {
                Some(kind) => glib::Error::new(kind, &message),
                None => glib::Error::new(
                    error
                        .kind::<gio::IOErrorEnum>()
                        .unwrap_or(gio::IOErrorEnum::Failed),
                    &message,
                ),
            };
            Engine::refuse_arriving(host, &arriving, error, reason);
        }
    }
}

/// Ends a read, if it has not ended yet: destroys its sources, and gives it back.
fn end(shared: &Shared) -> Option<Read> {
    let mut read = lock(shared).take()?;
    for source in std::mem::take(&mut read.sources) {
        source.destroy();
    }
    Some(read)
}

/// Ends the reads `take_reads` took from `engine`, and closes their connections.
pub(super) fn abandon(engine: &Engine, reads: Vec<Weak<Mutex<Option<Read>>>>) {
    for read in reads
        .iter()
        .filter_map(Weak::upgrade)
        .filter_map(|read| end(&read))
    {
        {
            let mut state = engine.state();
            state.tls.handshakes -= 1;
            state.gate.end_handshake(read.arriving.peer);
        }
        let _ = read.arriving.connection.close(gio::Cancellable::NONE);
    }
}
