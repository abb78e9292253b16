//! Beyond GLib: connection limits, graceful shutdown and forced close.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// Keeps every connection, reading each until its client closes it, then closing it.
fn hold_until_client_closes(service: &usher::SocketService) -> Rc<Cell<usize>> {
    let accepted = Rc::new(Cell::new(0));
    service.connect_incoming({
        let accepted = accepted.clone();
        move |_, connection, _| {
            accepted.set(accepted.get() + 1);
            let connection = connection.clone();
            glib::spawn_future_local(async move {
                let input = connection.input_stream();
                while let Ok(read) = input
                    .read_future(vec![0u8; 64], glib::Priority::DEFAULT)
                    .await
                    .map(|(_, read)| read)
                {
                    if read == 0 {
                        break;
                    }
                }
                let _ = connection.close_future(glib::Priority::DEFAULT).await;
            });
            false
        }
    });
    accepted
}

/// Whether the peer of `stream` is still waiting: no data and no end of stream.
fn still_waiting(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let waiting =
        matches!(stream.read(&mut [0; 1]), Err(error) if error.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    waiting
}

#[test]
fn max_connections_leaves_the_next_client_waiting_until_one_closes() {
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_max_connections(2);
        assert_eq!(service.max_connections(), 2);
        let accepted = hold_until_client_closes(&service);
        let live = Rc::new(RefCell::new(Vec::new()));
        service.connect_n_connections_notify({
            let live = live.clone();
            move |service| live.borrow_mut().push(service.n_connections())
        });
        let address = listen_loopback(&service, None);

        let mut first = TcpStream::connect(address).unwrap();
        let _second = TcpStream::connect(address).unwrap();
        wait_for_accept_queue(address, 2);
        iterate_until(context, || accepted.get() == 2);
        let mut third = TcpStream::connect(address).unwrap();
        drain(context);
        assert_eq!(accepted.get(), 2, "the third client is not accepted");
        assert_eq!(service.n_connections(), 2);
        assert!(still_waiting(&mut third), "nor accepted and closed");
        assert!(
            service.is_active(),
            "`active` keeps the application's meaning"
        );

        first.shutdown(std::net::Shutdown::Both).unwrap();
        iterate_until(context, || accepted.get() == 3);
        assert_eq!(service.n_connections(), 2);
        assert_eq!(service.n_accepted(), 3);
        // One notification per dispatch: the first two clients were taken in together.
        assert_eq!(*live.borrow(), [2, 1, 2]);
        let _ = first.write(b"");
    })
}

#[test]
fn shutdown_frees_the_port_at_once_and_completes_after_the_last_connection() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let accepted = hold_until_client_closes(&service);
        let address = listen_loopback(&service, None);
        let first = TcpStream::connect(address).unwrap();
        let second = TcpStream::connect(address).unwrap();
        iterate_until(context, || accepted.get() == 2);

        let done = Rc::new(RefCell::new(None));
        glib::spawn_future_local({
            let done = done.clone();
            let shutdown = service.shutdown_future();
            async move { *done.borrow_mut() = Some(shutdown.await) }
        });
        drain(context);
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            ErrorKind::ConnectionRefused,
            "the port is free as soon as the shutdown starts"
        );
        assert!(!service.is_active());
        assert!(done.borrow().is_none(), "two connections are still open");

        drop(first);
        iterate_until(context, || service.n_connections() == 1);
        drain(context);
        assert!(done.borrow().is_none(), "one connection is still open");

        drop(second);
        iterate_until(context, || done.borrow().is_some());
        assert_eq!(done.take().unwrap(), Ok(()));
        assert_eq!(service.n_connections(), 0);
    })
}

#[test]
fn a_cancelled_shutdown_leaves_the_connections_open_and_the_port_closed() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let accepted = hold_until_client_closes(&service);
        let address = listen_loopback(&service, None);
        let mut client = TcpStream::connect(address).unwrap();
        iterate_until(context, || accepted.get() == 1);

        let cancellable = gio::Cancellable::new();
        let result = Rc::new(RefCell::new(None));
        service.shutdown_async(Some(&cancellable), {
            let result = result.clone();
            move |outcome| *result.borrow_mut() = Some(outcome)
        });
        drain(context);
        assert!(result.borrow().is_none());
        cancellable.cancel();
        iterate_until(context, || result.borrow().is_some());
        let error = result.take().unwrap().unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::Cancelled), "{error}");

        assert_eq!(service.n_connections(), 1);
        assert!(still_waiting(&mut client), "the connection is still open");
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
    })
}

