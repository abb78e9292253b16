//! The echo server from the documentation of `GLib.SocketService`, on Usher.
//!
//! ```text
//! cargo run --example echo [PORT…]
//! cargo run --example echo -- --activation
//! cargo run --example echo -- [PORT…] --tls CERT KEY
//! ```
//!
//! It listens on ports 1024 and 1025 (or the ones given), each tagged with a `Source` object that
//! carries its port, reads one line from each client, prints it and echoes it back. Try
//! `nc localhost 1024` (or README's Python one-liner); the line `shutdown` stops the service and
//! ends the program.
//!
//! Beyond GLib's demo, Ctrl-C (SIGINT) or `kill` (SIGTERM) shuts it down gracefully: the ports
//! are freed at once, the clients being served get their echo, then the program ends; a second
//! signal disconnects them.
//!
//! With `--activation` it takes its sockets from systemd socket activation instead, tagged with
//! their names: `systemd-socket-activate -l 2024 --fdname=echo target/debug/examples/echo
//! --activation`, or a `.socket` unit (see README.md).
//!
//! With `--tls CERT KEY` it serves TLS with that certificate and private key (PEM files; README
//! shows the `openssl` command that makes a test pair): the service runs each client's
//! handshake, and the handler below is the same. Try `openssl s_client -connect localhost:1024`.

use std::cell::Cell;
use std::rc::Rc;

use gio::prelude::*;
use usher::prelude::*;

mod common;

use common::Source;

fn main() -> glib::ExitCode {
    let Some(listen) = common::Listen::from_args("echo") else {
        return glib::ExitCode::FAILURE;
    };
    let service = usher::SocketService::new();
    if let Err(error) = listen.add_to(&service) {
        eprintln!("{error}");
        return glib::ExitCode::FAILURE;
    }

    let main_loop = glib::MainLoop::new(None, false);
    let cancellable = gio::Cancellable::new();
    let handle = service.handle();
    cancellable.connect_cancelled({
        let main_loop = main_loop.clone();
        move |_| {
            handle.stop();
            main_loop.quit();
        }
    });

    shut_down_on_signals(&service, &main_loop);

    service.connect_incoming(move |_, connection, source_object| {
        println!("Accepted! (Source: {})", Source::describe(source_object));
        glib::spawn_future_local(worker(connection.clone(), cancellable.clone()));
        false
    });

    service.start();
    main_loop.run();
    glib::ExitCode::SUCCESS
}

/// On SIGINT or SIGTERM, shuts `service` down gracefully and quits `main_loop` once every client
/// is served; on a second signal, disconnects the clients left.
fn shut_down_on_signals(service: &usher::SocketService, main_loop: &glib::MainLoop) {
    let shutting_down = Rc::new(Cell::new(false));
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let service = service.clone();
        let main_loop = main_loop.clone();
        let shutting_down = shutting_down.clone();
        glib_unix::unix_signal_add_local(signal, move || {
            if shutting_down.replace(true) {
                println!("Disconnecting {}.", clients(service.n_connections()));
                service.close_connections();
                return glib::ControlFlow::Continue;
            }
            // Closes the listening sockets before it returns, and calls back once every
            // connection is closed.
            let main_loop = main_loop.clone();
            service.shutdown_async(None::<&gio::Cancellable>, move |result| {
                if let Err(error) = result {
                    eprintln!("Cannot shut down: {error}");
                }
                println!("Shut down.");
                main_loop.quit();
            });
            println!(
                "Shutting down: the ports are free, waiting for {}.",
                clients(service.n_connections())
            );
            glib::ControlFlow::Continue
        });
    }
}

/// "1 client", "2 clients".
fn clients(n: u32) -> String {
    match n {
        1 => "1 client".to_owned(),
        n => format!("{n} clients"),
    }
}

/// Reads one line, prints it and echoes it back; `shutdown` cancels `cancellable`.
async fn worker(connection: gio::SocketConnection, cancellable: gio::Cancellable) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    let line = match input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        Ok(Some(line)) => line.trim().to_owned(),
        Ok(None) => return,
        Err(error) => {
            eprintln!("Cannot read: {error}");
            return;
        }
    };
    println!("Received: {line}");
    let reply = format!("{line}\n");
    if let Err((_, error)) = connection
        .output_stream()
        .write_all_future(reply.into_bytes(), glib::Priority::DEFAULT)
        .await
    {
        eprintln!("Cannot write: {error}");
    }
    if line == "shutdown" {
        cancellable.cancel();
    }
}
