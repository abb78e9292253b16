//! Certificates while serving: chosen by the server name of the client's ClientHello
//! (`tls-certificate-names`, `select-certificate`), loaded from files and reloaded when they
//! change, kept when the new files are bad; tested with Python's `ssl` clients
//! (`tests/sni_client.py`), `openssl s_client` and HAProxy in TLS passthrough, against
//! certificates made once for the test binary by `openssl` (`common::certificates::Named`).

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::balancers::haproxy;
use common::certificates::{Named, sni_client, sni_command};
use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// A TLS echo service on 127.0.0.1, configured by `configure` through its own settings, which
/// records what it hands out and what it refuses. It echoes every line until the client ends.
struct Service {
    service: usher::SocketService,
    address: SocketAddr,
    served: Rc<RefCell<Vec<Served>>>,
    errors: Rc<RefCell<Vec<glib::Error>>>,
}

/// What the service knew of a connection it handed out.
struct Served {
    hello: Option<usher::ClientHello>,
    proxy: Option<usher::ProxyInfo>,
    certificate: Option<gio::TlsCertificate>,
}

impl Service {
    fn new(configure: impl FnOnce(&usher::SocketSettings)) -> Service {
        let service = usher::SocketService::new();
        configure(&service.socket_settings());
        Service::serving(service)
    }

    fn serving(service: usher::SocketService) -> Service {
        let served = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let served = served.clone();
            move |_, connection, _| {
                let tls = connection
                    .downcast_ref::<gio::TcpWrapperConnection>()
                    .and_then(|wrapper| {
                        wrapper
                            .base_io_stream()
                            .downcast::<gio::TlsConnection>()
                            .ok()
                    });
                served.borrow_mut().push(Served {
                    hello: usher::ClientHello::for_connection(connection),
                    proxy: usher::ProxyInfo::for_connection(connection),
                    certificate: tls.and_then(|tls| tls.certificate()),
                });
                echo_lines(connection);
                false
            }
        });
        let errors = accept_errors(&service);
        let address = listen_loopback(&service, None);
        Service {
            service,
            address,
            served,
            errors,
        }
    }

    fn settings(&self) -> usher::SocketSettings {
        self.service.socket_settings()
    }

    fn server_names(&self) -> Vec<Option<String>> {
        self.served
            .borrow()
            .iter()
            .map(|served| served.hello.as_ref().and_then(|hello| hello.server_name()))
            .collect()
    }

    fn assert_no_errors(&self) {
        let errors = self.errors.borrow();
        assert!(
            errors.is_empty(),
            "{:?}",
            errors
                .iter()
                .map(|e| e.message().to_owned())
                .collect::<Vec<_>>()
        );
    }
}

/// The lines of `sni_client.py ARGS…` against `address`, which must succeed.
fn client(context: &glib::MainContext, address: SocketAddr, args: &[&str]) -> Vec<String> {
    let client = sni_client(context, address, args);
    iterate_until(context, || client.is_finished());
    client.join().unwrap().expect("the TLS clients")
}

/// What `sni_client.py` prints for a connection served the certificate `stem`, whose echo was
/// `echo`.
fn line(stem: &str, echo: &str) -> String {
    let certificates = Named::get();
    let (_, name, _) = common::certificates::NAMED
        .iter()
        .find(|(file, _, _)| *file == stem)
        .unwrap();
    format!("{} {name} {echo}", certificates.serial(stem))
}

/// A directory for the certificate files a test changes, with `stem`'s certificate and key in
/// one file there, `cert.pem`.
fn watched_directory(stem: &str) -> (Scratch, PathBuf) {
    let scratch = Scratch::new("certificates");
    let file = scratch.0.join("cert.pem");
    std::fs::copy(Named::get().path(&format!("{stem}.both.pem")), &file).unwrap();
    (scratch, file)
}

