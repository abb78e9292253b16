//! The first service of a process, created while another thread makes the process's first
//! `GSocket`. GLib 2.74 deadlocks when one thread registers `GSocket` (which adds its interfaces
//! under the class-initialization lock) while another initializes `GSocketListener`'s class
//! (which asks for `GSocket`'s type): types are registered once per process, so each attempt
//! runs in a fresh child process. Before the service registered `GSocket` first, about 1 child
//! in 20 hung.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

/// Set in a child: race, instead of spawning children.
const CHILD: &str = "USHER_TYPE_REGISTRATION_CHILD";
const CHILDREN: usize = 100;
/// Far beyond the few milliseconds a child takes: a child still running then is deadlocked.
const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn the_first_service_and_the_first_socket_made_at_once_never_deadlock() {
    if std::env::var_os(CHILD).is_some() {
        race();
        return;
    }
    let test = "the_first_service_and_the_first_socket_made_at_once_never_deadlock";
    for run in 0..CHILDREN {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--quiet", "--test-threads=1"])
            .env(CHILD, "1")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (ended, end) = mpsc::channel();
        let waiter = std::thread::spawn(move || ended.send(child.wait().unwrap()).unwrap());
        match end.recv_timeout(DEADLINE) {
            Ok(status) => assert!(status.success(), "child {run} failed: {status}"),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                let _ = waiter.join();
                panic!("child {run} of {CHILDREN} deadlocked registering types");
            }
        }
        waiter.join().unwrap();
    }
}

/// One thread makes the process's first `GSocket` while this one makes its first service.
fn race() {
    let barrier = Arc::new(Barrier::new(2));
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let socket_maker = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            gio::Socket::from_fd(OwnedFd::from(ours)).unwrap();
        })
    };
    barrier.wait();
    let _service = usher::SocketService::new();
    socket_maker.join().unwrap();
}
