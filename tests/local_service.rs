//! Local services: Unix socket files made right (mode, owner and group before the first client,
//! a live path refused, a stale one replaced, only the service's own file removed, abstract
//! names), and peer credentials checked before `incoming`, with clients run as another user.

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// Listens on the Unix socket `path` with `settings`.
fn listen_at(
    service: &usher::SocketService,
    path: &Path,
    settings: Option<&usher::SocketSettings>,
) -> Result<gio::SocketAddress, glib::Error> {
    service.add_address_with_settings(
        &gio::UnixSocketAddress::new(path),
        gio::SocketType::Stream,
        gio::SocketProtocol::Default,
        None::<&glib::Object>,
        settings,
    )
}

/// A Unix-socket echo service, recording its accept errors.
fn echo_service() -> (usher::SocketService, Rc<RefCell<Vec<glib::Error>>>) {
    let service = usher::SocketService::new();
    serve_echo(&service);
    let errors = accept_errors(&service);
    (service, errors)
}

/// Sends `line` to the Unix socket at `path` from a thread, and returns the answer ("" if the
/// service closed the connection).
fn say(context: &glib::MainContext, path: &Path, line: &str) -> String {
    let (path, line) = (path.to_owned(), line.to_owned());
    let client = spawn_client(context, move || {
        let mut stream = UnixStream::connect(&path).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        // A refused client may find the connection closed before it writes (EPIPE).
        let _ = stream.write_all(format!("{line}\n").as_bytes());
        let mut reply = String::new();
        let _ = BufReader::new(stream).read_line(&mut reply);
        reply
    });
    iterate_until(context, || client.is_finished());
    client.join().unwrap()
}

fn is_root() -> bool {
    gio::Credentials::new().unix_user().ok() == Some(0)
}

#[test]
fn the_file_has_its_mode_owner_and_group_before_the_first_client() {
    with_context(|context| {
        let scratch = Scratch::new("local");
        let path = scratch.0.join("service.sock");
        let (service, _) = echo_service();
        let settings = usher::SocketSettings::new();
        settings.set_unix_mode(0o640);
        let other = is_root().then_some(65534);
        if let Some(nobody) = other {
            settings.set_unix_owner(nobody);
            settings.set_unix_group(nobody);
        } else {
            eprintln!("not root: the owner and group are not changed");
        }
        listen_at(&service, &path, Some(&settings)).unwrap();
        let file = std::fs::metadata(&path).unwrap();
        assert_eq!(file.permissions().mode() & 0o7777, 0o640);
        if let Some(nobody) = other {
            assert_eq!((file.uid(), file.gid()), (nobody, nobody));
        }
        assert_eq!(say(context, &path, "hello"), "hello\n");

        // Changed while serving, the file follows.
        settings.set_unix_mode(0o600);
        let _ = say(context, &path, "again");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        // Shut down, the service removes its file.
        service.close();
        drain(context);
        assert!(!path.exists(), "removed on close");
    })
}

#[test]
fn a_live_path_is_refused_and_a_stale_one_replaced() {
    with_context(|context| {
        let scratch = Scratch::new("local");
        let path = scratch.0.join("service.sock");
        let (first, _) = echo_service();
        listen_at(&first, &path, None).unwrap();

        let (second, _) = echo_service();
        let error = listen_at(&second, &path, None).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::AddressInUse), "{error}");
        assert_eq!(
            say(context, &path, "first"),
            "first\n",
            "the first still serves"
        );

        // A regular file is never taken for a stale socket.
        let file = scratch.0.join("not-a-socket");
        std::fs::write(&file, "data").unwrap();
        let error = listen_at(&second, &file, None).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::AddressInUse), "{error}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");

        // A stale socket, left by a process killed with SIGKILL: replaced.
        let stale = scratch.0.join("stale.sock");
        let mut child = Reaped(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "hold_a_unix_socket_until_killed", "--nocapture"])
                .env(HOLD_AT, &stale)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let lines = lines_of(child.stdout.take().unwrap());
        wait_for_line(&lines, "holding");
        let error = listen_at(&second, &stale, None).unwrap_err();
        assert!(
            error.matches(gio::IOErrorEnum::AddressInUse),
            "live: {error}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(stale.exists(), "SIGKILL leaves the file");
        listen_at(&second, &stale, None).expect("the stale socket replaced");
        assert_eq!(say(context, &stale, "second"), "second\n");
    })
}

/// Where the child below listens.
const HOLD_AT: &str = "USHER_TEST_HOLD_AT";

/// Not a test of its own: the process the test above kills, listening until then.
#[test]
fn hold_a_unix_socket_until_killed() {
    let Some(path) = std::env::var_os(HOLD_AT) else {
        return;
    };
    with_context(|context| {
        let (service, _) = echo_service();
        listen_at(&service, Path::new(&path), None).unwrap();
        println!("holding");
        loop {
            context.iteration(true);
        }
    })
}

