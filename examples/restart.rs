//! The echo server that restarts without refusing a client: on `SIGHUP` it starts its
//! successor (itself, run again: a new binary after an upgrade), hands its listening sockets
//! over, then lets its own connections finish and exits.
//!
//! ```text
//! cargo run --example restart [PORT] [--unix PATH] [--tls CERT.pem KEY.pem]
//! cargo run --example restart -- --fd-store [PORT] [--unix PATH] [--tls CERT.pem KEY.pem]
//! ```
//!
//! It listens on `PORT` (2024; 0 for one the system picks) of every address, and at `PATH` if
//! given, reads one line from each client and echoes it back. Every line it prints begins with
//! its process id, as its successors print to the same output. Try it with a client that
//! connects without pause:
//!
//! ```text
//! while echo hello | nc -q1 localhost 2024; do :; done
//! kill -HUP PID
//! ```
//!
//! On `SIGHUP`: [`hand_over_future()`](usher::SocketServiceExt::hand_over_future) listens on
//! an abstract Unix socket named after the process, the successor starts with `--take-over
//! NAME` (and `--tls CERT KEY` if given) and
//! [`take_over()`](usher::SocketServiceExt::take_over)s the sockets, and once it accepts the
//! predecessor shuts down with a deadline of 10 s for its connections. Clients that come
//! meanwhile wait in the kernel's backlog, which both processes share: none is refused. A
//! successor that exits first, or is not ready within 10 s, changes nothing: the service
//! serves on. `SIGINT` and `SIGTERM` shut down gracefully, as the echo example does.
//!
//! With `--fd-store`, for a systemd unit with `Type=notify` and `FileDescriptorStoreMax=`, it
//! takes its sockets from systemd (`LISTEN_FDS`) when there are some; otherwise it listens, and
//! sends its sockets to systemd's file descriptor store, which passes them to the next start:
//! `systemctl restart` refuses no client either.
//!
//! Each instance prints when it accepted its first client and, once shut down, its last, in
//! microseconds of the system's monotonic clock (`glib::monotonic_time()`): the gap of a
//! handover is the successor's first accept minus the predecessor's last (less than 0 when
//! both accepted for a while).
//!
//! With `--tls`, it serves TLS with that certificate and key (the service's `tls-certificate`,
//! so on every socket, the Unix one too), and its successors get the same option: try it with
//! `openssl s_client -quiet -connect localhost:2024`. A shutdown serves the clients still in
//! their handshake too.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use gio::prelude::*;
use usher::prelude::*;

/// The name of every listening socket, for the successor or the next start to know it by.
const NAME: &str = "echo";

/// How long connections have to finish once the successor accepts.
const DRAIN: Duration = Duration::from_secs(10);

/// How long a successor has to take over.
const READY: Duration = Duration::from_secs(10);