/// Replaces `file` with `bytes` as certificate tools do: written beside it, renamed over it.
fn replace_by_rename(file: &Path, bytes: &[u8]) {
    let temporary = file.with_extension("tmp");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, file).unwrap();
}

fn both(stem: &str) -> Vec<u8> {
    std::fs::read(Named::get().path(&format!("{stem}.both.pem"))).unwrap()
}

/// Counts the notifications of `property` of `settings`.
fn notifications(settings: &usher::SocketSettings, property: &str) -> Rc<Cell<u32>> {
    let count = Rc::new(Cell::new(0));
    settings.connect_notify_local(Some(property), {
        let count = count.clone();
        move |_, _| count.set(count.get() + 1)
    });
    count
}

/// The reload failures `settings` reports: the file, and the error.
fn reload_failures(settings: &usher::SocketSettings) -> Rc<RefCell<Vec<(String, glib::Error)>>> {
    let failures = Rc::new(RefCell::new(Vec::new()));
    settings.connect_tls_certificate_reload_failed({
        let failures = failures.clone();
        move |_, file, error| failures.borrow_mut().push((file.to_owned(), error.clone()))
    });
    failures
}

/// Names `a.test`, `b.test` (from its files) and `*.wild.test` (from one file with its key),
/// and `default` for the others.
fn configure_names(settings: &usher::SocketSettings) {
    let certificates = Named::get();
    settings.set_tls_certificate(Some(&certificates.certificate("default")));
    settings
        .set_tls_certificate_for_name("a.test", Some(&certificates.certificate("a")))
        .unwrap();
    settings
        .set_tls_certificate_files_for_name(
            "B.Test.",
            certificates.path("b.pem"),
            Some(&certificates.path("b.key")),
        )
        .unwrap();
    settings
        .set_tls_certificate_files_for_name("*.wild.test", certificates.path("wild.both.pem"), None)
        .unwrap();
}

/// Has `sni_client.py OPTIONS…` ask `address` (the service's, or a balancer's in front of it)
/// for a name of each kind [`configure_names`] configures, one connection each: a name of its
/// own, one from its files, one its wildcard matches, and none. Asserts that each was served the
/// certificate of its name (none: the default), and that the service was told those names
/// (its first connections).
fn assert_each_name_served(
    context: &glib::MainContext,
    service: &Service,
    address: SocketAddr,
    options: &[&str],
) {
    let names = ["a.test", "b.test", "x.wild.test", "-"];
    let args: Vec<&str> = options
        .iter()
        .copied()
        .chain(names.iter().flat_map(|name| ["--name", name]))
        .collect();
    assert_eq!(
        client(context, address, &args),
        [
            line("a", "hello a.test"),
            line("b", "hello b.test"),
            line("wild", "hello x.wild.test"),
            line("default", "hello -"),
        ]
    );
    // What the application is told of each connection.
    assert_eq!(
        service.server_names(),
        [
            Some("a.test".into()),
            Some("b.test".into()),
            Some("x.wild.test".into()),
            None
        ]
    );
}

#[test]
fn python_clients_are_served_the_certificate_of_the_name_they_ask_for() {
    with_context(|context| {
        let service = Service::new(configure_names);
        assert_eq!(
            service.settings().tls_certificate_names(),
            glib::StrV::from(["a.test", "b.test", "*.wild.test"])
        );
        assert_each_name_served(
            context,
            &service,
            service.address,
            &["--alpn", "h2,http/1.1"],
        );
        for served in service.served.borrow().iter() {
            let hello = served.hello.as_ref().unwrap();
            assert_eq!(hello.alpn_protocols(), glib::StrV::from(["h2", "http/1.1"]));
            assert!(served.certificate.is_some());
        }
        // A name of its own comes first, a wildcard is one label, and the default serves the
        // others: their names are not checked by these clients.
        let lines = client(
            context,
            service.address,
            &[
                "--no-check",
                "--name",
                "c.test",
                "--name",
                "y.x.wild.test",
                "--name",
                "wild.test",
            ],
        );
        assert_eq!(
            lines,
            [
                line("default", "hello c.test"),
                line("default", "hello y.x.wild.test"),
                line("default", "hello wild.test"),
            ]
        );
        service.assert_no_errors();
        // The settings answer as the service serves.
        let settings = service.settings();
        let serial =
            |certificate: Option<gio::TlsCertificate>| certificate.map(|c| c.subject_name());
        assert_eq!(
            serial(settings.tls_certificate_for_name(Some("Z.Wild.Test"))),
            Some(Some("CN=*.wild.test".into()))
        );
        assert_eq!(
            serial(settings.tls_certificate_for_name(None)),
            Some(Some("CN=default.test".into()))
        );
    })
}

