//! Every case of the specification, then properties over random and mutated headers.

use super::*;
use proptest::prelude::*;

fn complete(bytes: &[u8]) -> (Header, usize) {
    match parse(bytes) {
        Ok(Parsed::Complete { header, length }) => (header, length),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn refused(bytes: &[u8]) -> String {
    match parse(bytes) {
        Err(error) => error.to_string(),
        other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn addresses(source: &str, destination: &str) -> Option<(SocketAddr, SocketAddr)> {
    Some((source.parse().unwrap(), destination.parse().unwrap()))
}

/// A v2 header, as a sender writes it: command, family and transport byte, address block, TLVs.
fn v2(command: u8, family_transport: u8, block: &[u8], tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut rest = block.to_vec();
    for (kind, value) in tlvs {
        rest.push(*kind);
        rest.extend((value.len() as u16).to_be_bytes());
        rest.extend(*value);
    }
    let mut header = V2_SIGNATURE.to_vec();
    header.push(0x20 | command);
    header.push(family_transport);
    header.extend((rest.len() as u16).to_be_bytes());
    header.extend(rest);
    header
}

fn inet4_block(source: [u8; 4], destination: [u8; 4], ports: (u16, u16)) -> Vec<u8> {
    [
        &source[..],
        &destination,
        &ports.0.to_be_bytes(),
        &ports.1.to_be_bytes(),
    ]
    .concat()
}

#[test]
fn v1_tcp4_and_tcp6_lines_give_their_addresses_and_length() {
    let line = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nGET / HTTP/1.1\r\n";
    let (header, length) = complete(line);
    assert_eq!(length, 40);
    assert_eq!(header.version, Version::V1);
    assert_eq!(header.command, Command::Proxy);
    assert_eq!(
        header.addresses,
        addresses("192.0.2.9:5555", "192.0.2.1:80")
    );
    let (header, length) = complete(b"PROXY TCP6 2001:db8::7 ::1 65535 0\r\n");
    assert_eq!(length, 36);
    assert_eq!(
        header.addresses,
        addresses("[2001:db8::7]:65535", "[::1]:0")
    );
    // The longest lines.
    let tcp4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    assert_eq!(complete(tcp4).1, 56);
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let tcp6 = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
    assert_eq!(complete(tcp6.as_bytes()).1, 104);
    let unknown = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
    assert_eq!(complete(unknown.as_bytes()).1, MAX_V1_LENGTH);
}

#[test]
fn v1_unknown_keeps_the_sockets_addresses_whatever_follows_it() {
    for line in [
        &b"PROXY UNKNOWN\r\n"[..],
        b"PROXY UNKNOWN anything \xff at all\r\n",
    ] {
        let (header, length) = complete(line);
        assert_eq!((header.addresses, length), (None, line.len()));
    }
}

#[test]
fn v1_ipv4_in_a_tcp6_line_is_taken_as_nginx_writes_it() {
    let (header, _) = complete(b"PROXY TCP6 127.0.0.2 ::1 1000 2000\r\n");
    assert_eq!(header.addresses, addresses("127.0.0.2:1000", "[::1]:2000"));
}

#[test]
fn v1_lines_that_break_the_grammar_are_refused_with_what_is_wrong() {
    for (line, says) in [
        (
            &b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\n"[..],
            "a LF without CR",
        ),
        (
            b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\r\n",
            "a CR without LF",
        ),
        (
            b"PROXY TCP4 192.0.2.9\r192.0.2.1 5555 80\r\n",
            "a CR without LF",
        ),
        (b"PROXY TCP4 192.0.2.9  192.0.2.1 5555 80\r\n", "6 fields"),
        (b"PROXY TCP4 192.0.2.9 192.0.2.1 5555\r\n", "4 fields"),
        (
            b"PROXY TCP5 192.0.2.9 192.0.2.1 5555 80\r\n",
            "unknown protocol \"TCP5\"",
        ),
        (b"PROXY UDP4 ", "unknown protocol \"UDP4\""),
        (b"PROXY tcp4 1.2.3.4 1.2.3.4 1 1\r\n", "unknown protocol"),
        (
            b"PROXY TCP4 192.0.2.09 192.0.2.1 5555 80\r\n",
            "is not an TCP4 address",
        ),
        (
            b"PROXY TCP4 ::1 192.0.2.1 5555 80\r\n",
            "is not an TCP4 address",
        ),
        (b"PROXY TCP6 ::1 ::g 5555 80\r\n", "is not an TCP6 address"),
        (
            b"PROXY TCP4 192.0.2.9 192.0.2.1 05555 80\r\n",
            "is not a port",
        ),
        (
            b"PROXY TCP4 192.0.2.9 192.0.2.1 65536 80\r\n",
            "is not a port",
        ),
        (
            b"PROXY TCP4 192.0.2.9 192.0.2.1 +555 80\r\n",
            "is not a port",
        ),
        (b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 \r\n", "is not a port"),
        (b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80 \r\n", "6 fields"),
    ] {
        let error = refused(line);
        assert!(
            error.contains(says),
            "{:?}: {error}",
            String::from_utf8_lossy(line)
        );
    }
    let long = [&b"PROXY UNKNOWN "[..], &[b'a'; 100]].concat();
    assert!(refused(&long).contains("no CRLF within 107 bytes"));
    let crlf_at_108 = [&b"PROXY UNKNOWN "[..], &[b'a'; 92], b"\r\n"].concat();
    assert_eq!(crlf_at_108.len(), 108);
    assert!(refused(&crlf_at_108).contains("no CRLF within 107 bytes"));
}

#[test]
fn v1_prefixes_are_incomplete_until_the_crlf() {
    let line = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\n";
    for end in 0..line.len() {
        assert_eq!(parse(&line[..end]), Ok(Parsed::Incomplete), "{end} bytes");
    }
}

#[test]
fn v2_proxy_headers_give_their_addresses_and_tlvs() {
    let block = inet4_block([198, 51, 100, 7], [127, 0, 0, 1], (40000, 8001));
    let header = v2(
        1,
        0x11,
        &block,
        &[
            (tlv::ALPN, b"h2"),
            (tlv::AUTHORITY, b"app.example"),
            (0x04, b"pad"),
            (tlv::UNIQUE_ID, b"id"),
        ],
    );
    let with_data = [&header[..], b"\x16\x03\x01 the ClientHello"].concat();
    let (parsed, length) = complete(&with_data);
    assert_eq!(length, header.len());
    assert_eq!(parsed.version, Version::V2);
    assert_eq!(parsed.command, Command::Proxy);
    assert_eq!(
        parsed.addresses,
        addresses("198.51.100.7:40000", "127.0.0.1:8001")
    );
    assert_eq!(
        parsed.tlvs,
        vec![
            (tlv::ALPN, b"h2".to_vec()),
            (tlv::AUTHORITY, b"app.example".to_vec()),
            (tlv::UNIQUE_ID, b"id".to_vec()),
        ],
        "NOOP is padding"
    );

    let source: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let destination: std::net::Ipv6Addr = "::1".parse().unwrap();
    let block = [&source.octets()[..], &destination.octets(), &[0, 1, 0, 2]].concat();
    let (parsed, length) = complete(&v2(1, 0x21, &block, &[]));
    assert_eq!(length, 16 + 36);
    assert_eq!(parsed.addresses, addresses("[2001:db8::7]:1", "[::1]:2"));
}

#[test]
fn v2_local_ignores_its_block_whatever_its_length() {
    // HAProxy's health check: 16 bytes.
    let check = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    let (header, length) = complete(check);
    assert_eq!(
        (header.command, header.addresses, length),
        (Command::Local, None, 16)
    );
    // AWS NLB's: a dummy TCP4 block, and bytes that are no valid TLVs.
    let block = [
        &inet4_block([1, 2, 3, 4], [5, 6, 7, 8], (1, 2))[..],
        &[0xff, 0xff],
    ]
    .concat();
    let (header, length) = complete(&v2(0, 0x11, &block, &[]));
    assert_eq!(
        (header.command, header.addresses, length),
        (Command::Local, None, 16 + 14)
    );
    assert!(header.tlvs.is_empty());
}

#[test]
fn v2_families_a_tcp_service_does_not_take_addresses_from_keep_the_sockets() {
    let unix = [[0u8; 216].as_slice(), &[tlv::ALPN, 0, 1, b'x']].concat();
    for (family_transport, block) in [
        (0x00, vec![1, 2, 3]),
        (0x12, inet4_block([1, 2, 3, 4], [5, 6, 7, 8], (1, 2))),
        (0x10, inet4_block([1, 2, 3, 4], [5, 6, 7, 8], (1, 2))),
        (0x31, unix.clone()),
        (0x32, unix),
    ] {
        let header = v2(1, family_transport, &block, &[]);
        let (parsed, length) = complete(&header);
        assert_eq!(
            (parsed.addresses, length),
            (None, header.len()),
            "{family_transport:#x}"
        );
    }
}

#[test]
fn v2_headers_that_break_the_format_are_refused_with_what_is_wrong() {
    let block = inet4_block([1, 2, 3, 4], [5, 6, 7, 8], (1, 2));
    let good = v2(1, 0x11, &block, &[]);
    let with = |at: usize, byte: u8| {
        let mut header = good.clone();
        header[at] = byte;
        header
    };
    for (header, says) in [
        (with(12, 0x11), "version 1, not 2"),
        (with(12, 0x31), "version 3, not 2"),
        (with(12, 0x22), "command 2"),
        (with(13, 0x41), "unknown address family 4"),
        (with(13, 0x13), "unknown transport 3"),
        (
            v2(1, 0x11, &block[..11], &[]),
            "shorter than the 12 of its address family",
        ),
        (v2(1, 0x21, &block, &[]), "shorter than the 36"),
        (
            v2(1, 0x11, &[&block[..], &[0x01, 0x00]].concat(), &[]),
            "overruns the header",
        ),
        (
            v2(
                1,
                0x11,
                &[&block[..], &[0x01, 0x00, 0x05, b'h']].concat(),
                &[],
            ),
            "has 5 bytes, beyond the header's end",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::AUTHORITY, b"\xff")]),
            "AUTHORITY TLV is not UTF-8",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::ALPN, b"h2\xc0")]),
            "ALPN TLV is not UTF-8",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::ALPN, b"h\x002")]),
            "ALPN TLV is not UTF-8 text without NUL",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::AUTHORITY, b"a\x00b")]),
            "AUTHORITY TLV is not UTF-8 text without NUL",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::UNIQUE_ID, &[7; 129])]),
            "UNIQUE_ID TLV of 129 bytes",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::CRC32C, &[0; 3])]),
            "CRC32C TLV of 3 bytes",
        ),
        (
            v2(1, 0x11, &block, &[(tlv::CRC32C, &[0; 4])]),
            "CRC32C does not match",
        ),
    ] {
        let error = refused(&header);
        assert!(error.contains(says), "{header:02x?}: {error}");
    }
    // A v2 length beyond the limit, refused from its 16 fixed bytes alone.
    let mut long = good[..16].to_vec();
    long[14..16].copy_from_slice(&4081u16.to_be_bytes());
    assert!(refused(&long).contains("4081 bytes of addresses and TLVs, beyond the limit of 4080"));
    long[14..16].copy_from_slice(&4080u16.to_be_bytes());
    assert_eq!(parse(&long), Ok(Parsed::Incomplete));
}

