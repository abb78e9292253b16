//! Who gets in, before anything is spent on them: the checks a connection passes at the points
//! where they cost least, by its socket's admission settings — right after the accept (its
//! address, its rate, its socket's rate), once a PROXY protocol header has named the client
//! behind a trusted balancer (the client's address and rate), and before its TLS handshake (the
//! handshakes its peer has in progress, its socket's handshake rate). A connection over a
//! limit is refused at once; accepting never stops for it. And the service's overload: while
//! the system is short of memory or the process close to its descriptor limit, accepting
//! pauses, and the kernel's backlog holds the clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::admission::{Bucket, PeerBuckets, Rate, SocketId, peer_key};
use crate::refusal::{Refusal, RefusalCounts};
use crate::socket_settings::AdmissionSettings;
use crate::sys;

/// The state of the checks: the buckets of each listening socket, and the service's counts.
///
/// The rates are settings of the listening socket, and each socket judges its connections by
/// buckets of its own, refilled at its own rates: connections refused on one socket spend
/// nothing of another's budget, and a busy socket's takes do not keep another's bucket full.
/// The connections accepted through the listener (`g_socket_listener_add_socket()`, whose
/// socket is not known) have one set of their own, under the id `None`.
#[derive(Default)]
pub(crate) struct Gate {
    /// Each socket's bucket of new connections (`rate`), and of TLS handshakes
    /// (`tls-handshake-rate`), each made full when its settings first limit it; a socket has an
    /// entry from its first accept until the service lets go of it.
    sockets: HashMap<SocketId, SocketBuckets>,
    /// Each socket's bucket of each peer (`peer-rate`), in one table bounded for all.
    peers: PeerBuckets,
    /// TLS handshakes in progress, per peer (per IPv4 address, per /64 for IPv6, as
    /// `peer-rate`), on every socket of the service together. `tls-handshakes-per-peer` is a
    /// count, not a rate: the limit is the socket's, the count the peer's, as
    /// `max-connections-per-peer` counts a peer's connections wherever they came in, for the
    /// handshakes cost the service's context alike, whichever socket they came through. Absent
    /// when none.
    handshaking: HashMap<IpAddr, u32>,
    pub refused: RefusalCounts,
    pub overload: Overload,
}

/// The buckets of one listening socket that are not per peer.
#[derive(Default)]
struct SocketBuckets {
    connections: Option<Bucket>,
    handshakes: Option<Bucket>,
}

impl Gate {
    /// Judges a connection from `peer` at its accept on `socket`, `now` giving the time when a
    /// rate needs it. A peer that is a trusted balancer is judged by the client its header
    /// names, later.
    pub(super) fn at_accept(
        &mut self,
        socket: SocketId,
        settings: &AdmissionSettings,
        peer: Option<IpAddr>,
        trusted_balancer: bool,
        now: &mut impl FnMut() -> Instant,
    ) -> Result<(), Refusal> {
        // Every connection passes here first, on a socket the service serves: the entry made
        // here lives until the service lets go of the socket (`forget_socket()`).
        let buckets = self.sockets.entry(socket).or_default();
        if let Some(rate) = settings.rate
            && !take(&mut buckets.connections, rate, now())
        {
            return Err(Refusal::Rate);
        }
        if trusted_balancer {
            return Ok(());
        }
        self.judge_peer(socket, settings, peer, now)
    }

    /// Judges the client a PROXY protocol header named, on a connection accepted on `socket`.
    pub(super) fn at_header(
        &mut self,
        socket: SocketId,
        settings: &AdmissionSettings,
        client: IpAddr,
    ) -> Result<(), Refusal> {
        self.judge_peer(socket, settings, Some(client), &mut Instant::now)
    }

    /// The address checks and the rate of a peer, on `socket`.
    fn judge_peer(
        &mut self,
        socket: SocketId,
        settings: &AdmissionSettings,
        peer: Option<IpAddr>,
        now: &mut impl FnMut() -> Instant,
    ) -> Result<(), Refusal> {
        if !settings.admits(peer) {
            return Err(Refusal::Denied);
        }
        // A socket let go of meanwhile (a header read after its close) gets a bucket again,
        // which goes at a sweep once full, as any other.
        match (settings.peer_rate, peer) {
            (Some(rate), Some(peer)) if !self.peers.take(socket, peer, rate, now()) => {
                Err(Refusal::PeerRate)
            }
            _ => Ok(()),
        }
    }

