//! The count of the TLS stages in progress (a handshake, or the read of its ClientHello before
//! it), within the admission limits: `tls-handshakes-per-peer` and `tls-handshake-rate`.

use super::arriving::Arriving;
use super::{Engine, Host};

/// Counts the TLS stage of `arriving` as it begins (its handshake, or the read of its
/// ClientHello before it), within `tls-handshakes-per-peer` and `tls-handshake-rate`: whether it
/// may go on; a connection beyond them is refused, never queued.
pub(super) fn admit<H: Host>(host: &H, arriving: &Arriving) -> bool {
    let peer = arriving.peer;
    let admission = &arriving.settings.admission;
    let admitted = Engine::update(host, |state| {
        state
            .gate
            .start_handshake(arriving.listening, admission, peer)?;
        state.tls.handshakes += 1;
        Ok(())
    });
    if let Err(reason) = admitted {
        let error = super::gate::refused(reason, peer);
        Engine::refuse_arriving(host, arriving, error, reason);
        return false;
    }
    true
}

/// A TLS stage counted for `peer` ended.
pub(super) fn end<H: Host>(host: &H, peer: Option<std::net::IpAddr>) {
    Engine::update(host, |state| {
        state.tls.handshakes -= 1;
        state.gate.end_handshake(peer);
    });
}
