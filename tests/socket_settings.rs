//! Settings per listening socket: one service with a TLS port and a plain one, a port behind
//! HAProxy and a direct one, settings changed while serving, the TCP options read back on the
//! accepted sockets, a dead peer noticed within `tcp-user-timeout` in a network namespace of its
//! own, and deferred accepts.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::balancers::haproxy;
use common::certificates::{Certificates, python_client};
use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// An integer option of a connection's socket.
fn option(connection: &gio::SocketConnection, level: i32, name: i32) -> i32 {
    connection.socket().option(level, name).unwrap()
}

#[test]
fn one_service_serves_a_tls_port_and_a_plain_port() {
    let certificates = Certificates::new();
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_tls_certificate(Some(&certificates.server()));
        serve_echo(&service);
        let kept = keep_incoming(&service);
        let tls = listen_loopback(&service, None);
        let plain = usher::SocketSettings::new();
        plain.set_tls_certificate(None::<&gio::TlsCertificate>);
        assert!(plain.is_set("tls-certificate"), "set, to none");
        let plain_address = listen_with(&service, &plain);

        let client = python_client(context, tls, &certificates, &["--line", "secret"]);
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap().expect("a TLS echo")[0], "secret");
        assert_echoed(context, plain_address, "in the clear");

        let kept = kept.borrow();
        assert!(kept[0].is::<gio::TcpWrapperConnection>(), "over TLS");
        assert!(!kept[1].is::<gio::TcpWrapperConnection>(), "plain");
        assert_eq!(
            usher::SocketSettings::for_connection(&kept[0]).as_ref(),
            Some(&service.socket_settings()),
            "the first socket has the service's settings"
        );
        assert_eq!(
            usher::SocketSettings::for_connection(&kept[1]).as_ref(),
            Some(&plain)
        );
        let listening: Vec<_> = kept
            .iter()
            .map(|connection| usher::SocketService::listening_socket(connection).unwrap())
            .collect();
        assert_ne!(listening[0], listening[1]);
        let port = |socket: &gio::Socket| {
            socket
                .local_address()
                .unwrap()
                .downcast::<gio::InetSocketAddress>()
                .unwrap()
                .port()
        };
        assert_eq!(
            (port(&listening[0]), port(&listening[1])),
            (tls.port(), plain_address.port())
        );
    })
}

#[test]
fn a_tls_socket_on_a_plain_service() {
    let certificates = Certificates::new();
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let plain = listen_loopback(&service, None);
        let secure = usher::SocketSettings::new();
        secure.set_tls_certificate(Some(&certificates.server()));
        let tls = listen_with(&service, &secure);
        assert_echoed(context, plain, "plain");
        let client = python_client(context, tls, &certificates, &["--line", "secure"]);
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap().expect("a TLS echo")[0], "secure");

        // Unset, the socket takes the service's setting again: plain.
        secure.unset("tls-certificate").unwrap();
        assert!(!secure.is_set("tls-certificate"));
        assert_echoed(context, tls, "plain again");
        assert!(secure.unset("no-such-setting").is_err());
    })
}

#[test]
fn a_port_behind_haproxy_and_a_direct_port() {
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let kept = keep_incoming(&service);
        let behind = usher::SocketSettings::new();
        behind.try_set_proxy_protocol_peers(&["127.0.0.1"]).unwrap();
        let proxied = listen_with(&service, &behind);
        let direct = listen_loopback(&service, None);
        let balancer = haproxy(proxied, "send-proxy");

        let through = balancer.frontend;
        let client = spawn_client(context, move || echo_line(through, "through haproxy"));
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), "through haproxy\n");
        // From 127.0.0.1 too, but on the direct port: no header expected, none read.
        assert_echoed(context, direct, "direct");

        let kept = kept.borrow();
        let info = usher::ProxyInfo::for_connection(&kept[0]).expect("a PROXY header");
        let balancer = info
            .proxy_address()
            .downcast::<gio::InetSocketAddress>()
            .unwrap();
        assert_eq!(balancer.address().to_string(), "127.0.0.1");
        assert!(usher::ProxyInfo::for_connection(&kept[1]).is_none());
        assert!(
            service.proxy_protocol_peers().is_empty(),
            "the service's own are untouched"
        );
    })
}

