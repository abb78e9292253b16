//! A service close to its descriptor limit pauses accepting before the limit
//! (`descriptor-margin`, `overloaded`), with no failed accept; one that runs out of file
//! descriptors all the same (no margin) backs off instead of spinning, reports its failures
//! (`accept-error`, or a warning at most once a second); either serves every waiting client as
//! soon as descriptors are free again (GLib spins and floods the log: bug B1).
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
        let mode = Mode::ALL
            .into_iter()
            .find(|mode| mode.name() == args[position + 1]);
        serve(mode.expect("a mode"));
        return;
    }
    // The test harness passes filters and flags: honour `--list` and run otherwise.
    if args.iter().any(|arg| arg == "--list") {
        for mode in Mode::ALL {
            println!("{}: test", mode.name());
        }
        return;
    }
    for mode in Mode::ALL {
        let name = mode.name();
        let filters: Vec<&String> = args[1..]
            .iter()
            .filter(|arg| !arg.starts_with('-'))
            .collect();
        if !filters.is_empty() && !filters.iter().any(|filter| name.contains(filter.as_str())) {
            continue;
        }
        print!("test {name} ... ");
        let report = starve(mode);
        println!("ok\n    {report}");
    }
}

/// How the service meets the limit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// With its default `descriptor-margin`: it pauses before the limit.
    Paused,
    /// Without a margin, nobody listening to `accept-error`: it logs.
    Quiet,
    /// Without a margin, a handler connected to `accept-error`.
    Handled,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Paused, Mode::Quiet, Mode::Handled];

    fn name(self) -> &'static str {
        match self {
            Mode::Paused => "starvation_paused_before_the_limit",
            Mode::Quiet => "starvation_quiet",
            Mode::Handled => "starvation_handled",
        }
    }
}

thread_local! {
    /// The connections the child keeps open until told to release them.
    static HELD: std::cell::RefCell<Option<Vec<gio::SocketConnection>>> =
        const { std::cell::RefCell::new(Some(Vec::new())) };
}

/// The child: a service limited to [`FD_LIMIT`] descriptors that keeps every connection open
/// until told to let them go on its standard input.
fn serve(mode: Mode) {
    let limit = libc::rlimit {
        rlim_cur: FD_LIMIT,
        rlim_max: FD_LIMIT,
    };
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);

    let main_loop = glib::MainLoop::new(None, false);
    let service = usher::SocketService::new();
    service.set_listen_backlog(2 * CLIENTS as i32);
    if mode != Mode::Paused {
        service.set_descriptor_margin(0);
    }
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
    // The first pause, or the first failure, once.
    let starved = std::rc::Rc::new(std::cell::Cell::new(false));
    let say_starved = move || {
        if !starved.replace(true) {
            println!("starved");
        }
    };
    service.connect_n_accept_errors_notify({
        let say_starved = say_starved.clone();
        move |_| say_starved()
    });
    service.connect_overloaded_notify(move |service| {
        if service.overloaded() {
            say_starved();
        }
    });
    let signalled = std::rc::Rc::new(std::cell::Cell::new(0u64));
    if mode == Mode::Handled {
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
        "accepted {} errors {} signalled {} paused {}",
        service.n_accepted(),
        service.n_accept_errors(),
        signalled.get(),
        service.n_refused(usher::Refusal::Overload)
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

fn spawn_server(mode: Mode) -> Server {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", mode.name()])
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
fn starve(mode: Mode) -> String {
    let mut server = spawn_server(mode);
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
    let (accepted, errors, signalled, paused) = (counts[0], counts[1], counts[2], counts[3]);
    assert_eq!(accepted, CLIENTS as u64);
    if mode == Mode::Paused {
        assert_eq!(errors, 0, "paused before the limit, no accept failed");
        assert!(paused > 0);
        assert_eq!(warnings, 0, "{log}");
    } else {
        assert!(errors > 0);
        assert_eq!(paused, 0);
    }
    if mode == Mode::Handled {
        assert_eq!(
            signalled, errors,
            "accept-error is emitted for every failure"
        );
        assert_eq!(
            warnings, 0,
            "no warning while a handler is connected:\n{log}"
        );
    } else if mode == Mode::Quiet {
        assert!((1..100).contains(&warnings), "{warnings} warnings:\n{log}");
    }
    format!(
        "starved: {:.2} % of a core over {STARVED_WINDOW:?}, {served_while_starved} clients \
         served with {FD_LIMIT} descriptors; {errors} failed accepts, {paused} pauses, \
         {warnings} warnings; \
         the other {} clients served {recovery:?} after descriptors were freed",
        cpu_share * 100.0,
        CLIENTS - served_while_starved
    )
}
