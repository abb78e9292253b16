//! The TLS ClientHello (RFC 8446 §4.1.2, the same in TLS 1.2, RFC 5246 §7.4.1.2), read from the
//! records that carry it: a pure function over bytes, which says how many bytes the records took
//! and never consumes anything, so that the caller can leave them all to the TLS library.
//!
//! The layout, outermost first:
//!
//! * records (§5.1): a content type (22, handshake), a legacy version (3.x), a length of at
//!   most 2¹⁴ (never 0 for a handshake record), then that many bytes. The ClientHello may be
//!   cut into several records, which carry nothing else until it ends (§5.1: handshake
//!   messages are not interleaved with other record types); the last one ends with it.
//! * the handshake message (§4): a type (1, client_hello) and a 24-bit length.
//! * the ClientHello: a legacy version, 32 random bytes, a session id of at most 32 bytes, the
//!   cipher suites (2-byte values, at least one), the compression methods (at least one), and,
//!   but for old TLS 1.2 clients, the extensions, which fill the rest of the message exactly,
//!   each type at most once (§4.2).
//! * `server_name` (extension 0, RFC 6066 §3): a list of one `host_name` (type 0), 1 to 255
//!   bytes of ASCII, without NUL. It is given lowercase, without a trailing dot.
//! * `application_layer_protocol_negotiation` (extension 16, RFC 7301 §3.1): a list of at
//!   least one protocol name, each 1 to 255 bytes.

use std::fmt;

/// The most bytes of records a ClientHello may take, their 5-byte headers included: 16 KiB, far
/// beyond what browsers send (some 2 KiB with post-quantum key shares).
pub const MAX_LENGTH: usize = 16 * 1024;

/// A record's header: content type, legacy version, length.
const RECORD_HEADER: usize = 5;

/// The most bytes a record may carry (RFC 8446 §5.1: 2¹⁴).
const MAX_RECORD: usize = 1 << 14;

/// The content type of handshake records.
const HANDSHAKE: u8 = 22;

/// The handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;

/// A handshake message's header: type and 24-bit length.
const MESSAGE_HEADER: usize = 4;

/// The extensions read.
const SERVER_NAME: u16 = 0;
const ALPN: u16 = 16;

/// What a ClientHello says that the service uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    /// The name the client asked for (`server_name`), lowercase, without a trailing dot; `None`
    /// when the client sent no name (it connected by address, or sends no SNI).
    pub server_name: Option<String>,
    /// The application protocols the client offers (ALPN), in its order of preference.
    pub alpn: Vec<Vec<u8>>,
}

/// What the bytes read so far make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A complete, valid ClientHello, carried by the records in the first `length` bytes.
    Complete { hello: Hello, length: usize },
    /// A valid beginning: nothing can be said before the first `wanted` bytes have arrived
    /// (more than there are, at most [`MAX_LENGTH`]).
    Incomplete { wanted: usize },
}

/// Why bytes are not a valid ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The bytes are not TLS at all (a plaintext client on a TLS port), rather than a
    /// malformed ClientHello.
    pub not_tls: bool,
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

fn malformed<T>(message: impl fmt::Display) -> Result<T, Error> {
    Err(Error {
        not_tls: false,
        message: format!("TLS ClientHello: {message}"),
    })
}

