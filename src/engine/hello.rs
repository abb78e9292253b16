//! The ClientHello stage, between the PROXY protocol header and the TLS handshake, on a socket
//! that chooses its certificate by the name a client asks for (`tls-certificate-names`), or
//! when the application decides (`select-certificate`): the client's ClientHello is read for
//! its server name and its ALPN protocols, without taking a byte off the socket, so that the
//! TLS library then reads it whole. Elsewhere the stage costs nothing.
//!
//! The bytes are peeked at when the socket is readable ([`super::early_read`] drives the
//! looks), and put together by the parser across records and segments. To wait for the rest of
//! a ClientHello whose beginning stays in the socket (which therefore stays readable), the
//! socket's receive low-water mark (`SO_RCVLOWAT`) is raised to the bytes the parser wants, and
//! set back to 1 before the handshake; where readiness does not honour it, the stage looks
//! again after a growing pause.
//! At most [`MAX_LENGTH`] bytes; the handshake's timeout (`tls-handshake-timeout`) starts here
//! and covers the ClientHello and the handshake. A malformed ClientHello, a client that is not
//! TLS or that leaves in its ClientHello, or one too slow, is a refused connection (`Tls`,
//! `TlsTimeout`), reported with `refused` and `accept-error`, which does not pause accepting.
//! The stage counts as the handshake's toward `tls-handshakes-per-peer` and
//! `tls-handshake-rate`, from its start.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::Instant;

use gio::prelude::*;

use super::arriving::{Arriving, Next};
use super::early_read::{self, EarlyRead, Look, Resume, Shared, Step};
use super::gate::Refused;
use super::handshakes;
use super::{Engine, Host};
use crate::client_hello::ClientHello;
use crate::log::debug;
use crate::refusal::Refusal;
use crate::socket_settings::TlsSettings;
use crate::sys::{self, SendObject};
use crate::tls_hello::{self, Hello, MAX_LENGTH, Parsed};

/// Whether a connection on a socket with `settings` has its ClientHello read.
pub(super) fn wanted<H: Host>(host: &H, settings: &TlsSettings) -> bool {
    settings.serves() && (!settings.names.is_empty() || host.selects_certificate())
}

/// A ClientHello being read: what is kept between looks.
pub(super) struct HelloRead {
    /// The bytes seen at the last look, to tell a socket readable with nothing new.
    seen: usize,
    /// The receive low-water mark was raised, and is to be set back.
    raised: bool,
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
    let read = HelloRead {
        seen: 0,
        raised: false,
    };
    early_read::read(host, arriving, read, timeout, next);
}

impl EarlyRead for HelloRead {
    type Output = Hello;

    const SOURCE_NAME: &'static str = "[usher] TLS ClientHello";

    // A pause is taken where readiness does not serve (it does not honour the low-water mark):
    // the next look is at once.
    const AFTER_PAUSE: Resume = Resume::Look;

    /// One look at the socket: peeks at what it has and tells what comes next.
    fn step(&mut self, socket: &gio::Socket, look: Look) -> Step<Hello> {
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
                let progress = received > self.seen;
                self.seen = received;
                if look != Look::First && !progress {
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
                if look == Look::AfterPause {
                    // Readiness was no use before: the looks stay paced by pauses.
                    return Step::Retry;
                }
                // Readable again once the bytes wanted are there: no look before.
                let lowat = i32::try_from(wanted).unwrap_or(i32::MAX);
                match socket.set_option(libc::SOL_SOCKET, libc::SO_RCVLOWAT, lowat) {
                    Ok(()) => {
                        self.raised = true;
                        Step::Wait
                    }
                    Err(_) => Step::Retry,
                }
            }
        }
    }

    fn timed_out(&self, timeout: u32) -> Result<Hello, glib::Error> {
        Err(glib::Error::new(
            gio::IOErrorEnum::TimedOut,
            &format!(
                "TLS handshake timed out after {timeout} s, in its ClientHello ({} bytes)",
                self.seen
            ),
        ))
    }

    /// Readies `arriving`, whose ClientHello was read with `result`, for its handshake; or why
    /// it is refused.
    fn conclude<H: Host>(
        self,
        host: &H,
        arriving: &mut Arriving,
        result: Result<Hello, glib::Error>,
    ) -> Result<(), Refused> {
        if self.raised {
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
                Ok(())
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
                Err(Refused {
                    error,
                    reason,
                    peer: arriving.peer,
                })
            }
        }
    }

    /// Its TLS stage, counted as it began, ends.
    fn abandoned(&self, engine: &Engine, arriving: &Arriving) {
        let mut state = engine.state();
        state.tls.handshakes -= 1;
        state.gate.end_handshake(arriving.peer);
    }

    fn enlist<H: Host>(host: &H, read: &Shared<Self>, _: Option<IpAddr>) -> Result<(), Refused> {
        Engine::update(host, |state| state.tls.hellos.add(read));
        Ok(())
    }

    fn delist<H: Host>(host: &H, read: &Shared<Self>) {
        Engine::update(host, |state| state.tls.hellos.remove(read));
    }
}
