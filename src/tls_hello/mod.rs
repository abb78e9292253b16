//! TLS as bytes and names, with no I/O: the client's first message, its ClientHello, read from
//! the TLS records that carry it (for the server name it asks for and the ALPN protocols it
//! offers), and the server names a certificate is for. The engine peeks at the bytes
//! (`engine::hello`); the settings choose a certificate by name (`socket_settings`).

mod client_hello;
mod names;

pub(crate) use client_hello::{Hello, MAX_LENGTH, Parsed, parse};
pub(crate) use names::{NamePattern, choose, normalize};