#[test]
fn settings_changed_on_a_live_socket_apply_to_the_connections_accepted_after() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let settings = usher::SocketSettings::new();
        let address = listen_with(&service, &settings);
        let mut clients = Vec::new();
        let accept = |clients: &mut Vec<TcpStream>| {
            clients.push(TcpStream::connect(address).unwrap());
            let count = clients.len();
            iterate_until(context, || kept.borrow().len() == count);
            kept.borrow().last().unwrap().clone()
        };

        let first = accept(&mut clients);
        assert_eq!(first.socket().timeout(), 0);
        assert_eq!(option(&first, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);

        settings.set_timeout(7);
        settings.set_tcp_keepalive(true);
        settings.set_tcp_keepalive_idle(77);
        settings.set_tcp_keepalive_interval(11);
        settings.set_tcp_keepalive_count(4);
        settings.set_tcp_user_timeout(3456);
        let second = accept(&mut clients);
        assert_eq!(second.socket().timeout(), 7);
        assert_eq!(option(&second, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(option(&second, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 77);
        assert_eq!(option(&second, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 11);
        assert_eq!(option(&second, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 4);
        assert_eq!(
            option(&second, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            3456
        );
        assert_eq!(option(&second, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
        assert_eq!(
            option(&first, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            std::fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_time")
                .unwrap()
                .trim()
                .parse::<i32>()
                .unwrap(),
            "a connection accepted before keeps what it had"
        );

        // Unset, the socket takes the service's settings, or the system's.
        service.socket_settings().set_tcp_user_timeout(1000);
        service.set_timeout(3);
        for name in ["timeout", "tcp-user-timeout", "tcp-keepalive-idle"] {
            settings.unset(name).unwrap();
        }
        let third = accept(&mut clients);
        assert_eq!(third.socket().timeout(), 3, "the service's");
        assert_eq!(
            option(&third, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            1000
        );
        assert_eq!(
            option(&third, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            option(&first, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            "the system's"
        );
        assert_eq!(option(&third, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 4);
    })
}

#[test]
fn the_sockets_of_add_inet_port_get_their_tcp_options() {
    // GLib makes them with G_SOCKET_PROTOCOL_DEFAULT: they are TCP all the same.
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let settings = usher::SocketSettings::new();
        settings.set_tcp_keepalive(true);
        settings.set_tcp_user_timeout(2345);
        let port = service
            .add_any_inet_port_with_settings(None::<&glib::Object>, Some(&settings))
            .unwrap();
        let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        iterate_until(context, || kept.borrow().len() == 1);
        let connection = kept.borrow()[0].clone();
        assert_eq!(option(&connection, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(
            option(&connection, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            2345
        );
        assert_eq!(option(&connection, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
    })
}

#[test]
fn the_services_properties_are_views_of_its_settings() {
    let service = usher::SocketService::new();
    let notified = std::rc::Rc::new(std::cell::Cell::new(0));
    service.connect_timeout_notify({
        let notified = notified.clone();
        move |_| notified.set(notified.get() + 1)
    });
    let settings = service.socket_settings();
    assert!(!settings.is_set("timeout"));
    settings.set_timeout(9);
    assert_eq!((service.timeout(), notified.get()), (9, 1));
    service.set_timeout(9);
    assert_eq!(notified.get(), 1, "no change, no notification");
    service.set_proxy_protocol_required(false);
    assert!(!settings.proxy_protocol_required());
    assert!(
        service
            .try_set_proxy_protocol_peers(&["10.1.2.3/8"])
            .is_err()
            && settings.proxy_protocol_peers().is_empty()
    );
}

#[test]
fn a_socket_given_settings_later() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let address = listen_loopback(&service, None);
        let _first = TcpStream::connect(address).unwrap();
        iterate_until(context, || kept.borrow().len() == 1);
        let socket = usher::SocketService::listening_socket(&kept.borrow()[0]).unwrap();

        let settings = usher::SocketSettings::new();
        settings.set_timeout(5);
        service
            .set_socket_settings(&socket, Some(&settings))
            .unwrap();
        let _second = TcpStream::connect(address).unwrap();
        iterate_until(context, || kept.borrow().len() == 2);
        assert_eq!(kept.borrow()[1].socket().timeout(), 5);
        assert_eq!(
            usher::SocketSettings::for_connection(&kept.borrow()[1]).as_ref(),
            Some(&settings)
        );

        let stranger = gio::Socket::new(
            gio::SocketFamily::Ipv4,
            gio::SocketType::Stream,
            gio::SocketProtocol::Tcp,
        )
        .unwrap();
        let error = service
            .set_socket_settings(&stranger, Some(&settings))
            .unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::NotFound), "{error}");
    })
}

#[test]
fn a_deferred_accept_waits_for_the_clients_first_bytes() {
    // TCP_DEFER_ACCEPT: a client that sends nothing is not accepted; one that connects after
    // it and speaks is served first.
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let settings = usher::SocketSettings::new();
        settings.set_tcp_defer_accept(10);
        let address = listen_with(&service, &settings);

        let mut silent = TcpStream::connect(address).unwrap();
        let mut speaking = TcpStream::connect(address).unwrap();
        speaking.write_all(b"first\n").unwrap();
        iterate_until(context, || !kept.borrow().is_empty());
        let peer = |connection: &gio::SocketConnection| {
            let address = connection
                .remote_address()
                .unwrap()
                .downcast::<gio::InetSocketAddress>()
                .unwrap();
            address.port()
        };
        assert_eq!(
            peer(&kept.borrow()[0]),
            speaking.local_addr().unwrap().port(),
            "the client that spoke came first"
        );
        drain(context);
        assert_eq!(kept.borrow().len(), 1, "the silent one waits in the kernel");

        silent.write_all(b"now\n").unwrap();
        iterate_until(context, || kept.borrow().len() == 2);
        assert_eq!(peer(&kept.borrow()[1]), silent.local_addr().unwrap().port());
        let mut line = String::new();
        let input = gio::DataInputStream::new(&kept.borrow()[1].input_stream());
        line.push_str(
            &input
                .read_line_utf8(gio::Cancellable::NONE)
                .unwrap()
                .unwrap(),
        );
        assert_eq!(line, "now", "the bytes are the application's");
    })
}

/// The environment variable that makes the test below its own child, in a network namespace.
const IN_NAMESPACE: &str = "USHER_TEST_IN_NETWORK_NAMESPACE";

#[test]
fn a_dead_peer_is_noticed_within_the_user_timeout() {
    if std::env::var_os(IN_NAMESPACE).is_some() {
        return dead_peer_in_this_namespace();
    }
    // A namespace of its own: its loopback can lose every packet without harming the others.
    let namespace_works = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|status| status.success());
    if !namespace_works {
        eprintln!("skipped: `unshare -n` is not allowed here (run the tests as root)");
        return;
    }
    let output = Command::new("unshare")
        .arg("-n")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_dead_peer_is_noticed_within_the_user_timeout",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(IN_NAMESPACE, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    eprintln!(
        "{}",
        text.lines()
            .filter(|line| line.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Runs in a network namespace of its own, as root.
fn dead_peer_in_this_namespace() {
    let run = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .status()
            .is_ok_and(|status| status.success())
    };
    assert!(run("ip", &["link", "set", "lo", "up"]));
    const USER_TIMEOUT: u32 = 1500;
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let settings = usher::SocketSettings::new();
        settings.set_tcp_user_timeout(USER_TIMEOUT);
        let address = listen_with(&service, &settings);
        let mut client = TcpStream::connect(address).unwrap();
        iterate_until(context, || kept.borrow().len() == 1);
        let connection = kept.borrow()[0].clone();
        assert_eq!(
            option(&connection, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            USER_TIMEOUT as i32
        );
        client.write_all(b"alive\n").unwrap();
        let mut line = String::new();
        let input = gio::DataInputStream::new(&connection.input_stream());
        line.push_str(
            &input
                .read_line_utf8(gio::Cancellable::NONE)
                .unwrap()
                .unwrap(),
        );
        assert_eq!(line, "alive");

        // Every packet lost from now on: netem where the kernel has it, else nftables.
        let lost = run(
            "tc",
            &["qdisc", "add", "dev", "lo", "root", "netem", "loss", "100%"],
        ) || (run("nft", &["add", "table", "inet", "usher"])
            && run(
                "nft",
                &[
                    "add",
                    "chain",
                    "inet",
                    "usher",
                    "input",
                    "{ type filter hook input priority 0; }",
                ],
            )
            && run("nft", &["add", "rule", "inet", "usher", "input", "drop"]));
        if !lost {
            eprintln!("  skipped: neither tc's netem nor nftables can drop packets here");
            return;
        }
        let start = Instant::now();
        let output = connection.output_stream();
        output
            .write_all(b"are you there?\n", gio::Cancellable::NONE)
            .unwrap();
        let ended = std::rc::Rc::new(std::cell::RefCell::new(None));
        glib::spawn_future_local({
            let (ended, input) = (ended.clone(), connection.input_stream());
            async move {
                let result = input
                    .read_future(vec![0u8; 16], glib::Priority::DEFAULT)
                    .await;
                *ended.borrow_mut() = Some((result.map(|(_, read)| read), start.elapsed()));
            }
        });
        iterate_until(context, || ended.borrow().is_some());
        let (result, elapsed) = ended.borrow_mut().take().unwrap();
        let (_, error) = result.expect_err("the dead peer is noticed");
        assert!(error.matches(gio::IOErrorEnum::TimedOut), "{error}");
        eprintln!(
            "  dead peer noticed after {elapsed:?} with tcp-user-timeout {USER_TIMEOUT} ms \
             (the system's default: some 15 minutes of retransmissions)"
        );
        assert!(
            elapsed < Duration::from_millis(u64::from(USER_TIMEOUT) * 4),
            "{elapsed:?}"
        );
    })
}
