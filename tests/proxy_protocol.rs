//! The PROXY protocol: headers written by hand for every case the service must refuse or
//! accept, then real senders started by the tests on loopback, HAProxy (`send-proxy`,
//! `send-proxy-v2`, TLS passthrough) and nginx's stream module (`proxy_protocol on`), each
//! proving that the service sees the client's address, that `max-connections-per-peer` counts
//! the clients behind one balancer apart, and that a forged header from elsewhere is refused.

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::balancers::{Balancer, haproxy, nginx};
use common::certificates::Certificates;
use common::*;
use gio::prelude::*;
use usher::prelude::*;

const CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OTHER_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// An echo service on 127.0.0.1 that trusts `peers` to send a header, and records what it
/// hands out and what it refuses. It echoes every line until the client ends its stream.
struct Proxied {
    service: usher::SocketService,
    address: SocketAddr,
    served: Rc<RefCell<Vec<Served>>>,
    errors: Rc<RefCell<Vec<glib::Error>>>,
}

/// A connection the service handed out.
struct Served {
    info: Option<usher::ProxyInfo>,
    remote_address: gio::SocketAddress,
    tls: bool,
}

impl Proxied {
    fn new(peers: &[&str]) -> Self {
        let service = usher::SocketService::new();
        service.try_set_proxy_protocol_peers(peers).unwrap();
        let served = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let served = served.clone();
            move |_, connection, _| {
                served.borrow_mut().push(Served {
                    info: usher::ProxyInfo::for_connection(connection),
                    remote_address: connection.remote_address().unwrap(),
                    tls: connection.is::<gio::TcpWrapperConnection>(),
                });
                echo_lines(connection);
                false
            }
        });
        let errors = accept_errors(&service);
        let address = listen_loopback(&service, None);
        Self {
            service,
            address,
            served,
            errors,
        }
    }

    /// What the header of the `index`th connection handed out said.
    fn info(&self, index: usize) -> usher::ProxyInfo {
        self.served.borrow()[index]
            .info
            .clone()
            .expect("the connection came with a header")
    }

    /// Waits for the `count`th refusal, and returns its message.
    fn refusal(&self, context: &glib::MainContext, count: usize) -> String {
        iterate_until(context, || self.errors.borrow().len() >= count);
        self.errors.borrow()[count - 1].message().to_owned()
    }
}

fn inet(address: &gio::SocketAddress) -> SocketAddr {
    let inet = address.downcast_ref::<gio::InetSocketAddress>().unwrap();
    SocketAddr::new(inet.address().to_string().parse().unwrap(), inet.port())
}

/// A v2 `PROXY` header for TCP over IPv4, with `tlvs`.
fn v2_header(source: SocketAddr, destination: SocketAddr, tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let (SocketAddr::V4(source), SocketAddr::V4(destination)) = (source, destination) else {
        panic!("IPv4 addresses")
    };
    let mut rest = [
        &source.ip().octets()[..],
        &destination.ip().octets(),
        &source.port().to_be_bytes(),
        &destination.port().to_be_bytes(),
    ]
    .concat();
    for (kind, value) in tlvs {
        rest.push(*kind);
        rest.extend((value.len() as u16).to_be_bytes());
        rest.extend(*value);
    }
    let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    header.extend((rest.len() as u16).to_be_bytes());
    header.extend(rest);
    header
}

#[test]
fn a_v1_header_gives_the_clients_addresses_and_leaves_the_data_after_it() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        let line = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nhello\n".to_vec();
        assert_eq!(send(context, proxied.address, vec![line]), b"hello\n");
        let info = proxied.info(0);
        assert_eq!(info.version(), 1);
        assert_eq!(info.command(), usher::ProxyCommand::Proxy);
        assert_eq!(
            inet(&info.source_address()),
            "192.0.2.9:5555".parse().unwrap()
        );
        assert_eq!(
            inet(&info.destination_address()),
            "192.0.2.1:80".parse().unwrap()
        );
        assert_eq!(
            inet(&info.proxy_address()).ip(),
            IpAddr::from(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(info.alpn(), None);
        assert!(proxied.errors.borrow().is_empty());
    })
}

