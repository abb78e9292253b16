//! The servers: Usher's and GLib's service with the same handler, and the floor; each on a
//! thread of this process, or in a process of its own (this binary again, in `--serve` mode).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gio::prelude::*;
use usher::prelude::*;

use crate::floor;
use crate::os::{self, task_context_switches, thread_cpu_time};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Floor,
    Glib,
    Usher,
}

impl Kind {
    /// In the table's order.
    pub const ALL: [Kind; 3] = [Kind::Floor, Kind::Glib, Kind::Usher];

    /// The name on the `--serve` command line.
    fn name(self) -> &'static str {
        match self {
            Kind::Floor => "floor",
            Kind::Glib => "glib",
            Kind::Usher => "usher",
        }
    }

    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Floor => "floor",
            Kind::Glib => "GLib",
            Kind::Usher => "Usher",
        }
    }
}

/// How a server listens and serves.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The CPU a server process keeps to (`--pin`), away from the clients'.
    pub cpu: Option<usize>,
    /// The listen backlog the application asks for; `None` leaves each server's default: 10 for
    /// GLib (`GSocketListener:listen-backlog`), `net.core.somaxconn` for Usher (which listens
    /// with the system's maximum when the application left GLib's default) and for the floor.
    ///
    /// GLib and Usher are given it with `g_socket_listener_set_backlog()`, which passes it on
    /// to each socket's `listen(2)` as it is. The `listen-backlog` property would not do:
    /// its range stops at 2000 and `g_object_set()` refuses more (gio-rs's
    /// `set_listen_backlog()`, which sets the property, panics). Usher honours any value other
    /// than GLib's default of 10 that it finds on the socket when it listens, however it was
    /// set. The kernel caps every backlog at `net.core.somaxconn` (4096 by default), so a
    /// `--backlog` above that gives every server the same, maximal backlog; the table's
    /// header shows what `ss` reports for each.
    pub backlog: Option<i32>,
    /// The certificate and key (PEM files) to serve TLS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Usher only: every client on loopback sends a PROXY protocol header first.
    pub proxy: bool,
    /// The handler keeps each connection and does nothing with it, instead of echoing: only
    /// the service's own work is measured (the scale workload's keep-only mode).
    pub keep: bool,
    /// Usher only: its `max-connections-per-peer`, to measure what counting peers costs.
    pub max_per_peer: u32,
    /// Usher only, with TLS: the certificate is chosen by the server name of each client's
    /// ClientHello, among [`NAMES`].
    pub names: bool,
}

/// The server names of the `tls-names` workload, each with the benchmark's certificate (the
/// clients ask for `localhost`, the last, an exact name: the most names looked at), and the
/// same certificate for the others.
pub const NAMES: [&str; 4] = [
    "a.example.org",
    "*.example.org",
    "b.example.net",
    "localhost",
];

impl Config {
    /// As `--serve` arguments.
    fn to_arguments(&self) -> Vec<String> {
        let mut arguments = Vec::new();
        if let Some(backlog) = self.backlog {
            arguments.extend(["--backlog".to_owned(), backlog.to_string()]);
        }
        if let Some((certificate, key)) = &self.tls {
            arguments.push("--tls".to_owned());
            arguments.extend([certificate, key].map(|path| path.to_str().unwrap().to_owned()));
        }
        if let Some(cpu) = self.cpu {
            arguments.extend(["--cpu".to_owned(), cpu.to_string()]);
        }
        if self.proxy {
            arguments.push("--proxy".to_owned());
        }
        if self.keep {
            arguments.push("--keep".to_owned());
        }
        if self.max_per_peer != 0 {
            arguments.extend(["--max-per-peer".to_owned(), self.max_per_peer.to_string()]);
        }
        if self.names {
            arguments.push("--names".to_owned());
        }
        arguments
    }

    fn from_arguments(arguments: &[String]) -> Config {
        let mut config = Config::default();
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            match argument.as_str() {
                "--backlog" => config.backlog = arguments.next().and_then(|n| n.parse().ok()),
                "--tls" => {
                    let mut path = || PathBuf::from(arguments.next().expect("--tls CERT KEY"));
                    config.tls = Some((path(), path()));
                }
                "--cpu" => config.cpu = arguments.next().and_then(|n| n.parse().ok()),
                "--proxy" => config.proxy = true,
                "--keep" => config.keep = true,
                "--max-per-peer" => {
                    config.max_per_peer = arguments
                        .next()
                        .and_then(|n| n.parse().ok())
                        .expect("--max-per-peer N")
                }
                "--names" => config.names = true,
                other => panic!("unknown server argument {other:?}"),
            }
        }
        config
    }
}

