//! The connections a service handed out and has not seen closed yet, and, while
//! `max-connections-per-peer` is set, how many connections each peer has.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::AsFd;

use crate::sys::{self, SendObject};

/// The live connections, each under a key that is never reused: a close reported late, after
/// `close_connections()` let go of its connection, finds nothing to remove.
///
/// A connection costs a slot of 16 bytes. Its peer is kept, and peers are counted, only while
/// something needs them: a per-peer cap, or a PROXY protocol header that named another client
/// than the socket's peer.
#[derive(Default)]
pub(super) struct Registry {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: u32,
    /// The peer each connection is counted under, by slot, where it is kept (see
    /// [`Registry::counted_peer`]); empty until one is.
    peers_of: Vec<Option<IpAddr>>,
    /// Connections per peer address, taken in or live, while counted; absent when none.
    counts: Option<HashMap<IpAddr, u32>>,
}

#[derive(Default)]
struct Slot {
    /// For `close_connections()`, which shuts it down; let go of as soon as the connection is
    /// closed or finalized, so that the service never holds a descriptor open longer than its
    /// connection does.
    socket: Option<SendObject<gio::Socket>>,
    generation: u32,
    /// Whether a connection holds the slot.
    live: bool,
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
        for index in 0..self.slots.len() {
            if !self.slots[index].live {
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
        let socket = self.slots[index].socket.as_ref()?;
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
            Some(index) => index,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.socket = Some(socket);
        slot.live = true;
        let key = (u64::from(slot.generation) << 32) | u64::from(index);
        self.live += 1;
        if self.counts.is_some() {
            self.keep_peer(index as usize, peer);
        }
        key
    }

    /// Lets go of the socket of connection `key`, which its connection closed or is finalizing:
    /// the connection stays counted until [`Self::remove`]. The caller drops the socket after
    /// unlocking; if that is the last reference, it closes the descriptor.
    pub fn let_go(&mut self, key: u64) -> Option<SendObject<gio::Socket>> {
        let index = self.index(key)?;
        self.slots[index].socket.take()
    }

    /// The slot of `key`, unless the key is stale.
    fn index(&self, key: u64) -> Option<usize> {
        let (index, generation) = (key as u32 as usize, (key >> 32) as u32);
        self.slots
            .get(index)
            .filter(|slot| slot.live && slot.generation == generation)
            .map(|_| index)
    }

    /// The connection `key` is closed; whether it was still counted.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(index) = self.index(key) else {
            return false;
        };
        let peer = self.peers_of.get_mut(index).and_then(Option::take);
        let slot = &mut self.slots[index];
        slot.live = false;
        slot.socket = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index as u32);
        self.live -= 1;
        self.release(peer);
        true
    }

    /// Stops counting every connection, and returns the sockets not let go of yet.
    pub fn take_all(&mut self) -> Vec<SendObject<gio::Socket>> {
        let keys: Vec<u64> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.live)
            .map(|(index, slot)| (u64::from(slot.generation) << 32) | index as u64)
            .collect();
        let mut sockets = Vec::with_capacity(keys.len());
        for key in keys {
            sockets.extend(self.let_go(key));
            self.remove(key);
        }
        sockets
    }

    /// The live connections.
    pub fn live(&self) -> u32 {
        self.live
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
    fn keys_are_not_reused_and_peers_are_counted_until_closed() {
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
        assert_ne!(first, second, "the slot is reused under another key");
        assert!(!registry.remove(first));
        assert_eq!((registry.live(), registry.peer_count(peer)), (1, 1));
        assert_eq!(registry.take_all().len(), 1);
        assert_eq!((registry.live(), registry.peer_count(peer)), (0, 0));
        assert!(!registry.remove(second), "closed after close_connections()");

        let third = registry.insert(socket(), Some(peer));
        assert!(registry.let_go(third).is_some());
        assert!(registry.let_go(third).is_none(), "let go of once");
        assert_eq!(registry.live(), 1, "still counted until removed");
        assert!(registry.take_all().is_empty(), "nothing left to shut down");
        assert!(!registry.remove(third));
        assert!(registry.let_go(third).is_none(), "a stale key");
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