#[test]
fn a_v2_header_in_pieces_gives_its_addresses_and_tlvs() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.0/8"]);
        let header = v2_header(
            "198.51.100.7:40000".parse().unwrap(),
            "203.0.113.1:443".parse().unwrap(),
            &[
                (0x01, b"h2"),
                (0x02, b"app.example"),
                (0x05, b"id-42"),
                (0xe1, b"app"),
            ],
        );
        // The signature split, the length split, the TLVs split, then the data.
        let pieces = vec![
            header[..5].to_vec(),
            header[5..15].to_vec(),
            header[15..30].to_vec(),
            [&header[30..], b"hel"].concat(),
            b"lo\n".to_vec(),
        ];
        assert_eq!(send(context, proxied.address, pieces), b"hello\n");
        let info = proxied.info(0);
        assert_eq!(info.version(), 2);
        assert_eq!(
            inet(&info.source_address()),
            "198.51.100.7:40000".parse().unwrap()
        );
        assert_eq!(
            inet(&info.destination_address()),
            "203.0.113.1:443".parse().unwrap()
        );
        assert_eq!(info.alpn().as_deref(), Some("h2"));
        assert_eq!(info.authority().as_deref(), Some("app.example"));
        assert_eq!(info.unique_id().as_deref(), Some(&b"id-42"[..]));
        assert_eq!(info.tlv(0xe1).as_deref(), Some(&b"app"[..]));
        assert_eq!(info.tlvs().len(), 4);
    })
}

#[test]
fn a_v2_local_health_check_keeps_the_sockets_addresses() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        let check = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00ping\n".to_vec();
        assert_eq!(send(context, proxied.address, vec![check]), b"ping\n");
        let info = proxied.info(0);
        assert_eq!(info.command(), usher::ProxyCommand::Local);
        assert_eq!(
            inet(&info.source_address()),
            inet(&proxied.served.borrow()[0].remote_address)
        );
        assert_eq!(inet(&info.destination_address()), proxied.address);
    })
}

#[test]
fn bad_headers_are_refused_with_what_is_wrong_and_the_service_keeps_serving() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        let mut too_long = v2_header(
            "192.0.2.1:1".parse().unwrap(),
            "192.0.2.2:2".parse().unwrap(),
            &[],
        );
        too_long[14..16].copy_from_slice(&5000u16.to_be_bytes());
        let mut overrun = v2_header(
            "192.0.2.1:1".parse().unwrap(),
            "192.0.2.2:2".parse().unwrap(),
            &[(0x02, b"x")],
        );
        let end = overrun.len() - 1;
        overrun[end - 2..end].copy_from_slice(&[0, 9]);
        let cases: [(&[u8], gio::IOErrorEnum, &str); 6] = [
            (
                b"hello\n",
                gio::IOErrorEnum::InvalidData,
                "does not start with a PROXY protocol header",
            ),
            (
                b"PROXY TCP4 192.0.2.09 192.0.2.1 1 2\r\n",
                gio::IOErrorEnum::InvalidData,
                "\"192.0.2.09\" is not an TCP4 address",
            ),
            (
                b"PROXY TCP4 192.0.2.9 192.0.2.1 1 2\n",
                gio::IOErrorEnum::InvalidData,
                "a LF without CR",
            ),
            (
                &too_long,
                gio::IOErrorEnum::InvalidData,
                "5000 bytes of addresses and TLVs, beyond the limit of 4080",
            ),
            (
                &overrun,
                gio::IOErrorEnum::InvalidData,
                "beyond the header's end",
            ),
            (
                b"PROXY TCP4 192.0",
                gio::IOErrorEnum::BrokenPipe,
                "closed in its PROXY protocol header, after 16 bytes",
            ),
        ];
        for (count, (bytes, code, says)) in cases.iter().enumerate() {
            let reply = send(context, proxied.address, vec![bytes.to_vec()]);
            assert!(reply.is_empty(), "{says}: the connection was closed");
            let message = proxied.refusal(context, count + 1);
            let error = &proxied.errors.borrow()[count];
            assert!(error.matches(*code), "{error}");
            assert!(
                message.starts_with("Refused a connection from 127.0.0.1: "),
                "{message}"
            );
            assert!(message.contains(says), "{message}");
        }
        assert!(proxied.served.borrow().is_empty());
        assert_eq!(proxied.service.n_accept_errors(), cases.len() as u64);
        let line = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nstill serving\n".to_vec();
        assert_eq!(
            send(context, proxied.address, vec![line]),
            b"still serving\n"
        );
        iterate_until(context, || proxied.service.n_connections() == 0);
    })
}

