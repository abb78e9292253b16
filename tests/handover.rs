//! The handover of listening sockets to a successor, in this process's service: the successor
//! is another service of this process, or `tests/handover_peer.py`, a stand-in that says ready,
//! exits first, refuses, or runs as another user.

mod common;

use std::cell::RefCell;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;

use common::*;
use gio::prelude::*;
use usher::prelude::*;

const PEER: &str = include_str!("handover_peer.py");

/// A handover address no other test uses: an abstract name.
fn rendezvous(test: &str) -> (String, gio::UnixSocketAddress) {
    let name = format!("usher-test-{test}-{}", std::process::id());
    let address = gio::UnixSocketAddress::with_type(gio::prelude::UnixSocketAddressPath::Abstract(
        name.as_bytes(),
    ));
    (name, address)
}

/// Runs the stand-in successor; `as_nobody` runs it as user 65534.
fn successor(name: &str, mode: &str, as_nobody: bool) -> Reaped {
    let mut command = if as_nobody {
        let mut command = Command::new("setpriv");
        command.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
        ]);
        command
    } else {
        Command::new("/usr/bin/python3")
    };
    command
        .args(["-c", PEER, "successor", name, mode])
        .stdout(Stdio::piped());
    Reaped(command.spawn().expect("python3 runs"))
}

/// Makes `service` listen at `address` (`None`: a free port of 127.0.0.1) in a socket named
/// `name`; returns the address it listens at.
fn listen_named(
    service: &usher::SocketService,
    address: Option<&gio::SocketAddress>,
    name: &str,
) -> gio::SocketAddress {
    let settings = usher::SocketSettings::new();
    settings.set_name(Some(name));
    let any = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
    let (address, protocol) = match address {
        Some(address) => (address.clone(), gio::SocketProtocol::Default),
        None => (any.upcast(), gio::SocketProtocol::Tcp),
    };
    service
        .add_address_with_settings(
            &address,
            gio::SocketType::Stream,
            protocol,
            None::<&glib::Object>,
            Some(&settings),
        )
        .unwrap()
}

/// The port a [`listen_named()`] socket of 127.0.0.1 listens on.
fn port_of(address: gio::SocketAddress) -> u16 {
    address.downcast::<gio::InetSocketAddress>().unwrap().port()
}

/// An echo service on 127.0.0.1 (socket name `web`) and at `path` (`local`).
fn echo_service(path: &Path) -> (usher::SocketService, std::net::SocketAddr) {
    let service = usher::SocketService::new();
    serve_echo(&service);
    let port = port_of(listen_named(&service, None, "web"));
    listen_named(
        &service,
        Some(&gio::UnixSocketAddress::new(path).upcast()),
        "local",
    );
    (service, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Runs `future` on `context` to its end.
fn run<T: 'static>(
    context: &glib::MainContext,
    future: impl std::future::Future<Output = T> + 'static,
) -> T {
    let result = Rc::new(RefCell::new(None));
    context.spawn_local({
        let result = result.clone();
        async move {
            *result.borrow_mut() = Some(future.await);
        }
    });
    iterate_until(context, || result.borrow().is_some());
    result.take().unwrap()
}

fn say_unix(context: &glib::MainContext, path: &Path, line: &str) -> String {
    let (path, line) = (path.to_owned(), line.to_owned());
    let client = spawn_client(context, move || {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        reply
    });
    iterate_until(context, || client.is_finished());
    client.join().unwrap()
}

fn output_of(mut child: Reaped) -> String {
    let mut output = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut output).unwrap();
    child.wait().unwrap();
    output
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn the_sockets_and_the_socket_file_go_to_a_successor_that_says_ready() {
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let path = scratch.0.join("echo.sock");
        let (service, address) = echo_service(&path);
        let (name, rendezvous) = rendezvous("ready");
        let handover = service.hand_over_future(&rendezvous);
        let peer = successor(&name, "ready", false);
        let handed = run(context, handover).unwrap();
        assert_eq!(handed, 2);
        let file = std::fs::metadata(&path).unwrap();
        let expected = format!(
            "received 2 descriptors, 2 listening: b'usher-handover 1 2\\n- web\\n{}:{} local\\n'",
            std::os::unix::fs::MetadataExt::dev(&file),
            std::os::unix::fs::MetadataExt::ino(&file),
        );
        assert_eq!(output_of(peer).trim(), expected);
        // Served until shut down, then the file is left to the successor.
        assert_echoed(context, address, "still here");
        run(context, service.shutdown_future()).unwrap();
        assert!(path.exists(), "the successor's file is never removed here");
    })
}

