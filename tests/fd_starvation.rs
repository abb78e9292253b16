//! A service that runs out of file descriptors backs off instead of spinning, reports its
//! failures (`accept-error`, or a warning at most once a second), and serves every waiting
//! client as soon as descriptors are free again (GLib spins and floods the log: bug B1).
//!
//! The server runs in a child process (this same binary, with `--serve`) limited to 64 file
//! descriptors, facing 300 clients. The parent measures the child's CPU time while it is
//! starved, counts its log lines, and times the recovery.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::DEADLINE;

use gio::prelude::*;
use usher::prelude::*;

const FD_LIMIT: u64 = 64;
const CLIENTS: usize = 300;
/// How long the parent watches the starved child's CPU time.
const STARVED_WINDOW: Duration = Duration::from_secs(2);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|arg| arg == "--serve") {
        serve(args[position + 1] == "handled");
        return;
    }
    // The test harness passes filters and flags: honour `--list` and run otherwise.
    if args.iter().any(|arg| arg == "--list") {
        println!("starvation_quiet: test\nstarvation_handled: test");
        return;
    }
    for handled in [false, true] {
        let name = if handled {
            "starvation_handled"
        } else {
            "starvation_quiet"
        };
        let filters: Vec<&String> = args[1..]
            .iter()
            .filter(|arg| !arg.starts_with('-'))
            .collect();
        if !filters.is_empty() && !filters.iter().any(|filter| name.contains(filter.as_str())) {
            continue;
        }
        print!("test {name} ... ");
        let report = starve(handled);
        println!("ok\n    {report}");
    }
}

thread_local! {
    /// The connections the child keeps open until told to release them.
    static HELD: std::cell::RefCell<Option<Vec<gio::SocketConnection>>> =
        const { std::cell::RefCell::new(Some(Vec::new())) };
}

/// The child: a service limited to [`FD_LIMIT`] descriptors that keeps every connection open
/// until told to let them go on its standard input.
fn serve(handled: bool) {
    let limit = libc::rlimit {
        rlim_cur: FD_LIMIT,
        rlim_max: FD_LIMIT,
    };
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);

    let main_loop = glib::MainLoop::new(None, false);
    let service = usher::SocketService::new();
    service.set_listen_backlog(2 * CLIENTS as i32);
    let address = common::listen_loopback(&service, None);
    println!("port {}", address.port());

    service.connect_incoming(|_, connection, _| {
        let _ = connection
            .output_stream()
            .write_all(b"ok\n", gio::Cancellable::NONE);
        HELD.with_borrow_mut(|held| {
            if let Some(held) = held {
                held.push(connection.clone());
            }
        });
        false
    });
    service.connect_n_accept_errors_notify(|service| {
        if service.n_accept_errors() == 1 {
            println!("starved");
        }
    });
    let signalled = std::rc::Rc::new(std::cell::Cell::new(0u64));
    if handled {
        let signalled = signalled.clone();
        service.connect_accept_error(move |_, error| {
            assert!(error.matches(gio::IOErrorEnum::TooManyOpenFiles), "{error}");
            signalled.set(signalled.get() + 1);
        });
    }

    // Commands from the parent, one per line: `release`, then `quit`. They are read on a
    // thread and carried out on the main loop.
    let context = glib::MainContext::default();
    std::thread::spawn({
        let main_loop = main_loop.clone();
        move || {
            for command in std::io::stdin().lines() {
                match command.unwrap().as_str() {
                    "release" => context.invoke(|| {
                        HELD.take();
                        println!("released");
                    }),
                    _ => break,
                }
            }
            main_loop.quit();
        }
    });
    main_loop.run();
    println!(
        "accepted {} errors {} signalled {}",
        service.n_accepted(),
        service.n_accept_errors(),
        signalled.get()
    );
}

/// CPU time (user + system) the process `pid` used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_micros(ticks * 1_000_000 / ticks_per_second)
}

struct Server {
    child: Child,
    commands: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .expect("the server prints its next line")
    }

    fn command(&mut self, command: &str) {
        writeln!(self.commands, "{command}").unwrap();
    }
}

fn spawn_server(handled: bool) -> Server {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", if handled { "handled" } else { "quiet" }])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = common::lines_of(child.stdout.take().unwrap());
    let commands = child.stdin.take().unwrap();
    Server {
        child,
        commands,
        lines,
    }
}

/// Runs one starvation scenario and checks its figures; returns them for the log.
fn starve(handled: bool) -> String {
    let mut server = spawn_server(handled);
    let port: u16 = server
        .next_line()
        .strip_prefix("port ")
        .unwrap()
        .parse()
        .unwrap();
    let address = SocketAddr::from(([127, 0, 0, 1], port));

    // Each client connects (the backlog has room for all), then waits for its "ok".
    let (served, served_at) = mpsc::channel();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let served = served.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).unwrap();
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut ok = [0; 3];
                stream.read_exact(&mut ok).expect("every client is served");
                assert_eq!(&ok, b"ok\n");
                served.send(Instant::now()).unwrap();
                // Keep the connection until the test ends.
                stream
            })
        })
        .collect();
    drop(served);

    assert_eq!(server.next_line(), "starved");
    let starved_cpu = cpu_time(server.child.id());
    let starved_since = Instant::now();
    std::thread::sleep(STARVED_WINDOW);
    let cpu_share = (cpu_time(server.child.id()) - starved_cpu).as_secs_f64()
        / starved_since.elapsed().as_secs_f64();
    let served_while_starved = served_at.try_iter().count();
    assert!(
        served_while_starved < FD_LIMIT as usize,
        "{served_while_starved} clients served with {FD_LIMIT} descriptors"
    );

    let released_at = Instant::now();
    server.command("release");
    assert_eq!(server.next_line(), "released");
    let mut last_served = released_at;
    for _ in served_while_starved..CLIENTS {
        last_served = last_served.max(
            served_at
                .recv_timeout(DEADLINE)
                .expect("a client is served"),
        );
    }
    let recovery = last_served - released_at;
    let streams: Vec<TcpStream> = clients
        .into_iter()
        .map(|client| client.join().unwrap())
        .collect();

    server.command("quit");
    let totals = server.next_line();
    let mut log = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(server.child.wait().unwrap().success());
    drop(streams);
    let warnings = log
        .lines()
        .filter(|line| line.contains("Usher-WARNING"))
        .count();

    assert!(
        cpu_share < 0.10,
        "the starved service used {:.1} % of a core",
        cpu_share * 100.0
    );
    assert!(
        recovery < Duration::from_secs(1),
        "the last waiting client was served {recovery:?} after descriptors were freed"
    );
    let counts: Vec<u64> = totals
        .split(' ')
        .filter_map(|word| word.parse().ok())
        .collect();
    let (accepted, errors, signalled) = (counts[0], counts[1], counts[2]);
    assert_eq!(accepted, CLIENTS as u64);
    assert!(errors > 0);
    if handled {
        assert_eq!(
            signalled, errors,
            "accept-error is emitted for every failure"
        );
        assert_eq!(
            warnings, 0,
            "no warning while a handler is connected:\n{log}"
        );
    } else {
        assert!((1..100).contains(&warnings), "{warnings} warnings:\n{log}");
    }
    format!(
        "starved: {:.2} % of a core over {STARVED_WINDOW:?}, {served_while_starved} clients \
         served with {FD_LIMIT} descriptors; {errors} failed accepts, {warnings} warnings; \
         the other {} clients served {recovery:?} after descriptors were freed",
        cpu_share * 100.0,
        CLIENTS - served_while_starved
    )
}
