//! Usher against GLib's `GSocketService` and a bare epoll accept loop, side by side, on loopback.
//!
//! ```text
//! cargo bench --bench socket_service [-- --rounds N --backlog N]
//! ```
//!
//! Three servers, each on a thread of its own: Usher's `SocketService` and GLib's
//! `GSocketService` (through gio-rs) with the same handler (read a line, echo it, close), and the
//! floor, an epoll loop that accepts until the backlog is empty and does the same with no GLib.
//! All listen on 127.0.0.1 with the same listen backlog: 2000 unless given, the most
//! `GSocketListener:listen-backlog` allows, what a service expecting bursts would set.
//! The clients run on another thread, on epoll, with non-blocking sockets. Workloads:
//!
//! * burst: 5,000 clients connect at once and send one line each; the time until every echo is
//!   back, and the p50/p99 of the clients' latencies (from their connect to their echo);
//! * churn: 32 clients at a time connect, send a line, read the echo and close, over and over:
//!   connections per second (at most 2 s or 20,000 connections a round);
//! * idle: 1,000 connections held open, waiting: the server thread's wakeups per second
//!   (context switches, from `/proc`), over 2 s.
//!
//! Each workload runs `--rounds` times (default 5) per server, a different server first each
//! round; the table shows medians.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gio::prelude::*;
use usher::prelude::*;

const BURST_CLIENTS: usize = 5000;
const CHURN_CONCURRENCY: usize = 32;
const CHURN_LIMIT: usize = 20_000;
const CHURN_TIME: Duration = Duration::from_secs(2);
const IDLE_CONNECTIONS: usize = 1000;
const IDLE_WINDOW: Duration = Duration::from_secs(2);
/// The longest a workload may take before the benchmark gives up on it.
const DEADLINE: Duration = Duration::from_secs(60);

fn main() {
    let mut rounds = 5;
    let mut backlog = 2000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).unwrap_or(rounds),
            "--backlog" => backlog = args.next().and_then(|n| n.parse().ok()).unwrap_or(backlog),
            _ => {} // cargo bench passes `--bench`
        }
    }
    raise_descriptor_limit();

    let kinds = [Kind::Floor, Kind::Glib, Kind::Usher];
    let mut results: HashMap<(Kind, &str), Vec<f64>> = HashMap::new();
    for round in 1..=rounds {
        eprintln!("round {round}/{rounds}");
        // A fresh server for each workload, and a different server first each round, so that
        // no measure depends on what ran before it.
        let mut order = kinds;
        order.rotate_left(round % kinds.len());
        for workload in ["burst", "churn", "idle"] {
            for kind in order {
                let server = Server::start(kind, backlog);
                let mut record = |name, value| results.entry((kind, name)).or_default().push(value);
                match workload {
                    "burst" => {
                        let burst = burst(server.address);
                        record("burst", burst.total.as_secs_f64());
                        record("p50", burst.p50.as_secs_f64());
                        record("p99", burst.p99.as_secs_f64());
                    }
                    "churn" => record("churn", churn(server.address)),
                    _ => record("idle", idle(&server)),
                }
                server.stop();
            }
        }
    }

    let median = |kind: Kind, workload: &str| {
        let mut values = results[&(kind, workload)].clone();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "loopback, listen backlog {backlog}, {rounds} rounds, medians; {} cores",
        glib::num_processors()
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "workload", "floor", "GLib", "Usher", "GLib/Usher", "Usher/floor"
    );
    for (workload, label, unit, scale) in [
        ("burst", "burst: 5,000 echoes, all done", "s", 1.0),
        ("p50", "burst: p50 latency", "ms", 1000.0),
        ("p99", "burst: p99 latency", "ms", 1000.0),
        ("churn", "churn: connections/s (32 at once)", "", 1.0),
        ("idle", "idle: wakeups/s, 1,000 held", "", 1.0),
    ] {
        let [floor, glib, usher] = kinds.map(|kind| median(kind, workload) * scale);
        let ratio = |a: f64, b: f64| {
            if b == 0.0 {
                "-".to_owned()
            } else {
                format!("{:.2}", a / b)
            }
        };
        println!(
            "{:<34} {:>8.3}{:<2} {:>8.3}{:<2} {:>8.3}{:<2} {:>12} {:>12}",
            label,
            floor,
            unit,
            glib,
            unit,
            usher,
            unit,
            ratio(glib, usher),
            ratio(usher, floor)
        );
    }
}

fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur as usize) < 2 * BURST_CLIENTS + 200 {
        eprintln!("warning: only {} file descriptors", limit.rlim_cur);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Floor,
    Glib,
    Usher,
}

/// A server running on its own thread.
struct Server {
    address: SocketAddr,
    /// The server thread's id, for its context switches.
    tid: i32,
    /// Connections the server accepted.
    accepted: Arc<AtomicUsize>,
    stop: Box<dyn FnOnce()>,
}

impl Server {
    fn start(kind: Kind, backlog: i32) -> Server {
        let accepted = Arc::new(AtomicUsize::new(0));
        let (started, ready) = std::sync::mpsc::channel();
        let counter = accepted.clone();
        let thread = std::thread::spawn(move || {
            let tid = unsafe { libc::gettid() };
            match kind {
                Kind::Floor => floor::serve(backlog, &counter, |address, stop| {
                    started.send((address, tid, Stop::Floor(stop))).unwrap()
                }),
                Kind::Glib | Kind::Usher => {
                    let context = glib::MainContext::new();
                    let main_loop = glib::MainLoop::new(Some(&context), false);
                    context
                        .with_thread_default(|| {
                            let listener = glib_service(kind, &counter);
                            listener.set_listen_backlog(backlog);
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
                            // Announce the server once its loop runs, so quit() cannot come first.
                            let running = main_loop.clone();
                            glib::idle_source_new(None, glib::Priority::DEFAULT, move || {
                                started
                                    .send((address, tid, Stop::Loop(running.clone())))
                                    .unwrap();
                                glib::ControlFlow::Break
                            })
                            .attach(Some(&context));
                            main_loop.run();
                            // Stop, and let the handlers finish, so that nothing is left behind.
                            if let Some(service) = listener.downcast_ref::<usher::SocketService>() {
                                service.stop();
                            } else if let Some(service) =
                                listener.downcast_ref::<gio::SocketService>()
                            {
                                gio::prelude::SocketServiceExt::stop(service);
                            }
                            listener.close();
                            while context.iteration(false) {}
                        })
                        .unwrap();
                }
            }
        });
        let (address, tid, stop) = ready.recv().unwrap();
        Server {
            address,
            tid,
            accepted,
            stop: Box::new(move || {
                match stop {
                    Stop::Loop(main_loop) => main_loop.quit(),
                    Stop::Floor(fd) => {
                        let _ = nix_write(fd.as_raw_fd(), &1u64.to_ne_bytes());
                    }
                }
                thread.join().unwrap();
            }),
        }
    }

    fn stop(self) {
        (self.stop)()
    }
}

enum Stop {
    Loop(glib::MainLoop),
    /// An eventfd the floor's epoll watches.
    Floor(Arc<OwnedFd>),
}

fn nix_write(fd: RawFd, bytes: &[u8]) -> isize {
    unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) }
}

/// Usher's or GLib's service, with the same echo handler.
fn glib_service(kind: Kind, accepted: &Arc<AtomicUsize>) -> gio::SocketListener {
    let accepted = accepted.clone();
    let handler = move |connection: &gio::SocketConnection| {
        accepted.fetch_add(1, Ordering::Relaxed);
        glib::spawn_future_local(echo_once(connection.clone()));
        false
    };
    match kind {
        Kind::Usher => {
            let service = usher::SocketService::new();
            service.connect_incoming(move |_, connection, _| handler(connection));
            service.upcast()
        }
        Kind::Glib => {
            let service = gio::SocketService::new();
            gio::prelude::SocketServiceExt::connect_incoming(&service, move |_, connection, _| {
                handler(connection)
            });
            service.upcast()
        }
        Kind::Floor => unreachable!(),
    }
}

/// Reads a line, writes it back and closes the connection (by dropping it).
async fn echo_once(connection: gio::SocketConnection) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    if let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        let reply = format!("{line}\n").into_bytes();
        let _ = connection
            .output_stream()
            .write_all_future(reply, glib::Priority::DEFAULT)
            .await;
    }
}

/// The floor: an epoll loop with no GLib that accepts until the backlog is empty.
mod floor {
    use super::*;

