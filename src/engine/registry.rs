//! The connections a service handed out and has not seen closed yet, and, while
//! `max-connections-per-peer` is set, how many connections each peer has.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::AsFd;

use crate::sys::{self, SendObject};

/// The live connections, each under a key, its slot, which no other connection gets before its
/// close is reported: one that `close_connections()` let go of keeps its slot until then, so that
/// a close reported late finds nothing to remove.
///
/// A connection costs a slot of 8 bytes (its socket) and two bits. Its peer is
/// kept, and peers are counted, only while something needs them: a per-peer cap, or a PROXY
/// protocol header that named another client than the socket's peer.
#[derive(Default)]
pub(super) struct Registry {
    /// For `close_connections()`, which shuts them down; each let go of as soon as its
    /// connection is closed or finalized, so that the service never holds a descriptor open
    /// longer than its connection does.
    sockets: Vec<Option<SendObject<gio::Socket>>>,
    /// A bit per slot: whether it holds a connection, live or let go of, whose close is still to
    /// be reported.
    held: Bits,
    /// A bit per slot: whether it holds a live connection.
    live_bits: Bits,
    free: Vec<u32>,
    live: u32,
    /// The peer each connection is counted under, by slot, where it is kept (see
    /// [`Registry::counted_peer`]); empty until one is.
    peers_of: Vec<Option<IpAddr>>,
    /// Connections per peer address, taken in or live, while counted; absent when none.
    counts: Option<HashMap<IpAddr, u32>>,
}

impl Registry {
    /// Counts a new connection from `peer` unless that peer already has `max` (0: no limit);
    /// the refusal gives the peer's count. Nothing to count while peers are not counted.
    pub fn admit(&mut self, peer: Option<IpAddr>, max: u32) -> Result<(), u32> {
        let (Some(counts), Some(peer)) = (&mut self.counts, peer) else {
            return Ok(());
        };
        let count = counts.entry(peer).or_default();
        if max != 0 && *count >= max {
            return Err(*count);
        }
        *count += 1;
        Ok(())
    }