    /// A TLS handshake is about to start for `peer`, on a connection accepted on `socket`:
    /// counted, or refused.
    pub(super) fn start_handshake(
        &mut self,
        socket: SocketId,
        settings: &AdmissionSettings,
        peer: Option<IpAddr>,
    ) -> Result<(), Refusal> {
        // No entry: the service let go of the socket since the connection's accept, and of its
        // rate with it; the few connections it left in their stages are not held to it.
        if let Some(rate) = settings.handshake_rate
            && let Some(buckets) = self.sockets.get_mut(&socket)
            && !take(&mut buckets.handshakes, rate, Instant::now())
        {
            return Err(Refusal::HandshakeRate);
        }
        if let Some(peer) = peer {
            let count = self.handshaking.entry(peer_key(peer)).or_default();
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
        let key = peer_key(peer);
        if let Some(count) = self.handshaking.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                self.handshaking.remove(&key);
            }
        }
    }

    /// The service let go of listening socket `id`: its buckets go too (ids are never given
    /// again).
    pub(super) fn forget_socket(&mut self, id: u32) {
        self.sockets.remove(&Some(id));
        self.peers.forget(|socket| socket == Some(id));
    }

    /// The service let go of every listening socket: their buckets go too, in one pass; the
    /// listener's accepts keep theirs.
    pub(super) fn forget_sockets(&mut self) {
        self.sockets.retain(|socket, _| socket.is_none());
        self.peers.forget(|socket| socket.is_some());
    }
}

