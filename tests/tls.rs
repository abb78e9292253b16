//! TLS built into the service, tested with clients not written with Usher: Python's `ssl`
//! module (`tests/tls_client.py`) and `openssl s_client`, with certificates made by `openssl`
//! at test time.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::certificates::{Certificates, python_client};
use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// A TLS echo service on 127.0.0.1, recording its accept errors.
fn tls_echo(certificates: &Certificates) -> (usher::SocketService, SocketAddr, Errors) {
    let service = usher::SocketService::new();
    service.set_tls_certificate(Some(&certificates.server()));
    serve_echo(&service);
    let errors = Errors::default();
    service.connect_accept_error({
        let errors = errors.clone();
        move |_, error| errors.0.borrow_mut().push(error.clone())
    });
    let address = listen_loopback(&service, None);
    (service, address, errors)
}

#[derive(Clone, Default)]
struct Errors(Rc<RefCell<Vec<glib::Error>>>);

impl Errors {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

fn run<T>(context: &glib::MainContext, client: Client<T>) -> T {
    iterate_until(context, || client.is_finished());
    client.join().expect("the client thread")
}

#[test]
fn python_clients_echo_over_tls_1_2_and_1_3() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        for version in ["1.2", "1.3"] {
            let client = python_client(
                context,
                address,
                &certificates,
                &["--version", version, "--line", "over tls"],
            );
            let lines = run(context, client).expect("a TLS echo");
            assert_eq!(lines, ["over tls", &format!("TLSv{version}"), "-"]);
        }
        assert_eq!(errors.len(), 0);
        assert_eq!(service.n_accepted(), 2);
    })
}

#[test]
fn the_connection_is_a_tcp_wrapper_over_the_tls_connection_and_alpn_is_negotiated() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, _errors) = tls_echo(&certificates);
        service.set_tls_advertised_protocols(glib::StrV::from(["http/1.1"]));
        let seen = Rc::new(RefCell::new(None));
        service.connect_incoming({
            let seen = seen.clone();
            move |_, connection, _| {
                let wrapper = connection
                    .downcast_ref::<gio::TcpWrapperConnection>()
                    .expect("a GTcpWrapperConnection");
                let tls = wrapper
                    .base_io_stream()
                    .downcast::<gio::TlsServerConnection>()
                    .expect("over a GTlsServerConnection");
                assert_eq!(wrapper.socket(), connection.socket());
                *seen.borrow_mut() = tls
                    .negotiated_protocol()
                    .map(|protocol| protocol.to_string());
                false
            }
        });
        let client = python_client(context, address, &certificates, &["--alpn", "h2,http/1.1"]);
        let lines = run(context, client).expect("a TLS echo");
        assert_eq!(lines[2], "http/1.1", "the client's choice");
        assert_eq!(seen.borrow().as_deref(), Some("http/1.1"), "the server's");
    })
}

#[test]
fn openssl_s_client_is_echoed() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (_service, address, errors) = tls_echo(&certificates);
        let ca = certificates.path("ca.pem");
        let client = spawn_client(context, move || {
            let mut openssl = Command::new("openssl")
                .args(["s_client", "-quiet", "-verify_return_error", "-CAfile", &ca])
                .args(["-connect", &address.to_string(), "-servername", "localhost"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl");
            openssl
                .stdin
                .take()
                .unwrap()
                .write_all(b"from openssl\n")
                .unwrap();
            let mut line = String::new();
            BufReader::new(openssl.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let _ = openssl.kill();
            let _ = openssl.wait();
            line
        });
        assert_eq!(run(context, client), "from openssl\n");
        assert_eq!(errors.len(), 0);
    })
}

#[test]
fn a_plaintext_client_is_reported_and_the_service_keeps_serving() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        let incoming = Rc::new(Cell::new(0));
        service.connect_incoming({
            let incoming = incoming.clone();
            move |_, _, _| {
                incoming.set(incoming.get() + 1);
                false
            }
        });
        let plain = spawn_client(context, move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stream, &mut rest);
        });
        run(context, plain);
        iterate_until(context, || errors.len() == 1);
        assert!(
            errors.0.borrow()[0].domain() == gio::TlsError::domain(),
            "a GTlsError: {:?}",
            errors.0.borrow()[0]
        );
        assert_eq!(
            incoming.get(),
            0,
            "a failed handshake never reaches incoming"
        );
        assert_eq!(service.n_accept_errors(), 1);
        iterate_until(context, || service.n_connections() == 0);

        let client = python_client(context, address, &certificates, &[]);
        assert_eq!(run(context, client).expect("served")[0], "hello");
        assert_eq!(incoming.get(), 1);
    })
}

#[test]
fn a_silent_client_is_dropped_at_the_handshake_timeout() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        service.set_tls_handshake_timeout(1);
        let silent = TcpStream::connect(address).unwrap();
        let started = Instant::now();
        iterate_until(context, || errors.len() == 1);
        assert!(errors.0.borrow()[0].matches(gio::IOErrorEnum::TimedOut));
        assert!(started.elapsed() >= Duration::from_millis(900));
        iterate_until(context, || service.n_connections() == 0);
        let mut silent = BufReader::new(silent);
        let mut rest = String::new();
        assert_eq!(
            silent.read_line(&mut rest).unwrap(),
            0,
            "closed by the service"
        );
    })
}

#[test]
fn a_required_client_certificate_refuses_clients_without_one_and_serves_those_with_one() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        service.set_tls_authentication_mode(gio::TlsAuthenticationMode::Required);
        service.set_tls_database(Some(&certificates.database()));

        let without = python_client(context, address, &certificates, &[]);
        assert!(
            run(context, without).is_err(),
            "refused without a certificate"
        );
        iterate_until(context, || errors.len() == 1);

        let (cert, key) = (
            certificates.path("client.pem"),
            certificates.path("client.key"),
        );
        let with = python_client(context, address, &certificates, &["--cert", &cert, &key]);
        assert_eq!(run(context, with).expect("served")[0], "hello");
        assert_eq!(errors.len(), 1);
    })
}

