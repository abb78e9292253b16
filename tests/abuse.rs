//! Abuse resistance: `timeout`, `max-connections-per-peer` and `max-connections` against silent
//! clients (slowloris), bursts of clients, and peers of every address family; and that accepted
//! TCP sockets have `TCP_NODELAY`.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// `IPPROTO_TCP` and `TCP_NODELAY` from `<netinet/in.h>` and `<netinet/tcp.h>` (Linux).
const IPPROTO_TCP: i32 = 6;
const TCP_NODELAY: i32 = 1;

/// The peer's IP address of a TCP connection; `None` for other families.
fn peer_of(connection: &gio::SocketConnection) -> Option<IpAddr> {
    let address = connection.remote_address().ok()?;
    let address = address.downcast::<gio::InetSocketAddress>().ok()?;
    Some(IpAddr::from(address.address()))
}

/// Listens on the abstract Unix-domain socket `name`; returns its address for clients.
fn listen_abstract(service: &usher::SocketService, name: &str) -> std::os::unix::net::SocketAddr {
    service
        .add_address(
            &gio::UnixSocketAddress::with_type(UnixSocketAddressPath::Abstract(name.as_bytes())),
            gio::SocketType::Stream,
            gio::SocketProtocol::Default,
            None::<&glib::Object>,
        )
        .unwrap();
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
}

/// Sends `line` over `stream` and returns the line the server answers.
fn say(stream: impl Read + Write, line: &str) -> String {
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let mut reply = String::new();
    stream.read_line(&mut reply).expect("read the echo");
    reply
}

/// Whether the server ended the connection: the end of the stream, or a reset, within
/// `patience`.
fn ended_within(stream: &mut TcpStream, patience: Duration) -> bool {
    stream.set_read_timeout(Some(patience)).unwrap();
    match stream.read(&mut [0; 1]) {
        Ok(read) => read == 0,
        Err(error) => !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// Keeps every connection until its client closes it, then closes it; returns the peers of
/// the connections handed out, in order (`None` for Unix-domain ones).
fn hold_until_client_closes(service: &usher::SocketService) -> Rc<RefCell<Vec<Option<IpAddr>>>> {
    let peers = Rc::new(RefCell::new(Vec::new()));
    service.connect_incoming({
        let peers = peers.clone();
        move |_, connection, _| {
            peers.borrow_mut().push(peer_of(connection));
            let connection = connection.clone();
            glib::spawn_future_local(async move {
                let input = connection.input_stream();
                while let Ok((_, read)) = input
                    .read_future(vec![0u8; 64], glib::Priority::DEFAULT)
                    .await
                {
                    if read == 0 {
                        break;
                    }
                }
                let _ = connection.close_future(glib::Priority::DEFAULT).await;
            });
            false
        }
    });
    peers
}

/// Asserts that `error` is the `G_IO_ERROR` refusing a client of `peer` at its
/// `max-connections-per-peer`.
fn assert_refused(error: &glib::Error, peer: &str) {
    assert!(error.kind::<gio::IOErrorEnum>().is_some(), "{error:?}");
    assert!(error.message().contains(peer), "{}", error.message());
}

#[test]
fn a_slowloris_from_one_peer_neither_starves_another_peer_nor_holds_its_connections() {
    with_context(|context| {
        let attacker = Ipv4Addr::LOCALHOST;
        let other = Ipv4Addr::new(127, 0, 0, 2);
        let service = usher::SocketService::new();
        service.set_max_connections(20);
        service.set_max_connections_per_peer(5);
        service.set_timeout(1);
        // Room for the burst below whatever the default: a SYN dropped from a full backlog is
        // retried after 1 s, past the timeout.
        service.set_listen_backlog(64);
        let errors = accept_errors(&service);

        // An echo of one line; a failed read (the timeout) drops the connection, closing it.
        // Each connection handed out is logged with the attacker's connections then open.
        let attacker_open = Rc::new(Cell::new(0));
        let handed_out = Rc::new(RefCell::new(Vec::new()));
        let attacker_reads = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let (attacker_open, handed_out, attacker_reads) = (
                attacker_open.clone(),
                handed_out.clone(),
                attacker_reads.clone(),
            );
            move |_, connection, _| {
                let peer = peer_of(connection).unwrap();
                let from_attacker = peer == attacker;
                if from_attacker {
                    attacker_open.set(attacker_open.get() + 1);
                }
                handed_out.borrow_mut().push((peer, attacker_open.get()));
                let connection = connection.clone();
                let (attacker_open, attacker_reads) =
                    (attacker_open.clone(), attacker_reads.clone());
                glib::spawn_future_local(async move {
                    let input = gio::DataInputStream::new(&connection.input_stream());
                    let read = input.read_line_utf8_future(glib::Priority::DEFAULT).await;
                    if let Ok(Some(line)) = &read {
                        let reply = format!("{line}\n").into_bytes();
                        let _ = connection
                            .output_stream()
                            .write_all_future(reply, glib::Priority::DEFAULT)
                            .await;
                    }
                    if from_attacker {
                        attacker_open.set(attacker_open.get() - 1);
                        attacker_reads.borrow_mut().push(read.map(|_| ()));
                    }
                });
                false
            }
        });
        let address = listen_loopback(&service, None);

        // Enough silent connections to fill max-connections on their own, connecting while the
        // service runs.
        let silent = spawn_client(context, move || {
            (0..20)
                .map(|_| TcpStream::connect(address).unwrap())
                .collect::<Vec<_>>()
        });
        iterate_until(context, || {
            silent.is_finished() && errors.borrow().len() == 15 && handed_out.borrow().len() == 5
        });
        let silent = silent.join().unwrap();
        assert_eq!(service.n_accept_errors(), 15);
        for error in errors.borrow().iter() {
            assert_refused(error, "127.0.0.1");
        }

        let client = spawn_client(context, move || {
            let begun = Instant::now();
            let stream = connect_from(other, address);
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            (say(stream, "not a slowloris"), begun.elapsed())
        });
        iterate_until(context, || client.is_finished());
        let (reply, waited) = client.join().unwrap();
        assert_eq!(reply, "not a slowloris\n");
        assert_eq!(
            handed_out.borrow().last(),
            Some(&(IpAddr::V4(other), 5)),
            "served while the attacker's five connections were still held"
        );
        assert!(waited < Duration::from_secs(2), "served after {waited:?}");

        // The refused ones were closed at once, the held ones after their 1 s timeout.
        let still_open = spawn_client(context, move || {
            silent
                .into_iter()
                .map(|mut stream| ended_within(&mut stream, Duration::from_secs(5)))
                .filter(|ended| !ended)
                .count()
        });
        iterate_until(context, || still_open.is_finished());
        assert_eq!(
            still_open.join().unwrap(),
            0,
            "silent connections still open"
        );
        iterate_until(context, || service.n_connections() == 0);
        assert_eq!(attacker_reads.borrow().len(), 5);
        for read in attacker_reads.borrow().iter() {
            let error = read.as_ref().unwrap_err();
            assert!(error.matches(gio::IOErrorEnum::TimedOut), "{error}");
        }
        assert_eq!(service.n_accept_errors(), 15);
        assert_eq!(handed_out.borrow().len(), 6);
    })
}