#[test]
fn a_slow_header_is_refused_at_its_deadline_however_it_trickles() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_proxy_protocol_timeout(1);
        let address = proxied.address;
        let begun = Instant::now();
        let client = spawn_client(context, move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.set_nodelay(true).unwrap();
            // A byte every 100 ms: each resets no timer.
            for byte in b"PROXY TCP4 192.0.2.9 19" {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        });
        let message = proxied.refusal(context, 1);
        let waited = begun.elapsed();
        assert!(message.contains("timed out after 1 s"), "{message}");
        assert!(proxied.errors.borrow()[0].matches(gio::IOErrorEnum::TimedOut));
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        iterate_until(context, || client.is_finished());
        client.join().unwrap();
        iterate_until(context, || proxied.service.n_connections() == 0);
    })
}

#[test]
fn an_untrusted_peer_is_served_as_it_is_and_refused_with_a_forged_header() {
    with_context(|context| {
        // Only 127.0.0.2 may send a header: 127.0.0.1 is a client like any other.
        let proxied = Proxied::new(&["127.0.0.2"]);
        assert_eq!(
            send(context, proxied.address, vec![b"direct\n".to_vec()]),
            b"direct\n"
        );
        assert!(proxied.served.borrow()[0].info.is_none());

        let forged = b"PROXY TCP4 6.6.6.6 192.0.2.1 666 80\r\nhello\n".to_vec();
        assert!(send(context, proxied.address, vec![forged]).is_empty());
        let message = proxied.refusal(context, 1);
        assert!(proxied.errors.borrow()[0].matches(gio::IOErrorEnum::PermissionDenied));
        assert!(
            message.contains("from 127.0.0.1: A PROXY protocol header from a peer not trusted"),
            "{message}"
        );
        assert_eq!(proxied.served.borrow().len(), 1);
    })
}

#[test]
fn with_the_header_optional_a_trusted_peer_may_send_data_at_once() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_proxy_protocol_required(false);
        assert_eq!(
            send(context, proxied.address, vec![b"plain\n".to_vec()]),
            b"plain\n"
        );
        // "PR" could begin a header: the service waits for the bytes that tell.
        let pieces = vec![b"PR".to_vec(), b"OBE\n".to_vec()];
        assert_eq!(send(context, proxied.address, pieces), b"PROBE\n");
        let line = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nproxied\n".to_vec();
        assert_eq!(send(context, proxied.address, vec![line]), b"proxied\n");
        let served = proxied.served.borrow();
        assert!(served[0].info.is_none());
        assert!(served[1].info.is_none());
        assert!(served[2].info.is_some());
        assert!(proxied.errors.borrow().is_empty());
    })
}

#[test]
fn the_per_peer_cap_counts_the_clients_a_header_names() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_max_connections_per_peer(1);
        let header =
            |client: &str| format!("PROXY TCP4 {client} 192.0.2.100 1000 80\r\n").into_bytes();
        // The first client of 192.0.2.1 holds its connection.
        let mut held = TcpStream::connect(proxied.address).unwrap();
        held.write_all(&header("192.0.2.1")).unwrap();
        iterate_until(context, || proxied.served.borrow().len() == 1);
        // Through the same balancer, another client is served; a second of 192.0.2.1 is not.
        let other = [header("192.0.2.2"), b"other\n".to_vec()].concat();
        assert_eq!(send(context, proxied.address, vec![other]), b"other\n");
        let second = [header("192.0.2.1"), b"second\n".to_vec()].concat();
        assert!(send(context, proxied.address, vec![second]).is_empty());
        let message = proxied.refusal(context, 1);
        assert!(
            message.contains(
                "Refused a connection from 192.0.2.1 (through 127.0.0.1): it has 1 already"
            ),
            "{message}"
        );
        drop(held);
        iterate_until(context, || proxied.service.n_connections() == 0);
    })
}

