//! The connections a service handed out and has not seen closed yet, and how many connections
//! each peer has.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::sys::SendObject;

/// The live connections, each under a key that is never reused: a close reported late, after
/// `close_connections()` let go of its connection, finds nothing to remove.
#[derive(Default)]
pub(super) struct Registry {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: u32,
    /// Connections per peer address, taken in or live; absent when none.
    peers: HashMap<IpAddr, u32>,
}

#[derive(Default)]
struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

struct Entry {
    /// For `close_connections()`, which shuts it down; let go of as soon as the connection is
    /// closed or finalized, so that the service never holds a descriptor open longer than its
    /// connection does.
    socket: Option<SendObject<gio::Socket>>,
    peer: Option<IpAddr>,
}

impl Registry {
    /// Counts a new connection from `peer` unless that peer already has `max` (0: no limit);
    /// the refusal gives the peer's count.
    pub fn admit(&mut self, peer: Option<IpAddr>, max: u32) -> Result<(), u32> {
        let Some(peer) = peer else { return Ok(()) };
        let count = self.peers.entry(peer).or_default();
        if max != 0 && *count >= max {
            return Err(*count);
        }
        *count += 1;
        Ok(())
    }

    /// Stops counting a connection from `peer`.
    pub fn release(&mut self, peer: Option<IpAddr>) {
        let Some(peer) = peer else { return };
        if let Some(count) = self.peers.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                self.peers.remove(&peer);
            }
        }
    }

    /// Counts connection `key` under `peer` from now on, unless that peer already has `max`
    /// (0: no limit); the refusal gives the peer's count, and leaves the connection where it
    /// was counted.
    pub fn repeer(&mut self, key: u64, peer: Option<IpAddr>, max: u32) -> Result<(), u32> {
        let Some(previous) = self
            .slot(key)
            .and_then(|slot| slot.entry.as_ref())
            .map(|e| e.peer)
        else {
            return Ok(());
        };
        if previous == peer {
            return Ok(());
        }
        self.admit(peer, max)?;
        self.release(previous);
        if let Some(entry) = self.slot(key).and_then(|slot| slot.entry.as_mut()) {
            entry.peer = peer;
        }
        Ok(())
    }

    /// How many connections `peer` has, taken in or live.
    pub fn peer_count(&self, peer: IpAddr) -> u32 {
        self.peers.get(&peer).copied().unwrap_or(0)
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
        slot.entry = Some(Entry {
            socket: Some(socket),
            peer,
        });
        self.live += 1;
        (u64::from(slot.generation) << 32) | u64::from(index)
    }

    /// Lets go of the socket of connection `key`, which its connection closed or is finalizing:
    /// the connection stays counted until [`Self::remove`]. The caller drops the socket after
    /// unlocking; if that is the last reference, it closes the descriptor.
    pub fn let_go(&mut self, key: u64) -> Option<SendObject<gio::Socket>> {
        self.slot(key)?.entry.as_mut()?.socket.take()
    }

    /// The slot of `key`, unless the key is stale.
    fn slot(&mut self, key: u64) -> Option<&mut Slot> {
        let (index, generation) = (key as u32, (key >> 32) as u32);
        self.slots
            .get_mut(index as usize)
            .filter(|slot| slot.generation == generation)
    }

    /// The connection `key` is closed; whether it was still counted.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.slot(key) else {
            return false;
        };
        let Some(entry) = slot.entry.take() else {
            return false;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key as u32);
        self.live -= 1;
        self.release(entry.peer);
        true
    }

    /// Stops counting every connection, and returns the sockets not let go of yet.
    pub fn take_all(&mut self) -> Vec<SendObject<gio::Socket>> {
        let keys: Vec<u64> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.entry.is_some())
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

    #[test]
    fn keys_are_not_reused_and_peers_are_counted_until_closed() {
        let mut registry = Registry::default();
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
}
