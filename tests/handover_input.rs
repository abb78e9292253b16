//! A handover's untrusted input: predecessors (`tests/handover_peer.py`) that run as another
//! user, or send a file, a socket that does not listen, too many descriptors, a truncated,
//! miscounted, overlong or garbled message, an invalid name or a line of another format. Each
//! is refused and reported, nothing is adopted, the forger is told why, and no descriptor is
//! left open; honest ones are taken over, whatever valid name they give.
//!
//! This binary has ONE test function on purpose: it counts the process's open descriptors,
//! which other tests running in parallel threads would change under it.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

const PEER: &str = include_str!("handover_peer.py");

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A forging predecessor, listening; `as_nobody` runs it as user 65534.
struct Forger {
    child: Reaped,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    address: gio::UnixSocketAddress,
}

impl Forger {
    fn start(kind: &str, as_nobody: bool) -> Forger {
        let name = format!("usher-test-forger-{kind}-{}", std::process::id());
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
        let mut child = Reaped(
            command
                .args(["-c", PEER, "predecessor", &name, kind])
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 runs"),
        );
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "listening");
        let address = gio::UnixSocketAddress::with_type(
            gio::prelude::UnixSocketAddressPath::Abstract(name.as_bytes()),
        );
        Forger {
            child,
            lines,
            address,
        }
    }

    /// The port of the listening socket it sends, once it has accepted the successor.
    fn port(&mut self) -> u16 {
        let line = self.lines.next().unwrap().unwrap();
        line.strip_prefix("port ").unwrap().parse().unwrap()
    }

    /// What the successor answered.
    fn answer(mut self) -> String {
        let answer = self
            .lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.starts_with("answer: "))
            .unwrap();
        self.child.wait().unwrap();
        answer
    }
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn forged_handovers_are_refused_and_leave_nothing_open() {
    with_context(|context| {
        // Honest predecessors first: the sockets are taken over and served, under any valid
        // name, spaces and the empty one included. (It also opens what GLib keeps open for
        // good, before the count.)
        for (kind, name) in [("honest", "web"), ("spaced", "web admin"), ("unnamed", "")] {
            let service = usher::SocketService::new();
            serve_echo(&service);
            let mut forger = Forger::start(kind, false);
            let mut names = Vec::new();
            let added = service
                .take_over(
                    &forger.address,
                    |name| {
                        names.push(name.to_owned());
                        Some(tag())
                    },
                    gio::Cancellable::NONE,
                )
                .unwrap_or_else(|error| panic!("{kind}: {error}"));
            assert_eq!((added, names), (1, vec![name.to_owned()]), "{kind}");
            let port = forger.port();
            drain(context);
            assert_eq!(forger.answer(), "answer: b'ready\\n'", "{kind}");
            assert_echoed(context, ([127, 0, 0, 1], port).into(), "taken over");
            service.close();
            drop(service);
            drain(context);
        }

        let before = open_descriptors();
        let mut cases = vec![
            (
                "file",
                gio::IOErrorEnum::NotSupported,
                "descriptor 0 (web) is not a listening stream socket",
            ),
            (
                "not-listening",
                gio::IOErrorEnum::NotSupported,
                "descriptor 1 (other) is not a listening stream socket",
            ),
            (
                "too-many",
                gio::IOErrorEnum::InvalidData,
                "more than 64 descriptors",
            ),
            ("truncated", gio::IOErrorEnum::InvalidData, "truncated"),
            (
                "miscounted",
                gio::IOErrorEnum::InvalidData,
                "names 1 sockets, and came with 2 descriptors",
            ),
            ("garbage", gio::IOErrorEnum::InvalidData, "not text"),
            (
                "bad-name",
                gio::IOErrorEnum::InvalidData,
                "bad socket name in the handover message",
            ),
            ("old-format", gio::IOErrorEnum::InvalidData, "bad line"),
            (
                "too-long",
                gio::IOErrorEnum::InvalidData,
                "longer than 32768 bytes",
            ),
        ];
        if is_root() {
            cases.push((
                "honest-nobody",
                gio::IOErrorEnum::PermissionDenied,
                "runs as uid 65534",
            ));
        } else {
            eprintln!("not root: the predecessor of another user is not tried");
        }
        for (kind, code, says) in cases {
            let service = usher::SocketService::new();
            let forger = match kind.strip_suffix("-nobody") {
                Some(kind) => Forger::start(kind, true),
                None => Forger::start(kind, false),
            };
            let error = service
                .take_over(
                    &forger.address,
                    |_| panic!("nothing adopted"),
                    gio::Cancellable::NONE,
                )
                .unwrap_err();
            assert!(error.matches(code), "{kind}: {error}");
            assert!(error.message().contains(says), "{kind}: {error}");
            let answer = forger.answer();
            if kind.ends_with("-nobody") {
                // Not a word to another user's process.
                assert_eq!(answer, "answer: b''", "{kind}");
            } else {
                assert!(
                    answer.contains(says),
                    "{kind}: the forger is told why: {answer}"
                );
            }
            assert!(service.is_active());
            drop(service);
            drain(context);
            assert_eq!(
                open_descriptors(),
                before,
                "{kind}: every descriptor received is closed"
            );
        }
    })
}