#[test]
fn a_header_being_read_counts_toward_max_connections() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_max_connections(1);
        // No deadline: on a loaded machine the default 5 s can pass before the second client
        // is seen waiting, and a header refused at its deadline makes room for it.
        proxied.service.set_proxy_protocol_timeout(0);
        let mut slow = half_a_header(context, &proxied.service, proxied.address);
        assert_eq!(proxied.service.n_connections(), 1);
        // A second client waits in the backlog while the first is in its header.
        let address = proxied.address;
        let waiting = spawn_client(context, move || {
            echo_line_with(
                address,
                b"PROXY TCP4 192.0.2.2 192.0.2.100 1 80\r\n",
                "second",
            )
        });
        wait_for_accept_queue(address, 1);
        drain(context);
        assert_eq!(proxied.service.n_accepted(), 1);
        slow.write_all(b"192.0.2.1 192.0.2.100 1 80\r\n").unwrap();
        iterate_until(context, || proxied.served.borrow().len() == 1);
        drop(slow);
        iterate_until(context, || waiting.is_finished());
        assert_eq!(waiting.join().unwrap(), "second\n");
    })
}

/// Connects to `address`, sends `prefix` and `line`, and returns the line answered.
fn echo_line_with(address: SocketAddr, prefix: &[u8], line: &str) -> String {
    echo_line_from(Ipv4Addr::LOCALHOST, address, prefix, line)
}

fn echo_line_from(source: Ipv4Addr, address: SocketAddr, prefix: &[u8], line: &str) -> String {
    let mut stream = connect_from(source, address);
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(&[prefix, format!("{line}\n").as_bytes()].concat())
        .unwrap();
    let mut reply = String::new();
    let _ = BufReader::new(stream).read_line(&mut reply);
    reply
}

// -------------------------------------------------------------------------------------------
// Real senders
// -------------------------------------------------------------------------------------------

/// Sends a line from a source address to an address, and returns its echo.
type EchoFn = dyn Fn(Ipv4Addr, SocketAddr, &str) -> String + Send + Sync;

/// How a test's clients talk through a balancer.
#[derive(Clone)]
struct Clients {
    /// Sends a line from a source address to the frontend, and returns its echo ("" if none).
    echo: Arc<EchoFn>,
    /// Connects from a source address, is echoed once, and keeps the connection open while
    /// what it returns lives.
    hold: Arc<dyn Fn(Ipv4Addr, SocketAddr) -> Box<dyn Send> + Send + Sync>,
}

impl Clients {
    /// Plain TCP clients.
    fn plain() -> Self {
        Self {
            echo: Arc::new(|source, frontend, line| echo_line_from(source, frontend, b"", line)),
            hold: Arc::new(|source, frontend| {
                let mut stream = connect_from(source, frontend);
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                stream.write_all(b"held\n").unwrap();
                let mut reply = [0u8; 5];
                stream.read_exact(&mut reply).unwrap();
                Box::new(stream)
            }),
        }
    }
}

