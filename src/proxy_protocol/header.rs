//! The PROXY protocol header (HAProxy's `doc/proxy-protocol.txt`), versions 1 and 2, parsed
//! from bytes: a pure function with no I/O, which says how many bytes the header took, so that
//! the caller reads no byte beyond it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The most bytes a header may have, both versions: a v2 header's 16 fixed bytes and at most
/// this less 16 of addresses and TLVs (as go-proxyproto, nginx and proxy-protocol-rs cap it).
pub const MAX_LENGTH: usize = 4096;

/// The longest v1 line, its CRLF included (`PROXY UNKNOWN` with two IPv6 addresses and ports).
pub const MAX_V1_LENGTH: usize = 107;

/// The 12 bytes a v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// What a v1 line starts with.
const V1_SIGNATURE: &[u8] = b"PROXY ";

/// The fixed part of a v2 header: signature, version and command, family and transport, length.
const V2_FIXED: usize = 16;

/// The TLV types the service reads.
pub mod tlv {
    pub const ALPN: u8 = 0x01;
    pub const AUTHORITY: u8 = 0x02;
    pub const CRC32C: u8 = 0x03;
    pub const UNIQUE_ID: u8 = 0x05;
    /// The specification's limit on a unique id.
    pub const MAX_UNIQUE_ID: usize = 128;
}

/// The protocol version of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A v2 header's command; every v1 line is a `Proxy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The proxy opened the connection itself (a health check): its endpoints are the real ones.
    Local,
    /// The connection is relayed for a client.
    Proxy,
}

/// A connection's original source and destination.
pub type Addresses = (SocketAddr, SocketAddr);

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    pub command: Command,
    /// The original source and destination, when the header gives them for TCP over IPv4 or
    /// IPv6: not for a v1 `UNKNOWN`, a v2 `LOCAL`, or a v2 family or transport a TCP service
    /// does not take addresses from (`UNSPEC`, `UNIX`, datagrams).
    pub addresses: Option<Addresses>,
    /// The v2 TLVs, in order, but `NOOP` and `CRC32C` (checked); none in v1 or `LOCAL`.
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

/// What the bytes read so far make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A complete, valid header, which took the first `length` bytes.
    Complete { header: Header, length: usize },
    /// A valid beginning of a header: every byte given belongs to it, and more are needed.
    Incomplete,
}

/// Whether bytes that may or may not start with a header do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// They start with a signature: a header, valid or not.
    Header,
    /// They do not: the bytes are the application's.
    NotHeader,
    /// Too few bytes to tell: they are the beginning of a signature.
    Undecided,
}

/// Why bytes are not a valid header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn error<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(Error(message.into()))
}

/// Whether `bytes` start with a header's signature, without parsing the rest.
pub fn detect(bytes: &[u8]) -> Detection {
    [V1_SIGNATURE, &V2_SIGNATURE]
        .iter()
        .map(|signature| {
            let compared = bytes.len().min(signature.len());
            if bytes[..compared] != signature[..compared] {
                Detection::NotHeader
            } else if compared == signature.len() {
                Detection::Header
            } else {
                Detection::Undecided
            }
        })
        .min_by_key(|detection| match detection {
            Detection::Header => 0,
            Detection::Undecided => 1,
            Detection::NotHeader => 2,
        })
        .unwrap_or(Detection::NotHeader)
}

/// Parses the header at the start of `bytes`, which may go on with the application's data.
///
/// Rejects, as soon as the bytes show it, anything the specification does not allow; at most
/// [`MAX_LENGTH`] bytes are ever taken.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Error> {
    match detect(bytes) {
        Detection::Undecided => Ok(Parsed::Incomplete),
        Detection::NotHeader => error("the connection does not start with a PROXY protocol header"),
        Detection::Header if bytes.starts_with(V1_SIGNATURE) => parse_v1(bytes),
        Detection::Header => parse_v2(bytes),
    }
}