    /// Stops counting a connection from `peer`.
    pub fn release(&mut self, peer: Option<IpAddr>) {
        let (Some(counts), Some(peer)) = (&mut self.counts, peer) else {
            return;
        };
        if let Some(count) = counts.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&peer);
            }
        }
    }

    /// Starts counting connections per peer: the live ones under the peers they are counted
    /// under (a `getpeername()` each, for those whose peer was not kept), and `waiting`, the
    /// peers of the clients taken in and not handed out yet. Or, with `waiting` `None`, stops.
    pub fn count_peers(&mut self, waiting: Option<impl Iterator<Item = Option<IpAddr>>>) {
        let Some(waiting) = waiting else {
            self.counts = None;
            return;
        };
        if self.counts.is_some() {
            return;
        }
        self.counts = Some(HashMap::new());
        for index in 0..self.sockets.len() {
            if !self.is_live(index) {
                continue;
            }
            let peer = self.counted_peer(index);
            self.keep_peer(index, peer);
            // Counted with no limit: they are live already.
            let _ = self.admit(peer, 0);
        }
        for peer in waiting {
            let _ = self.admit(peer, 0);
        }
    }

    /// The peer the connection in slot `index` is counted under: the one kept, or else its
    /// socket's. A connection whose socket was let go is about to be removed: `None`.
    fn counted_peer(&self, index: usize) -> Option<IpAddr> {
        if let Some(peer) = self.peers_of.get(index).copied().flatten() {
            return Some(peer);
        }
        let socket = self.sockets[index].as_ref()?;
        sys::remote_address(socket.as_fd())
            .ok()
            .map(|address| address.ip())
    }

    /// Keeps `peer` as the one the connection in slot `index` is counted under.
    fn keep_peer(&mut self, index: usize, peer: Option<IpAddr>) {
        if peer.is_none() && index >= self.peers_of.len() {
            return;
        }
        if index >= self.peers_of.len() {
            self.peers_of.resize(index + 1, None);
        }
        self.peers_of[index] = peer;
    }

    /// Counts connection `key` under `peer` from now on, unless that peer already has `max`
    /// (0: no limit); the refusal gives the peer's count, and leaves the connection where it
    /// was counted.
    pub fn repeer(&mut self, key: u64, peer: Option<IpAddr>, max: u32) -> Result<(), u32> {
        let Some(index) = self.index(key) else {
            return Ok(());
        };
        if self.counts.is_some() {
            let previous = self.counted_peer(index);
            if previous == peer {
                return Ok(());
            }
            self.admit(peer, max)?;
            self.release(previous);
        }
        // Kept even while peers are not counted: a per-peer cap set later counts the connection
        // under this peer, which its socket does not tell.
        self.keep_peer(index, peer);
        Ok(())
    }

    /// How many connections `peer` has, taken in or live, while peers are counted.
    pub fn peer_count(&self, peer: IpAddr) -> u32 {
        self.counts
            .as_ref()
            .and_then(|counts| counts.get(&peer).copied())
            .unwrap_or(0)
    }

    /// Registers a live connection from an admitted `peer`, and returns its key.
    pub fn insert(&mut self, socket: SendObject<gio::Socket>, peer: Option<IpAddr>) -> u64 {
        let index = match self.free.pop() {
            Some(index) => index as usize,
            None => {
                self.sockets.push(None);
                self.sockets.len() - 1
            }
        };
        self.sockets[index] = Some(socket);
        self.held.set(index, true);
        self.live_bits.set(index, true);
        self.live += 1;
        if self.counts.is_some() {
            self.keep_peer(index, peer);
        }
        index as u64
    }

    /// Whether slot `index` holds a live connection.
    fn is_live(&self, index: usize) -> bool {
        self.live_bits.get(index)
    }

    /// Lets go of the socket of connection `key`, which its connection closed or is finalizing:
    /// the connection stays counted until [`Self::remove`]. The caller drops the socket after
    /// unlocking; if that is the last reference, it closes the descriptor.
    pub fn let_go(&mut self, key: u64) -> Option<SendObject<gio::Socket>> {
        self.sockets.get_mut(key as usize)?.take()
    }

    /// Whether connection `key` is still counted: neither closed nor let go of by
    /// [`Self::take_all`].
    pub fn is_counted(&self, key: u64) -> bool {
        self.index(key).is_some()
    }

    /// The slot of `key`, if it holds a live connection.
    fn index(&self, key: u64) -> Option<usize> {
        let index = key as usize;
        self.is_live(index).then_some(index)
    }

    /// Stops counting the live connection in slot `index`: it is closed, or let go of.
    fn end(&mut self, index: usize) {
        self.live_bits.set(index, false);
        self.live -= 1;
        let peer = self.peers_of.get_mut(index).and_then(Option::take);
        self.release(peer);
    }

    /// The connection `key` reported its close: its slot is free again. Whether it was still
    /// counted (not let go of by [`Self::take_all`]).
    pub fn remove(&mut self, key: u64) -> bool {
        let index = key as usize;
        if !self.held.get(index) {
            return false;
        }
        self.held.set(index, false);
        self.sockets[index] = None;
        let counted = self.is_live(index);
        if counted {
            self.end(index);
        }
        self.free.push(index as u32);
        counted
    }

    /// Stops counting every connection, and returns the sockets not let go of yet. Their slots
    /// stay theirs until their closes are reported.
    pub fn take_all(&mut self) -> Vec<SendObject<gio::Socket>> {
        let mut sockets = Vec::new();
        for index in 0..self.sockets.len() {
            if self.is_live(index) {
                self.end(index);
                sockets.extend(self.sockets[index].take());
            }
        }
        sockets
    }

    /// The live connections.
    pub fn live(&self) -> u32 {
        self.live
    }
}

/// A bit per slot.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn get(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    fn set(&mut self, index: usize, on: bool) {
        if index / 64 >= self.0.len() {
            self.0.resize(index / 64 + 1, 0);
        }
        let bit = 1 << (index % 64);
        if on {
            self.0[index / 64] |= bit;
        } else {
            self.0[index / 64] &= !bit;
        }
    }
}

/// A peer's address, for messages.
pub(super) fn describe(peer: Option<IpAddr>) -> String {
    peer.map_or_else(|| "a peer".to_owned(), |peer| peer.to_string())
}

