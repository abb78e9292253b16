//! Restarts that refuse no client, with `examples/restart.rs`: while clients connect and echo
//! without pause (TCP from three threads, a Unix socket from a fourth), the server restarts
//! three times in a row, by handing its sockets over to its successor on SIGHUP, or through
//! systemd's file descriptor store, played here by a datagram socket that receives the
//! sockets and starts the next instance with them (`LISTEN_FDS`, `LISTEN_FDNAMES`, and
//! `LISTEN_PID` set by the shell that becomes it, as systemd sets it after its fork). No
//! connection is refused or reset, every echo is answered, each by exactly one process; the
//! gap between the predecessor's last accept and the successor's first is printed. The
//! handovers again with a TLS server and clients, with handshakes in flight at each
//! predecessor's shutdown: none fails.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::certificates::Certificates;
use common::{DEADLINE, Scratch, example};
use gio::prelude::*;

/// How long the clients run between two restarts, and before the first.
const BETWEEN: Duration = Duration::from_millis(300);

/// The lines every instance prints (`[PID] …`), on one pipe, kept as they come.
struct Output {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Output {
    /// A pipe for the instances' standard output, and its reader.
    fn new() -> (Output, std::io::PipeWriter) {
        let (reader, writer) = std::io::pipe().unwrap();
        let lines = common::lines_of(reader);
        (
            Output {
                lines,
                seen: Vec::new(),
            },
            writer,
        )
    }

    /// The first line, seen already or to come, that starts with `start`.
    fn line(&mut self, start: &str) -> String {
        if let Some(line) = self.seen.iter().find(|line| line.starts_with(start)) {
            return line.clone();
        }
        let began = Instant::now();
        loop {
            let line = self
                .lines
                .recv_timeout(DEADLINE.saturating_sub(began.elapsed()))
                .unwrap_or_else(|_| panic!("no line {start:?}; so far: {:#?}", self.seen));
            self.seen.push(line.clone());
            if line.starts_with(start) {
                return line;
            }
        }
    }

    /// What follows `start` in its line, up to `end`.
    fn field(&mut self, start: &str, after: &str, end: char) -> String {
        let line = self.line(start);
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.split(end).next().unwrap().to_owned()
    }

    /// Every line to come, until the pipe closes (every instance has exited).
    fn rest(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
    }
}

/// What the clients of one thread saw.
#[derive(Default)]
struct Tally {
    answered: Vec<String>,
    failures: Vec<String>,
    /// The longest a client waited, from its connect() to its echo.
    longest: Duration,
}

/// What the clients speak.
#[derive(Clone)]
enum Speech {
    Plain,
    /// TLS, the server's certificate verified with the certificate authority at this path.
    Tls(String),
}

/// Clients that connect, send a line and read its echo, one after the other without pause,
/// from three threads on TCP and one on the Unix socket, speaking `Speech`.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Tally>>,
    started: Instant,
}

impl Load {
    fn start(tcp: SocketAddr, unix: PathBuf, speech: Speech) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..4)
            .map(|thread| {
                let (stop, unix, speech) = (stop.clone(), unix.clone(), speech.clone());
                std::thread::spawn(move || {
                    let database = match speech {
                        Speech::Plain => None,
                        Speech::Tls(ca) => Some(gio::TlsFileDatabase::new(ca).unwrap().upcast()),
                    };
                    let mut tally = Tally::default();
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let line = format!("client-{thread}-{n}");
                        let began = Instant::now();
                        let echoed = if thread == 3 {
                            UnixStream::connect(&unix)
                                .map_err(|error| error.to_string())
                                .and_then(|stream| {
                                    stream.set_read_timeout(Some(DEADLINE)).unwrap();
                                    echo(stream, &line, database.as_ref())
                                })
                        } else {
                            TcpStream::connect(tcp)
                                .map_err(|error| error.to_string())
                                .and_then(|stream| {
                                    stream.set_read_timeout(Some(DEADLINE)).unwrap();
                                    // Over TLS 1.3, the line would wait for the ACK of the
                                    // client's Finished: 40 ms.
                                    stream.set_nodelay(true).unwrap();
                                    echo(stream, &line, database.as_ref())
                                })
                        };
                        tally.longest = tally.longest.max(began.elapsed());
                        match echoed {
                            Ok(reply) if reply == format!("{line}\n") => tally.answered.push(line),
                            Ok(reply) => tally.failures.push(format!("{line}: {reply:?}")),
                            Err(error) => tally.failures.push(format!("{line}: {error}")),
                        }
                    }
                    tally
                })
            })
            .collect();
        Load {
            stop,
            threads,
            started: Instant::now(),
        }
    }

    /// Stops the clients; what they saw, and how many echoes per millisecond.
    fn stop(self) -> (Tally, f64) {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Tally::default();
        for thread in self.threads {
            let tally = thread.join().unwrap();
            all.answered.extend(tally.answered);
            all.failures.extend(tally.failures);
            all.longest = all.longest.max(tally.longest);
        }
        let rate = all.answered.len() as f64 / self.started.elapsed().as_secs_f64() / 1000.0;
        (all, rate)
    }
}