/// A v1 line: `PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT\r\n`, or `PROXY UNKNOWN…\r\n`.
fn parse_v1(bytes: &[u8]) -> Result<Parsed, Error> {
    let window = &bytes[..bytes.len().min(MAX_V1_LENGTH)];
    let Some(end) = window.iter().position(|&byte| byte == b'\n') else {
        if let Some(cr) = window.iter().position(|&byte| byte == b'\r')
            && cr + 1 < window.len()
        {
            return error("PROXY v1 line: a CR without LF");
        }
        if window.len() == MAX_V1_LENGTH {
            return error(format!(
                "PROXY v1 line: no CRLF within {MAX_V1_LENGTH} bytes"
            ));
        }
        check_v1_protocol(&window[V1_SIGNATURE.len()..])?;
        return Ok(Parsed::Incomplete);
    };
    if window[end - 1] != b'\r' {
        return error("PROXY v1 line: a LF without CR");
    }
    let line = &window[V1_SIGNATURE.len()..end - 1];
    if line.contains(&b'\r') {
        return error("PROXY v1 line: a CR without LF");
    }
    let header = |addresses| Header {
        version: Version::V1,
        command: Command::Proxy,
        addresses,
        tlvs: Vec::new(),
    };
    if line == b"UNKNOWN" || line.starts_with(b"UNKNOWN ") {
        // "the receiver must ignore anything presented before the CRLF".
        return Ok(Parsed::Complete {
            header: header(None),
            length: end + 1,
        });
    }
    let line = std::str::from_utf8(line).map_err(|_| Error("PROXY v1 line: not ASCII".into()))?;
    let fields: Vec<&str> = line.split(' ').collect();
    let [protocol, source, destination, source_port, destination_port] = fields[..] else {
        check_v1_protocol(line.as_bytes())?;
        return error(format!(
            "PROXY v1 line: {} fields after PROXY, not 5",
            fields.len()
        ));
    };
    let address = |text: &str| -> Result<IpAddr, Error> {
        match protocol {
            "TCP4" => text.parse::<Ipv4Addr>().map(IpAddr::V4).ok(),
            // nginx writes an IPv4 address in a TCP6 line when the families differ.
            "TCP6" => text
                .parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .or_else(|_| text.parse::<Ipv4Addr>().map(IpAddr::V4))
                .ok(),
            _ => None,
        }
        .ok_or_else(|| {
            Error(match protocol {
                "TCP4" | "TCP6" => format!("PROXY v1 line: {text:?} is not an {protocol} address"),
                _ => format!("PROXY v1 line: unknown protocol {protocol:?}"),
            })
        })
    };
    let source = address(source)?;
    let destination = address(destination)?;
    let (source_port, destination_port) = (port(source_port)?, port(destination_port)?);
    Ok(Parsed::Complete {
        header: header(Some((
            SocketAddr::new(source, source_port),
            SocketAddr::new(destination, destination_port),
        ))),
        length: end + 1,
    })
}

/// Rejects early a v1 line whose protocol, as far as it has arrived, is none of the three.
fn check_v1_protocol(rest: &[u8]) -> Result<(), Error> {
    let token = rest.split(|&byte| byte == b' ').next().unwrap_or_default();
    let complete = token.len() < rest.len();
    let known = [&b"TCP4"[..], b"TCP6", b"UNKNOWN"].iter().any(|name| {
        if complete {
            token == *name
        } else {
            name.starts_with(token)
        }
    });
    if known {
        Ok(())
    } else {
        error(format!(
            "PROXY v1 line: unknown protocol {:?}",
            String::from_utf8_lossy(token)
        ))
    }
}

/// A port in decimal, 0 to 65535, without leading zeros.
fn port(text: &str) -> Result<u16, Error> {
    let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    match text.parse::<u16>() {
        Ok(port) if digits && (text == "0" || !text.starts_with('0')) => Ok(port),
        _ => error(format!("PROXY v1 line: {text:?} is not a port")),
    }
}

/// A v2 header: 16 fixed bytes, then `len` bytes of addresses and TLVs.
fn parse_v2(bytes: &[u8]) -> Result<Parsed, Error> {
    if let Some(&version_command) = bytes.get(12) {
        let (version, command) = (version_command >> 4, version_command & 0xf);
        if version != 2 {
            return error(format!("PROXY v2 header: version {version}, not 2"));
        }
        if command > 1 {
            return error(format!(
                "PROXY v2 header: command {command} is neither LOCAL nor PROXY"
            ));
        }
    }
    if let Some(&family_transport) = bytes.get(13) {
        let (family, transport) = (family_transport >> 4, family_transport & 0xf);
        if family > 3 {
            return error(format!("PROXY v2 header: unknown address family {family}"));
        }
        if transport > 2 {
            return error(format!("PROXY v2 header: unknown transport {transport}"));
        }
    }
    let Some(length) = bytes.get(14..16) else {
        return Ok(Parsed::Incomplete);
    };
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    let total = V2_FIXED + length;
    if total > MAX_LENGTH {
        return error(format!(
            "PROXY v2 header: {length} bytes of addresses and TLVs, beyond the limit of {}",
            MAX_LENGTH - V2_FIXED
        ));
    }
    let Some(header) = bytes.get(..total) else {
        return Ok(Parsed::Incomplete);
    };
    let command = if header[12] & 0xf == 0 {
        Command::Local
    } else {
        Command::Proxy
    };
    let block = &header[V2_FIXED..];
    let header = match command {
        // "discard the protocol block including the family", whatever its length says.
        Command::Local => Header {
            version: Version::V2,
            command,
            addresses: None,
            tlvs: Vec::new(),
        },
        Command::Proxy => {
            let (addresses, rest) = v2_addresses(header[13], block)?;
            Header {
                version: Version::V2,
                command,
                addresses,
                tlvs: v2_tlvs(header, block.len() - rest.len())?,
            }
        }
    };
    Ok(Parsed::Complete {
        header,
        length: total,
    })
}

