//! An echo server behind a load balancer that speaks the PROXY protocol (HAProxy's
//! `send-proxy`/`send-proxy-v2`, nginx's `proxy_protocol on`).
//!
//! ```text
//! cargo run --example proxy_protocol [PORT [BALANCER...]]
//! ```
//!
//! It listens on `PORT` (default 2024), trusts a header from the `BALANCER` addresses or CIDR
//! ranges (default `127.0.0.1`), and echoes every line of every client, saying who sent it: the
//! client's own address, as the balancer's header gives it, never the balancer's. At most two
//! connections per client address: behind one balancer, each client has its own count. A line
//! `shutdown` stops it. With HAProxy in front (README, "Behind a load balancer"), connect to
//! HAProxy's port.

use gio::prelude::*;
use usher::prelude::*;

fn main() -> glib::ExitCode {
    let mut args = std::env::args().skip(1);
    let port = match args.next().map(|port| port.parse::<u16>()) {
        None => 2024,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("usage: proxy_protocol [PORT [BALANCER...]]");
            return glib::ExitCode::FAILURE;
        }
    };
    let mut balancers: Vec<String> = args.collect();
    if balancers.is_empty() {
        balancers.push("127.0.0.1".to_owned());
    }

    let service = usher::SocketService::new();
    if let Err(error) = service.try_set_proxy_protocol_peers(&balancers) {
        eprintln!("{error}");
        return glib::ExitCode::FAILURE;
    }
    service.set_max_connections_per_peer(2);
    if let Err(error) = service.add_inet_port(port, None::<&glib::Object>) {
        eprintln!("Cannot listen on port {port}: {error}");
        return glib::ExitCode::FAILURE;
    }
    println!("Listening on port {port}, behind {}.", balancers.join(", "));
    // A bad header, a missing one, a forged one: each is a refused connection.
    service.connect_accept_error(|_, error| eprintln!("{error}"));

    let main_loop = glib::MainLoop::new(None, false);
    service.connect_incoming({
        let main_loop = main_loop.clone();
        move |_, connection, _| {
            glib::spawn_future_local(echo_lines(connection.clone(), main_loop.clone()));
            false
        }
    });
    main_loop.run();
    glib::ExitCode::SUCCESS
}

/// Who is at the other end of `connection`: the client the header named, through its
/// balancer, or the peer itself when it sent no header or a health check.
fn client_of(connection: &gio::SocketConnection) -> String {
    let describe =
        |address: &gio::SocketAddress| match address.downcast_ref::<gio::InetSocketAddress>() {
            Some(inet) => format!("{}:{}", inet.address(), inet.port()),
            None => "a local client".to_owned(),
        };
    match usher::ProxyInfo::for_connection(connection) {
        Some(info) if info.command() == usher::ProxyCommand::Local => {
            format!("a health check of {}", describe(&info.proxy_address()))
        }
        Some(info) => format!(
            "{} through {}",
            describe(&info.source_address()),
            describe(&info.proxy_address())
        ),
        None => connection
            .remote_address()
            .map_or_else(|_| "a client".to_owned(), |address| describe(&address)),
    }
}

async fn echo_lines(connection: gio::SocketConnection, main_loop: glib::MainLoop) {
    let client = client_of(&connection);
    let input = gio::DataInputStream::new(&connection.input_stream());
    let output = connection.output_stream();
    while let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        let line = line.trim_end_matches('\r');
        println!("Received: {line} (from {client})");
        let reply = format!("{line}\n").into_bytes();
        if output
            .write_all_future(reply, glib::Priority::DEFAULT)
            .await
            .is_err()
        {
            break;
        }
        if line == "shutdown" {
            main_loop.quit();
            break;
        }
    }
}