#[test]
fn openssl_s_client_is_served_the_certificate_of_its_server_name() {
    with_context(|context| {
        let service = Service::new(configure_names);
        let address = service.address;
        let ca = Named::get().ca();
        // `-servername NAME`, and `-noservername`: the certificate it was served, as `openssl
        // x509` reads it.
        let client = spawn_client(context, move || {
            [Some("a.test"), Some("x.wild.test"), None].map(|name| {
                let mut command = Command::new("openssl");
                command
                    .args(["s_client", "-CAfile", &ca, "-connect", &address.to_string()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null());
                match name {
                    Some(name) => command.args(["-servername", name, "-verify_return_error"]),
                    None => command.arg("-noservername"),
                };
                let mut child = command.spawn().expect("openssl");
                child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
                let mut output = String::new();
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut output)
                    .unwrap();
                child.wait().unwrap();
                let mut x509 = Command::new("openssl")
                    .args(["x509", "-noout", "-serial", "-subject"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                x509.stdin
                    .take()
                    .unwrap()
                    .write_all(output.as_bytes())
                    .unwrap();
                let out = x509.wait_with_output().unwrap();
                // OpenSSL 3.0 writes `CN = a.test`, 3.5 `CN=a.test`.
                String::from_utf8_lossy(&out.stdout).replace(" = ", "=")
            })
        });
        iterate_until(context, || client.is_finished());
        let [a, wild, none] = client.join().unwrap();
        assert_eq!(a, "serial=A1\nsubject=CN=a.test\n");
        assert_eq!(wild, "serial=C1\nsubject=CN=*.wild.test\n");
        assert_eq!(none, "serial=D1\nsubject=CN=default.test\n");
        assert_eq!(
            service.server_names(),
            [Some("a.test".into()), Some("x.wild.test".into()), None]
        );
        service.assert_no_errors();
    })
}

#[test]
fn a_socket_with_a_certificate_of_its_own_is_not_served_its_services_names() {
    with_context(|context| {
        let certificates = Named::get();
        let service = Service::new(configure_names);
        let own = usher::SocketSettings::new();
        own.set_tls_certificate(Some(&certificates.certificate("late")));
        let other = listen_with(&service.service, &own);
        let lines = client(context, other, &["--no-check", "--name", "a.test"]);
        assert_eq!(lines, [line("late", "hello a.test")]);
        assert!(
            service.served.borrow()[0].hello.is_none(),
            "one certificate: no peek"
        );
        // Names of its own, with the service's default unset there: none for the others.
        own.set_tls_certificate(None::<&gio::TlsCertificate>);
        own.set_tls_certificate_for_name("late.test", Some(&certificates.certificate("late")))
            .unwrap();
        let lines = client(context, other, &["--name", "late.test"]);
        assert_eq!(lines, [line("late", "hello late.test")]);
        let refused = sni_client(context, other, &["--name", "-"]);
        iterate_until(context, || refused.is_finished());
        assert!(refused.join().unwrap().is_err());
        let errors = service.errors.borrow();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message().contains(
                "no certificate for a client that asks for no server name (tls-certificate-names), \
                 and no tls-certificate"
            ),
            "{}",
            errors[0].message()
        );
    })
}

#[test]
fn select_certificate_chooses_for_names_learned_at_run_time() {
    with_context(|context| {
        let certificates = Named::get();
        let service = usher::SocketService::new();
        // One certificate, no names: the handler alone has the ClientHello read.
        service.set_tls_certificate(Some(&certificates.certificate("default")));
        let asked = Rc::new(RefCell::new(Vec::new()));
        service.connect_select_certificate({
            let asked = asked.clone();
            let late = certificates.certificate("late");
            move |_, connection, hello| {
                assert!(connection.remote_address().is_ok());
                asked.borrow_mut().push(hello.server_name());
                (hello.server_name().as_deref() == Some("late.test")).then(|| late.clone())
            }
        });
        let service = Service::serving(service);
        let lines = client(
            context,
            service.address,
            &["--no-check", "--name", "late.test", "--name", "a.test"],
        );
        assert_eq!(
            lines,
            [
                line("late", "hello late.test"),
                line("default", "hello a.test")
            ]
        );
        assert_eq!(
            *asked.borrow(),
            [Some("late.test".to_owned()), Some("a.test".to_owned())]
        );
        assert_eq!(service.server_names().len(), 2);
        service.assert_no_errors();
    })
}

#[test]
fn a_client_hello_split_across_records_and_segments_is_put_together() {
    with_context(|context| {
        let service = Service::new(configure_names);
        // Records of 100 bytes of handshake data; 150 bytes sent, then the rest once the
        // service has looked at them.
        let mut child = sni_command(
            service.address,
            &[
                "--name",
                "b.test",
                "--split-records",
                "100",
                "--pause-after",
                "150",
            ],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let mut child = Reaped(child);
        assert_eq!(wait_for_line(&lines, "paused"), "paused");
        iterate_until(context, || service.service.n_accepted() == 1);
        drain(context);
        assert!(service.served.borrow().is_empty());
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let done = spawn_client(context, move || {
            let line = lines.recv_timeout(DEADLINE).unwrap();
            child.wait().unwrap();
            line
        });
        iterate_until(context, || done.is_finished());
        assert_eq!(done.join().unwrap(), line("b", "hello b.test"));
        assert_eq!(service.server_names(), [Some("b.test".into())]);
        service.assert_no_errors();
    })
}

#[test]
fn a_malformed_plaintext_or_slow_client_hello_is_refused_with_a_reason() {
    with_context(|context| {
        let service = Service::new(configure_names);
        service.settings().set_tls_handshake_timeout(1);
        let address = service.address;
        let send = |bytes: &'static [u8], leave: bool| {
            let client = spawn_client(context, move || {
                let mut stream = TcpStream::connect(address).unwrap();
                stream.write_all(bytes).unwrap();
                if leave {
                    stream.shutdown(std::net::Shutdown::Write).unwrap();
                }
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
                rest
            });
            iterate_until(context, || client.is_finished());
            assert!(client.join().unwrap().is_empty(), "closed without a word");
        };
        send(b"GET / HTTP/1.0\r\n\r\n", false);
        // A handshake record whose message is a ServerHello.
        send(&[22, 3, 1, 0, 8, 2, 0, 0, 4, 3, 3, 0, 0], false);
        // Half a ClientHello, then the client leaves.
        send(&[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3], true);
        // Half a ClientHello, and nothing more until the deadline.
        let silent = TcpStream::connect(address).unwrap();
        (&silent).write_all(&[22, 3, 1, 0, 200]).unwrap();
        let started = Instant::now();
        iterate_until(context, || service.errors.borrow().len() == 4);
        assert!(started.elapsed() >= Duration::from_millis(900));
        let errors = service.errors.borrow();
        let messages: Vec<&str> = errors.iter().map(|error| error.message()).collect();
        assert!(errors[0].matches(gio::TlsError::NotTls), "{messages:?}");
        assert_eq!(
            messages[0],
            "Refused a connection from 127.0.0.1: Not a TLS handshake: the connection starts \
             with byte 0x47 ('G')"
        );
        assert!(errors[1].matches(gio::IOErrorEnum::InvalidData));
        assert_eq!(
            messages[1],
            "Refused a connection from 127.0.0.1: TLS ClientHello: the first handshake message \
             is of type 2, not a ClientHello (1)"
        );
        assert!(
            errors[2].matches(gio::IOErrorEnum::BrokenPipe),
            "{messages:?}"
        );
        assert!(messages[2].contains("closed in its TLS ClientHello, after 11 bytes"));
        assert!(errors[3].matches(gio::IOErrorEnum::TimedOut));
        assert!(messages[3].contains("timed out after 1 s, in its ClientHello (5 bytes)"));
        assert_eq!(service.service.n_accept_errors(), 4);
        assert!(service.served.borrow().is_empty());
    })
}

#[test]
fn a_client_hello_being_read_counts_toward_the_handshakes_of_its_peer() {
    with_context(|context| {
        let service = Service::new(configure_names);
        service.settings().set_tls_handshakes_per_peer(1);
        // Half a ClientHello holds the peer's one handshake…
        let holder = TcpStream::connect(service.address).unwrap();
        (&holder).write_all(&[22, 3, 1, 0, 200]).unwrap();
        iterate_until(context, || service.service.n_accepted() == 1);
        drain(context);
        // …so the next is refused before anything is spent on it, and served once it is gone.
        let refused = sni_client(context, service.address, &["--name", "a.test"]);
        iterate_until(context, || refused.is_finished());
        assert!(refused.join().unwrap().is_err());
        assert_eq!(
            service.service.n_refused(usher::Refusal::HandshakesPerPeer),
            1
        );
        drop(holder);
        iterate_until(context, || service.errors.borrow().len() == 2);
        assert_eq!(
            client(context, service.address, &["--name", "a.test"]),
            [line("a", "hello a.test")]
        );
    })
}

#[test]
fn a_certificate_replaced_by_a_rename_serves_from_the_next_handshake_and_none_fails() {
    with_context(|context| {
        let (_scratch, file) = watched_directory("default");
        let service = Service::new(|settings| {
            settings.set_tls_certificate_files(&file, None).unwrap();
        });
        let settings = service.settings();
        assert_eq!(settings.tls_certificate_file().as_deref(), file.to_str());
        assert_eq!(settings.tls_key_file(), None);
        let swapped = notifications(&settings, "tls-certificate");
        let failures = reload_failures(&settings);
        // Clients one after another, without a pause, until 20 were served the new one.
        let until = format!("{}:20", Named::get().serial("default2"));
        let clients = sni_client(context, service.address, &["--until", &until]);
        iterate_until(context, || service.service.n_accepted() >= 20);
        let renamed = Instant::now();
        replace_by_rename(&file, &both("default2"));
        iterate_until(context, || swapped.get() == 1);
        let latency = renamed.elapsed();
        iterate_until(context, || clients.is_finished());
        let lines = clients.join().unwrap().expect("no handshake failed");
        eprintln!(
            "swapped {latency:?} after the rename, {} handshakes in all",
            lines.len()
        );
        let old = line("default", "hello");
        let new = line("default2", "hello");
        let first_new = lines.iter().position(|line| *line == new).unwrap();
        assert!(first_new >= 20, "the old certificate served first");
        assert!(
            lines[..first_new].iter().all(|line| *line == old),
            "{lines:?}"
        );
        assert!(
            lines[first_new..].iter().all(|line| *line == new),
            "{lines:?}"
        );
        assert!(failures.borrow().is_empty());
        service.assert_no_errors();
    })
}

#[test]
fn a_half_written_or_mismatched_file_keeps_the_old_certificate_and_is_reported() {
    with_context(|context| {
        let certificates = Named::get();
        let (scratch, file) = watched_directory("default");
        let key_file = scratch.0.join("key.pem");
        std::fs::copy(certificates.path("default.key"), &key_file).unwrap();
        let service = Service::new(|settings| {
            settings
                .set_tls_certificate_files(&file, Some(&key_file))
                .unwrap();
        });
        let settings = service.settings();
        let swapped = notifications(&settings, "tls-certificate");
        let failures = reload_failures(&settings);
        let serves = |stem: &str| {
            assert_eq!(
                client(context, service.address, &["--name", "-"]),
                [line(stem, "hello -")]
            );
        };
        serves("default");

        // Half a certificate.
        let new = std::fs::read(certificates.path("default2.pem")).unwrap();
        replace_by_rename(&file, &new[..new.len() / 2]);
        iterate_until(context, || failures.borrow().len() == 1);
        {
            let failures = failures.borrow();
            let (at_fault, error) = &failures[0];
            assert_eq!(at_fault, file.to_str().unwrap());
            assert!(error.matches(gio::TlsError::BadCertificate));
            assert!(
                error.message().contains("cut short in a CERTIFICATE block"),
                "{}",
                error.message()
            );
            assert!(error.message().contains(file.to_str().unwrap()));
        }
        serves("default");

        // The new certificate with the old key: the key file is at fault.
        replace_by_rename(&file, &new);
        iterate_until(context, || failures.borrow().len() == 2);
        {
            let failures = failures.borrow();
            let (at_fault, error) = &failures[1];
            assert_eq!(at_fault, key_file.to_str().unwrap());
            assert!(
                error.message().contains("does not match the certificate"),
                "{}",
                error.message()
            );
        }
        serves("default");

        // Not text at all, in the key's place.
        replace_by_rename(&key_file, &[0xff, 0xfe, 0, 1]);
        iterate_until(context, || failures.borrow().len() == 3);
        assert!(failures.borrow()[2].1.message().contains("not a PEM file"));
        serves("default");
        assert_eq!(swapped.get(), 0);

        // The next good write is taken.
        replace_by_rename(
            &key_file,
            &std::fs::read(certificates.path("default2.key")).unwrap(),
        );
        iterate_until(context, || swapped.get() == 1);
        serves("default2");
        assert_eq!(failures.borrow().len(), 3);
        // An explicit reload with nothing changed changes nothing.
        settings.reload_tls_certificates().unwrap();
        assert_eq!(swapped.get(), 1);
        service.assert_no_errors();
    })
}

#[test]
fn an_explicit_reload_reports_a_bad_file_and_keeps_the_old_certificate() {
    with_context(|context| {
        let (_scratch, file) = watched_directory("a");
        let service = Service::new(|settings| {
            settings.set_tls_certificate(Some(&Named::get().certificate("default")));
            settings
                .set_tls_certificate_files_for_name("a.test", &file, None)
                .unwrap();
        });
        let settings = service.settings();
        let names_changed = notifications(&settings, "tls-certificate-names");
        // Written in place, in two writes: a watcher may see the first alone.
        let new = both("a2");
        std::fs::write(&file, &new[..100]).unwrap();
        let error = settings.reload_tls_certificates().unwrap_err();
        assert!(error.message().contains("cut short"), "{}", error.message());
        assert_eq!(
            client(context, service.address, &["--name", "a.test"]),
            [line("a", "hello a.test")]
        );
        std::fs::write(&file, &new).unwrap();
        settings.reload_tls_certificates().unwrap();
        assert!(names_changed.get() >= 1);
        assert_eq!(
            client(context, service.address, &["--name", "a.test"]),
            [line("a2", "hello a.test")]
        );
        // Files that never make a certificate are refused at once, and change nothing.
        let error = settings
            .set_tls_certificate_files_for_name("b.test", "/nonexistent/cert.pem", None)
            .unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::NotFound));
        assert_eq!(
            settings.tls_certificate_names(),
            glib::StrV::from(["a.test"])
        );
        let error = settings
            .set_tls_certificate_for_name("*.*.test", None)
            .unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::InvalidArgument));
        service.assert_no_errors();
    })
}

