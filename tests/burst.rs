//! 5,000 clients connecting at once are all served (how fast is for the benchmark to say).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::*;
use gio::prelude::*;
use usher::prelude::*;

const CLIENTS: usize = 5000;

#[test]
fn five_thousand_simultaneous_clients_are_all_served() {
    raise_descriptor_limit(CLIENTS);
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_listen_backlog(2000);
        serve_echo(&service);
        let address = listen_loopback(&service, None);
        let clients = spawn_client(context, move || {
            // Everyone connects and speaks before anyone listens for the answer.
            let streams: Vec<TcpStream> = (0..CLIENTS)
                .map(|i| {
                    let mut stream = TcpStream::connect(address).unwrap();
                    stream.set_read_timeout(Some(DEADLINE)).unwrap();
                    stream.write_all(format!("{i}\n").as_bytes()).unwrap();
                    stream
                })
                .collect();
            streams
                .into_iter()
                .enumerate()
                .filter(|(i, stream)| {
                    let mut reply = String::new();
                    BufReader::new(stream).read_line(&mut reply).unwrap();
                    reply != format!("{i}\n")
                })
                .count()
        });
        iterate_until(context, || clients.is_finished());
        assert_eq!(clients.join().unwrap(), 0, "clients without their echo");
        assert_eq!(service.n_accepted(), CLIENTS as u64);
    })
}

/// Clients that arrive together are handed out in the one dispatch that finds them, even after a
/// light load of one client per readiness: none is left in the backlog for a later iteration of
/// the context.
#[test]
fn clients_arriving_together_are_handed_out_together_after_a_light_load() {
    const TOGETHER: usize = 8;
    with_context(|context| {
        let service = usher::SocketService::new();
        let connections = keep_incoming(&service);
        let address = listen_loopback(&service, None);
        let handed_out = || connections.borrow().len();
        let mut clients = Vec::new();
        for round in 0..2 {
            // A light load: each client is handed out before the next connects.
            for _ in 0..2 {
                let expected = handed_out() + 1;
                clients.push(TcpStream::connect(address).unwrap());
                iterate_until(context, || handed_out() == expected);
            }
            let before = handed_out();
            clients.extend((0..TOGETHER).map(|_| TcpStream::connect(address).unwrap()));
            wait_for_accept_queue(address, TOGETHER);
            // A source dispatches at most once per iteration.
            iterate_until(context, || handed_out() > before);
            assert_eq!(
                handed_out() - before,
                TOGETHER,
                "round {round}: clients that arrived together were handed out over several \
                 iterations"
            );
        }
    })
}
