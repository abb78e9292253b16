//! The PROXY protocol of HAProxy, nginx and cloud load balancers, as bytes and addresses: the
//! header a balancer sends before the client's data, and the peers trusted to send one. Pure
//! code, with no I/O: the engine reads the bytes (`engine::proxy`).

mod header;
mod peers;

pub(crate) use header::{
    Command, Detection, Header, MAX_LENGTH, Parsed, Version, detect, parse, tlv,
};
pub(crate) use peers::PeerRange;
