//! A log writer that reads the service's properties, as application code may: Usher's messages
//! logged while its state is locked wait for the unlock, or the writer would lock it again and
//! the thread deadlock. A binary of its own: a process sets its log writer once.

mod common;

use std::cell::RefCell;
use std::path::Path;

use common::*;
use gio::prelude::*;
use usher::prelude::*;

thread_local! {
    /// The service the writer reads.
    static SERVICE: RefCell<Option<usher::SocketService>> = const { RefCell::new(None) };
    /// Usher's messages the writer saw.
    static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn writer(level: glib::LogLevel, fields: &[glib::LogField<'_>]) -> glib::LogWriterOutput {
    let field = |key: &str| {
        fields
            .iter()
            .find(|field| field.key() == key)
            .and_then(|field| field.value_str())
            .map(str::to_owned)
    };
    if field("GLIB_DOMAIN").as_deref() != Some("Usher") {
        // Every domain's debug messages are enabled: only Usher's are wanted.
        return match level {
            glib::LogLevel::Debug => glib::LogWriterOutput::Handled,
            _ => glib::log_writer_default(level, fields),
        };
    }
    SERVICE.with_borrow(|service| {
        if let Some(service) = service {
            // Each locks the service's state.
            let _ = (service.n_connections(), service.overloaded());
        }
    });
    SEEN.with_borrow_mut(|seen| seen.push(field("MESSAGE").unwrap_or_default()));
    glib::LogWriterOutput::Handled
}

#[test]
fn a_log_writer_may_read_the_service() {
    // SAFETY: an atomic store in GLib.
    unsafe { glib::ffi::g_log_set_debug_enabled(glib::ffi::GTRUE) };
    glib::log_set_writer_func(writer);
    // A deadlocked test thread never returns: end the process instead.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(DEADLINE).is_err() {
            eprintln!("deadlocked: a message was logged with the service's state locked");
            std::process::exit(1);
        }
    });

    // Made on the global default context: accepting moves to the test's.
    let service = usher::SocketService::new();
    with_context(|context| {
        let kept = keep_incoming(&service);
        SERVICE.set(Some(service.clone()));
        let address = listen_loopback(&service, None);

        let monitor = gio::MemoryMonitor::dup_default();
        service.set_memory_monitor(Some(&monitor));
        monitor.emit_by_name::<()>(
            "low-memory-warning",
            &[&gio::MemoryMonitorWarningLevel::Medium],
        );
        assert!(service.overloaded());
        let _client = std::net::TcpStream::connect(address).unwrap();
        monitor.emit_by_name::<()>(
            "low-memory-warning",
            &[&gio::MemoryMonitorWarningLevel::Low],
        );
        iterate_until(context, || kept.borrow().len() == 1);
        kept.borrow_mut().clear();
        iterate_until(context, || service.n_connections() == 0);

        // A warning: the file of a Unix socket is gone when its mode is to change.
        let scratch = Scratch::new("log-writer");
        let path = scratch.0.join("service.sock");
        let settings = usher::SocketSettings::new();
        service
            .add_address_with_settings(
                &gio::UnixSocketAddress::new(&path),
                gio::SocketType::Stream,
                gio::SocketProtocol::Default,
                None::<&glib::Object>,
                Some(&settings),
            )
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        settings.set_unix_mode(0o600);

        service.close();
        service.stop();
        SERVICE.set(None);
        check_seen(&path);
    });
    done.send(()).unwrap();
}

/// Every message logged with the state locked came through.
fn check_seen(path: &Path) {
    let seen = SEEN.take();
    for expected in [
        "accepting on the thread-default context",
        "serving 127.0.0.1:",
        "accepting paused",
        "accepting again",
        "connections closed",
        &format!("Cannot open {}", path.display()),
        "stops for good",
    ] {
        assert!(
            seen.iter().any(|message| message.contains(expected)),
            "{expected:?} not in {seen:#?}"
        );
    }
}
