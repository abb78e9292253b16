//! One service per thread, all on one port: the kernel spreads the connections over them.
//!
//! ```text
//! cargo run --example reuse_port [PORT] [THREADS]
//! ```
//!
//! Each thread creates its own `glib::MainContext`, makes it the thread-default one, and creates
//! its service there, so that each service accepts on its own thread. All of them listen on the
//! same port through `add_reuse_port_address()` (`SO_REUSEPORT`). Each client gets one line back
//! naming the thread that served it; the line `shutdown` stops every thread.

use std::sync::{Arc, Mutex, mpsc};

use gio::prelude::*;
use usher::prelude::*;

fn main() -> glib::ExitCode {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(1024);
    let threads = args
        .next()
        .and_then(|arg| arg.parse().ok())
        .unwrap_or_else(glib::num_processors)
        .max(1);

    let loops = Arc::new(Mutex::new(Vec::new()));
    let (bound, bound_port) = mpsc::channel();
    let mut workers = Vec::new();
    let mut port = port;
    for index in 0..threads {
        let loops = loops.clone();
        let bound = bound.clone();
        workers.push(std::thread::spawn(move || {
            serve(index, port, &loops, &bound)
        }));
        // The first thread picks the port when asked for any (0); the others share it.
        match bound_port.recv() {
            Ok(Ok(chosen)) => port = chosen,
            Ok(Err(error)) => {
                eprintln!("Cannot listen on port {port}: {error}");
                return glib::ExitCode::FAILURE;
            }
            Err(_) => return glib::ExitCode::FAILURE,
        }
    }
    println!("Listening on port {port} with {threads} threads; send \"shutdown\" to stop.");
    for worker in workers {
        let _ = worker.join();
    }
    glib::ExitCode::SUCCESS
}

/// Runs one service on this thread's own context until `shutdown`.
fn serve(
    index: u32,
    port: u16,
    loops: &Arc<Mutex<Vec<glib::MainLoop>>>,
    bound: &mpsc::Sender<Result<u16, glib::Error>>,
) {
    let context = glib::MainContext::new();
    let main_loop = glib::MainLoop::new(Some(&context), false);
    loops.lock().unwrap().push(main_loop.clone());
    let served = context.with_thread_default(|| {
        let service = usher::SocketService::new();
        let any =
            gio::InetSocketAddress::new(&gio::InetAddress::new_any(gio::SocketFamily::Ipv6), port);
        let effective = match service.add_reuse_port_address(&any, None::<&glib::Object>) {
            Ok(effective) => effective.downcast::<gio::InetSocketAddress>().unwrap(),
            Err(error) => {
                let _ = bound.send(Err(error));
                return 0;
            }
        };
        let _ = bound.send(Ok(effective.port()));
        let loops = loops.clone();
        service.connect_incoming(move |_, connection, _| {
            let connection = connection.clone();
            let loops = loops.clone();
            glib::spawn_future_local(async move {
                let input = gio::DataInputStream::new(&connection.input_stream());
                let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await
                else {
                    return;
                };
                let reply = format!("thread {index}: {}\n", line.trim()).into_bytes();
                let _ = connection
                    .output_stream()
                    .write_all_future(reply, glib::Priority::DEFAULT)
                    .await;
                if line.trim() == "shutdown" {
                    loops.lock().unwrap().iter().for_each(glib::MainLoop::quit);
                }
            });
            false
        });
        main_loop.run();
        service.n_accepted()
    });
    println!("thread {index} served {} clients", served.unwrap_or(0));
}