/// What every sender must show: the client's address is seen, the per-peer cap counts the
/// two clients behind the balancer apart, and a forged header from elsewhere is refused.
fn proves_the_client_is_seen_and_counted(
    context: &glib::MainContext,
    proxied: &Proxied,
    balancer: &Balancer,
    clients: Clients,
) {
    let frontend = balancer.frontend;
    let echo = |source: Ipv4Addr, line: &'static str| {
        let echo = clients.echo.clone();
        let client = spawn_client(context, move || echo(source, frontend, line));
        iterate_until(context, || client.is_finished());
        client.join().unwrap()
    };
    // Its address.
    assert_eq!(echo(CLIENT, "hello"), "hello\n");
    let info = proxied.info(0);
    assert_eq!(inet(&info.source_address()).ip(), IpAddr::from(CLIENT));
    assert_eq!(
        inet(&info.proxy_address()).ip(),
        IpAddr::from(Ipv4Addr::LOCALHOST)
    );
    assert_eq!(
        inet(&info.destination_address()).ip(),
        IpAddr::from(Ipv4Addr::LOCALHOST)
    );
    iterate_until(context, || proxied.service.n_connections() == 0);

    // The per-peer cap: one for 127.0.0.2, held; 127.0.0.3 is served; a second of 127.0.0.2
    // is refused.
    proxied.service.set_max_connections_per_peer(1);
    let hold = clients.hold.clone();
    let held = spawn_client(context, move || hold(CLIENT, frontend));
    iterate_until(context, || held.is_finished());
    let held = held.join().unwrap();
    assert_eq!(echo(OTHER_CLIENT, "other"), "other\n");
    let errors = proxied.errors.borrow().len();
    assert_eq!(echo(CLIENT, "second"), "", "refused");
    let message = proxied.refusal(context, errors + 1);
    assert!(
        message
            .contains("Refused a connection from 127.0.0.2 (through 127.0.0.1): it has 1 already"),
        "{message}"
    );
    drop(held);
    proxied.service.set_max_connections_per_peer(0);

    // A forged header from 127.0.0.2, straight to the service.
    let address = proxied.address;
    let forged = spawn_client(context, move || {
        echo_line_from(
            CLIENT,
            address,
            b"PROXY TCP4 6.6.6.6 192.0.2.1 666 80\r\n",
            "forged",
        )
    });
    iterate_until(context, || forged.is_finished());
    assert_eq!(forged.join().unwrap(), "", "refused");
    let message = proxied.refusal(context, errors + 2);
    assert!(
        message.contains("from 127.0.0.2: A PROXY protocol header from a peer not trusted"),
        "{message}"
    );
    assert_eq!(
        proxied.errors.borrow().len(),
        errors + 2,
        "nothing else was refused"
    );
}

#[test]
fn haproxy_send_proxy_v1() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        let balancer = haproxy(proxied.address, "send-proxy");
        proves_the_client_is_seen_and_counted(context, &proxied, &balancer, Clients::plain());
        assert_eq!(proxied.info(0).version(), 1);
    })
}

#[test]
fn haproxy_send_proxy_v2_with_a_unique_id() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        let balancer = haproxy(
            proxied.address,
            "send-proxy-v2 proxy-v2-options crc32c,unique-id",
        );
        proves_the_client_is_seen_and_counted(context, &proxied, &balancer, Clients::plain());
        let info = proxied.info(0);
        assert_eq!(info.version(), 2);
        assert_eq!(info.command(), usher::ProxyCommand::Proxy);
        // No unique-id-format in the frontend: HAProxy sends the TLV, empty.
        assert_eq!(info.unique_id().as_deref(), Some(&b""[..]));
    })
}

#[test]
fn haproxy_send_proxy_v2_before_a_tls_handshake_passed_through() {
    let certificates = Certificates::new();
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied
            .service
            .set_tls_certificate(Some(&certificates.server()));
        let balancer = haproxy(proxied.address, "send-proxy-v2");
        let (ca, script) = (
            certificates.path("ca.pem"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_client.py"),
        );
        // Python's own `ssl`, through HAProxy, which relays the TLS bytes untouched.
        let tls_client = Arc::new(move |source: Ipv4Addr, frontend: SocketAddr, line: &str| {
            let mut command = Command::new("/usr/bin/python3");
            command
                .arg(&script)
                .arg(frontend.port().to_string())
                .arg(&ca)
                .args(["--line", line, "--source", &source.to_string()]);
            command
        });
        let clients = Clients {
            echo: Arc::new({
                let tls_client = tls_client.clone();
                move |source, frontend, line| {
                    let output = tls_client(source, frontend, line)
                        .output()
                        .expect("python3");
                    match String::from_utf8_lossy(&output.stdout).lines().next() {
                        Some(echo) if output.status.success() => format!("{echo}\n"),
                        _ => String::new(),
                    }
                }
            }),
            hold: Arc::new(move |source, frontend| {
                let mut child = tls_client(source, frontend, "held")
                    .arg("--hold")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("python3");
                let lines = lines_of(child.stdout.take().unwrap());
                assert_eq!(wait_for_line(&lines, "held"), "held");
                Box::new(Reaped(child))
            }),
        };
        proves_the_client_is_seen_and_counted(context, &proxied, &balancer, clients);
        assert!(proxied.served.borrow()[0].tls, "served over TLS");
        assert_eq!(proxied.info(0).version(), 2);
    })
}