#[test]
fn close_connections_bounds_a_pending_shutdown() {
    with_context(|context| {
        let service = usher::SocketService::new();
        // Connections that the application would keep forever.
        let kept = keep_incoming(&service);
        let address = listen_loopback(&service, None);
        let mut clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || kept.borrow().len() == 3);

        let done = Rc::new(Cell::new(false));
        glib::spawn_future_local({
            let done = done.clone();
            let shutdown = service.shutdown_future();
            async move {
                shutdown.await.unwrap();
                done.set(true);
            }
        });
        drain(context);
        assert!(!done.get());

        service.close_connections();
        iterate_until(context, || done.get());
        assert_eq!(service.n_connections(), 0);
        for client in &mut clients {
            assert_eq!(
                client.read(&mut [0; 1]).unwrap(),
                0,
                "the peer saw the end of the stream"
            );
        }
    })
}

/// A service whose first client's `incoming` handler stops it, and that echoes every line:
/// three clients in the backlog together are taken in by one dispatch, and the other two wait
/// in the socket's queue. Returns the connections handed out, and the clients.
fn two_clients_waiting_in_the_queue(
    context: &glib::MainContext,
    service: &usher::SocketService,
) -> (Rc<RefCell<Vec<gio::SocketConnection>>>, Vec<TcpStream>) {
    let served = Rc::new(RefCell::new(Vec::new()));
    service.connect_incoming({
        let served = served.clone();
        move |service, connection, _| {
            if served.borrow().is_empty() {
                service.stop();
            }
            served.borrow_mut().push(connection.clone());
            echo_lines(connection);
            false
        }
    });
    let address = listen_loopback(service, None);
    let mut clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    wait_for_accept_queue(address, 3);
    iterate_until(context, || !served.borrow().is_empty());
    drain(context);
    assert_eq!(served.borrow().len(), 1, "stopped after the first");
    for client in &mut clients {
        assert!(still_waiting(client));
    }
    (served, clients)
}

/// Begins `service`'s shutdown; the flag is set once it completes.
fn begin_shutdown(service: &usher::SocketService) -> Rc<Cell<bool>> {
    let done = Rc::new(Cell::new(false));
    let shutdown = service.shutdown_future();
    glib::spawn_future_local({
        let done = done.clone();
        async move {
            shutdown.await.unwrap();
            done.set(true);
        }
    });
    done
}

#[test]
fn a_settings_change_during_a_shutdown_leaves_the_closed_sockets_alone() {
    // A socket a shutdown closed still hands out its queue, with the settings as they are; its
    // TCP options are not set again (the socket is closed), and nothing is warned about.
    with_context(|context| {
        let service = usher::SocketService::new();
        let (served, _clients) = two_clients_waiting_in_the_queue(context, &service);
        let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = glib::log_set_handler(
            Some("Usher"),
            glib::LogLevels::LEVEL_WARNING | glib::LogLevels::LEVEL_CRITICAL,
            false,
            false,
            {
                let warnings = warnings.clone();
                move |_, _, message| warnings.lock().unwrap().push(message.to_owned())
            },
        );
        let _done = begin_shutdown(&service);
        service.socket_settings().set_tcp_keepalive(true);
        iterate_until(context, || served.borrow().len() == 3);
        glib::log_remove_handler(Some("Usher"), handler);
        assert_eq!(*warnings.lock().unwrap(), Vec::<String>::new());
    })
}

#[test]
fn a_shutdown_hands_out_the_clients_waiting_in_a_sockets_queue() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let (served, clients) = two_clients_waiting_in_the_queue(context, &service);
        let address = clients[0].peer_addr().unwrap();

        let done = begin_shutdown(&service);
        assert_eq!(served.borrow().len(), 1, "none handed out inside the call");
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            ErrorKind::ConnectionRefused,
            "the port is free as soon as the shutdown starts"
        );
        iterate_until(context, || served.borrow().len() == 3);
        assert_eq!(service.n_accepted(), 3);

        // Each is served: its line comes back.
        let client = spawn_client(context, move || {
            for (index, client) in clients.iter().enumerate() {
                let mut client = client;
                client.set_read_timeout(Some(DEADLINE)).unwrap();
                client.write_all(format!("{index}\n").as_bytes()).unwrap();
                let mut reply = [0; 2];
                client.read_exact(&mut reply).unwrap();
                assert_eq!(reply, [b'0' + index as u8, b'\n']);
            }
            clients
        });
        iterate_until(context, || client.is_finished());
        let clients = client.join().unwrap();
        drain(context);
        assert!(!done.get(), "three connections are still open");

        served.borrow_mut().clear();
        drop(clients);
        iterate_until(context, || done.get());
        assert_eq!(service.n_connections(), 0);
    })
}

