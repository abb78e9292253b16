//! Rates, as token buckets, with no I/O: how fast a peer, or everyone, may come back.
//!
//! A bucket holds at most `burst` tokens and gains `rate` a second; a connection takes one, and
//! one that finds none is over its rate. Each listening socket has buckets of its own, refilled
//! at its own rates (see `engine::gate`). The buckets of peers are kept only while they matter:
//! a bucket that has filled up again is the same as none, and goes at the next sweep, so that
//! however many addresses come, the table holds only those seen within the last
//! `burst / rate` seconds, and never more than [`PeerBuckets::MOST`] of them, all sockets
//! together.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A rate: `per_second` tokens a second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    /// `per_second` a second, with a burst of `burst` (0: a second's worth); `None` for no
    /// limit (`per_second` 0).
    pub(crate) fn new(per_second: u32, burst: u32) -> Option<Rate> {
        (per_second != 0).then_some(Rate {
            per_second,
            burst: if burst == 0 { per_second } else { burst },
        })
    }

    /// The time one token takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(1) / self.per_second
    }
}

/// A token bucket, kept as the instant it is full again (the generic cell rate algorithm): each
/// token taken puts that instant one interval of its rate further on, and a token is left while
/// the instant is less than `burst - 1` intervals ahead. A bucket so needs no rate to tell that
/// it is full (its instant has passed): buckets of several rates are swept together, each full
/// again at the time its own rate says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    full_at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(now: Instant) -> Self {
        Self { full_at: now }
    }

    /// Takes a token if there is one at `now`, at `rate`: whether the rate allows one more.
    pub(crate) fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let interval = rate.interval();
        let from = self.full_at.max(now);
        // The tokens missing at `now` are `(from - now) / interval`: one is left while fewer
        // than `burst` are missing.
        if from - now > interval * rate.burst.saturating_sub(1) {
            return false;
        }
        self.full_at = from + interval;
        true
    }

    /// Whether the bucket is full again at `now`: it says nothing a fresh one would not.
    fn is_full(&self, now: Instant) -> bool {
        self.full_at <= now
    }
}

/// The key a peer's buckets are kept under: its IPv4 address, or the /64 prefix of its IPv6
/// address, which one host or one customer of a provider commonly holds whole (counting each
/// of its 2^64 addresses apart would let it come back as often as it likes, or have as many
/// handshakes in progress).
pub(crate) fn peer_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// A listening socket, by its id; `None` for the connections accepted through the listener
/// (whose socket is not known).
pub(crate) type SocketId = Option<u32>;

/// The buckets of the peers seen lately, each listening socket's apart.
///
/// One table for every socket, and [`PeerBuckets::MOST`] entries in all, not per socket: the
/// memory it takes is bounded by the addresses seen lately, whatever the number of sockets (a
/// bound per socket would let a service with many sockets keep many times as much). The price:
/// addresses sprayed at one socket faster than their buckets fill up again may fill the table,
/// and until sweeps make room, a peer new to any socket is not held to its `peer-rate` (the
/// peers already in the table are, and every socket's `rate` still holds). The sweep needs no
/// rate (see [`Bucket`]): whichever socket's connection brings it, it lets go of every bucket
/// full again at its own socket's rate, those of quiet sockets too.
#[derive(Debug, Default)]
pub(crate) struct PeerBuckets {
    buckets: HashMap<(SocketId, IpAddr), Bucket>,
    /// Takes since the last sweep.
    since_sweep: usize,
    /// The takes after which the next sweep comes: as many as the peers the last one left (so
    /// that the table at most doubles between sweeps), and at least 1024.
    sweep_after: usize,
}

impl PeerBuckets {
    /// The most peers kept, all sockets together. Beyond them (addresses sprayed faster than
    /// their buckets fill up again), a new peer is not held to its own rate: its socket's rate
    /// still holds.
    pub(crate) const MOST: usize = 65_536;