/// Sends `line` on `stream` and reads its echo: in the clear, or over TLS with the server's
/// certificate verified by `tls`.
fn echo(
    mut stream: impl std::io::Read + Write + Into<OwnedFd>,
    line: &str,
    tls: Option<&gio::TlsDatabase>,
) -> Result<String, String> {
    let Some(database) = tls else {
        stream
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|error| error.to_string())?;
        let mut reply = String::new();
        BufReader::new(stream)
            .read_line(&mut reply)
            .map_err(|error| error.to_string())?;
        return Ok(reply);
    };
    let socket = gio::Socket::from_fd(stream.into()).map_err(|error| error.to_string())?;
    socket.set_timeout(DEADLINE.as_secs() as u32);
    let identity = gio::NetworkAddress::new("localhost", 0);
    let tls = gio::TlsClientConnection::new(
        &socket.connection_factory_create_connection(),
        Some(&identity),
    )
    .map_err(|error| error.to_string())?;
    tls.set_database(Some(database));
    tls.handshake(gio::Cancellable::NONE)
        .map_err(|error| format!("handshake: {error}"))?;
    tls.output_stream()
        .write_all(format!("{line}\n").as_bytes(), gio::Cancellable::NONE)
        .map_err(|error| error.to_string())?;
    let reply = gio::DataInputStream::new(&tls.input_stream())
        .read_line_utf8(gio::Cancellable::NONE)
        .map_err(|error| error.to_string())?;
    let _ = tls.close(gio::Cancellable::NONE);
    Ok(reply.map_or_else(String::new, |reply| format!("{reply}\n")))
}

/// The instances of the server, killed if the test ends before they do.
#[derive(Default)]
struct Instances(Vec<i32>);