#[test]
fn nginx_stream_proxy_protocol_on() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        let balancer = nginx(proxied.address);
        proves_the_client_is_seen_and_counted(context, &proxied, &balancer, Clients::plain());
        assert_eq!(proxied.info(0).version(), 1, "nginx sends v1");
    })
}

#[test]
fn a_header_still_awaited_when_the_service_goes_is_closed() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_proxy_protocol_timeout(0);
        let mut waiting = TcpStream::connect(proxied.address).unwrap();
        iterate_until(context, || proxied.service.n_accepted() == 1);
        let gone = Rc::new(std::cell::Cell::new(false));
        proxied.service.add_weak_ref_notify_local({
            let gone = gone.clone();
            move || gone.set(true)
        });
        proxied.service.stop();
        drop(proxied);
        iterate_until(context, || gone.get());
        waiting.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut rest = Vec::new();
        assert_eq!(
            waiting.read_to_end(&mut rest).unwrap(),
            0,
            "closed, not left open"
        );
    })
}

#[test]
fn a_threaded_service_runs_its_handler_with_the_headers_info() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(2);
        service
            .try_set_proxy_protocol_peers(&["127.0.0.1"])
            .unwrap();
        service.connect_run(|_, connection, _| {
            let source = usher::ProxyInfo::for_connection(connection)
                .map(|info| inet(&info.source_address()).to_string())
                .unwrap_or_default();
            let _ = connection
                .output_stream()
                .write_all(format!("{source}\n").as_bytes(), gio::Cancellable::NONE);
            false
        });
        let address = listen_loopback(&service, None);
        let header = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\n".to_vec();
        assert_eq!(send(context, address, vec![header]), b"192.0.2.9:5555\n");
    })
}

#[test]
fn an_info_made_by_hand_is_empty() {
    let info: usher::ProxyInfo = glib::Object::new();
    assert_eq!(info.version(), 1);
    assert_eq!(info.command(), usher::ProxyCommand::Proxy);
    assert_eq!(inet(&info.source_address()), "0.0.0.0:0".parse().unwrap());
    assert_eq!(info.alpn(), None);
    assert!(info.tlvs().is_empty());
}

#[test]
fn a_burst_through_one_balancer_is_not_held_to_the_cap_of_one_peer() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_max_connections_per_peer(2);
        // Three clients at once, all through 127.0.0.1: each counts as its own.
        let mut streams: Vec<TcpStream> = (1..=3)
            .map(|client| {
                let mut stream = TcpStream::connect(proxied.address).unwrap();
                let header = format!("PROXY TCP4 192.0.2.{client} 192.0.2.100 1000 80\r\n");
                stream.write_all(header.as_bytes()).unwrap();
                stream
            })
            .collect();
        wait_for_accept_queue(proxied.address, 3);
        iterate_until(context, || proxied.served.borrow().len() == 3);
        assert!(
            proxied.errors.borrow().is_empty(),
            "{:?}",
            proxied.errors.borrow()
        );
        streams.clear();
        iterate_until(context, || proxied.service.n_connections() == 0);
    })
}

#[test]
fn headers_still_awaited_count_toward_the_balancers_cap() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_max_connections_per_peer(1);
        // No deadline: the first header must still be awaited when the second comes, however
        // slowly a loaded machine runs the test.
        proxied.service.set_proxy_protocol_timeout(0);
        let mut slow = TcpStream::connect(proxied.address).unwrap();
        slow.write_all(b"PROXY TCP4 192.0.2.1").unwrap();
        iterate_until(context, || proxied.service.n_accepted() == 1);
        let mut slower = TcpStream::connect(proxied.address).unwrap();
        slower.write_all(b"PROXY TCP4 192.0.2.2").unwrap();
        let message = proxied.refusal(context, 1);
        assert!(
            message.contains("Refused a connection from 127.0.0.1: it has 1 already"),
            "{message}"
        );
        // The first completes its header, and is its client's from then on.
        slow.write_all(b" 192.0.2.100 1 80\r\n").unwrap();
        iterate_until(context, || proxied.served.borrow().len() == 1);
        let line = b"PROXY TCP4 192.0.2.3 192.0.2.100 1 80\r\nthird\n".to_vec();
        assert_eq!(send(context, proxied.address, vec![line]), b"third\n");
        drop((slow, slower));
        iterate_until(context, || proxied.service.n_connections() == 0);
    })
}

