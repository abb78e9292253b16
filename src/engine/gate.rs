//! Who gets in, before anything is spent on them: the checks a connection passes at the points
//! where they cost least, by its socket's admission settings — right after the accept (its
//! address, its rate, the service's rate), once a PROXY protocol header has named the client
//! behind a trusted balancer (the client's address and rate), and before its TLS handshake (the
//! handshakes its peer has in progress, the service's handshake rate). A connection over a
//! limit is refused at once; accepting never stops for it. And the service's overload: while
//! the system is short of memory or the process close to its descriptor limit, accepting
//! pauses, and the kernel's backlog holds the clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::admission::{Bucket, PeerBuckets, Rate};
use crate::refusal::{Refusal, RefusalCounts};
use crate::socket_settings::AdmissionSettings;
use crate::sys;

/// The state of the checks: the service's buckets and counts.
#[derive(Default)]
pub(crate) struct Gate {
    peers: PeerBuckets,
    /// The service's bucket of new connections, and of TLS handshakes: made with the first
    /// rate a socket's settings give.
    connections: Option<Bucket>,
    handshakes: Option<Bucket>,
    /// TLS handshakes in progress, per peer; absent when none.
    handshaking: HashMap<IpAddr, u32>,
    pub refused: RefusalCounts,
    pub overload: Overload,
}

impl Gate {
    /// Judges a connection from `peer` at its accept, `now` giving the time when a rate needs
    /// it. A peer that is a trusted balancer is judged by the client its header names, later.
    pub(super) fn at_accept(
        &mut self,
        settings: &AdmissionSettings,
        peer: Option<IpAddr>,
        trusted_balancer: bool,
        now: &mut impl FnMut() -> Instant,
    ) -> Result<(), Refusal> {
        if let Some(rate) = settings.rate
            && !take(&mut self.connections, rate, now())
        {
            return Err(Refusal::Rate);
        }
        if trusted_balancer {
            return Ok(());
        }
        self.judge_peer(settings, peer, now)
    }

    /// Judges the client a PROXY protocol header named.
    pub(super) fn at_header(
        &mut self,
        settings: &AdmissionSettings,
        client: IpAddr,
    ) -> Result<(), Refusal> {
        self.judge_peer(settings, Some(client), &mut Instant::now)
    }

    /// The address checks and the rate of a peer.
    fn judge_peer(
        &mut self,
        settings: &AdmissionSettings,
        peer: Option<IpAddr>,
        now: &mut impl FnMut() -> Instant,
    ) -> Result<(), Refusal> {
        if !settings.admits(peer) {
            return Err(Refusal::Denied);
        }
        match (settings.peer_rate, peer) {
            (Some(rate), Some(peer)) if !self.peers.take(peer, rate, now()) => {
                Err(Refusal::PeerRate)
            }
            _ => Ok(()),
        }
    }

    /// A TLS handshake is about to start for `peer`: counted, or refused.
    pub(super) fn start_handshake(
        &mut self,
        settings: &AdmissionSettings,
        peer: Option<IpAddr>,
    ) -> Result<(), Refusal> {
        if let Some(rate) = settings.handshake_rate
            && !take(&mut self.handshakes, rate, Instant::now())
        {
            return Err(Refusal::HandshakeRate);
        }
        if let Some(peer) = peer {
            let count = self.handshaking.entry(peer).or_default();
            if settings.handshakes_per_peer != 0 && *count >= settings.handshakes_per_peer {
                return Err(Refusal::HandshakesPerPeer);
            }
            *count += 1;
        }
        Ok(())
    }

    /// The TLS handshake `start_handshake()` counted for `peer` ended.
    pub(super) fn end_handshake(&mut self, peer: Option<IpAddr>) {
        let Some(peer) = peer else { return };
        if let Some(count) = self.handshaking.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                self.handshaking.remove(&peer);
            }
        }
    }
}

/// Takes a token from `bucket`, made full at `rate` if there is none yet.
fn take(bucket: &mut Option<Bucket>, rate: Rate, now: Instant) -> bool {
    bucket
        .get_or_insert_with(|| Bucket::full(rate, now))
        .take(rate, now)
}

/// Why accepting is paused for the process's sake, if it is.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Overload {
    /// The memory monitor warned of pressure (`MEDIUM` or worse).
    pub memory: bool,
    /// The last connection accepted had a descriptor within the margin of the limit.
    pub descriptors: bool,
}

impl Overload {
    pub(crate) fn any(&self) -> bool {
        self.memory || self.descriptors
    }
}

/// How close the process is to its descriptor limit (`RLIMIT_NOFILE`): Linux hands out the
/// lowest free descriptor, so a client accepted with a descriptor within `margin` of the limit
/// means that hardly any are left below it. Accepting then pauses until the lowest free
/// descriptor is twice the margin away from the limit again.
pub(crate) struct Descriptors {
    /// 0 for no pause before the limit.
    pub margin: u32,
    /// The soft limit, read when the margin is set and at every pause.
    limit: u64,
}

impl Default for Descriptors {
    fn default() -> Self {
        let mut descriptors = Self {
            margin: Self::DEFAULT_MARGIN,
            limit: 0,
        };
        descriptors.read_limit();
        descriptors
    }
}