#[test]
fn a_replaced_file_survives_the_first_services_close() {
    with_context(|context| {
        let scratch = Scratch::new("local");
        let path = scratch.0.join("service.sock");
        let (first, _) = echo_service();
        listen_at(&first, &path, None).unwrap();
        // Another instance takes the path over (its file removed by hand, as a package upgrade
        // might): the first must not remove the second's file.
        std::fs::remove_file(&path).unwrap();
        let (second, _) = echo_service();
        listen_at(&second, &path, None).unwrap();
        let shut_down = Rc::new(std::cell::Cell::new(false));
        first.shutdown_async(gio::Cancellable::NONE, {
            let shut_down = shut_down.clone();
            move |result| shut_down.set(result.is_ok())
        });
        iterate_until(context, || shut_down.get());
        assert!(path.exists(), "the second's file is still there");
        assert_eq!(say(context, &path, "second"), "second\n");
        drop(first);
        drain(context);
        assert!(path.exists());
    })
}

#[test]
fn a_file_swapped_for_a_symlink_is_reported_and_its_target_left_alone() {
    with_context(|_| {
        let scratch = Scratch::new("local");
        let path = scratch.0.join("service.sock");
        let target = scratch.0.join("precious");
        std::fs::write(&target, "secret").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = std::fs::metadata(&target).unwrap();
        let (service, _) = echo_service();
        let settings = usher::SocketSettings::new();
        settings.set_unix_mode(0o640);
        listen_at(&service, &path, Some(&settings)).unwrap();

        // What a user who may write the directory can do between the service's check of the
        // file and its change, here before the change.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let reported = Arc::new(Mutex::new(Vec::new()));
        let handler = glib::log_set_handler(
            Some("Usher"),
            glib::LogLevels::LEVEL_WARNING,
            false,
            false,
            {
                let (reported, path) = (reported.clone(), path.display().to_string());
                move |_, _, message| {
                    if message.contains(&path) {
                        reported.lock().unwrap().push(message.to_owned());
                    }
                }
            },
        );
        // Another setting changes nothing of the file: nothing to check or report.
        settings.set_timeout(5);
        assert!(reported.lock().unwrap().is_empty());
        settings.set_unix_mode(0o666);
        if is_root() {
            settings.set_unix_owner(65534);
            settings.set_unix_group(65534);
        }
        glib::log_remove_handler(Some("Usher"), handler);

        let after = std::fs::metadata(&target).unwrap();
        assert_eq!(after.permissions().mode() & 0o7777, 0o600);
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        let reported = reported.lock().unwrap();
        let expected = if is_root() { 3 } else { 1 };
        assert_eq!(reported.len(), expected, "{reported:?}");
        assert!(
            reported[0].contains("no longer the socket the service made"),
            "{reported:?}"
        );
        // Not the service's file: left where it is.
        drop(service);
        assert!(path.is_symlink());
    })
}

#[test]
fn an_abstract_name_leaves_nothing_on_disk() {
    with_context(|context| {
        let scratch = Scratch::new("local");
        let name = format!("usher-test-{}", std::process::id());
        let address = gio::UnixSocketAddress::with_type(
            gio::prelude::UnixSocketAddressPath::Abstract(name.as_bytes()),
        );
        let (service, _) = echo_service();
        service
            .add_address_with_settings(
                &address,
                gio::SocketType::Stream,
                gio::SocketProtocol::Default,
                None::<&glib::Object>,
                None,
            )
            .unwrap();
        let table = std::fs::read_to_string("/proc/net/unix").unwrap();
        assert!(
            table.contains(&format!("@{name}")),
            "in the abstract namespace"
        );
        let client = spawn_client(context, move || {
            let client = gio::Socket::new(
                gio::SocketFamily::Unix,
                gio::SocketType::Stream,
                gio::SocketProtocol::Default,
            )
            .unwrap();
            SocketExt::connect(&client, &address, gio::Cancellable::NONE).unwrap();
            client.send(b"abstract\n", gio::Cancellable::NONE).unwrap();
            let mut reply = [0u8; 16];
            let read = client.receive(&mut reply, gio::Cancellable::NONE).unwrap();
            String::from_utf8_lossy(&reply[..read]).into_owned()
        });
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), "abstract\n");
        service.close();
        drain(context);
        assert_eq!(std::fs::read_dir(&scratch.0).unwrap().count(), 0);
    })
}

