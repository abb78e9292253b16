//! Helpers shared by the integration tests: loopback listeners, clients, and main-context
//! iteration that waits for events (with a deadline that fails the test instead of hanging).
#![allow(dead_code)]

pub mod balancers;
pub mod certificates;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use gio::prelude::*;

/// The longest a test waits for an event before failing.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Adds a listening socket on 127.0.0.1 with an ephemeral port and returns its address.
pub fn listen_loopback(
    listener: &impl IsA<gio::SocketListener>,
    source_object: Option<&glib::Object>,
) -> SocketAddr {
    let any_port = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
    let effective = listener
        .add_address(
            &any_port,
            gio::SocketType::Stream,
            gio::SocketProtocol::Tcp,
            source_object,
        )
        .expect("listen on 127.0.0.1");
    inet_address(effective)
}

/// Adds a listening socket on 127.0.0.1 with an ephemeral port to `service`, with `settings`,
/// and returns its address.
pub fn listen_with(service: &usher::SocketService, settings: &usher::SocketSettings) -> SocketAddr {
    use usher::prelude::*;
    let any_port = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
    let effective = service
        .add_address_with_settings(
            &any_port,
            gio::SocketType::Stream,
            gio::SocketProtocol::Tcp,
            None::<&glib::Object>,
            Some(settings),
        )
        .expect("listen on 127.0.0.1");
    inet_address(effective)
}

/// The address of an effective address that a listener returned.
fn inet_address(effective: gio::SocketAddress) -> SocketAddr {
    let effective = effective.downcast::<gio::InetSocketAddress>().unwrap();
    SocketAddr::new(
        effective.address().to_string().parse().unwrap(),
        effective.port(),
    )
}

/// Runs `test` with a new main context pushed as the thread-default one, so that tests that run
/// in parallel threads each have their own.
pub fn with_context<R>(test: impl FnOnce(&glib::MainContext) -> R) -> R {
    let context = glib::MainContext::new();
    context
        .with_thread_default(|| test(&context))
        .expect("a new context can be acquired")
}

/// Iterates `context` (blocking between events) until `done()` holds.
///
/// Panics when [`DEADLINE`] passes first.
pub fn iterate_until(context: &glib::MainContext, mut done: impl FnMut() -> bool) {
    let expired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deadline = glib::timeout_source_new(DEADLINE, None, glib::Priority::DEFAULT, {
        let expired = expired.clone();
        move || {
            expired.store(true, std::sync::atomic::Ordering::SeqCst);
            glib::ControlFlow::Break
        }
    });
    deadline.attach(Some(context));
    while !done() {
        assert!(
            !expired.load(std::sync::atomic::Ordering::SeqCst),
            "timed out waiting for an event"
        );
        context.iteration(true);
    }
    deadline.destroy();
}

/// Waits until the socket listening on IPv4 `address` has `clients` connections in its accept
/// queue. `connect()` returns once the client has the server's SYN-ACK; the kernel may queue the
/// connection for `accept()` a little later, when it has processed the client's ACK.
///
/// Panics when [`DEADLINE`] passes first.
pub fn wait_for_accept_queue(address: SocketAddr, clients: usize) {
    let SocketAddr::V4(address) = address else {
        panic!("an IPv4 address")
    };
    // /proc/net/tcp: the address as hexadecimal `IP:PORT` (the IP in the kernel's byte order),
    // the state (`0A` is LISTEN), then `tx_queue:rx_queue`, where rx_queue is the accept queue's
    // length for a listening socket.
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(address.ip().octets()),
        address.port()
    );
    let start = std::time::Instant::now();
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let queued = table.lines().skip(1).find_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
                .then(|| usize::from_str_radix(fields[4].split_once(':')?.1, 16).ok())
                .flatten()
        });
        if queued.is_some_and(|queued| queued >= clients) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{clients} clients never reached the accept queue of {address} ({queued:?})"
        );
        std::thread::yield_now();
    }
}