fn main() -> glib::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--tls CERT KEY` goes on to the successor.
    let (args, tls) = split_tls(&args);
    let tls: Rc<[String]> = tls.into();
    let service = usher::SocketService::new();
    let main_loop = glib::MainLoop::new(None, false);
    let accepts = Accepts::default();
    service.connect_incoming({
        let accepts = accepts.clone();
        move |_, connection, _| {
            accepts.accepted();
            glib::spawn_future_local(echo(connection.clone()));
            false
        }
    });
    let restarting = Rc::new(Cell::new(false));
    glib_unix::unix_signal_add_local(libc::SIGHUP, {
        let (service, main_loop, accepts, tls) = (
            service.clone(),
            main_loop.clone(),
            accepts.clone(),
            tls.clone(),
        );
        move || {
            if !restarting.replace(true) {
                let (restarting, tls) = (restarting.clone(), tls.clone());
                let (service, main_loop, accepts) =
                    (service.clone(), main_loop.clone(), accepts.clone());
                glib::spawn_future_local(async move {
                    if restart(&service, &tls).await {
                        drain(&service, &accepts).await;
                        main_loop.quit();
                    } else {
                        restarting.set(false);
                    }
                });
            }
            glib::ControlFlow::Continue
        }
    });
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let (service, main_loop, accepts) = (service.clone(), main_loop.clone(), accepts.clone());
        glib_unix::unix_signal_add_local(signal, move || {
            let (service, main_loop, accepts) =
                (service.clone(), main_loop.clone(), accepts.clone());
            glib::spawn_future_local(async move {
                drain(&service, &accepts).await;
                main_loop.quit();
            });
            glib::ControlFlow::Break
        });
    }

    // Once the signals are handled.
    let tag = glib::Object::with_type(glib::Object::static_type());
    if let Err(error) = listen(&service, &tag, args, &tls) {
        say(&format!("{error}"));
        return glib::ExitCode::FAILURE;
    }
    main_loop.run();
    glib::ExitCode::SUCCESS
}

/// Prints `line` after the process id.
fn say(line: &str) {
    println!("[{}] {line}", std::process::id());
}

/// `--tls CERT KEY` at the end of `args`: the arguments before, and those three (none
/// without).
fn split_tls(args: &[String]) -> (&[String], &[String]) {
    match args {
        [.., option, _, _] if option == "--tls" => args.split_at(args.len() - 3),
        _ => (args, &[]),
    }
}

/// Serves TLS if `tls` asks, and adds the sockets the command line asks for: a predecessor's,
/// systemd's, or new ones.
fn listen(
    service: &usher::SocketService,
    tag: &glib::Object,
    args: &[String],
    tls: &[String],
) -> Result<(), glib::Error> {
    if let [_, certificate, key] = tls {
        let certificate = gio::TlsCertificate::from_files(certificate, key)?;
        service.set_tls_certificate(Some(&certificate));
        say("Serving TLS.");
    }
    let tag_of = |name: &str| (name == NAME).then(|| tag.clone());
    match args {
        [option, name] if option == "--take-over" => {
            let address = gio::UnixSocketAddress::with_type(
                gio::prelude::UnixSocketAddressPath::Abstract(name.as_bytes()),
            );
            let added = service.take_over(&address, tag_of, gio::Cancellable::NONE)?;
            say(&format!("Took over {added} sockets."));
            return Ok(());
        }
        [option, rest @ ..] if option == "--fd-store" => {
            let added = service.add_activated_sockets(tag_of)?;
            if added > 0 {
                say(&format!("{added} sockets from systemd."));
                return Ok(());
            }
            listen_anew(service, tag, rest)?;
            match service.store_sockets() {
                Ok(stored) => say(&format!("Stored {stored} sockets with systemd.")),
                Err(error) => say(&format!("Cannot store the sockets with systemd: {error}")),
            }
        }
        _ => listen_anew(service, tag, args)?,
    }
    Ok(())
}

/// Listens on the port and Unix path `args` give: `[PORT] [--unix PATH]`.
fn listen_anew(
    service: &usher::SocketService,
    tag: &glib::Object,
    args: &[String],
) -> Result<(), glib::Error> {
    let usage = || {
        glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            concat!(
                "usage: restart [PORT] [--unix PATH] [--tls CERT KEY]",
                " | --fd-store [PORT] [--unix PATH] [--tls CERT KEY]"
            ),
        )
    };
    let (port, unix) = match args {
        [] => ("2024", None),
        [port] => (port.as_str(), None),
        [option, path] if option == "--unix" => ("2024", Some(path)),
        [port, option, path] if option == "--unix" => (port.as_str(), Some(path)),
        _ => return Err(usage()),
    };
    let port: u16 = port.parse().map_err(|_| usage())?;
    let settings = usher::SocketSettings::new();
    settings.set_name(Some(NAME));
    let port = match port {
        0 => service.add_any_inet_port_with_settings(Some(tag), Some(&settings))?,
        port => {
            service.add_inet_port_with_settings(port, Some(tag), Some(&settings))?;
            port
        }
    };
    say(&format!("Listening on port {port}."));
    if let Some(path) = unix {
        let address = gio::UnixSocketAddress::new(std::path::Path::new(path));
        service.add_address_with_settings(
            &address,
            gio::SocketType::Stream,
            gio::SocketProtocol::Default,
            Some(tag),
            Some(&settings),
        )?;
        say(&format!("Listening at {path}."));
    }
    Ok(())
}

/// Starts the successor, with the `tls` options, and hands the sockets over; whether it took
/// them.
async fn restart(service: &usher::SocketService, tls: &[String]) -> bool {
    static RESTARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "usher-restart-{}-{}",
        std::process::id(),
        RESTARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let address = gio::UnixSocketAddress::with_type(gio::prelude::UnixSocketAddressPath::Abstract(
        name.as_bytes(),
    ));
    // Listening before the successor starts.
    let handover = service.hand_over_future(&address);
    let program = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut argv = vec![program.as_os_str(), "--take-over".as_ref(), name.as_ref()];
    argv.extend(tls.iter().map(std::ffi::OsStr::new));
    let successor = match gio::Subprocess::newv(&argv, gio::SubprocessFlags::NONE) {
        Ok(successor) => successor,
        Err(error) => {
            say(&format!("Cannot start the successor: {error}"));
            return false;
        }
    };
    let pid = successor.identifier().unwrap_or_default();
    // Whatever happens now, the successor is reaped when it exits.
    say(&format!("Handing over to process {pid}."));
    // The handover, unless the successor exits first, or is not ready in time.
    let exited = successor.wait_future();
    let outcome = futures_select(handover, exited).await;
    match outcome {
        Some(Ok(handed)) => {
            say(&format!("Handed {handed} sockets over to process {pid}."));
            true
        }
        Some(Err(error)) => {
            say(&format!("Handover failed, serving on: {error}"));
            successor.force_exit();
            false
        }
        None => {
            say("The successor exited, or was not ready in time: serving on.");
            successor.force_exit();
            false
        }
    }
}

/// The handover's outcome, or `None` if the successor exits or `READY` passes first.
async fn futures_select(
    handover: impl std::future::Future<Output = Result<u32, glib::Error>>,
    exited: impl std::future::Future<Output = Result<(), glib::Error>>,
) -> Option<Result<u32, glib::Error>> {
    use futures_util::future::{Either, select};
    let deadline = glib::timeout_future(READY);
    let handover = std::pin::pin!(handover);
    let exited = std::pin::pin!(exited);
    match select(handover, select(exited, deadline)).await {
        Either::Left((outcome, _)) => Some(outcome),
        Either::Right(_) => None,
    }
}

/// Shuts down gracefully: lets the connections finish, for up to `DRAIN`.
async fn drain(service: &usher::SocketService, accepts: &Accepts) {
    let clients = service.n_connections();
    say(&format!("Draining {clients} connections."));
    if glib::future_with_timeout(DRAIN, service.shutdown_future())
        .await
        .is_err()
    {
        say(&format!(
            "Closing {} connections left.",
            service.n_connections()
        ));
        service.close_connections();
        let _ = service.shutdown_future().await;
    }
    say(&format!(
        "Shut down: {} clients, the last accepted at {} µs.",
        accepts.count.get(),
        accepts.last.get()
    ));
}

/// When the clients were accepted.
#[derive(Clone, Default)]
struct Accepts {
    count: Rc<Cell<u64>>,
    last: Rc<Cell<i64>>,
}

impl Accepts {
    fn accepted(&self) {
        let now = glib::monotonic_time();
        self.count.set(self.count.get() + 1);
        self.last.set(now);
        if self.count.get() == 1 {
            say(&format!("First accept at {now} µs."));
        }
    }
}

/// Reads one line and echoes it back.
async fn echo(connection: gio::SocketConnection) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await else {
        return;
    };
    say(&format!("Received: {}", line.trim_end()));
    let reply = format!("{}\n", line.trim_end());
    let _ = connection
        .output_stream()
        .write_all_future(reply.into_bytes(), glib::Priority::DEFAULT)
        .await;
    let _ = connection.close_future(glib::Priority::DEFAULT).await;
}