/// A server running on a thread of this process, or in a child process.
pub struct Server {
    pub address: SocketAddr,
    runner: Runner,
}

enum Runner {
    Thread {
        /// The server thread's id, for its context switches.
        tid: i32,
        /// Connections the server accepted.
        accepted: Arc<AtomicUsize>,
        stop: Stop,
        thread: JoinHandle<()>,
    },
    /// Serves until its standard input closes; answers `accepted` with its count.
    Process {
        child: Child,
        /// The thread that answers on standard input: not the server's work.
        control: i32,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    },
}

impl Server {
    pub fn start(kind: Kind, config: &Config, process: bool) -> Server {
        if process {
            Self::start_process(kind, config)
        } else {
            Self::start_thread(kind, config)
        }
    }

    fn start_thread(kind: Kind, config: &Config) -> Server {
        let accepted = Arc::new(AtomicUsize::new(0));
        let (started, ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn({
            let accepted = accepted.clone();
            let config = config.clone();
            move || {
                let tid = unsafe { libc::gettid() };
                serve(kind, &config, &accepted, move |address, stop| {
                    started.send((address, tid, stop)).unwrap()
                })
            }
        });
        let (address, tid, stop) = ready.recv().expect("the server thread started");
        Server {
            address,
            runner: Runner::Thread {
                tid,
                accepted,
                stop,
                thread,
            },
        }
    }

    fn start_process(kind: Kind, config: &Config) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--serve")
            .arg(kind.name())
            .args(config.to_arguments())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server process");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let announced: Option<(u16, i32)> = line
            .split_once(' ')
            .and_then(|(port, tid)| Some((port.parse().ok()?, tid.trim().parse().ok()?)));
        let (port, control) = announced.unwrap_or_else(|| {
            panic!("the {kind:?} server process announces its port and its control thread")
        });
        Server {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            runner: Runner::Process {
                child,
                control,
                stdin,
                stdout,
            },
        }
    }

    /// The connections the server has accepted so far.
    pub fn accepted(&mut self) -> usize {
        match &mut self.runner {
            Runner::Thread { accepted, .. } => accepted.load(Ordering::SeqCst),
            Runner::Process { stdin, stdout, .. } => {
                writeln!(stdin, "accepted").unwrap();
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                line.trim().parse().expect("the server process's count")
            }
        }
    }

    /// The context switches so far of the server thread, or of every thread of the server
    /// process.
    pub fn context_switches(&self) -> u64 {
        match &self.runner {
            Runner::Thread { tid, .. } => task_context_switches(&format!("/proc/self/task/{tid}")),
            Runner::Process { child, .. } => {
                std::fs::read_dir(format!("/proc/{}/task", child.id()))
                    .unwrap()
                    .filter_map(Result::ok)
                    .map(|task| task_context_switches(task.path().to_str().unwrap()))
                    .sum()
            }
        }
    }