#[test]
fn v2_crc32c_is_checked_over_the_whole_header() {
    assert_eq!(crc32c(*b"123456789"), 0xE306_9283, "RFC 3720's check value");
    let block = inet4_block([1, 2, 3, 4], [5, 6, 7, 8], (1, 2));
    let mut header = v2(
        1,
        0x11,
        &block,
        &[(tlv::CRC32C, &[0; 4]), (tlv::UNIQUE_ID, b"")],
    );
    let crc = crc32c(header.iter().copied());
    header[16 + 12 + 3..16 + 12 + 7].copy_from_slice(&crc.to_be_bytes());
    let (parsed, _) = complete(&header);
    assert_eq!(
        parsed.tlvs,
        vec![(tlv::UNIQUE_ID, Vec::new())],
        "CRC32C is checked, not kept"
    );
    header[1] ^= 0;
    let last = header.len() - 1;
    header[last - 4] ^= 1; // the UNIQUE_ID's length
    assert!(parse(&header).is_err());
}

#[test]
fn v2_prefixes_are_incomplete_and_early_bytes_are_checked_at_once() {
    let block = inet4_block([1, 2, 3, 4], [5, 6, 7, 8], (1, 2));
    let header = v2(1, 0x11, &block, &[(tlv::ALPN, b"h2")]);
    for end in 0..header.len() {
        assert_eq!(parse(&header[..end]), Ok(Parsed::Incomplete), "{end} bytes");
    }
    assert!(
        parse(b"\r\n\r\n\0\r\nQUIT\n\x10").is_err(),
        "version 1 in the 13th byte"
    );
}