#[test]
fn accept_certificate_lets_the_application_judge_an_unknown_client_certificate() {
    let certificates = Certificates::new();
    let strangers = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        service.set_tls_authentication_mode(gio::TlsAuthenticationMode::Required);
        service.set_tls_database(Some(&certificates.database()));
        let asked = Rc::new(Cell::new(0));
        service.connect_accept_certificate({
            let asked = asked.clone();
            move |_, _, peer_certificate, errors| {
                asked.set(asked.get() + 1);
                assert!(errors.contains(gio::TlsCertificateFlags::UNKNOWN_CA));
                peer_certificate.subject_name().as_deref() == Some("CN=client")
            }
        });
        let (cert, key) = (strangers.path("client.pem"), strangers.path("client.key"));
        let client = python_client(context, address, &certificates, &["--cert", &cert, &key]);
        assert_eq!(
            run(context, client).expect("accepted by the handler")[0],
            "hello"
        );
        assert_eq!((asked.get(), errors.len()), (1, 0));
    })
}

#[test]
fn handshakes_never_block_the_context() {
    const CLIENTS: usize = 40;
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        let ticks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let timer =
            glib::timeout_source_new(Duration::from_millis(10), None, glib::Priority::DEFAULT, {
                let ticks = ticks.clone();
                move || {
                    ticks.lock().unwrap().push(Instant::now());
                    glib::ControlFlow::Continue
                }
            });
        timer.attach(Some(context));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| python_client(context, address, &certificates, &[]))
            .collect();
        iterate_until(context, || clients.iter().all(Client::is_finished));
        timer.destroy();
        for client in clients {
            assert_eq!(client.join().unwrap().expect("served")[0], "hello");
        }
        assert_eq!((service.n_accepted(), errors.len()), (CLIENTS as u64, 0));
        let longest = ticks
            .lock()
            .unwrap()
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap();
        // A handshake done on the context would stall it for its whole length, many times over.
        assert!(
            longest < Duration::from_millis(500),
            "the timer waited {longest:?}"
        );
    })
}

#[test]
fn a_connection_in_its_handshake_counts_toward_max_connections() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, _errors) = tls_echo(&certificates);
        service.set_max_connections(2);
        let silent: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || service.n_accepted() == 2);
        assert_eq!(service.n_connections(), 2);
        // The third waits in the backlog until one of the two ends.
        drain(context);
        assert_eq!(service.n_accepted(), 2);
        service.close_connections();
        drop(silent);
        iterate_until(context, || service.n_accepted() == 3);
    })
}

#[test]
fn a_shutdown_serves_a_client_whose_handshake_had_begun() {
    let certificates = Certificates::new();
    with_context(|context| {
        let (service, address, errors) = tls_echo(&certificates);
        // Accepted, its handshake begun by the service, which waits for its ClientHello.
        let stream = TcpStream::connect(address).unwrap();
        iterate_until(context, || service.n_accepted() == 1);

        let done = Rc::new(Cell::new(false));
        service.shutdown_async(None::<&gio::Cancellable>, {
            let done = done.clone();
            move |result| done.set(result.is_ok())
        });
        drain(context);
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused,
            "no new client once the shutdown begins"
        );

        // Only now does the client say hello: its handshake completes, and it is served.
        let ca = certificates.path("ca.pem");
        let client = spawn_client(context, move || -> Result<String, glib::Error> {
            let socket = gio::Socket::from_fd(std::os::fd::OwnedFd::from(stream))?;
            let connection = socket.connection_factory_create_connection();
            let identity = gio::NetworkAddress::new("localhost", address.port());
            let tls = gio::TlsClientConnection::new(&connection, Some(&identity))?;
            tls.set_database(Some(&gio::TlsFileDatabase::new(ca)?));
            tls.handshake(gio::Cancellable::NONE)?;
            tls.output_stream()
                .write_all(b"after the shutdown\n", gio::Cancellable::NONE)?;
            let input = gio::DataInputStream::new(&tls.input_stream());
            let line = input.read_line_utf8(gio::Cancellable::NONE)?;
            let _ = tls.close(gio::Cancellable::NONE);
            Ok(line.map(String::from).unwrap_or_default())
        });
        assert_eq!(run(context, client).unwrap(), "after the shutdown");
        assert_eq!(errors.len(), 0);
        iterate_until(context, || done.get());
        assert_eq!(service.n_connections(), 0);
    })
}

#[test]
fn closing_a_tls_connection_that_is_still_referenced_ends_its_count() {
    let certificates = Certificates::new();
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_tls_certificate(Some(&certificates.server()));
        let kept = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let kept = kept.clone();
            move |_, connection, _| {
                // Kept alive, so only its close can end its count.
                kept.borrow_mut().push(connection.clone());
                connection.close(gio::Cancellable::NONE).unwrap();
                false
            }
        });
        let address = listen_loopback(&service, None);
        let client = python_client(context, address, &certificates, &[]);
        assert!(run(context, client).is_err(), "closed without an echo");
        iterate_until(context, || {
            kept.borrow().len() == 1 && service.n_connections() == 0
        });
        // A shutdown has nothing left to wait for.
        let done = Rc::new(Cell::new(false));
        service.shutdown_async(None::<&gio::Cancellable>, {
            let done = done.clone();
            move |result| done.set(result.is_ok())
        });
        iterate_until(context, || done.get());
    })
}
