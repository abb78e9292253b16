//! The PROXY protocol stage, between the accept and the TLS handshake: a connection from a
//! trusted balancer (`proxy-protocol-peers`) is taken through the header the balancer sends
//! before the client's data, and its client's address is what the service counts and names
//! from then on; a connection from anyone else is refused if it starts with a header.
//!
//! The header is read on the service's context, when the socket is readable, without reading
//! a byte beyond it (what follows belongs to TLS or the application): the bytes are peeked at,
//! and only those the parser says belong to the header are taken off the socket. A header that
//! arrives in pieces is put together. One deadline, from the accept, bounds the whole header,
//! however slowly it trickles in. While it is read the connection counts toward
//! `max-connections` and the balancer's `max-connections-per-peer`; once read, toward the
//! client's. A bad header, a missing one, one from an untrusted peer or one too slow is a
//! refused connection, reported with `accept-error`, and does not pause accepting.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use gio::prelude::*;

use super::arriving::{Arriving, Next};
use super::gate::Refused;
use super::{Engine, Host};
use crate::log::debug;
use crate::proxy_info::ProxyInfo;
use crate::proxy_protocol::{self, Detection, Header, MAX_LENGTH, Parsed};
use crate::refusal::Refusal;
use crate::socket_settings::ProxySettings;
use crate::sys::{self, SendObject, SendWeak};

/// The PROXY protocol part of the engine's state.
#[derive(Default)]
pub(crate) struct Proxy {
    /// The headers being read: weak, as their sources hold them.
    reads: Vec<Weak<Mutex<Option<Read>>>>,
}

impl Proxy {
    /// How many headers are being read.
    pub(super) fn reads(&self) -> usize {
        self.reads.len()
    }

    /// Lets go of the headers being read, for [`abandon`]: the service is going away.
    pub(super) fn take_reads(&mut self) -> Vec<Weak<Mutex<Option<Read>>>> {
        std::mem::take(&mut self.reads)
    }
}

/// Whether `peer` is a balancer `settings` trust to send a header. Its connections are not held
/// to `max-connections-per-peer`, nor judged by the admission settings, at their accept (a burst
/// of clients through one balancer would be refused): each counts toward its client's once its
/// header is read, and toward the balancer's only while it waits for its header, or if the
/// header names no client.
pub(super) fn trusts(settings: &ProxySettings, peer: Option<IpAddr>) -> bool {
    peer.is_some_and(|peer| settings.peers.iter().any(|range| range.contains(peer)))
}

/// What a connection from `peer` is to send on a socket with `settings`, and the deadline;
/// `None` when the stage does not apply (no PROXY protocol, or a Unix-domain connection).
pub(super) fn expectation(settings: &ProxySettings, peer: Option<IpAddr>) -> Option<(Expect, u32)> {
    let peer = peer?;
    if settings.peers.is_empty() {
        return None;
    }
    let expect = match (trusts(settings, Some(peer)), settings.required) {
        (true, true) => Expect::Header,
        (true, false) => Expect::MaybeHeader,
        (false, _) => Expect::NoHeader,
    };
    Some((expect, settings.timeout))
}

/// What the service expects a connection to start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// A header: from a trusted peer, which must send one.
    Header,
    /// A header or the application's data: from a trusted peer with `proxy-protocol-required`
    /// off.
    MaybeHeader,
    /// The application's data: from a peer not trusted, whose header is never believed.
    NoHeader,
}

/// A header being read.
pub(super) struct Read {
    arriving: Arriving,
    expect: Expect,
    /// The header's bytes taken off the socket so far: never more than [`MAX_LENGTH`].
    taken: Vec<u8>,
    /// The sources that drive the read: readiness (or a retry), and the deadline.
    sources: Vec<glib::Source>,
    /// The pause before the next look at bytes too few to tell a header from data.
    retry: Duration,
}

/// How one look at the socket ended.
enum Step {
    /// More bytes are needed: wait for the socket to be readable again.
    Wait,
    /// The bytes are a beginning of a signature, and may be data: look again a little later.
    Retry,
    Done(Result<Option<Header>, glib::Error>),
}

