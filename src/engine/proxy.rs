//! The PROXY protocol stage, between the accept and the TLS handshake: a connection from a
//! trusted balancer (`proxy-protocol-peers`) is taken through the header the balancer sends
//! before the client's data, and its client's address is what the service counts and names
//! from then on; a connection from anyone else is refused if it starts with a header.
//!
//! The header is read on the service's context, when the socket is readable
//! ([`super::early_read`] drives the looks), without reading a byte beyond it (what follows belongs to TLS or the application): the bytes are peeked at,
//! and only those the parser says belong to the header are taken off the socket. A header that
//! arrives in pieces is put together. One deadline, from the accept, bounds the whole header,
//! however slowly it trickles in. While it is read the connection counts toward
//! `max-connections` and the balancer's `max-connections-per-peer`; once read, toward the
//! client's. A bad header, a missing one, one from an untrusted peer or one too slow is a
//! refused connection, reported with `accept-error`, and does not pause accepting.

use std::net::IpAddr;
use std::os::fd::AsFd;

use gio::prelude::*;

use super::arriving::{Arriving, Next};
use super::early_read::{self, EarlyRead, Look, Reads, Resume, Shared, Step};
use super::gate::Refused;
use super::{Engine, Host};
use crate::log::debug;
use crate::proxy_info::ProxyInfo;
use crate::proxy_protocol::{self, Detection, Header, MAX_LENGTH, Parsed};
use crate::refusal::Refusal;
use crate::socket_settings::ProxySettings;
use crate::sys::{self, SendObject};

/// The PROXY protocol part of the engine's state.
#[derive(Default)]
pub(crate) struct Proxy {
    /// The headers being read.
    pub(super) reads: Reads<HeaderRead>,
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

/// A header being read: what is kept between looks.
pub(super) struct HeaderRead {
    expect: Expect,
    /// The header's bytes taken off the socket so far: never more than [`MAX_LENGTH`].
    taken: Vec<u8>,
}

/// Reads the header of `arriving`, then takes it on to `next`, or refuses it.
pub(super) fn read<H: Host>(
    host: &H,
    expect: Expect,
    timeout: u32,
    arriving: Arriving,
    next: Next<H>,
) {
    let read = HeaderRead {
        expect,
        taken: Vec::new(),
    };
    early_read::read(host, arriving, read, timeout, next);
}

impl EarlyRead for HeaderRead {
    type Output = Option<Header>;

    const SOURCE_NAME: &'static str = "[usher] PROXY header";

    // Readiness serves every look at a header, those after a pause too.
    const AFTER_PAUSE: Resume = Resume::WhenReadable;

    /// One look at the socket: peeks at what it has, takes off what belongs to the header, and
    /// tells what comes next.
    fn step(&mut self, socket: &gio::Socket, _: Look) -> Step<Option<Header>> {
        let mut buffer = [0u8; MAX_LENGTH];
        let room = MAX_LENGTH - self.taken.len();
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
            return Step::Done(match (self.expect, self.taken.is_empty()) {
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
                        self.taken.len()
                    ),
                )),
            });
        }
        let peeked = &buffer[..received];
        if self.expect != Expect::Header {
            // Nothing was taken yet: the bytes are the socket's first.
            match (proxy_protocol::detect(peeked), self.expect) {
                (Detection::NotHeader, _) => return Step::Done(Ok(None)),
                (Detection::Undecided, _) => return Step::Retry,
                (Detection::Header, Expect::NoHeader) => {
                    return Step::Done(Err(glib::Error::new(
                        gio::IOErrorEnum::PermissionDenied,
                        "A PROXY protocol header from a peer not trusted to send one \
                         (proxy-protocol-peers)",
                    )));
                }
                (Detection::Header, _) => self.expect = Expect::Header,
            }
        }
        let mut bytes = std::mem::take(&mut self.taken);
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
        if let Err(error) = take_off(socket, &mut buffer[..unread]) {
            return Step::Done(Err(error));
        }
        bytes.truncate(length);
        match header {
            Some(header) => Step::Done(Ok(Some(header))),
            None => {
                self.taken = bytes;
                Step::Wait
            }
        }
    }

    fn timed_out(&self, timeout: u32) -> Result<Option<Header>, glib::Error> {
        match self.expect {
            // Too few bytes, or none, to tell: the connection is the application's.
            Expect::MaybeHeader | Expect::NoHeader => Ok(None),
            Expect::Header => Err(glib::Error::new(
                gio::IOErrorEnum::TimedOut,
                &format!("PROXY protocol header timed out after {timeout} s"),
            )),
        }
    }

    /// Readies `arriving`, whose header was read with `result`, for its next stage under its
    /// client's address; or why it is refused.
    fn conclude<H: Host>(
        self,
        host: &H,
        arriving: &mut Arriving,
        result: Result<Option<Header>, glib::Error>,
    ) -> Result<(), Refused> {
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
        let admitted = Engine::update(host, |state| match &outcome {
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
                return Err(Refused {
                    error,
                    reason,
                    peer: through,
                });
            }
            (Ok(_), Err((error, reason, peer))) => {
                return Err(Refused {
                    error,
                    reason,
                    peer,
                });
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
        Ok(())
    }

    fn enlist<H: Host>(host: &H, read: &Shared<Self>, peer: Option<IpAddr>) -> Result<(), Refused> {
        // Waiting for its header, the connection counts toward its balancer's per-peer cap.
        Engine::update(host, |state| match state.over_cap(peer) {
            Some(error) => Err(Refused {
                error,
                reason: Refusal::PeerCap,
                peer,
            }),
            None => {
                state.proxy.reads.add(read);
                Ok(())
            }
        })
    }

    fn delist<H: Host>(host: &H, read: &Shared<Self>) {
        Engine::update(host, |state| state.proxy.reads.remove(read));
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