impl Instances {
    /// Waits for the exit of `pid`, a child or an orphan this process adopted as the
    /// subreaper, and asserts that it exited successfully.
    fn reap(&mut self, pid: i32) {
        let start = Instant::now();
        loop {
            let mut status = 0;
            let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if reaped == pid {
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "process {pid} ended with status {status:#x}"
                );
                self.0.retain(|&known| known != pid);
                return;
            }
            assert_eq!(reaped, 0, "process {pid} is not ours to wait for");
            assert!(start.elapsed() < DEADLINE, "process {pid} never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for &pid in &self.0 {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn signal(pid: i32, signal: i32) {
    assert_eq!(
        unsafe { libc::kill(pid, signal) },
        0,
        "signal {signal} to {pid}"
    );
}

/// Makes this process the reaper of its orphaned descendants: a successor outlives the
/// predecessor that started it.
fn adopt_orphans() {
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

/// The first and last accept of an instance, from its lines.
fn first_accept(output: &mut Output, pid: i32) -> i64 {
    output
        .field(&format!("[{pid}] First accept at "), "at ", ' ')
        .parse()
        .unwrap()
}

fn last_accept(output: &mut Output, pid: i32) -> i64 {
    output
        .field(&format!("[{pid}] Shut down:"), "accepted at ", ' ')
        .parse()
        .unwrap()
}

/// Checks the clients' tally against what the instances printed: no failure, every echo
/// answered, each line received by exactly one process, all of them served some.
fn check(tally: &Tally, rate: f64, output: &Output, pids: &[i32], gaps: &[i64], how: &str) {
    assert!(
        tally.failures.is_empty(),
        "{} of {} clients failed: {:?}",
        tally.failures.len(),
        tally.answered.len() + tally.failures.len(),
        &tally.failures[..tally.failures.len().min(10)]
    );
    let mut received: HashMap<&str, Vec<&str>> = HashMap::new();
    for line in &output.seen {
        if let Some((pid, line)) = line.split_once("] Received: ") {
            received.entry(line).or_default().push(&pid[1..]);
        }
    }
    for line in &tally.answered {
        let by = received.get(line.as_str()).map_or(0, Vec::len);
        assert_eq!(by, 1, "{line} was received by {by} processes");
    }
    assert_eq!(received.len(), tally.answered.len());
    for pid in pids {
        let served = received
            .values()
            .filter(|by| by.contains(&pid.to_string().as_str()))
            .count();
        assert!(served > 0, "process {pid} served nobody");
    }
    let mut sorted = gaps.to_vec();
    sorted.sort();
    println!(
        "{how}: {} echoes at {rate:.1} per ms, the longest in {} µs, {} processes; gaps \
         (successor's first accept - predecessor's last) in µs: {gaps:?}, min {} median {} max {}",
        tally.answered.len(),
        tally.longest.as_micros(),
        pids.len(),
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
}

#[test]
fn three_handovers_in_a_row_refuse_no_client_and_answer_every_echo() {
    three_handovers(Speech::Plain, &[], "handover");
}

/// With TLS, on TCP and the Unix socket. Each client connects, then makes its TLS connection
/// (about 10 ms here) and shakes hands (3 to 6 ms): the server waits in its handshake
/// meanwhile, so each predecessor's shutdown catches a few of them in flight, which it
/// completes, and serves their clients. (The engine that dropped them at a shutdown reset 3 or
/// 4 clients per handover here.)
#[test]
fn three_handovers_in_a_row_over_tls_fail_no_handshake_and_answer_every_echo() {
    let certificates = Certificates::new();
    let (certificate, key) = (
        certificates.path("server.pem"),
        certificates.path("server.key"),
    );
    three_handovers(
        Speech::Tls(certificates.path("ca.pem")),
        &["--tls", &certificate, &key],
        "handover over TLS",
    );
}

/// Starts the example with `options` after its port and Unix path, and hands over three times
/// in a row while clients speaking `speech` connect without pause; checks their tally.
fn three_handovers(speech: Speech, options: &[&str], how: &str) {
    adopt_orphans();
    let scratch = Scratch::new("restart");
    let path = scratch.0.join("echo.sock");
    let (mut output, stdout) = Output::new();
    let first = Command::new(example("restart"))
        .arg("0")
        .arg("--unix")
        .arg(&path)
        .args(options)
        .stdout(stdout)
        .spawn()
        .unwrap();
    let mut instances = Instances(vec![first.id() as i32]);
    let mut current = first.id() as i32;
    // The child is reaped with waitpid() like its successors.
    std::mem::forget(first);
    let port: u16 = output
        .field(&format!("[{current}] Listening on port "), "port ", '.')
        .parse()
        .unwrap();
    output.line(&format!("[{current}] Listening at "));
    let load = Load::start(
        SocketAddr::from(([127, 0, 0, 1], port)),
        path.clone(),
        speech,
    );
    let mut pids = vec![current];
    let mut gaps = Vec::new();
    std::thread::sleep(BETWEEN);
    for _ in 0..3 {
        signal(current, libc::SIGHUP);
        let successor: i32 = output
            .field(
                &format!("[{current}] Handing over to process "),
                "process ",
                '.',
            )
            .parse()
            .unwrap();
        instances.0.push(successor);
        output.line(&format!("[{successor}] Took over 2 sockets."));
        output.line(&format!("[{current}] Handed 2 sockets over"));
        let last = last_accept(&mut output, current);
        instances.reap(current);
        gaps.push(first_accept(&mut output, successor) - last);
        assert!(path.exists(), "the socket file is the successor's");
        pids.push(successor);
        current = successor;
        std::thread::sleep(BETWEEN);
    }
    let (tally, rate) = load.stop();
    signal(current, libc::SIGTERM);
    output.line(&format!("[{current}] Shut down:"));
    instances.reap(current);
    output.rest();
    check(&tally, rate, &output, &pids, &gaps, how);
    assert!(!path.exists(), "the last instance removed the socket file");
}

/// Receives one message and its descriptors on the stand-in's notify socket, within `wait`.
fn receive_stored(notify: &UnixDatagram, wait: Duration) -> Option<(String, Vec<OwnedFd>)> {
    notify.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 4096];
    let mut control = [0u64; 64];
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = std::mem::size_of_val(&control) as _;
    let received =
        unsafe { libc::recvmsg(notify.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
    if received < 0 {
        return None;
    }
    let mut descriptors = Vec::new();
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_type == libc::SCM_RIGHTS {
                let count = ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                let data = libc::CMSG_DATA(header) as *const RawFd;
                for index in 0..count {
                    descriptors.push(OwnedFd::from_raw_fd(data.add(index).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    let text = String::from_utf8_lossy(&buffer[..received as usize]).into_owned();
    Some((text, descriptors))
}

/// Starts an instance as systemd starts a unit with a file descriptor store: the stored
/// descriptors from 3 on, `LISTEN_FDS` and `LISTEN_FDNAMES` for them, and `LISTEN_PID` its own
/// pid, which the shell sets before it becomes the instance.
fn start_with_store(
    stored: &[(String, OwnedFd)],
    notify: &Path,
    stdout: &std::io::PipeWriter,
) -> std::process::Child {
    let names: Vec<&str> = stored.iter().map(|(name, _)| name.as_str()).collect();
    let sources: Vec<RawFd> = stored.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let mut command = Command::new("sh");
    command
        .args(["-c", "LISTEN_PID=$$ exec \"$0\" --fd-store"])
        .arg(example("restart"))
        .env("LISTEN_FDS", stored.len().to_string())
        .env("LISTEN_FDNAMES", names.join(":"))
        .env("NOTIFY_SOCKET", notify)
        .stdout(stdout.try_clone().unwrap());
    // SAFETY: only fcntl() and dup2(), which are async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Out of the way first, then in place, without close-on-exec.
            let mut high = Vec::with_capacity(0);
            for &source in &sources {
                let moved = libc::fcntl(source, libc::F_DUPFD, 100);
                if moved < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(moved);
            }
            for (index, &moved) in high.iter().enumerate() {
                if libc::dup2(moved, 3 + index as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command.spawn().unwrap()
}

#[test]
fn three_restarts_through_the_fd_store_refuse_no_client() {
    let scratch = Scratch::new("fd-store");
    let path = scratch.0.join("echo.sock");
    let notify_path = scratch.0.join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    let (mut output, stdout) = Output::new();
    let mut instances = Instances::default();
    let first = Command::new(example("restart"))
        .args(["--fd-store", "0", "--unix"])
        .arg(&path)
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("LISTEN_PID")
        .stdout(stdout.try_clone().unwrap())
        .spawn()
        .unwrap();
    let mut current = first.id() as i32;
    instances.0.push(current);
    std::mem::forget(first);
    let port: u16 = output
        .field(&format!("[{current}] Listening on port "), "port ", '.')
        .parse()
        .unwrap();
    output.line(&format!("[{current}] Stored 2 sockets with systemd."));
    // systemd's part: the store.
    let mut stored = Vec::new();
    for _ in 0..2 {
        let (message, mut descriptors) = receive_stored(&notify, DEADLINE).unwrap();
        assert_eq!(message, "FDSTORE=1\nFDNAME=echo\n");
        assert_eq!(descriptors.len(), 1);
        stored.push(("echo".to_owned(), descriptors.pop().unwrap()));
    }

    let load = Load::start(
        SocketAddr::from(([127, 0, 0, 1], port)),
        path.clone(),
        Speech::Plain,
    );
    let mut pids = vec![current];
    let mut gaps = Vec::new();
    std::thread::sleep(BETWEEN);
    for _ in 0..3 {
        // `systemctl restart`: the instance is stopped, then the next one started with the
        // store's sockets, which kept every client waiting meanwhile.
        signal(current, libc::SIGTERM);
        let last = last_accept(&mut output, current);
        instances.reap(current);
        let next = start_with_store(&stored, &notify_path, &stdout);
        let next_pid = next.id() as i32;
        std::mem::forget(next);
        instances.0.push(next_pid);
        output.line(&format!("[{next_pid}] 2 sockets from systemd."));
        gaps.push(first_accept(&mut output, next_pid) - last);
        assert!(path.exists(), "the socket file stays for the next instance");
        pids.push(next_pid);
        current = next_pid;
        std::thread::sleep(BETWEEN);
    }
    let (tally, rate) = load.stop();
    signal(current, libc::SIGTERM);
    output.line(&format!("[{current}] Shut down:"));
    instances.reap(current);
    drop(stdout);
    drop(stored);
    output.rest();
    check(&tally, rate, &output, &pids, &gaps, "fd store");
    // The sockets systemd passed are not stored again.
    assert!(receive_stored(&notify, Duration::from_millis(10)).is_none());
    let _ = notify.as_fd();
}

/// Runs the example with `--fd-store` and `NOTIFY_SOCKET` set to `notify` (unset: `None`),
/// until it says what became of its sockets; that line.
fn store_once(notify: Option<&str>) -> String {
    let (mut output, stdout) = Output::new();
    let mut command = Command::new(example("restart"));
    command
        .args(["--fd-store", "0"])
        .env_remove("LISTEN_PID")
        .env_remove("NOTIFY_SOCKET")
        .stdout(stdout);
    if let Some(notify) = notify {
        command.env("NOTIFY_SOCKET", notify);
    }
    let mut child = common::Reaped(command.spawn().unwrap());
    let pid = child.id();
    let line = output.line(&format!("[{pid}] "));
    assert!(line.contains("Listening on port"), "{line}");
    let mut stored = output
        .lines
        .recv_timeout(DEADLINE)
        .expect("a line about the store");
    stored.drain(..format!("[{pid}] ").len());
    signal(pid as i32, libc::SIGTERM);
    child.wait().unwrap();
    stored
}

#[test]
fn the_store_takes_an_abstract_notify_socket_and_its_failures_are_clear() {
    let name = format!("usher-test-notify-{}", std::process::id());
    let address =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            name.as_bytes(),
        )
        .unwrap();
    let notify = UnixDatagram::bind_addr(&address).unwrap();
    assert_eq!(
        store_once(Some(&format!("@{name}"))),
        "Stored 1 sockets with systemd."
    );
    let (message, descriptors) = receive_stored(&notify, DEADLINE).unwrap();
    assert_eq!(message, "FDSTORE=1\nFDNAME=echo\n");
    assert_eq!(descriptors.len(), 1);

    let unset = store_once(None);
    assert!(
        unset.starts_with("Cannot store the sockets with systemd: NOTIFY_SOCKET is not set"),
        "{unset}"
    );
    let nobody = store_once(Some("@usher-test-nobody-listens-here"));
    assert!(
        nobody.starts_with("Cannot store the sockets with systemd: Cannot reach systemd's notify socket @usher-test-nobody-listens-here")
            && nobody.contains("Connection refused"),
        "{nobody}"
    );
    // systemd refuses: its socket no longer reads (sendmsg() fails with EPIPE).
    notify.shutdown(std::net::Shutdown::Read).unwrap();
    let refused = store_once(Some(&format!("@{name}")));
    assert!(
        refused.starts_with(&format!(
            "Cannot store the sockets with systemd: systemd's notify socket @{name} refused the socket echo"
        )),
        "{refused}"
    );
    let relative = store_once(Some("notify"));
    assert!(
        relative.contains("neither a path nor an abstract name"),
        "{relative}"
    );
}