/// Takes a token from `bucket`, made full if there is none yet.
fn take(bucket: &mut Option<Bucket>, rate: Rate, now: Instant) -> bool {
    bucket
        .get_or_insert_with(|| Bucket::full(now))
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
            gate.at_accept(None, &settings, peer("127.0.0.2"), false, now),
            Err(Refusal::Denied)
        );
        assert_eq!(
            gate.at_accept(None, &settings, peer("127.0.0.2"), true, now),
            Ok(())
        );
        assert_eq!(
            gate.at_header(None, &settings, "127.0.0.2".parse().unwrap()),
            Err(Refusal::Denied)
        );
        assert_eq!(
            gate.at_accept(None, &settings, None, false, now),
            Ok(()),
            "Unix-domain"
        );
        let allowed = AdmissionSettings {
            allowed: Some(vec![PeerRange::parse("10.0.0.0/8").unwrap()]),
            ..AdmissionSettings::default()
        };
        assert_eq!(
            gate.at_accept(None, &allowed, peer("10.1.2.3"), false, now),
            Ok(())
        );
        assert_eq!(
            gate.at_accept(None, &allowed, peer("127.0.0.1"), false, now),
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
        assert_eq!(gate.start_handshake(None, &settings, a), Ok(()));
        assert_eq!(gate.start_handshake(None, &settings, a), Ok(()));
        assert_eq!(
            gate.start_handshake(None, &settings, a),
            Err(Refusal::HandshakesPerPeer)
        );
        assert_eq!(
            gate.start_handshake(None, &settings, peer("127.0.0.3")),
            Ok(())
        );
        gate.end_handshake(a);
        assert_eq!(gate.start_handshake(None, &settings, a), Ok(()));
        gate.end_handshake(a);
        gate.end_handshake(a);
        gate.end_handshake(peer("127.0.0.3"));
        assert!(gate.handshaking.is_empty(), "nothing kept for peers done");
    }

    /// The admission settings with these rates.
    fn rates(rate: u32, burst: u32, peer_rate: u32, handshake_rate: u32) -> AdmissionSettings {
        AdmissionSettings {
            rate: Rate::new(rate, burst),
            peer_rate: Rate::new(peer_rate, peer_rate),
            handshake_rate: Rate::new(handshake_rate, handshake_rate),
            ..AdmissionSettings::default()
        }
    }

    /// Of `count` connections from `from` on `socket` at one instant, how many are let in.
    fn admitted(
        gate: &mut Gate,
        socket: SocketId,
        settings: &AdmissionSettings,
        from: &str,
        count: usize,
        at: Instant,
    ) -> usize {
        (0..count)
            .filter(|_| {
                gate.at_accept(socket, settings, peer(from), false, &mut || at)
                    .is_ok()
            })
            .count()
    }

    #[test]
    fn each_socket_spends_its_own_rate() {
        // The review's case: an internal socket (1000 a second, a burst of 1000) and a public one
        // (2 a second).
        let (internal, public) = (Some(1), Some(2));
        let (fast, slow) = (rates(1000, 1000, 0, 0), rates(2, 0, 0, 0));
        let mut gate = Gate::default();
        let now = Instant::now();
        assert_eq!(
            admitted(&mut gate, internal, &fast, "127.0.0.2", 500, now),
            500
        );
        assert_eq!(admitted(&mut gate, public, &slow, "127.0.0.2", 3, now), 2);
        assert_eq!(
            admitted(&mut gate, internal, &fast, "127.0.0.2", 500, now),
            500,
            "the public socket's refusals spent nothing of the internal one's burst"
        );
        // And the busy fast socket does not keep the slow one's bucket full.
        let later = now + std::time::Duration::from_millis(1);
        assert_eq!(
            admitted(&mut gate, internal, &fast, "127.0.0.2", 1, later),
            1
        );
        assert_eq!(admitted(&mut gate, public, &slow, "127.0.0.2", 3, later), 0);
        // The listener's accepts have their own too.
        assert_eq!(admitted(&mut gate, None, &slow, "127.0.0.2", 3, later), 2);
        assert_eq!(
            gate.at_accept(public, &slow, peer("127.0.0.2"), false, &mut || later),
            Err(Refusal::Rate)
        );
    }

    #[test]
    fn each_socket_holds_a_peer_to_its_own_peer_rate() {
        let (internal, public) = (Some(1), Some(2));
        let (fast, slow) = (rates(0, 0, 1000, 0), rates(0, 0, 2, 0));
        let mut gate = Gate::default();
        let now = Instant::now();
        assert_eq!(admitted(&mut gate, public, &slow, "127.0.0.2", 5, now), 2);
        assert_eq!(
            admitted(&mut gate, internal, &fast, "127.0.0.2", 500, now),
            500
        );
        assert_eq!(admitted(&mut gate, public, &slow, "127.0.0.2", 5, now), 0);
        assert_eq!(
            gate.at_accept(public, &slow, peer("127.0.0.2"), false, &mut || now),
            Err(Refusal::PeerRate)
        );
        // Behind a trusted balancer, the client is judged by the socket's buckets too.
        assert_eq!(
            gate.at_header(internal, &fast, "127.0.0.2".parse().unwrap()),
            Ok(())
        );
        assert_eq!(
            gate.at_header(public, &slow, "127.0.0.2".parse().unwrap()),
            Err(Refusal::PeerRate)
        );
    }

    #[test]
    fn each_socket_spends_its_own_handshake_rate() {
        let (internal, public) = (Some(1), Some(2));
        let (fast, slow) = (rates(0, 0, 0, 1000), rates(0, 0, 0, 2));
        let mut gate = Gate::default();
        let now = Instant::now();
        for socket in [internal, public] {
            admitted(&mut gate, socket, &fast, "127.0.0.2", 1, now);
        }
        let mut start = |socket, settings| {
            let started = gate.start_handshake(socket, settings, peer("127.0.0.2"));
            gate.end_handshake(peer("127.0.0.2"));
            started
        };
        assert_eq!(start(public, &slow), Ok(()));
        assert_eq!(start(public, &slow), Ok(()));
        assert_eq!(start(public, &slow), Err(Refusal::HandshakeRate));
        assert!((0..500).all(|_| start(internal, &fast).is_ok()));
        assert_eq!(start(public, &slow), Err(Refusal::HandshakeRate));
    }

    #[test]
    fn a_socket_let_go_of_takes_its_buckets_along() {
        let settings = rates(1, 1, 1, 1);
        let mut gate = Gate::default();
        let now = Instant::now();
        for socket in [Some(1), Some(2), None] {
            assert_eq!(
                admitted(&mut gate, socket, &settings, "127.0.0.2", 2, now),
                1
            );
        }
        gate.forget_socket(1);
        assert_eq!(gate.sockets.len(), 2);
        // A connection of the socket's left in its stages is not held to its rate any more.
        assert_eq!(gate.start_handshake(Some(1), &settings, None), Ok(()));
        assert_eq!(gate.sockets.len(), 2, "nothing made for a socket let go of");
        assert_eq!(
            admitted(&mut gate, Some(2), &settings, "127.0.0.2", 1, now),
            0
        );
        gate.forget_sockets();
        assert_eq!(gate.sockets.len(), 1, "the listener's accepts keep theirs");
        assert_eq!(admitted(&mut gate, None, &settings, "127.0.0.2", 1, now), 0);
    }

    #[test]
    fn handshakes_in_progress_count_ipv6_by_its_64_bit_prefix() {
        let settings = AdmissionSettings {
            handshakes_per_peer: 2,
            ..AdmissionSettings::default()
        };
        let mut gate = Gate::default();
        assert_eq!(
            gate.start_handshake(None, &settings, peer("2001:db8::1")),
            Ok(())
        );
        assert_eq!(
            gate.start_handshake(None, &settings, peer("2001:db8::2")),
            Ok(())
        );
        assert_eq!(
            gate.start_handshake(None, &settings, peer("2001:db8::ffff:3")),
            Err(Refusal::HandshakesPerPeer),
            "the same /64"
        );
        assert_eq!(
            gate.start_handshake(None, &settings, peer("2001:db8:0:1::1")),
            Ok(()),
            "another /64"
        );
        gate.end_handshake(peer("2001:db8::1"));
        assert_eq!(
            gate.start_handshake(None, &settings, peer("2001:db8::4")),
            Ok(())
        );
        for ended in ["2001:db8::2", "2001:db8::4", "2001:db8:0:1::1"] {
            gate.end_handshake(peer(ended));
        }
        assert!(gate.handshaking.is_empty(), "nothing kept for peers done");
    }
}