#[test]
fn threaded_handlers_blocked_on_silent_clients_time_out_and_free_their_threads() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(2);
        service.set_timeout(1);
        let started = Arc::new(AtomicUsize::new(0));
        let reads = Arc::new(Mutex::new(Vec::new()));
        service.connect_run({
            let (started, reads, context) = (started.clone(), reads.clone(), context.clone());
            move |_, connection, _| {
                started.fetch_add(1, Ordering::SeqCst);
                context.wakeup();
                let input = gio::DataInputStream::new(&connection.input_stream());
                let read = input.read_line_utf8(gio::Cancellable::NONE);
                reads
                    .lock()
                    .unwrap()
                    .push(read.as_ref().map(|_| ()).map_err(Clone::clone));
                context.wakeup();
                if let Ok(Some(line)) = read {
                    let reply = format!("{line}\n");
                    let _ = connection
                        .output_stream()
                        .write_all(reply.as_bytes(), gio::Cancellable::NONE);
                }
                false
            }
        });
        let address = listen_loopback(&service, None);

        // Both threads block reading from clients that say nothing.
        let _silent: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || started.load(Ordering::SeqCst) == 2);

        assert_echoed(context, address, "third");
        // The second silent client may time out after the third is served by the first's thread.
        iterate_until(context, || reads.lock().unwrap().len() == 3);
        let reads = reads.lock().unwrap().clone();
        let (served, failed): (Vec<_>, Vec<_>) = reads.into_iter().partition(Result::is_ok);
        assert_eq!(served.len(), 1);
        for error in failed {
            let error = error.unwrap_err();
            assert!(error.matches(gio::IOErrorEnum::TimedOut), "{error}");
        }
    })
}

