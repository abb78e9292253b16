//! The peers trusted to send a PROXY protocol header: addresses and CIDR ranges.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address, or a CIDR range of them (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerRange {
    network: IpAddr,
    prefix: u8,
}

impl PeerRange {
    /// Parses `text`: an IPv4 or IPv6 address, with or without a `/PREFIX`. A range with bits
    /// set beyond its prefix (`10.1.2.3/8`) is refused: it is likely a mistake.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let bits = Self::bits(network);
        let prefix = match prefix {
            None => bits,
            Some(prefix) => match prefix.parse::<u8>() {
                Ok(length) if length <= bits && prefix.bytes().all(|b| b.is_ascii_digit()) => {
                    length
                }
                _ => {
                    return Err(format!(
                        "{text:?}: the prefix length is not a number from 0 to {bits}"
                    ));
                }
            },
        };
        let range = match (network, crate::sys::canonical_ip(network)) {
            // A v4-mapped range (`::ffff:10.0.0.0/104`) is the IPv4 range it stands for; one
            // shorter than the mapping's 96 bits is no IPv4 range, and would trust them all.
            (IpAddr::V6(_), IpAddr::V4(_)) if prefix < 96 => {
                return Err(format!(
                    "{text:?}: a v4-mapped range needs a prefix of 96 bits or more"
                ));
            }
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) => Self {
                network: v4,
                prefix: prefix - 96,
            },
            _ => Self { network, prefix },
        };
        if range.masked(range.network) != range.network {
            return Err(format!(
                "{text:?} has bits set beyond its prefix: {} is the range",
                Self {
                    network: range.masked(range.network),
                    ..range
                }
            ));
        }
        Ok(range)
    }

    fn bits(address: IpAddr) -> u8 {
        match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// `address` with the bits beyond the prefix cleared.
    fn masked(&self, address: IpAddr) -> IpAddr {
        match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    /// Whether `peer`, a canonical address (a v4-mapped IPv6 address as IPv4), is in the range.
    pub fn contains(&self, peer: IpAddr) -> bool {
        peer.is_ipv4() == self.network.is_ipv4() && self.masked(peer) == self.network
    }
}

/// The address alone for a single address, `ADDRESS/PREFIX` for a range.
impl fmt::Display for PeerRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == Self::bits(self.network) {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_match_what_they_cover() {
        let one = PeerRange::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let eight = PeerRange::parse("10.0.0.0/8").unwrap();
        assert!(eight.contains(ip("10.255.0.1")));
        assert!(!eight.contains(ip("11.0.0.1")));
        assert!(!eight.contains(ip("::a00:1")), "families apart");
        let v6 = PeerRange::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fdab::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let all = PeerRange::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("192.0.2.1")));
        assert!(
            PeerRange::parse("::/0")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        let mapped = PeerRange::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped, eight, "a v4-mapped range is its IPv4 range");
        assert_eq!(PeerRange::parse("::ffff:127.0.0.1").unwrap(), one);
    }

    #[test]
    fn ranges_print_as_they_parse() {
        for text in ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "0.0.0.0/0"] {
            assert_eq!(PeerRange::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            PeerRange::parse("127.0.0.1/32").unwrap().to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn mistakes_are_refused_with_what_is_wrong() {
        for (text, says) in [
            ("", "not an IP address"),
            ("localhost", "not an IP address"),
            ("10.0.0.0/33", "from 0 to 32"),
            ("10.0.0.0/", "from 0 to 32"),
            ("10.0.0.0/-1", "from 0 to 32"),
            ("::/129", "from 0 to 128"),
            ("10.1.2.3/8", "10.0.0.0/8 is the range"),
            ("010.0.0.1", "not an IP address"),
            ("::ffff:0.0.0.0/80", "96 bits or more"),
            ("::ffff:0:0/64", "96 bits or more"),
            ("::ffff:0.0.0.0/0", "96 bits or more"),
        ] {
            let error = PeerRange::parse(text).unwrap_err();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }
}