/// Runs `python3` as user and group 65534 (`setpriv`), connecting to the Unix socket `path`,
/// sending a line and printing the answer; its output, or why it could not run.
fn as_nobody(path: &Path) -> Result<String, String> {
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(
            "import socket, sys\n\
             c = socket.socket(socket.AF_UNIX)\n\
             c.connect(sys.argv[1])\n\
             try:\n\
             \x20   c.sendall(b'as nobody\\n')\n\
             \x20   print(repr(c.recv(64).decode()))\n\
             except (BrokenPipeError, ConnectionResetError):\n\
             \x20   print(repr(''))\n",
        )
        .arg(path)
        .output()
        .map_err(|error| error.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[test]
fn another_user_is_refused_by_a_root_only_socket_and_served_on_the_other() {
    if !is_root() {
        eprintln!("skipped: only root can run a client as another user");
        return;
    }
    with_context(|context| {
        let scratch = Scratch::new("local");
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (admin, user) = (scratch.0.join("admin.sock"), scratch.0.join("user.sock"));
        let (service, errors) = echo_service();
        let root_only = usher::SocketSettings::new();
        root_only.try_set_allowed_users(&["root"]).unwrap();
        // The file lets anyone connect: the credentials are what refuses.
        root_only.set_unix_mode(0o666);
        listen_at(&service, &admin, Some(&root_only)).unwrap();
        let anyone = usher::SocketSettings::new();
        anyone.set_unix_mode(0o666);
        listen_at(&service, &user, Some(&anyone)).unwrap();

        let run = |path: PathBuf| {
            let client = spawn_client(context, move || as_nobody(&path));
            iterate_until(context, || client.is_finished());
            client
                .join()
                .unwrap()
                .expect("setpriv runs python3 as nobody")
        };
        assert_eq!(run(admin.clone()), "''", "refused: closed at once");
        assert_eq!(run(user), "'as nobody\\n'");
        let errors = errors.borrow();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].matches(gio::IOErrorEnum::PermissionDenied));
        assert!(errors[0].message().contains("uid 65534"), "{}", errors[0]);
        assert!(errors[0].message().contains("pid "), "{}", errors[0]);
        // Root is let in.
        assert_eq!(say(context, &admin, "root"), "root\n");
    })
}

#[test]
fn accept_credentials_decides_and_the_connection_keeps_its_credentials() {
    with_context(|context| {
        let scratch = Scratch::new("local");
        let path = scratch.0.join("service.sock");
        let (service, errors) = echo_service();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let refuse = Rc::new(std::cell::Cell::new(true));
        service.connect_accept_credentials({
            let (seen, refuse) = (seen.clone(), refuse.clone());
            move |_, connection, credentials| {
                seen.borrow_mut().push(credentials.unix_pid().unwrap());
                assert!(
                    usher::ProxyInfo::for_connection(connection).is_none(),
                    "before anything else"
                );
                !refuse.get()
            }
        });
        let kept = keep_incoming(&service);
        listen_at(&service, &path, None).unwrap();
        assert_eq!(say(context, &path, "refused"), "");
        assert!(errors.borrow()[0].message().contains("accept-credentials"));
        refuse.set(false);
        assert_eq!(say(context, &path, "accepted"), "accepted\n");
        // The test's own client threads: this process.
        assert_eq!(*seen.borrow(), [std::process::id() as i32; 2]);
        let connection = kept.borrow()[0].clone();
        let credentials = usher::SocketService::peer_credentials(&connection).unwrap();
        assert_eq!(credentials.unix_pid().unwrap(), std::process::id() as i32);

        // A TCP connection has none (Linux answers with uid -1).
        let tcp = usher::SocketService::new();
        let tcp_kept = keep_incoming(&tcp);
        let address = listen_loopback(&tcp, None);
        let _client = std::net::TcpStream::connect(address).unwrap();
        iterate_until(context, || tcp_kept.borrow().len() == 1);
        let error = usher::SocketService::peer_credentials(&tcp_kept.borrow()[0]).unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::NotSupported), "{error}");
    })
}

#[test]
fn a_tcp_socket_that_restricts_users_refuses_every_connection() {
    // A policy that cannot be checked fails closed.
    with_context(|context| {
        let (service, errors) = echo_service();
        let settings = usher::SocketSettings::new();
        settings.try_set_allowed_users(&["0"]).unwrap();
        let any_port = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
        let address = service
            .add_address_with_settings(
                &any_port,
                gio::SocketType::Stream,
                gio::SocketProtocol::Tcp,
                None::<&glib::Object>,
                Some(&settings),
            )
            .unwrap()
            .downcast::<gio::InetSocketAddress>()
            .unwrap();
        let port = address.port();
        let client = spawn_client(context, move || {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            rest
        });
        iterate_until(context, || client.is_finished());
        assert!(client.join().unwrap().is_empty());
        assert!(errors.borrow()[0].matches(gio::IOErrorEnum::PermissionDenied));
        assert!(
            settings
                .try_set_allowed_users(&["no such user, surely"])
                .is_err()
        );
        assert_eq!(settings.allowed_users().as_slice(), ["0"]);
    })
}
