//! The echo demo with the connections as a stream: `while let Some(..) = incoming.next().await`.
//!
//! ```text
//! cargo run --example echo_async [PORT…]
//! ```
//!
//! It listens on ports 1024 and 1025 (or the ones given), reads one line from each client,
//! prints it and echoes it back. The line `shutdown` shuts the service down gracefully, which
//! ends the stream, and with it the program.

use futures_util::StreamExt;
use gio::prelude::*;
use usher::prelude::*;

mod common;

use common::Source;

fn main() -> glib::ExitCode {
    let Some(listen) = common::Listen::from_args("echo_async") else {
        return glib::ExitCode::FAILURE;
    };
    let service = usher::SocketService::new();
    if let Err(error) = listen.add_to(&service) {
        eprintln!("{error}");
        return glib::ExitCode::FAILURE;
    }

    let main_loop = glib::MainLoop::new(None, false);
    // Made before the loop runs, so that no connection is handed out before it listens.
    let mut incoming = service.incoming_stream();
    glib::spawn_future_local({
        let main_loop = main_loop.clone();
        async move {
            while let Some((connection, source_object)) = incoming.next().await {
                println!(
                    "Accepted! (Source: {})",
                    Source::describe(source_object.as_ref())
                );
                glib::spawn_future_local(echo_line(service.clone(), connection));
            }
            // The stream ends once the service has shut down.
            main_loop.quit();
        }
    });
    main_loop.run();
    glib::ExitCode::SUCCESS
}

/// Reads one line, prints it and echoes it back; `shutdown` shuts the service down.
async fn echo_line(service: usher::SocketService, connection: gio::SocketConnection) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await else {
        return;
    };
    let line = line.trim().to_owned();
    println!("Received: {line}");
    let reply = format!("{line}\n").into_bytes();
    let _ = connection
        .output_stream()
        .write_all_future(reply, glib::Priority::DEFAULT)
        .await;
    // Closed before the shutdown, which waits for every connection.
    let _ = connection.close_future(glib::Priority::DEFAULT).await;
    if line == "shutdown"
        && let Err(error) = service.shutdown_future().await
    {
        eprintln!("Shutdown failed: {error}");
    }
}