    pub fn serve(
        backlog: i32,
        accepted: &AtomicUsize,
        started: impl FnOnce(SocketAddr, Arc<OwnedFd>),
    ) {
        unsafe {
            let listener = OwnedFd::from_raw_fd(libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            ));
            let mut address: libc::sockaddr_in = std::mem::zeroed();
            address.sin_family = libc::AF_INET as libc::sa_family_t;
            address.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(
                    listener.as_raw_fd(),
                    &address as *const _ as *const libc::sockaddr,
                    size
                ),
                0
            );
            assert_eq!(libc::listen(listener.as_raw_fd(), backlog), 0);
            let mut bound = size;
            libc::getsockname(
                listener.as_raw_fd(),
                &mut address as *mut _ as *mut libc::sockaddr,
                &mut bound,
            );
            let port = u16::from_be(address.sin_port);

            let stop = Arc::new(OwnedFd::from_raw_fd(libc::eventfd(0, libc::EFD_CLOEXEC)));
            let epoll = OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC));
            let watch = |fd: RawFd| {
                let mut event = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: fd as u64,
                };
                libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event);
            };
            watch(listener.as_raw_fd());
            watch(stop.as_raw_fd());
            started(SocketAddr::from(([127, 0, 0, 1], port)), stop.clone());

            let mut lines: HashMap<RawFd, Vec<u8>> = HashMap::new();
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
            loop {
                let ready = libc::epoll_wait(
                    epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    -1,
                );
                for event in &events[..ready.max(0) as usize] {
                    let fd = event.u64 as RawFd;
                    if fd == stop.as_raw_fd() {
                        for (client, _) in lines.drain() {
                            libc::close(client);
                        }
                        return;
                    } else if fd == listener.as_raw_fd() {
                        loop {
                            let client = libc::accept4(
                                fd,
                                std::ptr::null_mut(),
                                std::ptr::null_mut(),
                                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                            );
                            if client < 0 {
                                break;
                            }
                            accepted.fetch_add(1, Ordering::Relaxed);
                            lines.insert(client, Vec::new());
                            watch(client);
                        }
                    } else {
                        let mut buffer = [0u8; 256];
                        let read =
                            libc::read(fd, buffer.as_mut_ptr() as *mut libc::c_void, buffer.len());
                        let line = lines.get_mut(&fd).unwrap();
                        if read > 0 {
                            line.extend_from_slice(&buffer[..read as usize]);
                            if !line.ends_with(b"\n") {
                                continue;
                            }
                            nix_write(fd, line);
                        } else if read < 0
                            && std::io::Error::last_os_error().kind()
                                == std::io::ErrorKind::WouldBlock
                        {
                            continue;
                        }
                        lines.remove(&fd);
                        libc::close(fd);
                    }
                }
            }
        }
    }
}

/// One client connection driven by the client loop.
struct Client {
    /// Owns the socket: dropping the client closes it.
    _fd: OwnedFd,
    started: Instant,
    sent: bool,
    received: Vec<u8>,
}

/// The clients' side: non-blocking sockets on one epoll.
struct Clients {
    epoll: OwnedFd,
    clients: HashMap<RawFd, Client>,
    /// Connections refused or reset before their echo.
    failures: usize,
}

const LINE: &[u8] = b"hello, server\n";

