//! Admission control on loopback, where each 127.0.0.x is a peer of its own: a flood from one
//! peer, plain and TLS, refused at its rate while another is served every time; handshakes
//! that stall, held to a budget per peer; a deny list judged on the client behind a trusted
//! balancer; accepting paused by memory pressure and resumed; every refusal told apart.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::certificates::{Certificates, python_client};
use common::*;
use gio::prelude::*;
use usher::prelude::*;

const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STEADY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Every refusal a service reported: its peer and reason.
type Refusals = Rc<RefCell<Vec<(Option<String>, usher::Refusal)>>>;

fn record_refusals(service: &usher::SocketService) -> Refusals {
    let refusals = Refusals::default();
    service.connect_refused({
        let refusals = refusals.clone();
        move |_, peer, reason, _| {
            refusals
                .borrow_mut()
                .push((peer.map(|peer| peer.to_string()), reason))
        }
    });
    // Refusals are reported with accept-error too: no warning for each.
    service.connect_accept_error(|_, _| {});
    refusals
}

/// Connects from `source`, sends a line, and returns the time until its echo, or why none came.
fn echo_time(source: Ipv4Addr, address: SocketAddr) -> Result<Duration, String> {
    let start = Instant::now();
    let mut stream = connect_from(source, address);
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(b"steady\n")
        .map_err(|error| error.to_string())?;
    let mut reply = [0u8; 7];
    stream
        .read_exact(&mut reply)
        .map_err(|error| error.to_string())?;
    Ok(start.elapsed())
}

/// A TLS echo of `line` from [`STEADY`] (Python's `ssl`): the echo, the TLS version, the ALPN
/// protocol and the seconds from the connection to the echo.
fn tls_echo(
    context: &glib::MainContext,
    address: SocketAddr,
    certificates: &Certificates,
    line: &str,
) -> Vec<String> {
    let client = python_client(
        context,
        address,
        certificates,
        &["--source", &STEADY.to_string(), "--line", line, "--timed"],
    );
    iterate_until(context, || client.is_finished());
    client.join().unwrap().expect("a TLS echo")
}

/// The median of `times`.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// How many connections a flood opens: far beyond the flooder's `peer-rate`, whatever the time
/// it takes, and few enough for the ephemeral ports of one address.
const FLOOD: usize = 2_000;

/// Opens and drops [`FLOOD`] connections from [`FLOODER`] as fast as it can, each sending
/// `first`.
fn flood(address: SocketAddr, first: &'static [u8]) {
    for _ in 0..FLOOD {
        let mut stream = connect_from(FLOODER, address);
        let _ = stream.write_all(first);
    }
}

/// A flood from one peer while another connects steadily: the steady one is echoed every time,
/// in about the time it takes unloaded; the flood is refused at its rate, each refusal reported
/// with its peer and counted. Returns the flood's size, for the figures.
fn flood_against_steady(tls: Option<&Certificates>) {
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let refusals = record_refusals(&service);
        let settings = usher::SocketSettings::new();
        // Far more than the steady client needs, far less than a flood.
        settings.set_peer_rate(100);
        settings.set_peer_rate_burst(100);
        if let Some(certificates) = tls {
            settings.set_tls_certificate(Some(&certificates.server()));
        }
        let address = listen_with(&service, &settings);
        // A TLS flooder hangs up after the first bytes of its ClientHello: the handshake starts,
        // and costs the service, only if the connection is let in.
        let first: &'static [u8] = if tls.is_some() {
            b"\x16\x03\x01\x02\x00\x01"
        } else {
            b"x"
        };

        let steady = |context: &glib::MainContext, count: usize| {
            let mut times = Vec::new();
            for _ in 0..count {
                let time = match tls {
                    None => {
                        let client = spawn_client(context, move || echo_time(STEADY, address));
                        iterate_until(context, || client.is_finished());
                        client.join().unwrap().expect("the steady client is served")
                    }
                    Some(certificates) => {
                        let lines = tls_echo(context, address, certificates, "steady");
                        assert_eq!(lines[0], "steady");
                        Duration::from_secs_f64(lines[3].parse().unwrap())
                    }
                };
                times.push(time);
            }
            median(&mut times)
        };
        // Python's start dominates a TLS client's time: fewer of them.
        let rounds = if tls.is_some() { 5 } else { 10 };
        let unloaded = steady(context, rounds);

        let flooder = spawn_client(context, move || flood(address, first));
        // The steady client comes back, one at a time, every 20 ms (well within its peer-rate),
        // for as long as the flood lasts.
        let mut loaded = Vec::new();
        while loaded.len() < 2 * rounds || !flooder.is_finished() {
            loaded.push(steady(context, 1));
            let paced = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            glib::timeout_source_new(Duration::from_millis(20), None, glib::Priority::DEFAULT, {
                let paced = paced.clone();
                move || {
                    paced.store(true, std::sync::atomic::Ordering::SeqCst);
                    glib::ControlFlow::Break
                }
            })
            .attach(Some(context));
            iterate_until(context, || paced.load(std::sync::atomic::Ordering::SeqCst));
        }
        let loaded = median(&mut loaded);
        iterate_until(context, || flooder.is_finished());
        flooder.join().unwrap();
        drain(context);
        let opened = FLOOD;

        let refused = service.n_refused(usher::Refusal::PeerRate);
        eprintln!(
            "  {}: steady client's median {unloaded:?} unloaded, {loaded:?} under a flood of {opened} \
             connections ({refused} refused at the flooder's peer-rate)",
            if tls.is_some() { "TLS" } else { "plain" }
        );
        assert!(
            refused > 0 && refused as usize <= opened,
            "{refused} of {opened}"
        );
        // Those the flooder's rate let in fail their handshake, which it hangs up on.
        let expected = [usher::Refusal::PeerRate, usher::Refusal::Tls];
        assert!(
            refusals.borrow().iter().all(|(peer, reason)| {
                peer.as_deref() == Some("127.0.0.2") && expected.contains(reason)
            }),
            "only the flooder is refused"
        );
        let refusals_for_rate = refusals
            .borrow()
            .iter()
            .filter(|(_, reason)| *reason == usher::Refusal::PeerRate)
            .count();
        assert_eq!(refusals_for_rate as u64, refused);
        // Generous, as the flooder shares the machine's cores with the service and the steady
        // client: what it is about is that the steady client is not stuck behind the flood.
        // (Timings are the benchmark's; README gives them.)
        assert!(
            loaded < (unloaded * 10).max(Duration::from_millis(500)),
            "{loaded:?} loaded against {unloaded:?} unloaded"
        );
    })
}

