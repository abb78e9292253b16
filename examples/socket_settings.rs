//! One echo service, three listening sockets, each with settings of its own: a plain port for
//! long-lived desktop clients, a port behind a load balancer that sends the PROXY protocol,
//! and, given a certificate, a TLS port.
//!
//! ```text
//! cargo run --example socket_settings [PORT [CERTIFICATE.pem KEY.pem]]
//! ```
//!
//! It listens on `PORT` (default 2024) in plain TCP with keepalive probes after a minute idle
//! and `TCP_USER_TIMEOUT` of 20 s, so that a client that vanishes (a laptop suspended) is
//! noticed in well under a minute rather than in hours; on `PORT + 1` behind a balancer on
//! 127.0.0.1 (HAProxy's `send-proxy`), accepted only once the balancer has sent its header
//! (`TCP_DEFER_ACCEPT`); and on `PORT + 2` with TLS, if given a certificate and its key. It
//! echoes every line, saying which socket the client came through. A line `shutdown` stops it.

use gio::prelude::*;
use usher::prelude::*;

fn main() -> glib::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match args.first().map(|port| port.parse::<u16>()) {
        None => 2024,
        Some(Ok(port)) if port < u16::MAX - 2 => port,
        _ => {
            eprintln!("usage: socket_settings [PORT [CERTIFICATE.pem KEY.pem]]");
            return glib::ExitCode::FAILURE;
        }
    };
    match serve(port, args.get(1..3)) {
        Ok(()) => glib::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            glib::ExitCode::FAILURE
        }
    }
}

fn serve(port: u16, certificate: Option<&[String]>) -> Result<(), glib::Error> {
    let service = usher::SocketService::new();

    let desktop = usher::SocketSettings::new();
    desktop.set_tcp_keepalive(true);
    desktop.set_tcp_keepalive_idle(60);
    desktop.set_tcp_keepalive_interval(10);
    desktop.set_tcp_keepalive_count(3);
    desktop.set_tcp_user_timeout(20_000);
    service.add_inet_port_with_settings(port, None::<&glib::Object>, Some(&desktop))?;

    let behind_balancer = usher::SocketSettings::new();
    behind_balancer.try_set_proxy_protocol_peers(&["127.0.0.1", "::1"])?;
    // The balancer speaks first: its header.
    behind_balancer.set_tcp_defer_accept(5);
    service.add_inet_port_with_settings(port + 1, None::<&glib::Object>, Some(&behind_balancer))?;
    println!("Plain on port {port}, behind a balancer on {}.", port + 1);

    if let Some([certificate, key]) = certificate {
        let tls = usher::SocketSettings::new();
        tls.set_tls_certificate(Some(&gio::TlsCertificate::from_files(certificate, key)?));
        service.add_inet_port_with_settings(port + 2, None::<&glib::Object>, Some(&tls))?;
        println!("TLS on port {}.", port + 2);
    }
    service.connect_accept_error(|_, error| eprintln!("{error}"));

    let main_loop = glib::MainLoop::new(None, false);
    service.connect_incoming({
        let main_loop = main_loop.clone();
        let sockets = [(desktop, "plain"), (behind_balancer, "behind the balancer")];
        move |_, connection, _| {
            let settings = usher::SocketSettings::for_connection(connection);
            let through = sockets
                .iter()
                .find(|(known, _)| Some(known) == settings.as_ref())
                .map_or("TLS", |(_, name)| name);
            glib::spawn_future_local(echo_lines(connection.clone(), through, main_loop.clone()));
            false
        }
    });
    main_loop.run();
    Ok(())
}

/// Echoes every line of `connection`; `shutdown` quits `main_loop`.
async fn echo_lines(
    connection: gio::SocketConnection,
    through: &'static str,
    main_loop: glib::MainLoop,
) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    let output = connection.output_stream();
    while let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        println!("Received ({through}): {line}");
        let reply = format!("{line}\n").into_bytes();
        if output
            .write_all_future(reply, glib::Priority::DEFAULT)
            .await
            .is_err()
        {
            return;
        }
        if line == "shutdown" {
            main_loop.quit();
            return;
        }
    }
}