impl Clients {
    fn new() -> Clients {
        Clients {
            epoll: unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) },
            clients: HashMap::new(),
            failures: 0,
        }
    }

    /// Starts a connection to `address`.
    fn connect(&mut self, address: SocketAddr) {
        let SocketAddr::V4(address) = address else {
            unreachable!("the servers listen on 127.0.0.1")
        };
        unsafe {
            let fd = OwnedFd::from_raw_fd(libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            ));
            let mut native: libc::sockaddr_in = std::mem::zeroed();
            native.sin_family = libc::AF_INET as libc::sa_family_t;
            native.sin_addr.s_addr = u32::from(*address.ip()).to_be();
            native.sin_port = address.port().to_be();
            libc::connect(
                fd.as_raw_fd(),
                &native as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            let mut event = libc::epoll_event {
                events: (libc::EPOLLOUT | libc::EPOLLIN) as u32,
                u64: fd.as_raw_fd() as u64,
            };
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            );
            self.clients.insert(
                fd.as_raw_fd(),
                Client {
                    _fd: fd,
                    started: Instant::now(),
                    sent: false,
                    received: Vec::new(),
                },
            );
        }
    }

    /// Waits for events and drives the clients; returns the latencies of the clients that got
    /// their echo (and were closed).
    fn poll(&mut self, timeout: Duration) -> Vec<Duration> {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        let ready = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout.as_millis() as i32,
            )
        };
        let mut done = Vec::new();
        for event in &events[..ready.max(0) as usize] {
            let fd = event.u64 as RawFd;
            let Some(client) = self.clients.get_mut(&fd) else {
                continue;
            };
            let events = event.events;
            let failed = events & libc::EPOLLERR as u32 != 0
                || events & (libc::EPOLLHUP | libc::EPOLLIN) as u32 == libc::EPOLLHUP as u32;
            if failed && client.received.is_empty() {
                // Refused or reset before any answer.
                self.failures += 1;
                self.clients.remove(&fd);
                continue;
            }
            if !client.sent && event.events & libc::EPOLLOUT as u32 != 0 {
                if nix_write(fd, LINE) == LINE.len() as isize {
                    client.sent = true;
                    let mut readable = libc::epoll_event {
                        events: libc::EPOLLIN as u32,
                        u64: fd as u64,
                    };
                    unsafe {
                        libc::epoll_ctl(
                            self.epoll.as_raw_fd(),
                            libc::EPOLL_CTL_MOD,
                            fd,
                            &mut readable,
                        )
                    };
                }
                continue;
            }
            if event.events & libc::EPOLLIN as u32 != 0 {
                let mut buffer = [0u8; 256];
                let read = unsafe {
                    libc::read(fd, buffer.as_mut_ptr() as *mut libc::c_void, buffer.len())
                };
                if read > 0 {
                    client.received.extend_from_slice(&buffer[..read as usize]);
                }
                if client.received.ends_with(b"\n") || read == 0 {
                    assert_eq!(client.received, LINE, "a wrong echo");
                    done.push(client.started.elapsed());
                    self.clients.remove(&fd);
                }
            }
        }
        done
    }
}

struct Burst {
    total: Duration,
    p50: Duration,
    p99: Duration,
}

fn burst(address: SocketAddr) -> Burst {
    let mut clients = Clients::new();
    let start = Instant::now();
    for _ in 0..BURST_CLIENTS {
        clients.connect(address);
    }
    let mut latencies = Vec::with_capacity(BURST_CLIENTS);
    while latencies.len() + clients.failures < BURST_CLIENTS {
        assert!(
            start.elapsed() < DEADLINE,
            "the burst did not finish: {} of {BURST_CLIENTS} echoed",
            latencies.len()
        );
        latencies.extend(clients.poll(Duration::from_millis(100)));
    }
    let total = start.elapsed();
    assert_eq!(clients.failures, 0, "clients were refused or reset");
    latencies.sort();
    Burst {
        total,
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

/// Connections per second with [`CHURN_CONCURRENCY`] clients at a time.
fn churn(address: SocketAddr) -> f64 {
    let mut clients = Clients::new();
    let start = Instant::now();
    for _ in 0..CHURN_CONCURRENCY {
        clients.connect(address);
    }
    let mut completed = 0;
    while completed < CHURN_LIMIT && start.elapsed() < CHURN_TIME {
        for _ in clients.poll(Duration::from_millis(100)) {
            completed += 1;
            clients.connect(address);
        }
    }
    completed as f64 / start.elapsed().as_secs_f64()
}

/// The context switches of thread `tid` of this process so far.
fn context_switches(tid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    status
        .lines()
        .filter(|line| line.contains("ctxt_switches"))
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

/// The server thread's wakeups per second while [`IDLE_CONNECTIONS`] connections wait.
fn idle(server: &Server) -> f64 {
    let before = server.accepted.load(Ordering::SeqCst);
    let mut clients = Clients::new();
    for _ in 0..IDLE_CONNECTIONS {
        clients.connect(server.address);
        // Connect only: these clients never send their line.
        clients
            .clients
            .values_mut()
            .for_each(|client| client.sent = true);
    }
    let start = Instant::now();
    while server.accepted.load(Ordering::SeqCst) < before + IDLE_CONNECTIONS {
        assert!(
            start.elapsed() < DEADLINE,
            "the idle connections were not accepted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the last accepts' work settle before watching.
    std::thread::sleep(Duration::from_millis(100));
    let switches = context_switches(server.tid);
    let watched = Instant::now();
    std::thread::sleep(IDLE_WINDOW);
    let wakeups =
        (context_switches(server.tid) - switches) as f64 / watched.elapsed().as_secs_f64();
    drop(clients);
    let _ = std::io::stderr().flush();
    wakeups
}