#[test]
fn a_plain_flood_is_refused_at_its_rate_while_a_steady_client_is_served() {
    flood_against_steady(None);
}

#[test]
fn a_tls_flood_is_refused_before_its_handshakes_while_a_steady_client_is_served() {
    flood_against_steady(Some(&Certificates::new()));
}

#[test]
fn stalled_handshakes_beyond_the_budget_of_their_peer_are_refused_at_once() {
    let certificates = Certificates::new();
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let refusals = record_refusals(&service);
        let settings = usher::SocketSettings::new();
        settings.set_tls_certificate(Some(&certificates.server()));
        settings.set_tls_handshakes_per_peer(8);
        let address = listen_with(&service, &settings);

        // 200 connections from one peer that begin a handshake and stall, kept open.
        let stalled: Vec<_> = (0..200)
            .map(|_| {
                let mut stream = connect_from(FLOODER, address);
                stream.write_all(b"\x16\x03\x01").unwrap();
                stream
            })
            .collect();
        iterate_until(context, || {
            service.n_refused(usher::Refusal::HandshakesPerPeer) == 192
                && service.n_connections() == 8
        });

        let lines = tls_echo(context, address, &certificates, "through");
        assert_eq!(lines[0], "through");
        let took = Duration::from_secs_f64(lines[3].parse().unwrap());
        eprintln!("  a TLS client beside 200 stalled handshakes: {took:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert!(
            refusals
                .borrow()
                .iter()
                .all(|(_, reason)| *reason == usher::Refusal::HandshakesPerPeer)
        );
        drop(stalled);
    })
}

/// Sends `bytes` from 127.0.0.1 and returns all that comes back.
fn exchange(context: &glib::MainContext, address: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    send(context, address, vec![bytes.to_vec()])
}

#[test]
fn behind_a_trusted_balancer_the_client_is_judged_not_the_balancer() {
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let refusals = record_refusals(&service);
        let settings = usher::SocketSettings::new();
        settings
            .try_set_proxy_protocol_peers(&["127.0.0.1"])
            .unwrap();
        // The balancer's own address is denied too: it is not the one judged.
        settings
            .try_set_denied_peers(&["192.0.2.7", "127.0.0.1"])
            .unwrap();
        let address = listen_with(&service, &settings);

        let denied = exchange(
            context,
            address,
            b"PROXY TCP4 192.0.2.7 192.0.2.1 5555 80\r\nhello\n",
        );
        assert!(denied.is_empty(), "refused");
        assert_eq!(
            *refusals.borrow(),
            [(Some("192.0.2.7".to_owned()), usher::Refusal::Denied)]
        );
        let served = exchange(
            context,
            address,
            b"PROXY TCP4 192.0.2.8 192.0.2.1 5555 80\r\nhello\n",
        );
        assert_eq!(served, b"hello\n");
        assert_eq!(service.n_refused(usher::Refusal::Denied), 1);

        // Without the PROXY protocol, the peer itself is judged.
        let direct = usher::SocketSettings::new();
        direct.try_set_allowed_peers(&["10.0.0.0/8"]).unwrap();
        let direct_address = listen_with(&service, &direct);
        assert!(exchange(context, direct_address, b"hello\n").is_empty());
        assert_eq!(service.n_refused(usher::Refusal::Denied), 2);
        assert!(direct.try_set_denied_peers(&["not an address"]).is_err());
    })
}