/// A client running on its own thread.
pub struct Client<T> {
    thread: std::thread::JoinHandle<T>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<T> Client<T> {
    /// Whether the client returned (or panicked); the context was woken up when it did.
    pub fn is_finished(&self) -> bool {
        self.done.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn join(self) -> std::thread::Result<T> {
        self.thread.join()
    }
}

/// Runs `client` on a new thread and wakes `context` up when it returns, so that
/// `iterate_until(context, || client.is_finished())` sees it.
pub fn spawn_client<T: Send + 'static>(
    context: &glib::MainContext,
    client: impl FnOnce() -> T + Send + 'static,
) -> Client<T> {
    struct Finished(
        glib::MainContext,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    );
    impl Drop for Finished {
        // Also when the client panics: the test then fails on join().
        fn drop(&mut self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            self.0.wakeup();
        }
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = Finished(context.clone(), done.clone());
    let thread = std::thread::spawn(move || {
        let _finished = finished;
        client()
    });
    Client { thread, done }
}

/// Has a client on another thread send `line` to `address` while `context` runs, and asserts
/// that it was echoed.
pub fn assert_echoed(context: &glib::MainContext, address: SocketAddr, line: &str) {
    let sent = line.to_owned();
    let client = spawn_client(context, move || echo_line(address, &sent));
    iterate_until(context, || client.is_finished());
    assert_eq!(client.join().unwrap(), format!("{line}\n"));
}

/// Dispatches what is ready on `context` without waiting, and fails if something stays ready
/// (a busy loop).
pub fn drain(context: &glib::MainContext) {
    for _ in 0..10_000 {
        if !context.iteration(false) {
            return;
        }
    }
    panic!("the context never became idle: a busy loop");
}

/// Keeps each connection `service` emits with `incoming`, alive, in the order they came.
pub fn keep_incoming(
    service: &usher::SocketService,
) -> std::rc::Rc<std::cell::RefCell<Vec<gio::SocketConnection>>> {
    use usher::prelude::*;
    let kept = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    service.connect_incoming({
        let kept = kept.clone();
        move |_, connection, _| {
            kept.borrow_mut().push(connection.clone());
            false
        }
    });
    kept
}

/// The errors `service` reports with `accept-error`, in order.
pub fn accept_errors(
    service: &usher::SocketService,
) -> std::rc::Rc<std::cell::RefCell<Vec<glib::Error>>> {
    use usher::prelude::*;
    let errors = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    service.connect_accept_error({
        let errors = errors.clone();
        move |_, error| errors.borrow_mut().push(error.clone())
    });
    errors
}

/// Echoes every line of `connection` until the client ends its stream, asynchronously on the
/// thread-default main context.
pub fn echo_lines(connection: &gio::SocketConnection) {
    let connection = connection.clone();
    glib::spawn_future_local(async move {
        let input = gio::DataInputStream::new(&connection.input_stream());
        let output = connection.output_stream();
        while let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
            let reply = format!("{line}\n").into_bytes();
            if output
                .write_all_future(reply, glib::Priority::DEFAULT)
                .await
                .is_err()
            {
                break;
            }
        }
    });
}

/// A TCP client of `to` bound to the source address `source` (std's `TcpStream` cannot choose
/// its source address, `GSocket` can).
pub fn connect_from(source: impl Into<std::net::IpAddr>, to: SocketAddr) -> TcpStream {
    use std::os::fd::AsFd;
    let source = SocketAddr::new(source.into(), 0);
    let family = match source {
        SocketAddr::V4(_) => gio::SocketFamily::Ipv4,
        SocketAddr::V6(_) => gio::SocketFamily::Ipv6,
    };
    let socket =
        gio::Socket::new(family, gio::SocketType::Stream, gio::SocketProtocol::Tcp).unwrap();
    socket
        .bind(&gio::InetSocketAddress::from(source), false)
        .unwrap();
    let to = gio::InetSocketAddress::from(to);
    SocketExt::connect(&socket, &to, gio::Cancellable::NONE).unwrap();
    let stream = TcpStream::from(socket.as_fd().try_clone_to_owned().unwrap());
    // GSocket makes its descriptors non-blocking; the copy shares that flag.
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Sends each of `pieces` to `address` from 127.0.0.1, one write each, while `context` runs, and
/// returns what comes back until the end of the stream.
pub fn send(context: &glib::MainContext, address: SocketAddr, pieces: Vec<Vec<u8>>) -> Vec<u8> {
    send_from(context, std::net::Ipv4Addr::LOCALHOST, address, pieces)
}

/// [`send`] from `source`.
pub fn send_from(
    context: &glib::MainContext,
    source: std::net::Ipv4Addr,
    address: SocketAddr,
    pieces: Vec<Vec<u8>>,
) -> Vec<u8> {
    let client = spawn_client(context, move || {
        let mut stream = connect_from(source, address);
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 {
                // Separate segments: the pieces arrive apart (a PROXY header in pieces).
                std::thread::sleep(Duration::from_millis(20));
            }
            stream.write_all(piece).unwrap();
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        reply
    });
    iterate_until(context, || client.is_finished());
    client.join().unwrap()
}

/// A directory of a test's own files, removed afterwards.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "usher-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A generic object to tag a listening socket with.
pub fn tag() -> glib::Object {
    glib::Object::with_type(glib::Object::static_type())
}

/// Connects to `address`, sends `line` and returns the line the server answers.
pub fn echo_line(address: SocketAddr, line: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .expect("read the echo");
    reply
}

/// Makes `service` echo one line on every connection, asynchronously.
pub fn serve_echo(service: &usher::SocketService) {
    use usher::prelude::*;
    service.connect_incoming(|_, connection, _| {
        let connection = connection.clone();
        glib::spawn_future_local(async move {
            let input = gio::DataInputStream::new(&connection.input_stream());
            if let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
                let reply = format!("{line}\n").into_bytes();
                let _ = connection
                    .output_stream()
                    .write_all_future(reply, glib::Priority::DEFAULT)
                    .await;
            }
        });
        false
    });
}

/// Raises this process's soft limit of descriptors to its hard limit, and asserts that it is
/// enough for `clients` clients and their server-side connections, with room for more.
pub fn raise_descriptor_limit(clients: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit.rlim_cur = limit.rlim_max;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    assert!(
        limit.rlim_cur >= 2 * clients as u64 + 100,
        "{limit:?} descriptors"
    );
}

/// A child process killed if the test fails before it ends.
pub struct Reaped(pub std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The example binary cargo built beside this test.
pub fn example(name: &str) -> std::path::PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join(name)
}

/// The lines a child prints on one of its outputs, as they come. The output is read to its
/// end even once nobody listens: a child writing to a closed pipe would die of SIGPIPE.
pub fn lines_of(output: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    lines
}

/// The next of `lines` that starts with `start`, the lines before it skipped.
///
/// Panics when none comes within [`DEADLINE`].
pub fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, start: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no line starting with {start:?}"));
        if line.starts_with(start) {
            return line;
        }
    }
}
