//! An echo server hardened with what Usher adds to GLib's service.
//!
//! ```text
//! cargo run --example hardened_echo [PORT] [MAX_CONNECTIONS]
//! ```
//!
//! It echoes every line of every client until the client leaves, serves at most
//! `MAX_CONNECTIONS` clients at once (default 100: the others wait in the kernel's backlog) and
//! at most a tenth of them (2 at least) from one IP address (the others are refused at once),
//! drops a client silent for a minute, counts failed accepts instead of letting them spin, and on the line
//! `shutdown` shuts down gracefully: the port is freed at once, the other clients get five
//! seconds to finish, and whoever is left then is disconnected.

use std::time::Duration;

use gio::prelude::*;
use usher::prelude::*;

/// How long a graceful shutdown waits for the clients before disconnecting them.
const GRACE: Duration = Duration::from_secs(5);

/// How long, in seconds, a client may stay silent: its read then fails, and it is dropped.
const IDLE_TIMEOUT: u32 = 60;

fn main() -> glib::ExitCode {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<u32>());
    let (port, max_connections) = match (args.next(), args.next()) {
        (None, None) => (1024, 100),
        (Some(Ok(port)), None) => (port, 100),
        (Some(Ok(port)), Some(Ok(max))) => (port, max),
        _ => {
            eprintln!("usage: hardened_echo [PORT] [MAX_CONNECTIONS]");
            return glib::ExitCode::FAILURE;
        }
    };
    let Ok(port) = u16::try_from(port) else {
        eprintln!("{port} is not a port");
        return glib::ExitCode::FAILURE;
    };

    let service = usher::SocketService::new();
    service.set_max_connections(max_connections);
    // So that one client cannot take every slot, and a silent one cannot hold its own.
    service.set_max_connections_per_peer((max_connections / 10).max(2));
    service.set_timeout(IDLE_TIMEOUT);
    if let Err(error) = service.add_inet_port(port, None::<&glib::Object>) {
        eprintln!("Cannot listen on port {port}: {error}");
        return glib::ExitCode::FAILURE;
    }
    println!("Listening on port {port}, at most {max_connections} clients at once.");

    // A handler replaces the service's rate-limited warning: count failures, for a metric.
    service.connect_accept_error(|service, error| {
        eprintln!(
            "accept failed ({} so far): {error}",
            service.n_accept_errors()
        );
    });
    service.connect_active_notify(|service| {
        if !service.is_active() {
            println!("Stopped accepting; the port is free.");
        }
    });
    service.connect_n_connections_notify(|service| {
        println!("{} connected", count(service.n_connections(), "client"));
    });

    let main_loop = glib::MainLoop::new(None, false);
    service.connect_incoming({
        let main_loop = main_loop.clone();
        move |service, connection, _| {
            glib::spawn_future_local(echo_lines(
                service.clone(),
                connection.clone(),
                main_loop.clone(),
            ));
            false
        }
    });
    main_loop.run();
    println!(
        "Served {}; {} failed.",
        count(service.n_accepted(), "client"),
        count(service.n_accept_errors(), "accept")
    );
    glib::ExitCode::SUCCESS
}

/// Echoes each line until the client leaves; `shutdown` shuts the whole service down.
async fn echo_lines(
    service: usher::SocketService,
    connection: gio::SocketConnection,
    main_loop: glib::MainLoop,
) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    let output = connection.output_stream();
    while let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        let line = line.trim().to_owned();
        let reply = format!("{line}\n").into_bytes();
        if output
            .write_all_future(reply, glib::Priority::DEFAULT)
            .await
            .is_err()
        {
            break;
        }
        if line == "shutdown" {
            // This client is done: close it so that the shutdown need not wait for it.
            let _ = connection.close_future(glib::Priority::DEFAULT).await;
            shut_down(&service).await;
            main_loop.quit();
            return;
        }
    }
    let _ = connection.close_future(glib::Priority::DEFAULT).await;
}

/// Frees the port, waits up to [`GRACE`] for the clients, then disconnects the rest.
async fn shut_down(service: &usher::SocketService) {
    println!(
        "Shutting down: waiting {GRACE:?} for {}.",
        count(service.n_connections(), "client")
    );
    if glib::future_with_timeout(GRACE, service.shutdown_future())
        .await
        .is_err()
    {
        println!(
            "Disconnecting {}.",
            count(service.n_connections(), "client")
        );
        service.close_connections();
        if let Err(error) = service.shutdown_future().await {
            eprintln!("Shutdown failed: {error}");
        }
    }
    println!("Shut down.");
}

/// "1 client", "2 clients", "0 clients".
fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