#[test]
fn a_successor_that_exits_before_it_is_ready_leaves_the_predecessor_serving() {
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let path = scratch.0.join("echo.sock");
        let (service, address) = echo_service(&path);
        let (name, rendezvous) = rendezvous("exit");
        let handover = service.hand_over_future(&rendezvous);
        let peer = successor(&name, "exit", false);
        let error = run(context, handover).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::BrokenPipe), "{error}");
        assert!(error.message().contains("before it was ready"), "{error}");
        assert!(output_of(peer).starts_with("received 2 descriptors"));
        assert!(service.is_active());
        assert_echoed(context, address, "serving on");
        assert_eq!(say_unix(context, &path, "and here"), "and here\n");
        // Its own file still: removed when the service lets go of it.
        run(context, service.shutdown_future()).unwrap();
        assert!(!path.exists());
    })
}

#[test]
fn a_successor_that_refuses_is_reported_and_the_predecessor_serves_on() {
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let (service, address) = echo_service(&scratch.0.join("echo.sock"));
        let (name, rendezvous) = rendezvous("refuse");
        let handover = service.hand_over_future(&rendezvous);
        let peer = successor(&name, "refuse", false);
        let error = run(context, handover).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::Failed), "{error}");
        assert!(
            error.message().ends_with("refused the sockets: not today"),
            "{error}"
        );
        output_of(peer);
        assert_echoed(context, address, "serving on");
    })
}

#[test]
fn a_successor_of_another_user_gets_nothing_and_the_right_one_comes_after() {
    if !is_root() {
        eprintln!("skipped: only root can run a successor as another user");
        return;
    }
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let (service, _) = echo_service(&scratch.0.join("echo.sock"));
        let (name, rendezvous) = rendezvous("nobody");
        let handed = Rc::new(RefCell::new(None));
        context.spawn_local({
            let (handover, handed) = (service.hand_over_future(&rendezvous), handed.clone());
            async move { *handed.borrow_mut() = Some(handover.await) }
        });
        // Each refusal of another user's process is counted; only the first is a warning,
        // so that such processes cannot flood the log.
        let warnings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handler = glib::log_set_handler(
            Some("Usher"),
            glib::LogLevels::LEVEL_WARNING,
            false,
            false,
            {
                let warnings = warnings.clone();
                move |_, _, message| {
                    if message.starts_with("Handover refused") {
                        warnings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            },
        );
        for _ in 0..3 {
            let intruder = successor(&name, "ready", true);
            let intruder = spawn_client(context, move || output_of(intruder));
            iterate_until(context, || intruder.is_finished());
            assert_eq!(
                intruder.join().unwrap().trim(),
                "received 0 descriptors, 0 listening: b''"
            );
        }
        assert!(handed.borrow().is_none(), "still waiting for the successor");
        let peer = successor(&name, "ready", false);
        iterate_until(context, || handed.borrow().is_some());
        assert_eq!(handed.take().unwrap().unwrap(), 2);
        output_of(peer);
        glib::log_remove_handler(Some("Usher"), handler);
        assert_eq!(
            warnings.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "one warning for three refusals"
        );
    })
}

#[test]
fn a_service_takes_over_from_another_and_owns_the_file_after() {
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let path = scratch.0.join("echo.sock");
        let (predecessor, address) = echo_service(&path);
        let (_, rendezvous) = rendezvous("service");
        let handover = predecessor.hand_over_future(&rendezvous);
        let names = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop, stop_here) = std::sync::mpsc::channel::<()>();
        let successor = std::thread::spawn({
            let names = names.clone();
            move || {
                with_context(|context| {
                    let service = usher::SocketService::new();
                    serve_echo(&service);
                    let added = service
                        .take_over(
                            &rendezvous,
                            |name| {
                                names.lock().unwrap().push(name.to_owned());
                                Some(tag())
                            },
                            gio::Cancellable::NONE,
                        )
                        .unwrap();
                    // Its context runs: it says it is ready, and serves.
                    while stop_here.try_recv().is_err() {
                        context.iteration(false);
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    service.close();
                    drain(context);
                    added
                })
            }
        });
        assert_eq!(run(context, handover).unwrap(), 2);
        assert_eq!(*names.lock().unwrap(), ["web", "local"]);
        run(context, predecessor.shutdown_future()).unwrap();
        // The successor alone serves now, on both.
        let client = spawn_client(context, move || echo_line(address, "successor"));
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), "successor\n");
        assert_eq!(say_unix(context, &path, "unix"), "unix\n");
        assert!(path.exists());
        stop.send(()).unwrap();
        assert_eq!(successor.join().unwrap(), 2);
        // The successor's file now: it removed it when it let go of the socket.
        assert!(!path.exists());
    })
}

