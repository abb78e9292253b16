//! Every case of the record, message and extension layout, a real client's ClientHello, then
//! properties over random, mutated and re-cut ClientHellos.

use super::*;
use proptest::prelude::*;

/// What Python's `ssl` (OpenSSL 3.0) sends for `server_hostname="A.Test"` and ALPN `h2`,
/// `http/1.1`: one record of 512 bytes, with a padding extension.
const PYTHON_HELLO: &str = "1603010200010001fc0303993c8e566f10b2cb54ada8ec256e82abef1fde4fc3c3b025b9fe02ef5bc5e248203bc754b9419281d0b7137a3cbfd4ce882c224e23957ba7bcf1335c8de03d7a5a003e130213031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010001750000000b0009000006412e54657374000b000403000102000a00160014001d0017001e0019001801000101010201030104002300000010000e000c02683208687474702f312e310016000000170000000d002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d00209ec467c174dc29700c5e0e36a2259305fe2445750f6d0e9862e1baf1a932ec53001500b7000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

/// A ClientHello's body, field by field, as a client writes it.
#[derive(Clone)]
struct Body {
    version: u16,
    random: Vec<u8>,
    session_id: Vec<u8>,
    suites: Vec<u8>,
    compression: Vec<u8>,
    /// `None`: no extensions block at all (an old TLS 1.2 client).
    extensions: Option<Vec<(u16, Vec<u8>)>>,
    /// Bytes after the extensions block.
    trailing: Vec<u8>,
}

impl Default for Body {
    fn default() -> Self {
        Body {
            version: 0x0303,
            random: vec![7; 32],
            session_id: vec![1; 32],
            suites: vec![0x13, 0x01, 0x13, 0x02],
            compression: vec![0],
            extensions: Some(vec![]),
            trailing: vec![],
        }
    }
}

