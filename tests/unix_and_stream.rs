//! Unix-domain sockets (path and abstract) and the `IncomingStream` of connections.

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::rc::Rc;

use common::*;
use futures_util::StreamExt;
use gio::prelude::*;
use usher::prelude::*;

fn echo_over(stream: UnixStream, line: &str) -> String {
    let mut writer = stream.try_clone().unwrap();
    writer.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    reply
}

#[test]
fn unix_sockets_with_a_path_and_abstract_ones_are_served_like_tcp() {
    with_context(|context| {
        let directory = std::env::temp_dir().join(format!("usher-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("echo.sock");
        let _ = std::fs::remove_file(&path);
        let abstract_name = format!("usher-test-{}", std::process::id());

        let service = usher::SocketService::new();
        let types = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let types = types.clone();
            move |_, connection, _| {
                types
                    .borrow_mut()
                    .push(connection.type_().name().to_owned());
                assert!(connection.is::<gio::UnixConnection>());
                false
            }
        });
        serve_echo(&service);
        for address in [
            gio::UnixSocketAddress::new(&path),
            gio::UnixSocketAddress::with_type(gio::prelude::UnixSocketAddressPath::Abstract(
                abstract_name.as_bytes(),
            )),
        ] {
            service
                .add_address(
                    &address,
                    gio::SocketType::Stream,
                    gio::SocketProtocol::Default,
                    None::<&glib::Object>,
                )
                .unwrap();
        }

        let by_path = spawn_client(context, {
            let path = path.clone();
            move || echo_over(UnixStream::connect(path).unwrap(), "by path")
        });
        iterate_until(context, || by_path.is_finished());
        assert_eq!(by_path.join().unwrap(), "by path\n");

        let by_name = spawn_client(context, move || {
            let address = SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
            echo_over(UnixStream::connect_addr(&address).unwrap(), "abstract")
        });
        iterate_until(context, || by_name.is_finished());
        assert_eq!(by_name.join().unwrap(), "abstract\n");
        assert_eq!(service.n_accepted(), 2);
        service.stop();
        std::fs::remove_dir_all(directory).unwrap();
    })
}

#[test]
fn the_incoming_stream_yields_connections_and_ends_after_a_shutdown() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let tag = tag();
        let address = listen_loopback(&service, Some(&tag));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let ended = Rc::new(std::cell::Cell::new(false));
        glib::spawn_future_local({
            let (service, seen, ended) = (service.clone(), seen.clone(), ended.clone());
            async move {
                let mut incoming = service.incoming_stream();
                while let Some((connection, source_object)) = incoming.next().await {
                    seen.borrow_mut().push(source_object);
                    drop(connection);
                }
                ended.set(true);
            }
        });
        drain(context);
        let _clients: Vec<std::net::TcpStream> = (0..3)
            .map(|_| std::net::TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || seen.borrow().len() == 3);
        assert!(
            seen.borrow()
                .iter()
                .all(|source| source.as_ref() == Some(&tag))
        );
        assert!(!ended.get());

        let done = Rc::new(std::cell::Cell::new(false));
        glib::spawn_future_local({
            let (service, done) = (service.clone(), done.clone());
            async move {
                service.shutdown_future().await.unwrap();
                done.set(true);
            }
        });
        iterate_until(context, || ended.get() && done.get());
    })
}

#[test]
fn dropping_the_incoming_stream_disconnects_it() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let incoming_signal = glib::subclass::signal::SignalId::lookup(
            "incoming",
            usher::SocketService::static_type(),
        )
        .unwrap();
        let stream = service.incoming_stream();
        assert!(glib::signal::signal_has_handler_pending(
            &service,
            incoming_signal,
            None,
            false
        ));
        drop(stream);
        assert!(!glib::signal::signal_has_handler_pending(
            &service,
            incoming_signal,
            None,
            false
        ));
        // Nothing is queued for a reader that is gone: the connection is closed.
        let address = listen_loopback(&service, None);
        let client = spawn_client(context, move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            std::io::Read::read(&mut stream, &mut [0; 1]).unwrap()
        });
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), 0);
    })
}
