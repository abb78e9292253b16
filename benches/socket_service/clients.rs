//! The plain TCP clients: non-blocking sockets on one epoll, on the calling thread; and the
//! workloads they make: burst, churn, idle and memory.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::os::{native_address, thread_cpu_time, write_fd};
use crate::server::Server;
use crate::workload::{
    CHURN_CONCURRENCY, CHURN_LIMIT, CHURN_TIME, DEADLINE, HELD_CONNECTIONS, IDLE_CONNECTIONS,
    IDLE_WINDOW,
};

pub const LINE: &[u8] = b"hello, server\n";

/// What a client sends before its line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    None,
    /// A PROXY protocol v1 header, as HAProxy's `send-proxy` writes it before the client's
    /// data, naming the client's source address.
    ProxyHeader,
}

/// The clients connect from this many loopback addresses, 127.0.0.2 and up, in turn. A client
/// that closes before the server leaves its port in TIME_WAIT for a minute, and one address
/// has 28,232 ephemeral ports (Linux's default range) where a churn round makes up to 20,000
/// connections: from one address, the clients would run out of ports and slow down, measuring
/// themselves rather than the server (remote clients' TIME_WAIT is not the server's).
const SOURCE_ADDRESSES: u8 = 64;

/// One client connection driven by the client loop.
struct Client {
    /// Owns the socket: dropping the client closes it.
    _fd: OwnedFd,
    started: Instant,
    /// What it sends: its prefix and its line.
    request: Vec<u8>,
    /// Sent its request, or never will (a held connection).
    sent: bool,
    received: Vec<u8>,
}

/// The clients' side: non-blocking sockets on one epoll.
pub struct Clients {
    epoll: OwnedFd,
    clients: HashMap<RawFd, Client>,
    /// Connections refused or reset before their echo.
    failures: usize,
    /// Connections started, for their source address.
    started: usize,
    prefix: Prefix,
}