const BURST: usize = 1000;

/// Connects, sends `line` and reads its echo, each step within `patience`; returns how long
/// that took, or what failed.
fn timed_echo(address: SocketAddr, line: &str, patience: Duration) -> Result<Duration, String> {
    let begun = Instant::now();
    let stream =
        TcpStream::connect_timeout(&address, patience).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = String::new();
    stream.read_line(&mut reply).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("no echo within {patience:?}"),
        _ => format!("read the echo: {e}"),
    })?;
    if reply != format!("{line}\n") {
        return Err(format!("echo {reply:?}"));
    }
    Ok(begun.elapsed())
}

#[test]
fn a_thousand_simultaneous_clients_of_an_untuned_service_wait_for_no_syn_retry() {
    raise_descriptor_limit(BURST);
    with_context(|context| {
        // listen-backlog left alone: GLib's 10 would drop most of these SYNs.
        let service = usher::SocketService::new();
        serve_echo(&service);
        let address = listen_loopback(&service, None);
        let clients = spawn_client(context, move || {
            let start = Arc::new(Barrier::new(BURST));
            let threads: Vec<_> = (0..BURST)
                .map(|i| {
                    let start = start.clone();
                    std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            start.wait();
                            timed_echo(address, &i.to_string(), Duration::from_secs(5))
                        })
                        .unwrap()
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .collect::<Vec<_>>()
        });
        iterate_until(context, || clients.is_finished());
        let results = clients.join().unwrap();
        let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "{} clients failed: {:?}",
            failed.len(),
            failed.first()
        );
        // Linux retransmits a dropped SYN after 1 s: a client that slow had its SYN dropped.
        let latencies: Vec<Duration> = results.into_iter().map(Result::unwrap).collect();
        let slow = latencies
            .iter()
            .filter(|latency| **latency >= Duration::from_secs(1))
            .count();
        let slowest = latencies.iter().max().unwrap();
        assert_eq!(
            slow, 0,
            "clients that waited 1 s or more; the slowest {slowest:?}"
        );
        assert_eq!(service.n_accepted(), BURST as u64);
    })
}

#[test]
fn accepted_tcp_sockets_have_nodelay_and_unix_ones_are_served_too() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let nodelay = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let nodelay = nodelay.clone();
            move |_, connection, _| {
                let socket = connection.socket();
                let value = match socket.family() {
                    gio::SocketFamily::Unix => None,
                    _ => Some(socket.option(IPPROTO_TCP, TCP_NODELAY).unwrap()),
                };
                nodelay.borrow_mut().push(value);
                false
            }
        });
        serve_echo(&service);
        let tcp = listen_loopback(&service, None);
        let unix = listen_abstract(
            &service,
            &format!("usher-abuse-nodelay-{}", std::process::id()),
        );

        assert_echoed(context, tcp, "tcp");
        let client = spawn_client(context, move || {
            let stream = UnixStream::connect_addr(&unix).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            say(stream, "unix")
        });
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), "unix\n");
        // GLib before 2.80 leaves Nagle's algorithm on: this is the service's doing.
        assert_eq!(*nodelay.borrow(), [Some(1), None]);
    })
}

#[test]
fn per_peer_limit_counts_a_v4_mapped_client_as_its_ipv4_address() {
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_max_connections_per_peer(1);
        let peers = hold_until_client_closes(&service);
        let errors = accept_errors(&service);
        // A plain IPv4 socket, and a dual-stack IPv6 one where IPv4 clients arrive v4-mapped
        // (::ffff:127.0.0.1).
        let v4_only = listen_loopback(&service, None);
        let dual_stack = service
            .add_address(
                &gio::InetSocketAddress::from_string("::", 0).unwrap(),
                gio::SocketType::Stream,
                gio::SocketProtocol::Tcp,
                None::<&glib::Object>,
            )
            .unwrap()
            .downcast::<gio::InetSocketAddress>()
            .unwrap()
            .port();
        let v4_mapped = SocketAddr::from((Ipv4Addr::LOCALHOST, dual_stack));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, dual_stack));

        let first_v4 = TcpStream::connect(v4_only).unwrap();
        let _v6 = TcpStream::connect(v6).unwrap();
        iterate_until(context, || peers.borrow().len() == 2);
        assert!(
            errors.borrow().is_empty(),
            "127.0.0.1 and ::1 are two peers"
        );

        let mut second_v4 = TcpStream::connect(v4_mapped)
            .expect("the IPv6 socket is dual-stack: it accepts IPv4 clients");
        iterate_until(context, || errors.borrow().len() == 1);
        let refusal = errors.borrow()[0].clone();
        assert_refused(&refusal, "127.0.0.1");
        assert!(!refusal.message().contains("::ffff:"), "{refusal}");
        assert!(ended_within(&mut second_v4, DEADLINE), "closed at once");
        assert_eq!(peers.borrow().len(), 2);

        // Once the service has seen the first one go, the peer may connect again.
        drop(first_v4);
        iterate_until(context, || service.n_connections() == 1);
        let _third_v4 = TcpStream::connect(v4_mapped).unwrap();
        iterate_until(context, || peers.borrow().len() == 3);
        assert_eq!(errors.borrow().len(), 1);
        assert_eq!(service.n_accept_errors(), 1);
    })
}