    /// The server process's resident memory (`VmRSS`), in bytes.
    pub fn resident_memory(&self) -> u64 {
        let Runner::Process { child, .. } = &self.runner else {
            panic!("a server on a thread has no memory of its own")
        };
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// The server process's id.
    pub fn pid(&self) -> Option<u32> {
        match &self.runner {
            Runner::Thread { .. } => None,
            Runner::Process { child, .. } => Some(child.id()),
        }
    }

    /// The CPU time the server used so far, in seconds: its thread's, or its process's with all
    /// its threads (its CPU-time clock) but the one that answers `accepted`; to the nanosecond,
    /// where `/proc/PID/stat` counts in ticks of 10 ms.
    pub fn cpu_time(&self) -> f64 {
        match &self.runner {
            Runner::Thread { tid, .. } => thread_cpu_time(&format!("self/task/{tid}")),
            Runner::Process { child, control, .. } => {
                let mut clock: libc::clockid_t = 0;
                let mut time = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let failed = unsafe {
                    libc::clock_getcpuclockid(child.id() as libc::pid_t, &mut clock) != 0
                        || libc::clock_gettime(clock, &mut time) != 0
                };
                if failed {
                    return f64::NAN;
                }
                let control = thread_cpu_time(&format!("{}/task/{control}", child.id()));
                time.tv_sec as f64 + time.tv_nsec as f64 / 1e9 - control
            }
        }
    }

    pub fn stop(self) {
        match self.runner {
            Runner::Thread { stop, thread, .. } => {
                stop.stop();
                thread.join().unwrap();
            }
            Runner::Process {
                mut child,
                stdin,
                stdout,
                ..
            } => {
                drop(stdin);
                drop(stdout);
                let start = Instant::now();
                while child.try_wait().unwrap().is_none() {
                    if start.elapsed() > Duration::from_secs(10) {
                        eprintln!("the server process {} does not stop: killed", child.id());
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

/// What stops a server, from any thread.
pub enum Stop {
    Loop(glib::MainLoop),
    /// An eventfd the floor's epoll watches.
    Floor(Arc<OwnedFd>),
}

impl Stop {
    fn stop(self) {
        match self {
            Stop::Loop(main_loop) => main_loop.quit(),
            Stop::Floor(fd) => {
                os::write_fd(fd.as_raw_fd(), &1u64.to_ne_bytes());
            }
        }
    }
}

/// The hidden server mode: `--serve floor|glib|usher [--backlog N] [--tls CERT KEY] [--cpu N]
/// [--proxy] [--keep] [--max-per-peer N]`. Serves on this thread; prints the port and the id of the thread that
/// answers once listening, then answers `accepted` on standard input with the connections
/// accepted so far, and stops when standard input closes.
pub fn serve_from_arguments(arguments: &[String]) {
    let kind = match arguments.first().map(String::as_str) {
        Some("floor") => Kind::Floor,
        Some("glib") => Kind::Glib,
        Some("usher") => Kind::Usher,
        other => panic!("--serve floor|glib|usher, not {other:?}"),
    };
    let config = Config::from_arguments(&arguments[1..]);
    if let Some(cpu) = config.cpu {
        os::pin_to(cpu);
    }
    // As many as it may have: the benchmark's process, with the same limit, warns if too few.
    os::raise_descriptor_limit(0);
    // The answers go to the original standard output, and everything else to standard error:
    // GLib prints debug messages (`G_MESSAGES_DEBUG`) on standard output.
    let mut answers = unsafe {
        let answers = std::fs::File::from_raw_fd(libc::dup(libc::STDOUT_FILENO));
        libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO);
        answers
    };
    let accepted = Arc::new(AtomicUsize::new(0));
    let (started, ready) = std::sync::mpsc::channel::<(SocketAddr, Stop)>();
    let control = std::thread::spawn({
        let accepted = accepted.clone();
        move || {
            let (address, stop) = ready.recv().unwrap();
            let tid = unsafe { libc::gettid() };
            writeln!(answers, "{} {tid}", address.port()).unwrap();
            for line in std::io::stdin().lines() {
                match line.as_deref() {
                    Ok("accepted") => {
                        writeln!(answers, "{}", accepted.load(Ordering::SeqCst)).unwrap()
                    }
                    _ => break,
                }
            }
            stop.stop();
        }
    });
    serve(kind, &config, &accepted, move |address, stop| {
        started.send((address, stop)).unwrap()
    });
    control.join().unwrap();
}

/// Runs a server on this thread until it is stopped; calls `started` with its address and what
/// stops it once it runs, so that a stop cannot come first.
fn serve(
    kind: Kind,
    config: &Config,
    accepted: &Arc<AtomicUsize>,
    started: impl FnOnce(SocketAddr, Stop) + Send + 'static,
) {
    if kind == Kind::Floor {
        assert!(config.tls.is_none(), "the floor serves no TLS");
        let backlog = config.backlog.unwrap_or_else(os::somaxconn);
        return floor::serve(backlog, config.keep, accepted, |address, stop| {
            started(address, Stop::Floor(stop))
        });
    }
    let context = glib::MainContext::new();
    let main_loop = glib::MainLoop::new(Some(&context), false);
    context
        .with_thread_default(|| {
            let listener = glib_service(kind, config, accepted);
            if let Some(backlog) = config.backlog {
                // Not `set_listen_backlog()`: see `Config::backlog`.
                listener.set_backlog(backlog);
            }
            let any = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
            let address = listener
                .add_address(
                    &any,
                    gio::SocketType::Stream,
                    gio::SocketProtocol::Tcp,
                    None::<&glib::Object>,
                )
                .unwrap()
                .downcast::<gio::InetSocketAddress>()
                .unwrap();
            let address = SocketAddr::from(([127, 0, 0, 1], address.port()));
            let running = main_loop.clone();
            let mut started = Some(started);
            glib::idle_source_new(None, glib::Priority::DEFAULT, move || {
                if let Some(started) = started.take() {
                    started(address, Stop::Loop(running.clone()));
                }
                glib::ControlFlow::Break
            })
            .attach(Some(&context));
            main_loop.run();
            // Stop, and let the handlers finish, so that nothing is left behind.
            if let Some(service) = listener.downcast_ref::<usher::SocketService>() {
                service.stop();
            } else if let Some(service) = listener.downcast_ref::<gio::SocketService>() {
                gio::prelude::SocketServiceExt::stop(service);
            }
            listener.close();
            while context.iteration(false) {}
        })
        .unwrap();
}

/// Usher's or GLib's service, with the same echo handler. With TLS, Usher runs the handshake
/// itself (`tls-certificate`) and the handler is unchanged; GLib's handler runs it by hand
/// first, as a GLib application has to.
fn glib_service(kind: Kind, config: &Config, accepted: &Arc<AtomicUsize>) -> gio::SocketListener {
    let certificate = config.tls.as_ref().map(|(certificate, key)| {
        gio::TlsCertificate::from_files(certificate, key).expect("the benchmark's certificate")
    });
    let accepted = accepted.clone();
    let handle = handler(config.keep);
    match kind {
        Kind::Usher => {
            let service = usher::SocketService::new();
            if let Some(certificate) = &certificate {
                service.set_tls_certificate(Some(certificate));
                if config.names {
                    let settings = service.socket_settings();
                    for name in NAMES {
                        settings
                            .set_tls_certificate_for_name(name, Some(certificate))
                            .expect("a server name");
                    }
                }
            }
            service.set_max_connections_per_peer(config.max_per_peer);
            if config.proxy {
                service
                    .try_set_proxy_protocol_peers(&["127.0.0.0/8"])
                    .expect("a CIDR range");
            }
            service.connect_incoming(move |_, connection, _| {
                accepted.fetch_add(1, Ordering::Relaxed);
                handle(connection);
                false
            });
            service.upcast()
        }
        Kind::Glib => {
            let service = gio::SocketService::new();
            gio::prelude::SocketServiceExt::connect_incoming(&service, move |_, connection, _| {
                accepted.fetch_add(1, Ordering::Relaxed);
                match &certificate {
                    None => handle(connection),
                    Some(certificate) => {
                        let tls = gio::TlsServerConnection::new(connection, Some(certificate))
                            .expect("a TLS backend (glib-networking)");
                        glib::spawn_future_local(async move {
                            if tls.handshake_future(glib::Priority::DEFAULT).await.is_ok() {
                                echo_once(tls);
                            }
                        });
                    }
                }
                false
            });
            service.upcast()
        }
        Kind::Floor => unreachable!(),
    }
}

/// The plain handler: echoes once, or, with `keep`, keeps every connection until the server
/// stops, doing nothing with it. A service's handler runs on its context's thread.
fn handler(keep: bool) -> impl Fn(&gio::SocketConnection) {
    let kept = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    move |connection| {
        if keep {
            kept.borrow_mut().push(connection.clone());
        } else {
            echo_once(connection.clone());
        }
    }
}

/// Reads a line, writes it back and closes the connection (by dropping it), with callbacks, as
/// GLib's documentation's echo and C programs do. (`spawn_future_local()` and `…_future()` would
/// add a task source, its first poll one iteration later, and two wakeups of the context per
/// connection, to both services: about a fifth of their CPU per connection.)
fn echo_once(connection: impl IsA<gio::IOStream>) {
    let connection = connection.upcast();
    let input = gio::DataInputStream::new(&connection.input_stream());
    input.read_line_utf8_async(
        glib::Priority::DEFAULT,
        gio::Cancellable::NONE,
        move |line| {
            if let Ok(Some(line)) = line {
                let reply = format!("{line}\n").into_bytes();
                connection.output_stream().write_all_async(
                    reply,
                    glib::Priority::DEFAULT,
                    gio::Cancellable::NONE,
                    move |_| drop(connection),
                );
            }
        },
    );
}