#[test]
fn anything_else_is_not_a_header() {
    for bytes in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"\x16\x03\x01\x02\x00",
        b"PROXy",
        b"\r\n\r\n\x01",
    ] {
        assert_eq!(detect(bytes), Detection::NotHeader);
        assert!(refused(bytes).contains("does not start with a PROXY protocol header"));
    }
    assert_eq!(detect(b""), Detection::Undecided);
    assert_eq!(detect(b"PROX"), Detection::Undecided);
    assert_eq!(detect(b"\r\n\r\n\0\r\nQUI"), Detection::Undecided);
    assert_eq!(detect(b"PROXY "), Detection::Header);
    assert_eq!(detect(&V2_SIGNATURE), Detection::Header);
}

// -------------------------------------------------------------------------------------------
// Properties
// -------------------------------------------------------------------------------------------

/// A valid header, as any conforming sender may write it, with what it must parse to.
fn valid_header() -> impl Strategy<Value = (Vec<u8>, Header)> {
    let v1_tcp4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(source, destination, sport, dport)| {
            let (source, destination) = (Ipv4Addr::from(source), Ipv4Addr::from(destination));
            let line = format!("PROXY TCP4 {source} {destination} {sport} {dport}\r\n");
            (
                line.into_bytes(),
                v1_header(source.into(), destination.into(), sport, dport),
            )
        });
    let v1_tcp6 = (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(source, destination, sport, dport)| {
            let (source, destination) = (Ipv6Addr::from(source), Ipv6Addr::from(destination));
            let line = format!("PROXY TCP6 {source} {destination} {sport} {dport}\r\n");
            (
                line.into_bytes(),
                v1_header(source.into(), destination.into(), sport, dport),
            )
        });
    prop_oneof![v1_tcp4, v1_tcp6, valid_v2_header()]
}