#[test]
fn a_connection_made_before_a_swap_keeps_working_after_it() {
    with_context(|context| {
        let (_scratch, file) = watched_directory("default");
        let service = Service::new(|settings| {
            settings.set_tls_certificate_files(&file, None).unwrap();
        });
        let swapped = notifications(&service.settings(), "tls-certificate");
        let mut child = sni_command(service.address, &["--interactive"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let child = Reaped(child);
        // Writes a line to the held connection and reads its echo, while the context runs.
        let say = |stdin: std::process::ChildStdin,
                   lines: std::sync::mpsc::Receiver<String>,
                   text: &'static str| {
            let step = spawn_client(context, move || {
                let mut stdin = stdin;
                stdin.write_all(format!("{text}\n").as_bytes()).unwrap();
                let echo = lines.recv_timeout(DEADLINE).unwrap();
                (stdin, lines, echo)
            });
            iterate_until(context, || step.is_finished());
            step.join().unwrap()
        };
        let first = spawn_client(context, move || {
            let line = lines.recv_timeout(DEADLINE).unwrap();
            (lines, line)
        });
        iterate_until(context, || first.is_finished());
        let (lines, described) = first.join().unwrap();
        assert_eq!(described, line("default", "").trim_end());
        let (stdin, lines, echo) = say(stdin, lines, "before");
        assert_eq!(echo, "before");

        replace_by_rename(&file, &both("default2"));
        iterate_until(context, || swapped.get() == 1);
        assert_eq!(
            client(context, service.address, &["--name", "-"]),
            [line("default2", "hello -")]
        );
        let (stdin, _lines, echo) = say(stdin, lines, "after");
        assert_eq!(
            echo, "after",
            "the connection made before the swap still works"
        );
        drop(stdin);
        drop(child);
        service.assert_no_errors();
    })
}

#[test]
fn changing_tls_certificate_while_serving_applies_to_the_next_handshake() {
    with_context(|context| {
        let certificates = Named::get();
        let service = Service::new(|settings| {
            settings.set_tls_certificate(Some(&certificates.certificate("default")));
        });
        assert_eq!(
            client(context, service.address, &["--name", "-"]),
            [line("default", "hello -")]
        );
        service
            .service
            .set_tls_certificate(Some(&certificates.certificate("default2")));
        assert_eq!(
            client(context, service.address, &["--name", "-"]),
            [line("default2", "hello -")]
        );
        service.assert_no_errors();
    })
}

#[test]
fn through_haproxy_in_tls_passthrough_with_a_proxy_v2_header() {
    with_context(|context| {
        let (_scratch, file) = watched_directory("default");
        let service = Service::new(|settings| {
            configure_names(settings);
            settings.set_tls_certificate_files(&file, None).unwrap();
            settings
                .try_set_proxy_protocol_peers(&["127.0.0.1"])
                .unwrap();
        });
        let balancer = haproxy(service.address, "send-proxy-v2");
        assert_each_name_served(context, &service, balancer.frontend, &[]);
        assert!(
            service
                .served
                .borrow()
                .iter()
                .all(|served| served.proxy.is_some())
        );
        // A swap of the default, through the balancer.
        let swapped = notifications(&service.settings(), "tls-certificate");
        replace_by_rename(&file, &both("default2"));
        iterate_until(context, || swapped.get() == 1);
        assert_eq!(
            client(
                context,
                balancer.frontend,
                &["--name", "-", "--name", "a.test"]
            ),
            [line("default2", "hello -"), line("a", "hello a.test")]
        );
        service.assert_no_errors();
    })
}