impl Descriptors {
    /// The default margin: room for a few dozen files, pipes and connections of the
    /// application's own, and for the connections in hand.
    pub(crate) const DEFAULT_MARGIN: u32 = 32;

    fn read_limit(&mut self) {
        self.limit = sys::descriptor_limit();
    }

    /// Sets the margin.
    pub(crate) fn set_margin(&mut self, margin: u32) {
        self.margin = margin;
        self.read_limit();
    }

    /// The margin in force: at most a quarter of the limit, so that twice it leaves room.
    fn effective_margin(&self) -> u64 {
        u64::from(self.margin).min(self.limit / 4)
    }

    /// Whether `fd`, just accepted, is within the margin of the limit; the limit read again
    /// before saying so, as the application may have raised it.
    pub(super) fn is_near_limit(&mut self, fd: &impl AsRawFd) -> bool {
        let near = |descriptors: &Self| {
            u64::try_from(fd.as_raw_fd()).unwrap_or(0) + descriptors.effective_margin()
                >= descriptors.limit
        };
        if self.margin == 0 || !near(self) {
            return false;
        }
        self.read_limit();
        near(self)
    }

    /// Whether descriptors are free again, twice the margin below the limit (which may have
    /// been raised meanwhile).
    pub(super) fn are_free_again(&mut self) -> bool {
        self.read_limit();
        sys::lowest_free_descriptor().is_some_and(|lowest| {
            u64::try_from(lowest).unwrap_or(u64::MAX) + 2 * self.effective_margin() < self.limit
        })
    }
}

/// A connection refused: why, and from whom.
pub(super) struct Refused {
    pub error: glib::Error,
    pub reason: Refusal,
    pub peer: Option<IpAddr>,
}

/// The error a refusal for `reason` is reported with.
pub(super) fn refused(reason: Refusal, peer: Option<IpAddr>) -> glib::Error {
    let (code, why) = match reason {
        Refusal::PeerRate => (gio::IOErrorEnum::Busy, "it comes faster than peer-rate"),
        Refusal::Rate => (gio::IOErrorEnum::Busy, "connections come faster than rate"),
        Refusal::HandshakesPerPeer => (
            gio::IOErrorEnum::Busy,
            "it has tls-handshakes-per-peer TLS handshakes in progress already",
        ),
        Refusal::HandshakeRate => (
            gio::IOErrorEnum::Busy,
            "TLS handshakes start faster than tls-handshake-rate",
        ),
        _ => (
            gio::IOErrorEnum::PermissionDenied,
            "its address is denied (allowed-peers, denied-peers)",
        ),
    };
    glib::Error::new(
        code,
        &format!(
            "Refused a connection from {}: {why}",
            super::registry::describe(peer)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_protocol::PeerRange;

    fn peer(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn a_denied_peer_is_refused_and_a_trusted_balancer_judged_later() {
        let settings = AdmissionSettings {
            denied: vec![PeerRange::parse("127.0.0.2").unwrap()],
            ..AdmissionSettings::default()
        };
        let mut gate = Gate::default();
        let now = &mut Instant::now;
        assert_eq!(
            gate.at_accept(&settings, peer("127.0.0.2"), false, now),
            Err(Refusal::Denied)
        );
        assert_eq!(
            gate.at_accept(&settings, peer("127.0.0.2"), true, now),
            Ok(())
        );
        assert_eq!(
            gate.at_header(&settings, "127.0.0.2".parse().unwrap()),
            Err(Refusal::Denied)
        );
        assert_eq!(
            gate.at_accept(&settings, None, false, now),
            Ok(()),
            "Unix-domain"
        );
        let allowed = AdmissionSettings {
            allowed: Some(vec![PeerRange::parse("10.0.0.0/8").unwrap()]),
            ..AdmissionSettings::default()
        };
        assert_eq!(
            gate.at_accept(&allowed, peer("10.1.2.3"), false, now),
            Ok(())
        );
        assert_eq!(
            gate.at_accept(&allowed, peer("127.0.0.1"), false, now),
            Err(Refusal::Denied)
        );
    }

    #[test]
    fn handshakes_in_progress_are_counted_per_peer_until_they_end() {
        let settings = AdmissionSettings {
            handshakes_per_peer: 2,
            ..AdmissionSettings::default()
        };
        let mut gate = Gate::default();
        let a = peer("127.0.0.2");
        assert_eq!(gate.start_handshake(&settings, a), Ok(()));
        assert_eq!(gate.start_handshake(&settings, a), Ok(()));
        assert_eq!(
            gate.start_handshake(&settings, a),
            Err(Refusal::HandshakesPerPeer)
        );
        assert_eq!(gate.start_handshake(&settings, peer("127.0.0.3")), Ok(()));
        gate.end_handshake(a);
        assert_eq!(gate.start_handshake(&settings, a), Ok(()));
        gate.end_handshake(a);
        gate.end_handshake(a);
        gate.end_handshake(peer("127.0.0.3"));
        assert!(gate.handshaking.is_empty(), "nothing kept for peers done");
    }
}