impl Clients {
    fn new(prefix: Prefix) -> Clients {
        Clients {
            epoll: unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) },
            clients: HashMap::new(),
            failures: 0,
            started: 0,
            prefix,
        }
    }

    /// Starts a connection to `address`; a `held` one sends nothing and is never done.
    fn connect(&mut self, address: SocketAddr, held: bool) {
        let SocketAddr::V4(address) = address else {
            unreachable!("the servers listen on 127.0.0.1")
        };
        unsafe {
            let fd = OwnedFd::from_raw_fd(libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            ));
            let source = Ipv4Addr::new(
                127,
                0,
                0,
                2 + (self.started % SOURCE_ADDRESSES as usize) as u8,
            );
            self.started += 1;
            // The port is chosen at connect(), for the 4-tuple, not at bind().
            let yes: libc::c_int = 1;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                &yes as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let bound = libc::bind(
                fd.as_raw_fd(),
                &native_address(source, 0) as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            assert_eq!(
                bound,
                0,
                "bind to {source}: {}",
                std::io::Error::last_os_error()
            );
            let native = native_address(*address.ip(), address.port());
            libc::connect(
                fd.as_raw_fd(),
                &native as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            let mut event = libc::epoll_event {
                events: if held {
                    libc::EPOLLIN as u32
                } else {
                    (libc::EPOLLOUT | libc::EPOLLIN) as u32
                },
                u64: fd.as_raw_fd() as u64,
            };
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            );
            let request = match self.prefix {
                Prefix::None => LINE.to_vec(),
                Prefix::ProxyHeader => {
                    // The client's port is the kernel's; any port does for the header.
                    let port = 1024 + self.started % 60_000;
                    let header = format!(
                        "PROXY TCP4 {source} {} {port} {}\r\n",
                        address.ip(),
                        address.port()
                    );
                    [header.as_bytes(), LINE].concat()
                }
            };
            self.clients.insert(
                fd.as_raw_fd(),
                Client {
                    _fd: fd,
                    started: Instant::now(),
                    request,
                    sent: held,
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
                if write_fd(fd, &client.request) == client.request.len() as isize {
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

pub struct Burst {
    /// The time until every client was echoed; `None` if some were not within the deadline.
    pub total: Option<Duration>,
    /// The clients echoed.
    pub echoed: usize,
    pub p50: Duration,
    pub p99: Duration,
}

/// `count` clients connect at once and send their line after `prefix`; waits for their echoes,
/// at most `deadline`.
pub fn burst(address: SocketAddr, count: usize, deadline: Duration, prefix: Prefix) -> Burst {
    let mut clients = Clients::new(prefix);
    let start = Instant::now();
    for _ in 0..count {
        clients.connect(address, false);
    }
    let mut latencies = Vec::with_capacity(count);
    while latencies.len() + clients.failures < count && start.elapsed() < deadline {
        latencies.extend(clients.poll(Duration::from_millis(100)));
    }
    let total = start.elapsed();
    assert_eq!(clients.failures, 0, "clients were refused or reset");
    let echoed = latencies.len();
    latencies.sort();
    let percentile = |p: usize| latencies.get(echoed * p / 100).copied().unwrap_or_default();
    Burst {
        total: (echoed == count).then_some(total),
        echoed,
        p50: percentile(50),
        p99: percentile(99),
    }
}

/// What one churn measured.
pub struct Churn {
    /// Connections completed per second.
    pub rate: f64,
    /// Connections completed.
    pub completed: usize,
    /// The CPU time the clients used, in seconds.
    pub clients_cpu: f64,
}

/// [`CHURN_CONCURRENCY`] clients at a time connect, send their line after `prefix`, read the
/// echo and close, over and over.
pub fn churn(address: SocketAddr, prefix: Prefix) -> Churn {
    let mut clients = Clients::new(prefix);
    let cpu = thread_cpu_time("thread-self");
    let start = Instant::now();
    for _ in 0..CHURN_CONCURRENCY {
        clients.connect(address, false);
    }
    let mut completed = 0;
    while completed < CHURN_LIMIT && start.elapsed() < CHURN_TIME {
        for _ in clients.poll(Duration::from_millis(100)) {
            completed += 1;
            clients.connect(address, false);
        }
    }
    assert_eq!(clients.failures, 0, "clients were refused or reset");
    Churn {
        rate: completed as f64 / start.elapsed().as_secs_f64(),
        completed,
        clients_cpu: thread_cpu_time("thread-self") - cpu,
    }
}

/// Opens `count` connections that send nothing, and waits until the server has accepted them.
pub fn hold(server: &mut Server, count: usize) -> Clients {
    let before = server.accepted();
    let mut clients = Clients::new(Prefix::None);
    for _ in 0..count {
        clients.connect(server.address, true);
    }
    let start = Instant::now();
    while server.accepted() < before + count {
        assert!(
            start.elapsed() < DEADLINE,
            "the held connections were not accepted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(clients.failures, 0, "clients were refused or reset");
    // Let the last accepts' work settle.
    std::thread::sleep(Duration::from_millis(200));
    clients
}

/// The server's wakeups per second while [`IDLE_CONNECTIONS`] connections wait.
pub fn idle(server: &mut Server) -> f64 {
    let clients = hold(server, IDLE_CONNECTIONS);
    let switches = server.context_switches();
    let watched = Instant::now();
    std::thread::sleep(IDLE_WINDOW);
    let wakeups = (server.context_switches() - switches) as f64 / watched.elapsed().as_secs_f64();
    drop(clients);
    wakeups
}

/// The growth of the server process's resident memory per held connection, in bytes, with
/// [`HELD_CONNECTIONS`] held; after a warm-up of a few echoes, so that what is done once (type
/// and class initializations, the code paged in) is not counted.
pub fn memory(server: &mut Server) -> f64 {
    let warm_up = burst(server.address, 8, DEADLINE, Prefix::None);
    assert!(warm_up.total.is_some(), "the warm-up was not echoed");
    std::thread::sleep(Duration::from_millis(100));
    let before = server.resident_memory();
    let clients = hold(server, HELD_CONNECTIONS);
    let after = server.resident_memory();
    drop(clients);
    (after as f64 - before as f64) / HELD_CONNECTIONS as f64
}