/// A client that has sent the first bytes of a PROXY header, once `service` has accepted it.
fn half_a_header(
    context: &glib::MainContext,
    service: &usher::SocketService,
    address: SocketAddr,
) -> TcpStream {
    let mut client = TcpStream::connect(address).unwrap();
    client.write_all(b"PROXY TCP4 ").unwrap();
    iterate_until(context, || service.n_accepted() == 1);
    client
}

/// On a client thread, the rest of the header of a [`half_a_header()`] client and a line: the
/// client, and what the service echoed (empty if it closed the connection instead).
fn finish_the_header(
    context: &glib::MainContext,
    waiting: TcpStream,
    line: &str,
) -> (TcpStream, String) {
    let sent = format!("192.0.2.1 192.0.2.100 1000 80\r\n{line}\n");
    let client = spawn_client(context, move || {
        waiting.set_read_timeout(Some(DEADLINE)).unwrap();
        (&waiting).write_all(sent.as_bytes()).unwrap();
        let mut reply = String::new();
        let _ = BufReader::new(&waiting).read_line(&mut reply);
        (waiting, reply)
    });
    iterate_until(context, || client.is_finished());
    client.join().unwrap()
}

/// Begins `proxied`'s shutdown; the flag is set once it completes.
fn begin_shutdown(proxied: &Proxied) -> Rc<std::cell::Cell<bool>> {
    let done = Rc::new(std::cell::Cell::new(false));
    let shutdown = proxied.service.shutdown_future();
    glib::spawn_future_local({
        let done = done.clone();
        async move {
            shutdown.await.unwrap();
            done.set(true);
        }
    });
    done
}

/// Whether the peer of `stream` has neither sent anything nor closed it.
fn still_open(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let open = matches!(
        stream.read(&mut [0; 1]),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).unwrap();
    open
}

#[test]
fn a_shutdown_serves_a_connection_still_in_its_header() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_proxy_protocol_timeout(60);
        let mut waiting = half_a_header(context, &proxied.service, proxied.address);

        let done = begin_shutdown(&proxied);
        drain(context);
        assert_eq!(
            TcpStream::connect(proxied.address).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused,
            "no new client once the shutdown begins"
        );
        assert!(still_open(&mut waiting), "the header may still come");

        // The rest of the header, and a line: served as any other.
        let (waiting, reply) = finish_the_header(context, waiting, "after the shutdown");
        assert_eq!(reply, "after the shutdown\n");
        assert_eq!(proxied.served.borrow().len(), 1);
        assert_eq!(
            inet(&proxied.info(0).source_address()),
            "192.0.2.1:1000".parse().unwrap()
        );
        assert!(proxied.errors.borrow().is_empty());
        drain(context);
        assert!(!done.get(), "the connection is still open");

        drop(waiting);
        iterate_until(context, || done.get());
        assert_eq!(proxied.service.n_connections(), 0);
    })
}

#[test]
fn close_connections_during_a_shutdown_closes_a_connection_still_in_its_header_at_once() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.1"]);
        proxied.service.set_proxy_protocol_timeout(60);
        let mut waiting = half_a_header(context, &proxied.service, proxied.address);
        let done = begin_shutdown(&proxied);
        drain(context);
        assert!(!done.get(), "the shutdown waits for the header");
        assert!(still_open(&mut waiting));

        let begun = Instant::now();
        proxied.service.close_connections();
        waiting.set_read_timeout(Some(DEADLINE)).unwrap();
        assert_eq!(waiting.read(&mut [0; 16]).unwrap(), 0, "closed");
        iterate_until(context, || done.get());
        assert!(
            begun.elapsed() < Duration::from_secs(10),
            "not at its deadline"
        );
        assert!(
            proxied.served.borrow().is_empty(),
            "nothing dead handed out"
        );
        assert!(
            proxied.errors.borrow().is_empty(),
            "the application's own doing"
        );
    })
}