    /// Takes a token from `peer`'s bucket for `socket` at `now`: whether `rate`, the socket's
    /// `peer-rate`, allows it one more connection.
    pub(crate) fn take(
        &mut self,
        socket: SocketId,
        peer: IpAddr,
        rate: Rate,
        now: Instant,
    ) -> bool {
        self.since_sweep += 1;
        // Often enough that the table never holds more than twice the peers seen lately;
        // seldom enough that its cost, spread over the takes, stays small.
        if self.since_sweep >= self.sweep_after.max(1024) {
            self.sweep(now);
        }
        let key = (socket, peer_key(peer));
        let full = self.buckets.len() >= Self::MOST;
        match self.buckets.get_mut(&key) {
            Some(bucket) => bucket.take(rate, now),
            // The table is full: a new peer is not held to a rate of its own until the next
            // sweep makes room; its socket's rate still holds.
            None if full => true,
            None => {
                let mut bucket = Bucket::full(now);
                let taken = bucket.take(rate, now);
                self.buckets.insert(key, bucket);
                taken
            }
        }
    }

    /// Lets go of the buckets that are full again.
    fn sweep(&mut self, now: Instant) {
        self.since_sweep = 0;
        self.buckets.retain(|_, bucket| !bucket.is_full(now));
        self.sweep_after = self.buckets.len();
    }

    /// Lets go of the buckets of the sockets `forgotten` picks, which the service no longer
    /// serves: one pass over the table.
    pub(crate) fn forget(&mut self, forgotten: impl Fn(SocketId) -> bool) {
        if self.buckets.is_empty() {
            return;
        }
        self.buckets.retain(|(socket, _), _| !forgotten(*socket));
        self.sweep_after = self.sweep_after.min(self.buckets.len());
    }