/// The error reported for a client refused at its peer's `max-connections-per-peer`: `peer`,
/// through the balancer `through` if a PROXY protocol header named it.
pub(super) fn refusal(peer: Option<IpAddr>, through: Option<IpAddr>, count: u32) -> glib::Error {
    let peer = describe(peer);
    let through = through.map_or_else(String::new, |proxy| format!(" (through {proxy})"));
    glib::Error::new(
        gio::IOErrorEnum::ConnectionRefused,
        &format!(
            "Refused a connection from {peer}{through}: it has {count} already \
             (max-connections-per-peer)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket() -> SendObject<gio::Socket> {
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        SendObject::new(gio::Socket::from_fd(ours.into()).unwrap())
    }

    fn counting() -> Registry {
        let mut registry = Registry::default();
        registry.count_peers(Some(std::iter::empty()));
        registry
    }

    #[test]
    fn a_slot_is_not_reused_before_its_close_is_reported_and_peers_are_counted_until_then() {
        let mut registry = counting();
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(registry.admit(Some(peer), 2), Ok(()));
        let first = registry.insert(socket(), Some(peer));
        assert_eq!(registry.admit(Some(peer), 2), Ok(()));
        assert_eq!(registry.admit(Some(peer), 2), Err(2));
        assert_eq!(
            registry.admit(None, 2),
            Ok(()),
            "Unix sockets are not limited"
        );
        assert!(registry.remove(first));
        assert!(!registry.remove(first), "a second report");
        let second = registry.insert(socket(), Some(peer));
        assert_eq!((registry.live(), registry.peer_count(peer)), (1, 1));
        assert_eq!(registry.take_all().len(), 1);
        assert_eq!((registry.live(), registry.peer_count(peer)), (0, 0));
        // Let go of, the connection keeps its slot until its close is reported, late.
        assert_eq!(registry.admit(Some(peer), 2), Ok(()));
        let third = registry.insert(socket(), Some(peer));
        assert_ne!(second, third, "the slot of one let go of is not reused");
        assert!(!registry.remove(second), "closed after close_connections()");
        assert_eq!((registry.live(), registry.peer_count(peer)), (1, 1));

        assert!(registry.let_go(third).is_some());
        assert!(registry.let_go(third).is_none(), "let go of once");
        assert_eq!(registry.live(), 1, "still counted until removed");
        assert!(registry.take_all().is_empty(), "nothing left to shut down");
        assert!(!registry.remove(third));
        assert!(registry.let_go(third).is_none(), "a stale key");
        let reused = [
            registry.insert(socket(), None),
            registry.insert(socket(), None),
        ];
        assert!(
            reused.iter().all(|key| [second, third].contains(key)),
            "slots reported free are reused"
        );
    }

    /// An accepted TCP socket from 127.0.0.1, and its client.
    fn tcp_socket() -> (SendObject<gio::Socket>, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let socket = gio::Socket::from_fd(std::os::fd::OwnedFd::from(accepted)).unwrap();
        (SendObject::new(socket), client)
    }

    #[test]
    fn peers_are_counted_only_while_a_cap_needs_them() {
        let mut registry = Registry::default();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let waiting: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(registry.admit(Some(local), 1), Ok(()), "nothing counted");
        let (socket, _first) = tcp_socket();
        let plain = registry.insert(socket, Some(local));
        let (socket, _second) = tcp_socket();
        let proxied = registry.insert(socket, Some(local));
        // A PROXY protocol header named another client: kept, though nothing is counted yet.
        assert_eq!(registry.repeer(proxied, Some(client), 1), Ok(()));
        assert_eq!(registry.peer_count(local), 0);

        // A cap is set: the live connections count, under the socket's peer or the one kept,
        // and so do the clients waiting to be handed out.
        registry.count_peers(Some([Some(waiting)].into_iter()));
        assert_eq!(registry.peer_count(local), 1);
        assert_eq!(registry.peer_count(client), 1);
        assert_eq!(registry.peer_count(waiting), 1);
        assert_eq!(registry.admit(Some(local), 1), Err(1));
        assert!(registry.remove(proxied));
        assert_eq!(registry.peer_count(client), 0);

        // The cap is lifted: nothing is counted, and a cap set again counts what is live.
        registry.count_peers(None::<std::iter::Empty<Option<IpAddr>>>);
        assert_eq!(registry.peer_count(local), 0);
        assert_eq!(registry.admit(Some(local), 1), Ok(()));
        registry.count_peers(Some(std::iter::empty()));
        assert_eq!(registry.peer_count(local), 1);
        assert!(registry.remove(plain));
        assert_eq!(registry.peer_count(local), 0);
    }
}