#[test]
fn close_connections_right_after_a_shutdown_drops_the_clients_still_waiting() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let (served, mut clients) = two_clients_waiting_in_the_queue(context, &service);

        let done = begin_shutdown(&service);
        for client in &mut clients {
            assert!(still_waiting(client), "kept for the shutdown to hand out");
        }
        service.close_connections();
        iterate_until(context, || done.get());
        drain(context);
        assert_eq!(served.borrow().len(), 1, "none handed out after");
        assert_eq!(service.n_connections(), 0);
        for client in &mut clients {
            client.set_read_timeout(Some(DEADLINE)).unwrap();
            assert_eq!(client.read(&mut [0; 1]).unwrap(), 0, "closed");
        }
    })
}

#[test]
fn a_threaded_shutdown_waits_for_running_handlers() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(2);
        let address = listen_loopback(&service, None);
        let release = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let started = Arc::new(AtomicBool::new(false));
        service.connect_run({
            let (release, started, context) = (release.clone(), started.clone(), context.clone());
            move |_, connection, _| {
                // Closes its connection at once, then keeps working.
                let _ = connection.close(gio::Cancellable::NONE);
                started.store(true, Ordering::SeqCst);
                context.wakeup();
                let mut released = release.0.lock().unwrap();
                while !*released {
                    released = release.1.wait(released).unwrap();
                }
                false
            }
        });
        let _client = TcpStream::connect(address).unwrap();
        iterate_until(context, || started.load(Ordering::SeqCst));

        let done = Rc::new(Cell::new(false));
        service.shutdown_async(gio::Cancellable::NONE, {
            let done = done.clone();
            move |result| {
                result.unwrap();
                done.set(true);
            }
        });
        drain(context);
        assert_eq!(service.n_connections(), 0);
        assert!(!done.get(), "the handler is still running");

        *release.0.lock().unwrap() = true;
        release.1.notify_all();
        iterate_until(context, || done.get());
    })
}

#[test]
fn counters_follow_accepts() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let accepted_notifications = Rc::new(Cell::new(0));
        service.connect_n_accepted_notify({
            let accepted_notifications = accepted_notifications.clone();
            move |_| accepted_notifications.set(accepted_notifications.get() + 1)
        });
        let address = listen_loopback(&service, None);
        let _clients: Vec<TcpStream> = (0..4)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || kept.borrow().len() == 4);
        assert_eq!(service.n_accepted(), 4);
        assert_eq!(service.n_connections(), 4);
        assert_eq!(service.n_accept_errors(), 0);
        // Notified once per dispatch, however many it accepted.
        assert!((1..=4).contains(&accepted_notifications.get()));

        // Dropped connections are finalized and closed; the service counts that on its
        // context, in a later iteration.
        kept.borrow_mut().clear();
        assert_eq!(service.n_connections(), 4, "not inside their finalization");
        iterate_until(context, || service.n_connections() == 0);
        assert_eq!(service.n_accepted(), 4);
    })
}

#[test]
fn a_dropped_connection_closes_its_descriptor_in_its_finalization() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let kept = keep_incoming(&service);
        let address = listen_loopback(&service, None);
        let mut client = TcpStream::connect(address).unwrap();
        iterate_until(context, || kept.borrow().len() == 1);

        // As GLib's: the last reference closes the socket there and then. The service's own
        // bookkeeping waits for its context, which is not iterated before the client reads.
        kept.borrow_mut().clear();
        client.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(
            client.read(&mut byte).expect("the server closed its end"),
            0,
            "end of stream"
        );
        assert_eq!(
            service.n_connections(),
            1,
            "counted out in a later iteration"
        );
        iterate_until(context, || service.n_connections() == 0);
    })
}