impl Body {
    fn with(extensions: Vec<(u16, Vec<u8>)>) -> Body {
        Body {
            extensions: Some(extensions),
            ..Body::default()
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut body = self.version.to_be_bytes().to_vec();
        body.extend(&self.random);
        body.push(self.session_id.len() as u8);
        body.extend(&self.session_id);
        body.extend((self.suites.len() as u16).to_be_bytes());
        body.extend(&self.suites);
        body.push(self.compression.len() as u8);
        body.extend(&self.compression);
        if let Some(extensions) = &self.extensions {
            let mut block = Vec::new();
            for (kind, data) in extensions {
                block.extend(kind.to_be_bytes());
                block.extend((data.len() as u16).to_be_bytes());
                block.extend(data);
            }
            body.extend((block.len() as u16).to_be_bytes());
            body.extend(block);
        }
        body.extend(&self.trailing);
        body
    }

    /// The handshake message: type 1, 24-bit length, body.
    fn message(&self) -> Vec<u8> {
        message(CLIENT_HELLO, &self.bytes())
    }

    /// In one record.
    fn record(&self) -> Vec<u8> {
        records(&self.message(), &[])
    }
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let length = (body.len() as u32).to_be_bytes();
    [&[kind][..], &length[1..], body].concat()
}

/// `message` in handshake records, cut at `cuts` (offsets into the message, in order).
fn records(message: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain([&message.len()]) {
        bytes.extend(record(HANDSHAKE, &message[start..end]));
        start = end;
    }
    bytes
}

fn record(kind: u8, fragment: &[u8]) -> Vec<u8> {
    let mut bytes = vec![kind, 3, 1];
    bytes.extend((fragment.len() as u16).to_be_bytes());
    bytes.extend(fragment);
    bytes
}

/// A `server_name` extension's data with these names (type, name).
fn server_names(names: &[(u8, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (kind, name) in names {
        list.push(*kind);
        list.extend((name.len() as u16).to_be_bytes());
        list.extend(*name);
    }
    [&(list.len() as u16).to_be_bytes()[..], &list].concat()
}

fn sni(name: &str) -> (u16, Vec<u8>) {
    (SERVER_NAME, server_names(&[(0, name.as_bytes())]))
}

/// An ALPN extension's data with these protocols.
fn protocols(names: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for name in names {
        list.push(name.len() as u8);
        list.extend(*name);
    }
    [&(list.len() as u16).to_be_bytes()[..], &list].concat()
}

fn complete(bytes: &[u8]) -> (Hello, usize) {
    match parse(bytes) {
        Ok(Parsed::Complete { hello, length }) => (hello, length),
        other => panic!("{other:?}"),
    }
}

fn refused(bytes: &[u8]) -> String {
    match parse(bytes) {
        Err(error) => error.to_string(),
        other => panic!("accepted: {other:?}"),
    }
}

fn refused_body(body: Body) -> String {
    refused(&body.record())
}

fn hello(name: Option<&str>, alpn: &[&[u8]]) -> Hello {
    Hello {
        server_name: name.map(str::to_owned),
        alpn: alpn.iter().map(|protocol| protocol.to_vec()).collect(),
    }
}

// -------------------------------------------------------------------------------------------
// Records
// -------------------------------------------------------------------------------------------

#[test]
fn a_real_clients_hello_gives_its_name_lowercase_and_its_protocols() {
    let bytes = hex(PYTHON_HELLO);
    let (hello, length) = complete(&bytes);
    assert_eq!(hello, self::hello(Some("a.test"), &[b"h2", b"http/1.1"]));
    assert_eq!(length, bytes.len());
}

#[test]
fn one_record_takes_its_bytes_and_what_follows_is_left_alone() {
    let body = Body::with(vec![sni("a.test"), (ALPN, protocols(&[b"h2"]))]);
    let hello_record = body.record();
    // A change_cipher_spec and early data may follow the ClientHello: not read.
    let with_more = [&hello_record[..], &record(20, &[1]), b"GET / HTTP/1.1\r\n"].concat();
    let (hello, length) = complete(&with_more);
    assert_eq!(hello, self::hello(Some("a.test"), &[b"h2"]));
    assert_eq!(length, hello_record.len());
}

#[test]
fn a_hello_cut_into_records_anywhere_is_put_together() {
    let body = Body::with(vec![sni("b.test"), (ALPN, protocols(&[b"http/1.1"]))]);
    let message = body.message();
    let expected = (hello(Some("b.test"), &[b"http/1.1"]), 0);
    // Inside the message's own header, inside an extension, one byte per record.
    for cuts in [
        vec![1],
        vec![2, 3],
        vec![4],
        vec![50, 60, message.len() - 1],
        (1..message.len()).collect::<Vec<_>>(),
    ] {
        let bytes = records(&message, &cuts);
        let (hello, length) = complete(&bytes);
        assert_eq!((hello, 0), expected, "cut at {cuts:?}");
        assert_eq!(length, bytes.len());
    }
}

#[test]
fn prefixes_want_the_rest_of_the_record_header_or_of_the_record() {
    let bytes = records(&Body::with(vec![sni("a.test")]).message(), &[20]);
    let second = 5 + 20;
    assert_eq!(parse(&[]), Ok(Parsed::Incomplete { wanted: 5 }));
    assert_eq!(parse(&bytes[..3]), Ok(Parsed::Incomplete { wanted: 5 }));
    assert_eq!(
        parse(&bytes[..5]),
        Ok(Parsed::Incomplete { wanted: second })
    );
    assert_eq!(
        parse(&bytes[..10]),
        Ok(Parsed::Incomplete { wanted: second })
    );
    assert_eq!(
        parse(&bytes[..second]),
        Ok(Parsed::Incomplete { wanted: second + 5 })
    );
    assert_eq!(
        parse(&bytes[..second + 6]),
        Ok(Parsed::Incomplete {
            wanted: bytes.len()
        })
    );
}

#[test]
fn what_is_not_tls_is_told_apart_from_a_malformed_hello() {
    for plaintext in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"\x80\x2e\x01\x03\x01",
        b"SSH-2.0-",
        b"\x16\x02",
    ] {
        let error = parse(plaintext).unwrap_err();
        assert!(error.not_tls, "{plaintext:?}: {error}");
    }
    assert_eq!(
        refused(b"GET /"),
        "Not a TLS handshake: the connection starts with byte 0x47 ('G')"
    );
    let error = parse(&[HANDSHAKE, 3, 9]).unwrap_err();
    assert!(!error.not_tls);
    assert_eq!(
        error.to_string(),
        "TLS ClientHello: a record of version 3.9"
    );
}

#[test]
fn record_lengths_are_held_to_tls_and_to_the_limit() {
    assert_eq!(
        refused(&[HANDSHAKE, 3, 1, 0, 0]),
        "TLS ClientHello: a handshake record of 0 bytes"
    );
    assert_eq!(
        refused(&[HANDSHAKE, 3, 1, 0x40, 1]),
        "TLS ClientHello: a record of 16385 bytes, beyond TLS's 16384"
    );
    // A full-size record does not fit in the limit with its header.
    assert_eq!(
        refused(&[HANDSHAKE, 3, 3, 0x40, 0]),
        "TLS ClientHello: its records go on beyond the limit of 16384 bytes"
    );
    // Nor do many records that add up beyond it: a byte each, 6 bytes a byte.
    let message = message(CLIENT_HELLO, &[0; 3_000]);
    let bytes = records(&message, &(1..message.len()).collect::<Vec<_>>());
    assert_eq!(
        refused(&bytes),
        "TLS ClientHello: its records go on beyond the limit of 16384 bytes"
    );
}

#[test]
fn another_record_type_before_the_hello_ends_is_refused() {
    let message = Body::with(vec![sni("a.test")]).message();
    let mut bytes = records(&message[..10], &[]);
    bytes.extend(record(21, &[2, 40]));
    assert_eq!(
        refused(&bytes),
        "TLS ClientHello: a record of content type 21 before it ends (handshake records only)"
    );
    let mut bytes = records(&message[..10], &[]);
    bytes.extend([HANDSHAKE, 2]);
    assert_eq!(refused(&bytes), "TLS ClientHello: a record of version 2.x");
}

#[test]
fn bytes_after_the_hello_in_its_last_record_are_refused() {
    let mut hello = Body::with(vec![sni("a.test")]).message();
    hello.extend(message(20, &[]));
    assert_eq!(
        refused(&records(&hello, &[])),
        "TLS ClientHello: 4 bytes after it in its last record"
    );
    // Seen as soon as they arrive.
    let bytes = records(&hello, &[]);
    assert!(parse(&bytes[..bytes.len() - 3]).is_err());
}

#[test]
fn the_first_message_must_be_a_client_hello_within_the_limit() {
    assert_eq!(
        refused(&records(&message(2, &[0; 40]), &[])),
        "TLS ClientHello: the first handshake message is of type 2, not a ClientHello (1)"
    );
    // Refused from its header alone.
    assert_eq!(
        refused(&[HANDSHAKE, 3, 1, 0, 10, CLIENT_HELLO, 0, 0x40, 0]),
        "TLS ClientHello: 16384 bytes, beyond the limit of 16375"
    );
}

// -------------------------------------------------------------------------------------------
// The message
// -------------------------------------------------------------------------------------------

#[test]
fn a_tls_1_2_hello_without_extensions_has_no_name() {
    let body = Body {
        extensions: None,
        session_id: vec![],
        ..Body::default()
    };
    assert_eq!(complete(&body.record()).0, Hello::default());
    assert_eq!(complete(&Body::with(vec![]).record()).0, Hello::default());
}

#[test]
fn each_field_of_the_hello_is_checked() {
    assert_eq!(
        refused_body(Body {
            version: 0x0202,
            ..Body::default()
        }),
        "TLS ClientHello: legacy_version 0x0202, not 3.x"
    );
    assert_eq!(
        refused_body(Body {
            session_id: vec![0; 33],
            ..Body::default()
        }),
        "TLS ClientHello: a legacy_session_id of 33 bytes, beyond 32"
    );
    for suites in [vec![], vec![0x13]] {
        assert!(
            refused_body(Body {
                suites,
                ..Body::default()
            })
            .contains("cipher_suites of")
        );
    }
    assert_eq!(
        refused_body(Body {
            compression: vec![],
            ..Body::default()
        }),
        "TLS ClientHello: no legacy_compression_methods"
    );
    assert_eq!(
        refused_body(Body {
            trailing: vec![0, 0],
            ..Body::default()
        }),
        "TLS ClientHello: 2 bytes after its extensions"
    );
    // Every field cut short, without extensions: each says which overran.
    let body = Body {
        extensions: None,
        ..Body::default()
    }
    .bytes();
    for (end, field) in [
        (1, "legacy_version"),
        (20, "random"),
        (34, "legacy_session_id"),
        (40, "legacy_session_id"),
        (68, "cipher_suites"),
        (71, "cipher_suites"),
        (73, "legacy_compression_methods"),
        (74, "legacy_compression_methods"),
    ] {
        let error = refused(&records(&message(CLIENT_HELLO, &body[..end]), &[]));
        assert!(
            error.contains(&format!("{field} overruns")),
            "{end}: {error}"
        );
    }
}

#[test]
fn extensions_must_fill_their_block_exactly_each_at_most_once() {
    // The block as given, after the compression methods: its length, then its bytes.
    let raw = |length: u16, block: &[u8]| {
        refused_body(Body {
            extensions: None,
            trailing: [&length.to_be_bytes()[..], block].concat(),
            ..Body::default()
        })
    };
    assert!(raw(20, &[0; 15]).contains("extensions overruns its block"));
    assert!(raw(6, &[0, 23, 0, 5, 1, 2]).contains("extension 23 overruns its block"));
    assert!(raw(1, &[0]).contains("an extension's type overruns"));
    assert_eq!(
        refused_body(Body::with(vec![(23, vec![]), (23, vec![])])),
        "TLS ClientHello: extension 23 twice"
    );
    assert_eq!(
        refused_body(Body::with(vec![sni("a.test"), sni("b.test")])),
        "TLS ClientHello: extension 0 twice"
    );
}

#[test]
fn unknown_and_grease_extensions_are_skipped() {
    let body = Body::with(vec![
        (0x0a0a, vec![]),
        (43, vec![2, 3, 4]),
        sni("a.test"),
        (0xfafa, vec![0; 300]),
        (ALPN, protocols(&[b"h2"])),
    ]);
    assert_eq!(complete(&body.record()).0, hello(Some("a.test"), &[b"h2"]));
}

// -------------------------------------------------------------------------------------------
// server_name (RFC 6066 §3)
// -------------------------------------------------------------------------------------------

#[test]
fn the_server_name_is_given_lowercase_without_a_trailing_dot() {
    for (sent, read) in [
        ("a.test", "a.test"),
        ("X.Wild.TEST", "x.wild.test"),
        ("a.test.", "a.test"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
    ] {
        let body = Body::with(vec![sni(sent)]);
        assert_eq!(
            complete(&body.record()).0.server_name.as_deref(),
            Some(read)
        );
    }
    let longest = ["a"; 128].join(".")[..255].to_owned();
    let body = Body::with(vec![sni(&longest)]);
    assert_eq!(complete(&body.record()).0.server_name, Some(longest));
}

#[test]
fn a_malformed_server_name_is_refused_with_what_is_wrong() {
    let refused_name = |data: Vec<u8>| refused_body(Body::with(vec![(SERVER_NAME, data)]));
    assert!(refused_name(vec![]).contains("server_name's list overruns"));
    assert!(refused_name(vec![0]).contains("server_name's list overruns"));
    assert_eq!(
        refused_name(vec![0, 0]),
        "TLS ClientHello: server_name: an empty list"
    );
    let mut overrun = server_names(&[(0, b"a.test")]);
    overrun[1] += 1;
    assert!(refused_name(overrun).contains("server_name's list overruns"));
    let mut after = server_names(&[(0, b"a.test")]);
    after.push(0);
    assert_eq!(
        refused_name(after),
        "TLS ClientHello: server_name: bytes after its list"
    );
    let mut name_overrun = server_names(&[(0, b"a.test")]);
    name_overrun[4] += 1;
    assert!(refused_name(name_overrun).contains("server_name's host_name overruns"));
    assert_eq!(
        refused_name(server_names(&[(1, b"a.test")])),
        "TLS ClientHello: server_name: name type 1, only host_name (0) is defined"
    );
    assert_eq!(
        refused_name(server_names(&[(0, b"a.test"), (0, b"b.test")])),
        "TLS ClientHello: server_name: more than one host_name"
    );
    assert_eq!(
        refused_name(server_names(&[(0, b"")])),
        "TLS ClientHello: server_name: a host_name of 0 bytes (1 to 255)"
    );
    assert_eq!(
        refused_name(server_names(&[(0, &[b'a'; 256])])),
        "TLS ClientHello: server_name: a host_name of 256 bytes (1 to 255)"
    );
    for bad in [&b"a test"[..], b"a\0test", "é.test".as_bytes(), b"a\ttest"] {
        assert!(refused_name(server_names(&[(0, bad)])).contains("is not a host name"));
    }
}

// -------------------------------------------------------------------------------------------
// ALPN (RFC 7301 §3.1)
// -------------------------------------------------------------------------------------------

#[test]
fn alpn_protocols_are_given_in_the_clients_order_as_bytes() {
    let body = Body::with(vec![(
        ALPN,
        protocols(&[b"http/1.1", b"h2", &[0xff, 0xfe]]),
    )]);
    assert_eq!(
        complete(&body.record()).0,
        hello(None, &[b"http/1.1", b"h2", &[0xff, 0xfe]])
    );
    let longest = [b'p'; 255];
    let body = Body::with(vec![(ALPN, protocols(&[&longest]))]);
    assert_eq!(complete(&body.record()).0.alpn, vec![longest.to_vec()]);
}

#[test]
fn a_malformed_alpn_list_is_refused_with_what_is_wrong() {
    let refused_alpn = |data: Vec<u8>| refused_body(Body::with(vec![(ALPN, data)]));
    assert_eq!(
        refused_alpn(vec![0, 0]),
        "TLS ClientHello: ALPN: an empty protocol_name_list"
    );
    assert_eq!(
        refused_alpn(protocols(&[b"h2", b""])),
        "TLS ClientHello: ALPN: an empty protocol name"
    );
    let mut overrun = protocols(&[b"h2"]);
    overrun[2] += 1;
    assert!(refused_alpn(overrun).contains("an ALPN protocol name overruns"));
    let mut after = protocols(&[b"h2"]);
    after.push(0);
    assert_eq!(
        refused_alpn(after),
        "TLS ClientHello: ALPN: bytes after its list"
    );
    assert!(refused_alpn(vec![0]).contains("ALPN's protocol_name_list overruns"));
}

// -------------------------------------------------------------------------------------------
// Properties
// -------------------------------------------------------------------------------------------

/// A valid ClientHello message, as any conforming client may write it, with what it must read
/// to: a name or none, protocols or none, other extensions (GREASE among them) in any order.
fn valid_hello() -> impl Strategy<Value = (Vec<u8>, Hello)> {
    let name = prop::option::of("[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z0-9-]{1,20}){0,4}\\.?");
    let alpn = prop::option::of(prop::collection::vec(
        prop::collection::vec(any::<u8>(), 1..20),
        1..5,
    ));
    let others = prop::collection::vec(
        (
            any::<u16>().prop_filter("not read", |kind| ![SERVER_NAME, ALPN].contains(kind)),
            prop::collection::vec(any::<u8>(), 0..40),
        ),
        0..6,
    );
    (
        name,
        alpn,
        others,
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..=32),
        prop::collection::vec(any::<u16>(), 1..40),
        any::<bool>(),
    )
        .prop_map(
            |(name, alpn, mut others, at, session_id, suites, tls12_bare)| {
                others.sort_by_key(|(kind, _)| *kind);
                others.dedup_by_key(|(kind, _)| *kind);
                let mut extensions = others;
                let mut expected = Hello::default();
                if let Some(name) = &name {
                    extensions.insert(at.index(extensions.len() + 1), sni(name));
                    expected.server_name = Some(normalize_expected(name));
                }
                if let Some(alpn) = &alpn {
                    let borrowed: Vec<&[u8]> = alpn.iter().map(Vec::as_slice).collect();
                    extensions.push((ALPN, protocols(&borrowed)));
                    expected.alpn = alpn.clone();
                }
                let bare = tls12_bare && extensions.is_empty();
                let body = Body {
                    session_id,
                    suites: suites
                        .iter()
                        .flat_map(|suite| suite.to_be_bytes())
                        .collect(),
                    extensions: (!bare).then_some(extensions),
                    ..Body::default()
                };
                (body.message(), expected)
            },
        )
}

fn normalize_expected(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Cut points into a message of `length` bytes, in order, for records of at most 2¹⁴ bytes.
fn cuts(length: usize, picks: &[prop::sample::Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = picks
        .iter()
        .map(|pick| 1 + pick.index(length.max(2) - 1))
        .filter(|&cut| cut < length)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_nor_read_beyond_what_there_is(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        match parse(&bytes) {
            Ok(Parsed::Complete { length, .. }) => prop_assert!(length <= bytes.len()),
            Ok(Parsed::Incomplete { wanted }) => {
                prop_assert!(wanted > bytes.len() && wanted <= MAX_LENGTH)
            }
            Err(_) => {}
        }
    }

    #[test]
    fn random_bytes_in_handshake_records_never_panic(
        fragments in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..200), 1..6),
        kind in prop_oneof![Just(CLIENT_HELLO), any::<u8>()],
    ) {
        let message = [&[kind][..], &fragments.concat()].concat();
        let lengths: Vec<usize> = fragments.iter().map(Vec::len).collect();
        let cuts: Vec<usize> = lengths.iter().scan(0, |at, length| { *at += length; Some(*at) })
            .filter(|&cut| cut < message.len()).collect();
        let bytes = records(&message, &cuts);
        match parse(&bytes) {
            Ok(Parsed::Complete { length, .. }) => prop_assert!(length <= bytes.len()),
            Ok(Parsed::Incomplete { wanted }) => prop_assert!(wanted > bytes.len()),
            Err(_) => {}
        }
    }

    #[test]
    fn valid_hellos_read_alike_however_they_are_cut_into_records_and_segments(
        (message, expected) in valid_hello(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        after in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let bytes = records(&message, &cuts(message.len(), &picks));
        let with_more = [&bytes[..], &after].concat();
        prop_assert_eq!(
            parse(&with_more),
            Ok(Parsed::Complete { hello: expected, length: bytes.len() })
        );
        // Every prefix, a segment boundary anywhere, is a beginning: it asks for more, never
        // for less than it has, and is never refused.
        for end in 0..bytes.len() {
            match parse(&bytes[..end]) {
                Ok(Parsed::Incomplete { wanted }) => {
                    prop_assert!(wanted > end && wanted <= bytes.len())
                }
                other => prop_assert!(false, "a prefix of {} bytes: {:?}", end, other),
            }
        }
    }

    #[test]
    fn mutated_hellos_never_panic_nor_overrun(
        (message, _) in valid_hello(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut mutated = records(&message, &cuts(message.len(), &picks));
        for (at, byte) in mutations {
            let at = at.index(mutated.len());
            mutated[at] = byte;
        }
        mutated.truncate(cut.index(mutated.len() + 1));
        match parse(&mutated) {
            Ok(Parsed::Complete { length, hello }) => {
                prop_assert!(length <= mutated.len());
                // What is accepted is well-formed: its records alone read the same.
                prop_assert_eq!(parse(&mutated[..length]), Ok(Parsed::Complete { hello, length }));
            }
            Ok(Parsed::Incomplete { wanted }) => {
                prop_assert!(wanted > mutated.len() && wanted <= MAX_LENGTH)
            }
            Err(_) => {}
        }
    }
}