/// A valid v2 header, with what it must parse to.
fn valid_v2_header() -> impl Strategy<Value = (Vec<u8>, Header)> {
    let tlvs = prop::collection::vec(
        (
            prop_oneof![
                Just(tlv::ALPN),
                Just(tlv::AUTHORITY),
                Just(tlv::UNIQUE_ID),
                0x06u8..=0xff
            ],
            "[a-z0-9.]{0,40}",
        ),
        0..5,
    );
    let v2_inet = (
        any::<bool>(),
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
        tlvs,
    )
        .prop_map(|(six, s4, d4, s6, d6, sport, dport, tlvs)| {
            let (block, source, destination): (Vec<u8>, IpAddr, IpAddr) = if six {
                (
                    [&s6[..], &d6, &sport.to_be_bytes(), &dport.to_be_bytes()].concat(),
                    Ipv6Addr::from(s6).into(),
                    Ipv6Addr::from(d6).into(),
                )
            } else {
                (
                    inet4_block(s4, d4, (sport, dport)),
                    Ipv4Addr::from(s4).into(),
                    Ipv4Addr::from(d4).into(),
                )
            };
            let tlvs: Vec<(u8, Vec<u8>)> = tlvs
                .into_iter()
                .map(|(kind, value)| (kind, value.into_bytes()))
                .collect();
            let borrowed: Vec<(u8, &[u8])> = tlvs
                .iter()
                .map(|(kind, value)| (*kind, value.as_slice()))
                .collect();
            let bytes = v2(1, if six { 0x21 } else { 0x11 }, &block, &borrowed);
            let header = Header {
                version: Version::V2,
                command: Command::Proxy,
                addresses: Some((
                    SocketAddr::new(source, sport),
                    SocketAddr::new(destination, dport),
                )),
                tlvs,
            };
            (bytes, header)
        });
    let v2_local = prop::collection::vec(any::<u8>(), 0..64).prop_map(|block| {
        let header = Header {
            version: Version::V2,
            command: Command::Local,
            addresses: None,
            tlvs: vec![],
        };
        (v2(0, 0x00, &block, &[]), header)
    });
    prop_oneof![v2_inet, v2_local]
}