#[test]
fn a_shutdown_serves_a_header_in_progress_after_the_application_let_go_of_the_service() {
    // The shutdown keeps the service alive until it has handed out every client it accepted,
    // as the GTask of `usher_socket_service_shutdown_async()` does in C.
    with_context(|context| {
        let Proxied {
            service,
            address,
            served,
            ..
        } = Proxied::new(&["127.0.0.1"]);
        service.set_proxy_protocol_timeout(0);
        let waiting = half_a_header(context, &service, address);
        let done = Rc::new(std::cell::Cell::new(false));
        service.shutdown_async(None::<&gio::Cancellable>, {
            let done = done.clone();
            move |result| {
                result.unwrap();
                done.set(true);
            }
        });
        drop(service);
        drain(context);
        let (_, reply) = finish_the_header(context, waiting, "after the shutdown");
        assert_eq!(reply, "after the shutdown\n");
        assert_eq!(served.borrow().len(), 1);
        served.borrow_mut().clear();
        iterate_until(context, || done.get());
    })
}

#[test]
fn close_connections_closes_those_still_waiting_for_their_first_bytes() {
    with_context(|context| {
        // 127.0.0.1 is not trusted: the service waits for its first bytes, to refuse a header.
        let proxied = Proxied::new(&["127.0.0.2"]);
        proxied.service.set_proxy_protocol_timeout(60);
        let mut waiting = TcpStream::connect(proxied.address).unwrap();
        iterate_until(context, || proxied.service.n_accepted() == 1);
        proxied.service.close_connections();
        waiting.set_read_timeout(Some(DEADLINE)).unwrap();
        assert_eq!(waiting.read(&mut [0; 16]).unwrap(), 0, "closed");
        drain(context);
        assert!(
            proxied.served.borrow().is_empty(),
            "nothing dead handed out"
        );
        assert!(proxied.errors.borrow().is_empty());
        assert_eq!(proxied.service.n_connections(), 0);
    })
}

#[test]
fn a_silent_peer_that_may_send_no_header_is_handed_out_at_the_deadline() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.2"]);
        proxied.service.set_proxy_protocol_timeout(1);
        let begun = Instant::now();
        let _silent = TcpStream::connect(proxied.address).unwrap();
        iterate_until(context, || proxied.served.borrow().len() == 1);
        assert!(begun.elapsed() >= Duration::from_secs(1));
        assert!(proxied.served.borrow()[0].info.is_none());
        assert!(proxied.errors.borrow().is_empty());
    })
}

#[test]
fn a_forged_v2_header_from_an_untrusted_peer_is_refused() {
    with_context(|context| {
        let proxied = Proxied::new(&["127.0.0.2"]);
        let forged = v2_header(
            "6.6.6.6:666".parse().unwrap(),
            "192.0.2.1:80".parse().unwrap(),
            &[],
        );
        assert!(send(context, proxied.address, vec![forged]).is_empty());
        let message = proxied.refusal(context, 1);
        assert!(message.contains("not trusted to send one"), "{message}");
    })
}

#[test]
fn a_balancer_on_a_dual_stack_socket_is_trusted_by_its_ipv4_address() {
    with_context(|context| {
        let service = usher::SocketService::new();
        service
            .try_set_proxy_protocol_peers(&["127.0.0.1"])
            .unwrap();
        let infos = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let infos = infos.clone();
            move |_, connection, _| {
                infos
                    .borrow_mut()
                    .push(usher::ProxyInfo::for_connection(connection));
                false
            }
        });
        let any = gio::InetSocketAddress::from_string("::", 0).unwrap();
        let effective = service
            .add_address(
                &any,
                gio::SocketType::Stream,
                gio::SocketProtocol::Tcp,
                None::<&glib::Object>,
            )
            .unwrap();
        let port = effective
            .downcast::<gio::InetSocketAddress>()
            .unwrap()
            .port();
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        let line = b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\n".to_vec();
        send(context, address, vec![line]);
        iterate_until(context, || infos.borrow().len() == 1);
        let info = infos.borrow()[0].clone().expect("the header was believed");
        assert_eq!(
            inet(&info.source_address()),
            "192.0.2.9:5555".parse().unwrap()
        );
        assert_eq!(
            inet(&info.proxy_address()).ip(),
            IpAddr::from(Ipv4Addr::LOCALHOST)
        );
    })
}