    /// How many peers have a bucket.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two listening sockets.
    const A: SocketId = Some(1);
    const B: SocketId = Some(2);

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let rate = Rate::new(10, 5).unwrap();
        let mut bucket = Bucket::full(start);
        let taken = (0..20).filter(|_| bucket.take(rate, start)).count();
        assert_eq!(taken, 5, "the burst");
        assert!(!bucket.take(rate, start + Duration::from_millis(50)));
        assert!(
            bucket.take(rate, start + Duration::from_millis(100)),
            "one more a tenth of a second on"
        );
        let later = start + Duration::from_secs(10);
        assert_eq!(
            (0..20).filter(|_| bucket.take(rate, later)).count(),
            5,
            "never beyond the burst"
        );
        assert_eq!(Rate::new(0, 5), None);
        assert_eq!(
            Rate::new(3, 0),
            Some(Rate {
                per_second: 3,
                burst: 3
            })
        );
        // A rate that does not divide a second: a token a third of a second on, to the
        // nanosecond, and a whole burst a second on.
        let rate = Rate::new(3, 3).unwrap();
        let mut bucket = Bucket::full(start);
        assert_eq!((0..5).filter(|_| bucket.take(rate, start)).count(), 3);
        let third = Duration::from_secs(1) / 3;
        let mut again = bucket;
        assert!(!again.take(rate, start + third - Duration::from_nanos(1)));
        assert!(again.take(rate, start + third));
        let second = start + Duration::from_secs(1);
        assert_eq!((0..5).filter(|_| bucket.take(rate, second)).count(), 3);
    }

    #[test]
    fn a_bucket_is_full_again_at_its_own_rate() {
        let start = Instant::now();
        let (slow, fast) = (Rate::new(1, 2).unwrap(), Rate::new(1000, 2).unwrap());
        let (mut a, mut b) = (Bucket::full(start), Bucket::full(start));
        assert!(a.take(slow, start) && b.take(fast, start));
        let soon = start + Duration::from_millis(10);
        assert!(!a.is_full(soon), "a second to come back");
        assert!(b.is_full(soon), "a millisecond to come back");
        assert!(a.is_full(start + Duration::from_secs(1)));
    }

    #[test]
    fn peers_count_apart_and_ipv6_by_its_64_bit_prefix() {
        let now = Instant::now();
        let rate = Rate::new(1, 1).unwrap();
        let mut peers = PeerBuckets::default();
        let [a, b]: [IpAddr; 2] = ["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()];
        assert!(peers.take(A, a, rate, now));
        assert!(!peers.take(A, a, rate, now));
        assert!(peers.take(A, b, rate, now));
        let [c, d]: [IpAddr; 2] = [
            "2001:db8::1".parse().unwrap(),
            "2001:db8::ffff:2".parse().unwrap(),
        ];
        assert!(peers.take(A, c, rate, now));
        assert!(!peers.take(A, d, rate, now), "the same /64");
        assert!(
            peers.take(A, "2001:db8:0:1::1".parse().unwrap(), rate, now),
            "another /64"
        );
        assert_eq!(peer_key(d), "2001:db8::".parse::<IpAddr>().unwrap());
        assert_eq!(peer_key(a), a);
    }

    #[test]
    fn each_socket_holds_a_peer_to_its_own_rate() {
        let now = Instant::now();
        let (slow, fast) = (Rate::new(2, 2).unwrap(), Rate::new(1000, 1000).unwrap());
        let mut peers = PeerBuckets::default();
        let peer: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!((0..5).filter(|_| peers.take(A, peer, slow, now)).count(), 2);
        assert_eq!(
            (0..500).filter(|_| peers.take(B, peer, fast, now)).count(),
            500,
            "the refusals on A spend nothing of B's"
        );
        assert_eq!((0..5).filter(|_| peers.take(A, peer, slow, now)).count(), 0);
        // B's bucket comes back at B's rate, A's at A's.
        let later = now + Duration::from_millis(100);
        assert!(peers.take(B, peer, fast, later));
        assert!(!peers.take(A, peer, slow, later));
        // A socket forgotten takes its buckets along, and only its own.
        peers.forget(|socket| socket == A);
        assert_eq!(peers.len(), 1);
        assert!(peers.take(A, peer, slow, later), "a new bucket, full");
    }

    #[test]
    fn a_sweep_lets_go_of_each_bucket_full_at_its_own_rate() {
        let start = Instant::now();
        let (slow, fast) = (Rate::new(1, 1).unwrap(), Rate::new(100, 1).unwrap());
        let mut peers = PeerBuckets::default();
        let peer = |n: u32| IpAddr::from((0x0a00_0000 + n).to_be_bytes());
        assert!(peers.take(A, peer(0), slow, start));
        // Enough takes on B, each from a new peer, to bring a sweep half a second on: B's
        // buckets are full again by then, A's is not.
        let later = start + Duration::from_millis(500);
        for n in 1..1023 {
            assert!(peers.take(B, peer(n), fast, start));
        }
        assert_eq!(peers.len(), 1023);
        assert!(
            peers.take(B, peer(5_000), fast, later),
            "the 1024th take sweeps"
        );
        assert_eq!(peers.len(), 2, "A's bucket and the new one");
        assert!(
            !peers.take(A, peer(0), slow, later),
            "A's peer is still held"
        );
    }

    #[test]
    fn the_table_holds_only_the_peers_seen_lately_however_many_come() {
        let start = Instant::now();
        let rate = Rate::new(10, 10).unwrap();
        let mut peers = PeerBuckets::default();
        // A second's worth of addresses, each coming once: each bucket is full a tenth of a
        // second after.
        for round in 0..10u32 {
            let now = start + Duration::from_secs(u64::from(round));
            for n in 0..5_000u32 {
                let peer = IpAddr::from((round * 5_000 + n).to_be_bytes());
                assert!(peers.take(A, peer, rate, now));
            }
            assert!(
                peers.len() <= 2 * 5_000,
                "{} after round {round}",
                peers.len()
            );
        }
        // Sprayed beyond the most kept, at one instant, at two sockets: new peers go
        // unlimited, the table stays bounded for both together, and each take stays cheap.
        let now = start + Duration::from_secs(20);
        for n in 0..(PeerBuckets::MOST as u32 / 2 + 10) {
            let peer = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
            peers.take(A, peer, rate, now);
            peers.take(B, peer, rate, now);
        }
        assert!(peers.len() <= PeerBuckets::MOST);
    }
}