fn v1_header(source: IpAddr, destination: IpAddr, sport: u16, dport: u16) -> Header {
    Header {
        version: Version::V1,
        command: Command::Proxy,
        addresses: Some((
            SocketAddr::new(source, sport),
            SocketAddr::new(destination, dport),
        )),
        tlvs: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_and_a_header_never_takes_more_than_there_is(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        if let Ok(Parsed::Complete { length, .. }) = parse(&bytes) {
            prop_assert!(length <= bytes.len() && length <= MAX_LENGTH);
        }
    }

    #[test]
    fn random_bytes_after_a_signature_never_panic(
        v2_signature in any::<bool>(),
        rest in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let signature: &[u8] = if v2_signature { &V2_SIGNATURE } else { b"PROXY " };
        let bytes = [signature, &rest].concat();
        if let Ok(Parsed::Complete { length, .. }) = parse(&bytes) {
            prop_assert!(length <= bytes.len());
        }
    }

    #[test]
    fn valid_headers_parse_to_what_they_say_and_take_exactly_their_bytes(
        (bytes, expected) in valid_header(),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let with_data = [&bytes[..], &data].concat();
        prop_assert_eq!(parse(&with_data), Ok(Parsed::Complete { header: expected, length: bytes.len() }));
        // Every prefix is a beginning: all its bytes are the header's, none is refused.
        for end in 0..bytes.len() {
            prop_assert_eq!(parse(&bytes[..end]), Ok(Parsed::Incomplete));
        }
    }

    #[test]
    fn mutated_headers_never_panic_nor_overrun(
        (bytes, _) in valid_header(),
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut mutated = bytes.clone();
        for (at, byte) in mutations {
            let at = at.index(mutated.len());
            mutated[at] = byte;
        }
        mutated.truncate(cut.index(mutated.len() + 1));
        match parse(&mutated) {
            Ok(Parsed::Complete { length, header }) => {
                prop_assert!(length <= mutated.len());
                // What is accepted is well-formed: it parses again, alone, to the same.
                prop_assert_eq!(parse(&mutated[..length]), Ok(Parsed::Complete { header, length }));
            }
            Ok(Parsed::Incomplete) => prop_assert!(mutated.len() < MAX_LENGTH),
            Err(_) => {}
        }
    }

    #[test]
    fn a_wrong_version_command_family_or_transport_is_always_refused(
        (bytes, _) in valid_v2_header(),
        (at, high, nibble) in prop_oneof![
            (Just(12usize), Just(true), prop::sample::select(vec![0u8, 1, 3, 4, 7, 15])),
            (Just(12usize), Just(false), 2u8..16),
            (Just(13usize), Just(true), 4u8..16),
            (Just(13usize), Just(false), 3u8..16),
        ],
    ) {
        let mut mutated = bytes.clone();
        mutated[at] = if high { (mutated[at] & 0x0f) | (nibble << 4) } else { (mutated[at] & 0xf0) | nibble };
        prop_assert!(parse(&mutated).is_err());
    }
}
