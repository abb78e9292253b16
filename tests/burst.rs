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