/// The addresses of a `PROXY` header's block, if a TCP service takes them, and what follows.
fn v2_addresses(family_transport: u8, block: &[u8]) -> Result<(Option<Addresses>, &[u8]), Error> {
    let (family, transport) = (family_transport >> 4, family_transport & 0xf);
    let size = match family {
        1 => 12,
        2 => 36,
        3 => 216,
        // "The receiver should ignore address information": nothing after it is read either.
        _ => return Ok((None, &[])),
    };
    let Some((addresses, rest)) = block.split_at_checked(size) else {
        return error(format!(
            "PROXY v2 header: {} bytes of addresses and TLVs, shorter than the {size} of its \
             address family",
            block.len()
        ));
    };
    const STREAM: u8 = 1;
    let ip = |bytes: &[u8]| -> IpAddr {
        match <[u8; 4]>::try_from(bytes) {
            Ok(v4) => IpAddr::from(v4),
            Err(_) => IpAddr::from(<[u8; 16]>::try_from(bytes).unwrap_or([0; 16])),
        }
    };
    let port = |bytes: &[u8]| u16::from_be_bytes([bytes[0], bytes[1]]);
    let taken = match (family, transport) {
        (1 | 2, STREAM) => {
            let width = (size - 4) / 2;
            Some((
                SocketAddr::new(ip(&addresses[..width]), port(&addresses[2 * width..])),
                SocketAddr::new(
                    ip(&addresses[width..2 * width]),
                    port(&addresses[2 * width + 2..]),
                ),
            ))
        }
        // "falls back to the UNSPEC mode for the valid combinations … that it does not support".
        _ => None,
    };
    Ok((taken, rest))
}

/// The TLVs of `header`, a complete v2 header, from `offset` in its block on; checks that none
/// overruns the block, the CRC32C if there is one, and the types the service reads.
fn v2_tlvs(header: &[u8], offset: usize) -> Result<Vec<(u8, Vec<u8>)>, Error> {
    const NOOP: u8 = 0x04;
    let block = &header[V2_FIXED..];
    let mut tlvs = Vec::new();
    let mut at = offset;
    while at < block.len() {
        let Some(&[kind, high, low]) = block.get(at..at + 3) else {
            return error(format!(
                "PROXY v2 header: a TLV at byte {} overruns the header",
                V2_FIXED + at
            ));
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        let Some(value) = block.get(at + 3..at + 3 + length) else {
            return error(format!(
                "PROXY v2 header: TLV 0x{kind:02x} at byte {} has {length} bytes, beyond the \
                 header's end",
                V2_FIXED + at
            ));
        };
        match kind {
            tlv::CRC32C => check_crc32c(header, V2_FIXED + at + 3, value)?,
            // Text for the application, C strings among others: no NUL can stand in it.
            tlv::ALPN | tlv::AUTHORITY
                if std::str::from_utf8(value).is_err() || value.contains(&0) =>
            {
                let name = if kind == tlv::ALPN {
                    "ALPN"
                } else {
                    "AUTHORITY"
                };
                return error(format!(
                    "PROXY v2 header: the {name} TLV is not UTF-8 text without NUL bytes"
                ));
            }
            tlv::UNIQUE_ID if value.len() > tlv::MAX_UNIQUE_ID => {
                return error(format!(
                    "PROXY v2 header: a UNIQUE_ID TLV of {} bytes, beyond {}",
                    value.len(),
                    tlv::MAX_UNIQUE_ID
                ));
            }
            _ => {}
        }
        if kind != NOOP && kind != tlv::CRC32C {
            tlvs.push((kind, value.to_vec()));
        }
        at += 3 + length;
    }
    Ok(tlvs)
}

/// Checks the CRC32C TLV whose value is `value`, at `offset` in `header`: the checksum of the
/// whole header with that value zeroed.
fn check_crc32c(header: &[u8], offset: usize, value: &[u8]) -> Result<(), Error> {
    let Ok(expected) = <[u8; 4]>::try_from(value) else {
        return error(format!(
            "PROXY v2 header: a CRC32C TLV of {} bytes, not 4",
            value.len()
        ));
    };
    let zeroed = header[..offset]
        .iter()
        .chain(&[0; 4])
        .chain(&header[offset + 4..]);
    if crc32c(zeroed.copied()) != u32::from_be_bytes(expected) {
        return error("PROXY v2 header: its CRC32C does not match");
    }
    Ok(())
}

/// CRC-32C (Castagnoli, RFC 4960 appendix B), bit by bit: headers are short.
pub fn crc32c(bytes: impl IntoIterator<Item = u8>) -> u32 {
    !bytes.into_iter().fold(!0u32, |crc, byte| {
        (0..8).fold(crc ^ u32::from(byte), |crc, _| {
            (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg())
        })
    })
}

#[cfg(test)]
mod tests;
