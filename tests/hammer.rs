//! `start()` and `stop()` hammered from four threads while clients connect without pause, for
//! several seconds: every client is served, and no file descriptor is leaked.
//!
//! A test binary of its own, so that no other test opens descriptors meanwhile.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

const HAMMERING: Duration = Duration::from_secs(3);
const TOGGLERS: usize = 4;
const CLIENTS: usize = 4;

/// What each open descriptor refers to.
fn open_descriptors() -> Vec<String> {
    let mut descriptors: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some(format!(
                "{} -> {}",
                entry.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    descriptors.sort();
    descriptors
}

/// Hammers for `duration` (at least one round per client); returns the clients served and the
/// start/stop pairs called.
fn hammer(duration: Duration) -> (usize, usize) {
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_listen_backlog(64);
        serve_echo(&service);
        let address = listen_loopback(&service, None);

        let running = Arc::new(AtomicBool::new(true));
        let toggles = Arc::new(AtomicUsize::new(0));
        let togglers: Vec<_> = (0..TOGGLERS)
            .map(|_| {
                let (handle, running, toggles) =
                    (service.handle(), running.clone(), toggles.clone());
                std::thread::spawn(move || {
                    while running.load(Ordering::SeqCst) {
                        handle.stop();
                        handle.start();
                        toggles.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let served = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let served = served.clone();
                spawn_client(context, move || {
                    let start = Instant::now();
                    for round in 0.. {
                        let line = format!("client {client} round {round}");
                        assert_eq!(echo_line(address, &line), format!("{line}\n"));
                        served.fetch_add(1, Ordering::Relaxed);
                        if start.elapsed() >= duration {
                            break;
                        }
                    }
                })
            })
            .collect();
        iterate_until(context, || {
            clients.iter().all(|client| client.is_finished())
        });
        running.store(false, Ordering::SeqCst);
        for toggler in togglers {
            toggler.join().unwrap();
        }
        for client in clients {
            client.join().expect("every client got its echo");
        }
        // Whatever a toggler did last, the service ends active, and accepted every client.
        assert!(service.is_active());
        let served = served.load(Ordering::SeqCst);
        assert_eq!(service.n_accepted(), served as u64);

        service.stop();
        drain(context);
        assert_eq!(service.ref_count(), 1);
        (served, toggles.load(Ordering::SeqCst))
    })
}

#[test]
fn start_and_stop_hammered_from_four_threads_lose_nothing_and_leak_nothing() {
    // Let GLib set up what it keeps for the whole process (the global default context, GTask's
    // worker context) first.
    hammer(Duration::ZERO);
    let before = open_descriptors();
    let (served, toggles) = hammer(HAMMERING);
    let after = open_descriptors();
    assert!(served > 0 && toggles > 0);
    assert_eq!(after, before, "descriptors leaked");
    println!("{served} clients served while start/stop was called {toggles} times");
}