#[test]
fn memory_pressure_pauses_accepting_until_it_ends() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let monitor = gio::MemoryMonitor::dup_default();
        service.set_memory_monitor(Some(&monitor));
        let overloaded = Rc::new(RefCell::new(Vec::new()));
        service.connect_overloaded_notify({
            let overloaded = overloaded.clone();
            move |service| overloaded.borrow_mut().push(service.overloaded())
        });
        let address = listen_loopback(&service, None);

        monitor.emit_by_name::<()>(
            "low-memory-warning",
            &[&gio::MemoryMonitorWarningLevel::Medium],
        );
        assert!(service.overloaded());
        let _waiting = std::net::TcpStream::connect(address).unwrap();
        wait_for_accept_queue(address, 1);
        drain(context);
        assert!(kept.borrow().is_empty(), "the client waits in the backlog");
        assert_eq!(*overloaded.borrow(), [true]);

        monitor.emit_by_name::<()>(
            "low-memory-warning",
            &[&gio::MemoryMonitorWarningLevel::Low],
        );
        iterate_until(context, || kept.borrow().len() == 1);
        assert_eq!(*overloaded.borrow(), [true, false]);
        assert_eq!(service.n_refused(usher::Refusal::Overload), 1);

        // A monitor no longer the service's warns in vain.
        service.set_memory_monitor(None::<&gio::MemoryMonitor>);
        monitor.emit_by_name::<()>(
            "low-memory-warning",
            &[&gio::MemoryMonitorWarningLevel::Critical],
        );
        assert!(!service.overloaded());
    })
}

#[test]
fn the_service_rate_refuses_the_excess_of_everyone() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let refusals = record_refusals(&service);
        let settings = usher::SocketSettings::new();
        settings.set_rate(5);
        let address = listen_with(&service, &settings);
        let clients: Vec<_> = (0..20)
            .map(|n| connect_from(Ipv4Addr::new(127, 0, 1, n + 1), address))
            .collect();
        iterate_until(context, || {
            kept.borrow().len() + refusals.borrow().len() == clients.len()
        });
        // The burst is a second's worth: 5 in, 15 refused (more may come in as it refills).
        assert!(kept.borrow().len() >= 5, "{}", kept.borrow().len());
        assert!(service.n_refused(usher::Refusal::Rate) >= 10);
        assert!(
            refusals
                .borrow()
                .iter()
                .all(|(_, reason)| *reason == usher::Refusal::Rate)
        );
    })
}

/// Two listening sockets of one service, an internal one with a generous budget and a public
/// one with a small one, both set by `set`: `count` connections from [`FLOODER`] to the
/// internal one, 3 to the public one, `count` to the internal one again. Returns how many of
/// each batch came in, once each connection is in or refused.
fn internal_public_internal(
    count: usize,
    set: impl Fn(&usher::SocketSettings, u32, u32),
) -> (usize, usize, usize, Refusals) {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let refusals = record_refusals(&service);
        let internal = usher::SocketSettings::new();
        // Slow to come back: whatever the time the test takes, a few tokens at most.
        set(&internal, 10, 2 * count as u32);
        let public = usher::SocketSettings::new();
        set(&public, 2, 2);
        let internal = listen_with(&service, &internal);
        let public = listen_with(&service, &public);
        let mut clients = Vec::new();
        let mut batch = |to: SocketAddr, count: usize| {
            let before = kept.borrow().len();
            clients.extend((0..count).map(|_| connect_from(FLOODER, to)));
            iterate_until(context, || {
                kept.borrow().len() + refusals.borrow().len() == clients.len()
            });
            kept.borrow().len() - before
        };
        let first = batch(internal, count);
        let public = batch(public, 3);
        let again = batch(internal, count);
        (first, public, again, refusals.clone())
    })
}

#[test]
fn each_socket_spends_its_own_rate() {
    let (first, public, again, refusals) = internal_public_internal(50, |settings, rate, burst| {
        settings.set_rate(rate);
        settings.set_rate_burst(burst);
    });
    eprintln!("  internal {first}/50, public {public}/3, internal after the public: {again}/50");
    assert_eq!((first, public), (50, 2));
    assert_eq!(
        again, 50,
        "the public socket's refusal spent nothing of the internal socket's burst"
    );
    assert_eq!(
        *refusals.borrow(),
        [(Some("127.0.0.2".to_owned()), usher::Refusal::Rate)]
    );
}

#[test]
fn each_socket_holds_a_peer_to_its_own_peer_rate() {
    let (first, public, again, refusals) = internal_public_internal(50, |settings, rate, burst| {
        settings.set_peer_rate(rate);
        settings.set_peer_rate_burst(burst);
    });
    eprintln!("  internal {first}/50, public {public}/3, internal after the public: {again}/50");
    assert_eq!((first, public), (50, 2));
    assert_eq!(
        again, 50,
        "the peer's refusal on the public socket spent nothing of its burst on the internal one"
    );
    assert_eq!(
        *refusals.borrow(),
        [(Some("127.0.0.2".to_owned()), usher::Refusal::PeerRate)]
    );
}