#[test]
fn a_per_peer_limit_set_while_connections_live_counts_them() {
    // Peers are counted only while a limit is set: one set later counts the live connections.
    with_context(|context| {
        let service = usher::SocketService::new();
        let peers = hold_until_client_closes(&service);
        let errors = accept_errors(&service);
        let address = listen_loopback(&service, None);
        let first = TcpStream::connect(address).unwrap();
        iterate_until(context, || peers.borrow().len() == 1);

        service.set_max_connections_per_peer(1);
        let mut second = TcpStream::connect(address).unwrap();
        iterate_until(context, || errors.borrow().len() == 1);
        assert_refused(&errors.borrow()[0], "127.0.0.1");
        assert!(ended_within(&mut second, DEADLINE), "closed at once");

        // Lifted, the limit no longer counts; set again, it counts what is live once more.
        service.set_max_connections_per_peer(0);
        let _third = TcpStream::connect(address).unwrap();
        iterate_until(context, || peers.borrow().len() == 2);
        service.set_max_connections_per_peer(2);
        let mut fourth = TcpStream::connect(address).unwrap();
        iterate_until(context, || errors.borrow().len() == 2);
        assert!(ended_within(&mut fourth, DEADLINE), "closed at once");
        drop(first);
        iterate_until(context, || service.n_connections() == 1);
        let _fifth = TcpStream::connect(address).unwrap();
        iterate_until(context, || peers.borrow().len() == 3);
        assert_eq!(service.n_accept_errors(), 2);
    })
}

#[test]
fn per_peer_limit_does_not_apply_to_unix_domain_clients() {
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_max_connections_per_peer(1);
        let peers = hold_until_client_closes(&service);
        let address = listen_abstract(
            &service,
            &format!("usher-abuse-unix-peers-{}", std::process::id()),
        );
        let _clients: Vec<UnixStream> = (0..2)
            .map(|_| UnixStream::connect_addr(&address).unwrap())
            .collect();
        iterate_until(context, || peers.borrow().len() == 2);
        assert_eq!(*peers.borrow(), [None, None]);
        assert_eq!(service.n_connections(), 2);
        assert_eq!(service.n_accept_errors(), 0);
    })
}

#[test]
fn per_peer_limit_and_timeout_are_off_by_default() {
    with_context(|context| {
        let service = usher::SocketService::new();
        for name in ["max-connections-per-peer", "timeout"] {
            let pspec = service
                .find_property(name)
                .unwrap()
                .downcast::<glib::ParamSpecUInt>()
                .unwrap();
            assert_eq!(pspec.default_value(), 0, "{name}");
            assert_eq!(service.property::<u32>(name), 0, "{name}");
        }

        // Ten connections from one peer, all held at once, without a timeout.
        let timeouts = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let timeouts = timeouts.clone();
            move |_, connection, _| {
                timeouts.borrow_mut().push(connection.socket().timeout());
                false
            }
        });
        let peers = hold_until_client_closes(&service);
        let address = listen_loopback(&service, None);
        let clients = spawn_client(context, move || {
            (0..10)
                .map(|_| TcpStream::connect(address).unwrap())
                .collect::<Vec<_>>()
        });
        iterate_until(context, || {
            clients.is_finished() && peers.borrow().len() == 10
        });
        let _clients = clients.join().unwrap();
        assert_eq!(service.n_connections(), 10);
        assert_eq!(service.n_accept_errors(), 0);
        assert_eq!(*timeouts.borrow(), [0; 10]);
    })
}