/// Reads the ClientHello at the start of `bytes`, which may go on with what the client sent
/// after it.
///
/// Rejects, as soon as the bytes show it, records that are not a ClientHello's; reads the
/// message itself once its last record is complete. Never looks beyond [`MAX_LENGTH`] bytes.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Error> {
    let bytes = &bytes[..bytes.len().min(MAX_LENGTH)];
    // The message, put together from the records' fragments.
    let mut message: Vec<u8> = Vec::new();
    let mut at = 0;
    loop {
        if at + RECORD_HEADER > MAX_LENGTH {
            return malformed(format!(
                "its records go on beyond the limit of {MAX_LENGTH} bytes"
            ));
        }
        let header = &bytes[at..bytes.len().min(at + RECORD_HEADER)];
        check_record_start(header, at)?;
        if header.len() < RECORD_HEADER {
            return Ok(Parsed::Incomplete {
                wanted: at + RECORD_HEADER,
            });
        }
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if length == 0 {
            return malformed("a handshake record of 0 bytes");
        }
        if length > MAX_RECORD {
            return malformed(format!(
                "a record of {length} bytes, beyond TLS's {MAX_RECORD}"
            ));
        }
        let end = at + RECORD_HEADER + length;
        if end > MAX_LENGTH {
            return malformed(format!(
                "its records go on beyond the limit of {MAX_LENGTH} bytes"
            ));
        }
        let fragment = &bytes[at + RECORD_HEADER..bytes.len().min(end)];
        message.extend_from_slice(fragment);
        let expected = check_message_start(&message)?;
        if let Some(expected) = expected
            && message.len() > expected
        {
            return malformed(format!(
                "{} bytes after it in its last record",
                message.len() - expected
            ));
        }
        if fragment.len() < length {
            return Ok(Parsed::Incomplete { wanted: end });
        }
        at = end;
        if expected == Some(message.len()) {
            let hello = parse_message(&message[MESSAGE_HEADER..])?;
            return Ok(Parsed::Complete { hello, length: at });
        }
    }
}

/// Checks what has arrived of the header of the record at `at`.
fn check_record_start(header: &[u8], at: usize) -> Result<(), Error> {
    if let Some(&kind) = header.first()
        && kind != HANDSHAKE
    {
        return if at == 0 {
            Err(Error {
                not_tls: true,
                message: format!(
                    "Not a TLS handshake: the connection starts with byte 0x{kind:02x}{}",
                    if kind.is_ascii_graphic() {
                        format!(" ({:?})", char::from(kind))
                    } else {
                        String::new()
                    }
                ),
            })
        } else {
            malformed(format!(
                "a record of content type {kind} before it ends (handshake records only)"
            ))
        };
    }
    if let Some(&major) = header.get(1)
        && major != 3
    {
        return if at == 0 {
            Err(Error {
                not_tls: true,
                message: format!("Not a TLS handshake: record version {major}.x"),
            })
        } else {
            malformed(format!("a record of version {major}.x"))
        };
    }
    if let Some(&minor) = header.get(2)
        && minor > 4
    {
        return malformed(format!("a record of version 3.{minor}"));
    }
    Ok(())
}

/// Checks what has arrived of the handshake message's header: its whole length (header
/// included), once known.
fn check_message_start(message: &[u8]) -> Result<Option<usize>, Error> {
    if let Some(&kind) = message.first()
        && kind != CLIENT_HELLO
    {
        return malformed(format!(
            "the first handshake message is of type {kind}, not a ClientHello (1)"
        ));
    }
    let Some(length) = message.get(1..MESSAGE_HEADER) else {
        return Ok(None);
    };
    let length =
        usize::from(length[0]) << 16 | usize::from(length[1]) << 8 | usize::from(length[2]);
    // At least one record header before the message.
    if MESSAGE_HEADER + length > MAX_LENGTH - RECORD_HEADER {
        return malformed(format!(
            "{length} bytes, beyond the limit of {}",
            MAX_LENGTH - RECORD_HEADER - MESSAGE_HEADER
        ));
    }
    Ok(Some(MESSAGE_HEADER + length))
}

