//! Rates, as token buckets, with no I/O: how fast a peer, or everyone, may come back.
//!
//! A bucket holds at most `burst` tokens and gains `rate` a second; a connection takes one, and
//! one that finds none is over its rate. The buckets of peers are kept only while they matter:
//! a bucket that has filled up again is the same as none, and goes at the next sweep, so that
//! however many addresses come, the table holds only those seen within the last
//! `burst / rate` seconds, and never more than [`PeerBuckets::MOST`] of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

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
}

/// A token bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate.burst),
            updated: now,
        }
    }

    /// Refills the bucket up to `now` at `rate`.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * f64::from(rate.per_second)).min(f64::from(rate.burst));
        self.updated = now;
    }

    /// Takes a token if there is one at `now`: whether the rate allows one more.
    pub(crate) fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full again at `now`: it says nothing a fresh one would not.
    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut bucket = *self;
        bucket.refill(rate, now);
        bucket.tokens >= f64::from(rate.burst)
    }
}

/// The key a peer's bucket is kept under: its IPv4 address, or the /64 prefix of its IPv6
/// address, which one host or one customer of a provider commonly holds whole (counting each
/// of its 2^64 addresses apart would let it come back as often as it likes).
fn key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// The buckets of the peers seen lately.
#[derive(Debug, Default)]
pub(crate) struct PeerBuckets {
    buckets: HashMap<IpAddr, Bucket>,
    /// Takes since the last sweep.
    since_sweep: usize,
    /// The takes after which the next sweep comes: as many as the peers the last one left (so
    /// that the table at most doubles between sweeps), and at least 1024.
    sweep_after: usize,
}

impl PeerBuckets {
    /// The most peers kept. Beyond them (addresses sprayed faster than their buckets fill
    /// up again), a new peer is not held to its own rate: the service's rate still holds.
    pub(crate) const MOST: usize = 65_536;

    /// Takes a token from `peer`'s bucket at `now`: whether `rate` allows it one more
    /// connection.
    pub(crate) fn take(&mut self, peer: IpAddr, rate: Rate, now: Instant) -> bool {
        self.since_sweep += 1;
        // Often enough that the table never holds more than twice the peers seen lately;
        // seldom enough that its cost, spread over the takes, stays small.
        if self.since_sweep >= self.sweep_after.max(1024) {
            self.sweep(rate, now);
        }
        let key = key(peer);
        let full = self.buckets.len() >= Self::MOST;
        match self.buckets.get_mut(&key) {
            Some(bucket) => bucket.take(rate, now),
            // The table is full: a new peer is not held to a rate of its own until the next
            // sweep makes room; the service's rate still holds.
            None if full => true,
            None => {
                let mut bucket = Bucket::full(rate, now);
                let taken = bucket.take(rate, now);
                self.buckets.insert(key, bucket);
                taken
            }
        }
    }

    /// Lets go of the buckets that are full again.
    fn sweep(&mut self, rate: Rate, now: Instant) {
        self.since_sweep = 0;
        self.buckets.retain(|_, bucket| !bucket.is_full(rate, now));
        self.sweep_after = self.buckets.len();
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
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let rate = Rate::new(10, 5).unwrap();
        let mut bucket = Bucket::full(rate, start);
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
    }

    #[test]
    fn peers_count_apart_and_ipv6_by_its_64_bit_prefix() {
        let now = Instant::now();
        let rate = Rate::new(1, 1).unwrap();
        let mut peers = PeerBuckets::default();
        let [a, b]: [IpAddr; 2] = ["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()];
        assert!(peers.take(a, rate, now));
        assert!(!peers.take(a, rate, now));
        assert!(peers.take(b, rate, now));
        let [c, d]: [IpAddr; 2] = [
            "2001:db8::1".parse().unwrap(),
            "2001:db8::ffff:2".parse().unwrap(),
        ];
        assert!(peers.take(c, rate, now));
        assert!(!peers.take(d, rate, now), "the same /64");
        assert!(
            peers.take("2001:db8:0:1::1".parse().unwrap(), rate, now),
            "another /64"
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
                assert!(peers.take(peer, rate, now));
            }
            assert!(
                peers.len() <= 2 * 5_000,
                "{} after round {round}",
                peers.len()
            );
        }
        // Sprayed beyond the most kept, at one instant: new peers go unlimited, the table stays
        // bounded, and each take stays cheap.
        let now = start + Duration::from_secs(20);
        for n in 0..(PeerBuckets::MOST as u32 + 10) {
            peers.take(IpAddr::from((0x0a00_0000 + n).to_be_bytes()), rate, now);
        }
        assert!(peers.len() <= PeerBuckets::MOST);
    }
}