/// A read in progress, shared by its sources; `None` once it ended.
type Shared = Arc<Mutex<Option<Read>>>;

/// Reads the header of `arriving`, then takes it on to `next`, or refuses it.
pub(super) fn read<H: Host>(
    host: &H,
    expect: Expect,
    timeout: u32,
    arriving: Arriving,
    next: Next<H>,
) {
    let mut read = Read {
        arriving,
        expect,
        taken: Vec::new(),
        sources: Vec::new(),
        retry: Duration::from_millis(5),
    };
    // A balancer sends its header as it connects: it is most often there already, and read
    // at once, in the dispatch that accepted the connection, with no source of its own.
    if let Step::Done(result) = step(&mut read) {
        return conclude(host, read.arriving, result, None, next);
    }
    let (peer, socket) = (read.arriving.peer, read.arriving.connection.socket());
    let shared: Shared = Arc::new(Mutex::new(Some(read)));
    // Waiting for its header, the connection counts toward its balancer's per-peer cap.
    let refusal = Engine::update(host, |state| {
        let refusal = state.over_cap(peer);
        if refusal.is_none() {
            state.proxy.reads.push(Arc::downgrade(&shared));
        }
        refusal
    });
    if let Some(refusal) = refusal {
        if let Some(arriving) = end(&shared) {
            Engine::refuse_arriving(host, &arriving, refusal, Refusal::PeerCap);
        }
        return;
    }
    let context = host.engine().context();
    let mut sources = vec![readable_source(host, &socket, &shared, next)];
    if timeout != 0 {
        let weak = SendWeak::new(host);
        let shared = shared.clone();
        sources.push(glib::timeout_source_new(
            Duration::from_secs(timeout.into()),
            Some("[usher] PROXY header timeout"),
            glib::Priority::DEFAULT,
            move || {
                let result = match lock(&shared).as_ref().map(|read| read.expect) {
                    // Too few bytes, or none, to tell: the connection is the application's.
                    Some(Expect::MaybeHeader | Expect::NoHeader) => Ok(None),
                    _ => Err(glib::Error::new(
                        gio::IOErrorEnum::TimedOut,
                        &format!("PROXY protocol header timed out after {timeout} s"),
                    )),
                };
                finish(weak.upgrade().as_ref(), &shared, result, next);
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

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Option<Read>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A source that looks at `socket`, the connection's, each time it is readable.
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
        Some("[usher] PROXY header"),
        glib::Priority::DEFAULT,
        move |_, _| look(&weak, &shared, next),
    )
}

/// Looks at what the socket has, and acts on it.
fn look<H: Host>(weak: &SendWeak<H>, shared: &Shared, next: Next<H>) -> glib::ControlFlow {
    let Some(host) = weak.upgrade() else {
        finish(None, shared, Ok(None), next);
        return glib::ControlFlow::Break;
    };
    let step = match lock(shared).as_mut() {
        Some(read) => step(read),
        None => return glib::ControlFlow::Break,
    };
    match step {
        Step::Wait => glib::ControlFlow::Continue,
        Step::Retry => {
            // The bytes stay in the socket, which stays readable: wait a moment instead of
            // spinning on them.
            let retry = {
                let mut guard = lock(shared);
                let Some(read) = guard.as_mut() else {
                    return glib::ControlFlow::Break;
                };
                let retry = read.retry;
                read.retry = (retry * 2).min(Duration::from_millis(200));
                retry
            };
            let timer = glib::timeout_source_new(
                retry,
                Some("[usher] PROXY header retry"),
                glib::Priority::DEFAULT,
                {
                    let (weak, shared) = (weak.clone(), shared.clone());
                    move || {
                        let socket = lock(&shared)
                            .as_ref()
                            .map(|read| read.arriving.connection.socket());
                        if let (Some(host), Some(socket)) = (weak.upgrade(), socket) {
                            let source = readable_source(&host, &socket, &shared, next);
                            source.attach(Some(&host.engine().context()));
                            if let Some(read) = lock(&shared).as_mut() {
                                // The sources of earlier looks are done with.
                                read.sources.retain(|source| !source.is_destroyed());
                                read.sources.push(source);
                            }
                        }
                        glib::ControlFlow::Break
                    }
                },
            );
            timer.attach(Some(&host.engine().context()));
            if let Some(read) = lock(shared).as_mut() {
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

/// One look at the socket: peeks at what it has, takes off what belongs to the header, and
/// tells what comes next.
fn step(read: &mut Read) -> Step {
    let socket = read.arriving.connection.socket();
    let mut buffer = [0u8; MAX_LENGTH];
    let room = MAX_LENGTH - read.taken.len();
    let received = match sys::receive(socket.as_fd(), &mut buffer[..room], true) {
        Ok(received) => received,
        Err(libc::EAGAIN) => return Step::Wait,
        Err(errno) => {
            return Step::Done(Err(sys::errno_error(
                errno,
                "Error reading the PROXY protocol header",
            )));
        }
    };
    if received == 0 {
        return Step::Done(match (read.expect, read.taken.is_empty()) {
            // A client that sent nothing: the application sees the end of the stream.
            (Expect::MaybeHeader | Expect::NoHeader, _) => Ok(None),
            (Expect::Header, true) => Err(glib::Error::new(
                gio::IOErrorEnum::BrokenPipe,
                "The connection closed before its PROXY protocol header",
            )),
            (Expect::Header, false) => Err(glib::Error::new(
                gio::IOErrorEnum::BrokenPipe,
                &format!(
                    "The connection closed in its PROXY protocol header, after {} bytes",
                    read.taken.len()
                ),
            )),
        });
    }
    let peeked = &buffer[..received];
    if read.expect != Expect::Header {
        // Nothing was taken yet: the bytes are the socket's first.
        match (proxy_protocol::detect(peeked), read.expect) {
            (Detection::NotHeader, _) => return Step::Done(Ok(None)),
            (Detection::Undecided, _) => return Step::Retry,
            (Detection::Header, Expect::NoHeader) => {
                return Step::Done(Err(glib::Error::new(
                    gio::IOErrorEnum::PermissionDenied,
                    "A PROXY protocol header from a peer not trusted to send one \
                     (proxy-protocol-peers)",
                )));
            }
            (Detection::Header, _) => read.expect = Expect::Header,
        }
    }
    let mut bytes = std::mem::take(&mut read.taken);
    bytes.extend_from_slice(peeked);
    let parsed = proxy_protocol::parse(&bytes);
    let (header, length) = match parsed {
        Err(error) => {
            return Step::Done(Err(glib::Error::new(
                gio::IOErrorEnum::InvalidData,
                &error.to_string(),
            )));
        }
        // Every byte peeked belongs to the header: take them off, and wait for the rest.
        Ok(Parsed::Incomplete) => (None, bytes.len()),
        Ok(Parsed::Complete { header, length }) => (Some(header), length),
    };
    let unread = length - (bytes.len() - received);
    // Into the buffer the bytes were peeked into, copied out already.
    if let Err(error) = take_off(&socket, &mut buffer[..unread]) {
        return Step::Done(Err(error));
    }
    bytes.truncate(length);
    match header {
        Some(header) => Step::Done(Ok(Some(header))),
        None => {
            read.taken = bytes;
            Step::Wait
        }
    }
}

/// Receives into `discarded` as many bytes as it holds, which a peek showed are there, and which
/// belong to the header.
fn take_off(socket: &gio::Socket, discarded: &mut [u8]) -> Result<(), glib::Error> {
    match sys::receive(socket.as_fd(), discarded, false) {
        Ok(received) if received == discarded.len() => Ok(()),
        Ok(_) => Err(glib::Error::new(
            gio::IOErrorEnum::Failed,
            "The socket gave fewer bytes of the PROXY protocol header than it showed",
        )),
        Err(errno) => Err(sys::errno_error(
            errno,
            "Error reading the PROXY protocol header",
        )),
    }
}

/// Ends the read, once: takes the connection on to the next stage with what the header said,
/// or refuses it. Without `host`, the service is gone: the connection is closed.
fn finish<H: Host>(
    host: Option<&H>,
    shared: &Shared,
    result: Result<Option<Header>, glib::Error>,
    next: Next<H>,
) {
    let Some(arriving) = end(shared) else {
        return;
    };
    match host {
        Some(host) => conclude(host, arriving, result, Some(shared), next),
        None => {
            let _ = arriving.connection.close(gio::Cancellable::NONE);
        }
    }
}

/// Takes `arriving`, whose read (`shared`, if it had sources) ended with `result`, on to `next`
/// under its client's address, or refuses it.
fn conclude<H: Host>(
    host: &H,
    mut arriving: Arriving,
    result: Result<Option<Header>, glib::Error>,
    shared: Option<&Shared>,
    next: Next<H>,
) {
    let through = arriving.peer;
    let outcome = result.and_then(|header| {
        let Some(header) = header else {
            return Ok(None);
        };
        let client = header
            .addresses
            .map(|(source, _)| sys::canonical_ip(source.ip()));
        let info = ProxyInfo::new(header, &arriving.connection.socket())?;
        Ok(Some((client, info)))
    });
    let admitted = Engine::update(host, |state| {
        if let Some(shared) = shared {
            let this = Arc::downgrade(shared);
            state.proxy.reads.retain(|read| !read.ptr_eq(&this));
        }
        match &outcome {
            Ok(Some((Some(client), _))) => {
                // The client, not the balancer, is judged.
                let client = Some(*client);
                state
                    .gate
                    .at_header(
                        arriving.listening,
                        &arriving.settings.admission,
                        *client.as_ref().unwrap(),
                    )
                    .map_err(|reason| (super::gate::refused(reason, client), reason, client))?;
                state
                    .registry
                    .repeer(arriving.key, client, state.limits.max_per_peer)
                    .map(|()| client)
                    .map_err(|count| {
                        let error = super::registry::refusal(client, through, count);
                        (error, Refusal::PeerCap, client)
                    })
            }
            // A health check, or a connection without a client's address: the balancer's own.
            Ok(_) => state
                .over_cap(through)
                .map_or(Ok(None), |error| Err((error, Refusal::PeerCap, through))),
            Err(_) => Ok(None),
        }
    });
    let info = match (outcome, admitted) {
        (Err(error), _) => {
            let kind = error
                .kind::<gio::IOErrorEnum>()
                .unwrap_or(gio::IOErrorEnum::Failed);
            let reason = match kind {
                gio::IOErrorEnum::TimedOut => Refusal::ProxyTimeout,
                _ => Refusal::ProxyHeader,
            };
            let error = glib::Error::new(
                kind,
                &format!(
                    "Refused a connection from {}: {}",
                    super::registry::describe(through),
                    error.message()
                ),
            );
            Engine::refuse_arriving(host, &arriving, error, reason);
            return;
        }
        (Ok(_), Err((error, reason, peer))) => {
            let _ = arriving.connection.close(gio::Cancellable::NONE);
            Engine::refuse(
                host,
                Refused {
                    error,
                    reason,
                    peer,
                },
            );
            return;
        }
        (Ok(info), Ok(client)) => {
            if let Some(client) = client {
                debug!(
                    "a client at {client}, through {}",
                    super::registry::describe(through)
                );
                arriving.peer = Some(client);
            }
            info.map(|(_, info)| info)
        }
    };
    arriving.proxy_info = info.map(SendObject::new);
    next(host, arriving);
}

/// Ends a read, if it has not ended yet: destroys its sources, and gives its connection back.
fn end(shared: &Shared) -> Option<Arriving> {
    let read = lock(shared).take()?;
    for source in read.sources {
        source.destroy();
    }
    Some(read.arriving)
}

/// Ends the reads `take_reads` took, and closes their connections.
pub(super) fn abandon(reads: Vec<Weak<Mutex<Option<Read>>>>) {
    for arriving in reads
        .iter()
        .filter_map(Weak::upgrade)
        .filter_map(|read| end(&read))
    {
        let _ = arriving.connection.close(gio::Cancellable::NONE);
    }
}
