//! The threaded echo server from the documentation of `GLib.ThreadedSocketService`, on Usher.
//!
//! ```text
//! cargo run --example threaded_echo [PORT…]
//! ```
//!
//! Each client is handled in a worker thread that reads its line with a blocking call, prints it
//! and echoes it back. It listens on ports 1024 and 1025 (or the ones given), each tagged with a
//! `Source` object that carries its port. The line `shutdown` stops the service and ends the
//! program; the stop comes from the worker thread, which `SocketServiceHandle` allows.

use gio::prelude::*;
use usher::prelude::*;

mod common;

use common::Source;

fn main() -> glib::ExitCode {
    let Some(listen) = common::Listen::from_args("threaded_echo") else {
        return glib::ExitCode::FAILURE;
    };
    let service = usher::ThreadedSocketService::new(10);
    if let Err(error) = listen.add_to(service.upcast_ref()) {
        eprintln!("{error}");
        return glib::ExitCode::FAILURE;
    }

    let main_loop = glib::MainLoop::new(None, false);
    let shutdown = gio::Cancellable::new();
    let handle = service.handle();
    shutdown.connect_cancelled({
        let main_loop = main_loop.clone();
        move |_| {
            handle.stop();
            main_loop.quit();
        }
    });

    // Runs in a worker thread, and may block.
    service.connect_run(move |_, connection, source_object| {
        println!("Accepted! (Source: {})", Source::describe(source_object));
        let input = gio::DataInputStream::new(&connection.input_stream());
        let line = match input.read_line_utf8(Some(&shutdown)) {
            Ok(Some(line)) => line.trim().to_owned(),
            Ok(None) => return false,
            Err(error) => {
                println!("Error: {error}");
                return false;
            }
        };
        println!("Received: {line}");
        let reply = format!("{line}\n");
        if let Err(error) = connection
            .output_stream()
            .write_all(reply.as_bytes(), Some(&shutdown))
        {
            println!("Error: {error}");
        }
        if line == "shutdown" {
            shutdown.cancel();
            return true;
        }
        false
    });

    service.start();
    main_loop.run();
    glib::ExitCode::SUCCESS
}