#[test]
fn bad_addresses_and_a_service_without_sockets_are_refused() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let inet = gio::InetSocketAddress::from_string("127.0.0.1", 1).unwrap();
        let error = run(context, service.hand_over_future(&inet)).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::InvalidArgument), "{error}");
        let error = service
            .take_over(&inet, |_| None, gio::Cancellable::NONE)
            .unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::InvalidArgument), "{error}");

        let (name, address) = rendezvous("empty");
        let handover = service.hand_over_future(&address);
        let peer = successor(&name, "ready", false);
        let error = run(context, handover).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::NotFound), "{error}");
        assert_eq!(
            output_of(peer).trim(),
            "received 0 descriptors, 0 listening: b''"
        );

        // Nobody at the address.
        let (_, nobody) = rendezvous("nobody-there");
        let error = service
            .take_over(&nobody, |_| None, gio::Cancellable::NONE)
            .unwrap_err();
        assert!(
            error.matches(gio::IOErrorEnum::ConnectionRefused),
            "{error}"
        );
    })
}

#[test]
fn a_socket_goes_by_its_settings_name_else_its_services_else_unknown() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let named = usher::SocketSettings::new();
        named.set_name(Some("mine"));
        let any = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
        let add = |settings: Option<&usher::SocketSettings>| {
            service
                .add_address_with_settings(
                    &any,
                    gio::SocketType::Stream,
                    gio::SocketProtocol::Tcp,
                    None::<&glib::Object>,
                    settings,
                )
                .unwrap();
        };
        add(Some(&named));
        add(None);
        // Set to none: no name, whatever the service's.
        let unnamed = usher::SocketSettings::new();
        unnamed.set_name(None::<&str>);
        add(Some(&unnamed));
        // Any name systemd takes: spaces, the empty one.
        for name in ["web admin", ""] {
            let settings = usher::SocketSettings::new();
            settings.set_name(Some(name));
            assert_eq!(settings.name().as_deref(), Some(name));
            add(Some(&settings));
        }
        service.socket_settings().set_name(Some("service"));
        // An invalid name is refused (with a critical), the setting left as it was.
        for invalid in ["not:valid", "tab\t", &"n".repeat(256)] {
            named.set_name(Some(invalid));
            assert_eq!(named.name().as_deref(), Some("mine"));
        }
        assert!(unnamed.is_set("name"));

        let (name, address) = rendezvous("names");
        let handover = service.hand_over_future(&address);
        let peer = successor(&name, "ready", false);
        assert_eq!(run(context, handover).unwrap(), 5);
        assert_eq!(
            output_of(peer).trim(),
            "received 5 descriptors, 5 listening: \
             b'usher-handover 1 5\\n- mine\\n- service\\n- unknown\\n- web admin\\n- \\n'"
        );
    })
}

#[test]
fn any_valid_name_goes_from_service_to_service_and_on() {
    with_context(|context| {
        let predecessor = usher::SocketService::new();
        serve_echo(&predecessor);
        for name in ["web admin", ""] {
            listen_named(&predecessor, None, name);
        }
        let (_, first) = rendezvous("names-first");
        let (second_name, second) = rendezvous("names-second");
        let handover = predecessor.hand_over_future(&first);
        let middle = std::thread::spawn(move || {
            with_context(|context| {
                let service = usher::SocketService::new();
                let mut names = Vec::new();
                let added = service
                    .take_over(
                        &first,
                        |name| {
                            names.push(name.to_owned());
                            None
                        },
                        gio::Cancellable::NONE,
                    )
                    .unwrap();
                // And on, under the same names: a later handover takes them too.
                let handover = service.hand_over_future(&second);
                let peer = successor(&second_name, "ready", false);
                let handed = run(context, handover).unwrap();
                service.close();
                drain(context);
                (added, names, handed, output_of(peer))
            })
        });
        assert_eq!(run(context, handover).unwrap(), 2);
        let (added, names, handed, output) = middle.join().unwrap();
        assert_eq!((added, handed), (2, 2));
        assert_eq!(names, ["web admin", ""]);
        assert_eq!(
            output.trim(),
            "received 2 descriptors, 2 listening: b'usher-handover 1 2\\n- web admin\\n- \\n'"
        );
    })
}