/// A reader of a message's fields, which fails with the name of the field that overruns.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], Error> {
        if count > self.bytes.len() {
            return malformed(format!(
                "{what} overruns its block ({count} bytes, {} left)",
                self.bytes.len()
            ));
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, Error> {
        let bytes = self.take(2, what)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A vector whose length is given in one byte.
    fn vector8(&mut self, what: &str) -> Result<&'a [u8], Error> {
        let length = self.u8(what)?;
        self.take(length.into(), what)
    }

    /// A vector whose length is given in two bytes.
    fn vector16(&mut self, what: &str) -> Result<&'a [u8], Error> {
        let length = self.u16(what)?;
        self.take(length.into(), what)
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The body of a ClientHello.
fn parse_message(body: &[u8]) -> Result<Hello, Error> {
    let mut reader = Reader { bytes: body };
    let version = reader.u16("legacy_version")?;
    if version >> 8 != 3 {
        return malformed(format!("legacy_version 0x{version:04x}, not 3.x"));
    }
    reader.take(32, "random")?;
    let session_id = reader.vector8("legacy_session_id")?;
    if session_id.len() > 32 {
        return malformed(format!(
            "a legacy_session_id of {} bytes, beyond 32",
            session_id.len()
        ));
    }
    let suites = reader.vector16("cipher_suites")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return malformed(format!(
            "cipher_suites of {} bytes (2 per suite, at least one)",
            suites.len()
        ));
    }
    if reader.vector8("legacy_compression_methods")?.is_empty() {
        return malformed("no legacy_compression_methods");
    }
    let mut hello = Hello::default();
    // A TLS 1.2 client may send no extensions at all.
    if reader.is_empty() {
        return Ok(hello);
    }
    let extensions = reader.vector16("extensions")?;
    if !reader.is_empty() {
        return malformed(format!("{} bytes after its extensions", reader.bytes.len()));
    }
    let mut reader = Reader { bytes: extensions };
    let mut seen: Vec<u16> = Vec::new();
    while !reader.is_empty() {
        let kind = reader.u16("an extension's type")?;
        let data = reader.vector16(&format!("extension {kind}"))?;
        if seen.contains(&kind) {
            return malformed(format!("extension {kind} twice"));
        }
        seen.push(kind);
        match kind {
            SERVER_NAME => hello.server_name = Some(server_name(data)?),
            ALPN => hello.alpn = alpn(data)?,
            _ => {}
        }
    }
    Ok(hello)
}

/// The `server_name` extension's data: the one host name it holds.
fn server_name(data: &[u8]) -> Result<String, Error> {
    let mut reader = Reader { bytes: data };
    let list = reader.vector16("server_name's list")?;
    if !reader.is_empty() {
        return malformed("server_name: bytes after its list");
    }
    let mut reader = Reader { bytes: list };
    let mut name = None;
    while !reader.is_empty() {
        let kind = reader.u8("server_name's name type")?;
        if kind != 0 {
            return malformed(format!(
                "server_name: name type {kind}, only host_name (0) is defined"
            ));
        }
        let host = reader.vector16("server_name's host_name")?;
        if name.is_some() {
            return malformed("server_name: more than one host_name");
        }
        name = Some(host);
    }
    let Some(host) = name else {
        return malformed("server_name: an empty list");
    };
    if host.is_empty() || host.len() > 255 {
        return malformed(format!(
            "server_name: a host_name of {} bytes (1 to 255)",
            host.len()
        ));
    }
    if !host.iter().all(u8::is_ascii_graphic) {
        return malformed(format!(
            "server_name: {:?} is not a host name (ASCII, no spaces or control characters)",
            String::from_utf8_lossy(host)
        ));
    }
    let host = std::str::from_utf8(host).unwrap_or_default();
    Ok(super::normalize(host))
}

/// The ALPN extension's data: the protocol names it offers.
fn alpn(data: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut reader = Reader { bytes: data };
    let list = reader.vector16("ALPN's protocol_name_list")?;
    if !reader.is_empty() {
        return malformed("ALPN: bytes after its list");
    }
    if list.is_empty() {
        return malformed("ALPN: an empty protocol_name_list");
    }
    let mut reader = Reader { bytes: list };
    let mut protocols = Vec::new();
    while !reader.is_empty() {
        let protocol = reader.vector8("an ALPN protocol name")?;
        if protocol.is_empty() {
            return malformed("ALPN: an empty protocol name");
        }
        protocols.push(protocol.to_vec());
    }
    Ok(protocols)
}

#[cfg(test)]
mod tests;