/// A stand-in predecessor (`tests/handover_peer.py`) listening at `path`, to send its `kind`
/// message to the first process that connects, and the lines it prints after "listening".
fn predecessor_at(
    path: &Path,
    kind: &str,
) -> (
    Reaped,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut child = Reaped(
        Command::new("/usr/bin/python3")
            .args(["-c", PEER, "predecessor", path.to_str().unwrap(), kind])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs"),
    );
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "listening");
    (child, lines)
}

#[test]
fn a_stale_rendezvous_file_is_replaced_a_live_one_and_another_file_refused() {
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let (service, _) = echo_service(&scratch.0.join("echo.sock"));
        let path = scratch.0.join("handover.sock");
        let at_path = gio::UnixSocketAddress::new(&path);

        // A file that is not a socket: never touched.
        std::fs::write(&path, "not a socket").unwrap();
        let error = run(context, service.hand_over_future(&at_path)).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::AddressInUse), "{error}");
        assert!(error.message().contains("not a socket"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
        std::fs::remove_file(&path).unwrap();

        // A live predecessor's: refused, and not disturbed (the probe never reaches it): its
        // successor still comes and takes its socket.
        let (mut live, mut lines) = predecessor_at(&path, "honest");
        let error = run(context, service.hand_over_future(&at_path)).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::AddressInUse), "{error}");
        assert!(
            error.message().contains("another server listens"),
            "{error}"
        );
        let taker = usher::SocketService::new();
        let added = taker
            .take_over(
                &at_path,
                |name| {
                    assert_eq!(name, "web");
                    None
                },
                gio::Cancellable::NONE,
            )
            .unwrap();
        assert_eq!(added, 1);
        drain(context);
        let answer = lines.by_ref().map(Result::unwrap).last().unwrap();
        assert_eq!(answer, "answer: b'ready\\n'");
        assert!(live.wait().unwrap().success());
        taker.close();
        drain(context);

        // A predecessor killed (SIGKILL) mid-handover left its file, stale: replaced.
        std::fs::remove_file(&path).unwrap();
        let (mut killed, _) = predecessor_at(&path, "honest");
        killed.kill().unwrap();
        killed.wait().unwrap();
        assert!(path.exists());
        let handover = service.hand_over_future(&at_path);
        let peer = successor(path.to_str().unwrap(), "ready", false);
        assert_eq!(run(context, handover).unwrap(), 2);
        assert!(output_of(peer).starts_with("received 2 descriptors, 2 listening"));
        assert!(
            !path.exists(),
            "the rendezvous's own file is removed when done"
        );
    })
}

#[test]
fn a_successor_closed_by_its_callback_midway_adopts_nothing_and_the_predecessor_serves_on() {
    with_context(|context| {
        let scratch = Scratch::new("handover");
        let path = scratch.0.join("echo.sock");
        // The Unix socket first: once adopted, its file would be the successor's.
        let predecessor = usher::SocketService::new();
        serve_echo(&predecessor);
        listen_named(
            &predecessor,
            Some(&gio::UnixSocketAddress::new(&path).upcast()),
            "local",
        );
        let port = port_of(listen_named(&predecessor, None, "web"));
        let (_, rendezvous) = rendezvous("closed-midway");
        let handover = predecessor.hand_over_future(&rendezvous);
        let successor = std::thread::spawn(move || {
            with_context(|context| {
                let service = usher::SocketService::new();
                let mut names = Vec::new();
                let error = service
                    .take_over(
                        &rendezvous,
                        |name| {
                            names.push(name.to_owned());
                            if name == "web" {
                                service.close();
                            }
                            None
                        },
                        gio::Cancellable::NONE,
                    )
                    .unwrap_err();
                let closed = error.matches(gio::IOErrorEnum::Closed);
                drop(service);
                drain(context);
                (closed, names)
            })
        });
        let error = run(context, handover).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::Failed), "{error}");
        assert!(
            error.message().contains("Listener is already closed"),
            "{error}"
        );
        assert_eq!(
            successor.join().unwrap(),
            (true, vec!["local".to_owned(), "web".to_owned()])
        );
        // Serving on, on both, its file still there.
        assert!(path.exists());
        assert_eq!(say_unix(context, &path, "still mine"), "still mine\n");
        assert_echoed(context, ([127, 0, 0, 1], port).into(), "and here");
    })
}
