//! `usher::SocketService` over real loopback sockets and real main loops.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

#[test]
fn incoming_carries_the_connection_and_the_source_object_of_its_socket() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let (first_tag, second_tag) = (tag(), tag());
        let first = listen_loopback(&service, Some(&first_tag));
        let second = listen_loopback(&service, Some(&second_tag));
        let untagged = listen_loopback(&service, None);

        let seen = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let seen = seen.clone();
            move |_, connection, source_object| {
                assert!(connection.is::<gio::TcpConnection>());
                let local = connection.local_address().unwrap();
                let port = local.downcast::<gio::InetSocketAddress>().unwrap().port();
                seen.borrow_mut().push((port, source_object.cloned()));
                false
            }
        });

        let _clients: Vec<TcpStream> = [first, second, untagged]
            .iter()
            .map(|address| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || seen.borrow().len() == 3);

        let mut seen = seen.take();
        seen.sort_by_key(|(port, _)| *port);
        let mut expected = vec![
            (first.port(), Some(first_tag)),
            (second.port(), Some(second_tag)),
            (untagged.port(), None),
        ];
        expected.sort_by_key(|(port, _)| *port);
        assert_eq!(seen, expected);
    })
}

#[test]
fn a_handler_returning_true_stops_the_emission() {
    with_context(|context| {
        let service = usher::SocketService::new();
        let address = listen_loopback(&service, None);
        let calls = Rc::new(RefCell::new(Vec::new()));
        for (name, handled) in [("first", false), ("second", true), ("third", false)] {
            let calls = calls.clone();
            service.connect_incoming(move |_, _, _| {
                calls.borrow_mut().push(name);
                handled
            });
        }
        let after = calls.clone();
        service.connect_closure(
            "incoming",
            true,
            glib::closure_local!(move |_: usher::SocketService,
                                       _: gio::SocketConnection,
                                       _: Option<glib::Object>|
                  -> bool {
                after.borrow_mut().push("after");
                false
            }),
        );

        let _client = TcpStream::connect(address).unwrap();
        iterate_until(context, || !calls.borrow().is_empty());
        assert_eq!(*calls.borrow(), ["first", "second"]);
    })
}

#[test]
fn a_handlers_connection_stays_usable_and_an_unclaimed_one_is_closed() {
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let address = listen_loopback(&service, None);
        assert_echoed(context, address, "ping");

        // With no handler, GLib drops the connection after `incoming`: the client reads EOF.
        let bare = usher::SocketService::new();
        let address = listen_loopback(&bare, None);
        let client = spawn_client(context, move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            stream.read(&mut [0; 1]).unwrap()
        });
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), 0);
    })
}

#[test]
fn active_notifies_once_per_change_like_glib() {
    let service = usher::SocketService::new();
    assert!(service.is_active());
    let notified = Rc::new(Cell::new(0));
    service.connect_active_notify({
        let notified = notified.clone();
        move |service| {
            notified.set(notified.get() + 1);
            assert_eq!(service.property::<bool>("active"), service.is_active());
        }
    });

    service.start();
    assert_eq!(notified.get(), 0, "start() on an active service");
    service.stop();
    assert_eq!(notified.get(), 1);
    assert!(!service.is_active());
    service.stop();
    assert_eq!(notified.get(), 1, "stop() on a stopped service");
    service.set_property("active", true);
    assert_eq!(notified.get(), 2);
    assert!(service.active());
}

#[test]
fn active_is_a_construct_property_with_glibs_flags() {
    let service: usher::SocketService = glib::Object::builder().property("active", false).build();
    assert!(!service.is_active());

    let ours = service.find_property("active").unwrap();
    let glibs = gio::SocketService::new().find_property("active").unwrap();
    let static_strings = glib::ParamFlags::from_bits_retain(0xe0);
    assert_eq!(
        ours.flags() - static_strings,
        glibs.flags() - static_strings
    );
    assert_eq!(ours.default_value().get::<bool>(), Ok(true));
    assert_eq!(ours.nick(), glibs.nick());
    assert_eq!(ours.blurb(), glibs.blurb());
}

/// GLib's `/socket-service/start-stop`, on Usher.
#[test]
fn glib_start_stop() {
    with_context(|context| {
        let service: usher::SocketService =
            glib::Object::builder().property("active", false).build();
        assert!(!service.is_active());
        let success = Rc::new(Cell::new(false));
        service.connect_active_notify({
            let success = success.clone();
            move |service| {
                if service.is_active() {
                    success.set(true);
                }
            }
        });
        let address = listen_loopback(&service, None);
        let client = gio::SocketClient::new();
        let connected = Rc::new(Cell::new(false));
        let target =
            gio::InetSocketAddress::from_string("127.0.0.1", address.port() as u32).unwrap();
        client.connect_async(&target, None::<&gio::Cancellable>, {
            let service = service.clone();
            let connected = connected.clone();
            move |result| {
                assert!(service.is_active());
                result.expect("connect");
                service.stop();
                assert!(!service.is_active());
                connected.set(true);
            }
        });
        service.start();
        assert!(service.is_active());
        iterate_until(context, || success.get() && connected.get());
    })
}

/// GLib's `/socket-service/read_write_async` and `read_writev_async`, on Usher.
#[test]
fn glib_read_write_async() {
    for vectored in [false, true] {
        with_context(|context| {
            let service = usher::SocketService::new();
            let address = listen_loopback(&service, None);
            let received = Rc::new(RefCell::new(None));
            service.connect_incoming({
                let received = received.clone();
                move |_, connection, _| {
                    let connection = connection.clone();
                    let received = received.clone();
                    glib::spawn_future_local(async move {
                        let buffer = vec![0u8; 20];
                        let (buffer, read, _) = connection
                            .input_stream()
                            .read_all_future(buffer, glib::Priority::DEFAULT)
                            .await
                            .map_err(|(_, error)| error)
                            .expect("read");
                        connection
                            .close_future(glib::Priority::DEFAULT)
                            .await
                            .unwrap();
                        *received.borrow_mut() = Some(buffer[..read].to_vec());
                    });
                    false
                }
            });
            service.start();
            assert!(service.is_active());

            let data: Vec<u8> = (0..20).collect();
            let client = gio::SocketClient::new();
            let target =
                gio::InetSocketAddress::from_string("127.0.0.1", address.port() as u32).unwrap();
            let sent = Rc::new(Cell::new(false));
            glib::spawn_future_local({
                let data = data.clone();
                let sent = sent.clone();
                async move {
                    let connection = client.connect_future(&target).await.unwrap();
                    let output = connection.output_stream();
                    if vectored {
                        // Three vectors of 5, 10 and 5 bytes, as GLib's test.
                        let vectors = vec![
                            data[..5].to_vec(),
                            data[5..15].to_vec(),
                            data[15..].to_vec(),
                        ];
                        let (_, written, _) = output
                            .writev_all_future(vectors, glib::Priority::DEFAULT)
                            .await
                            .map_err(|(_, error)| error)
                            .unwrap();
                        assert_eq!(written, 20);
                    } else {
                        output
                            .write_all_future(data, glib::Priority::DEFAULT)
                            .await
                            .map_err(|(_, error)| error)
                            .unwrap();
                    }
                    connection
                        .close_future(glib::Priority::DEFAULT)
                        .await
                        .unwrap();
                    sent.set(true);
                }
            });
            iterate_until(context, || sent.get() && received.borrow().is_some());
            assert_eq!(received.take().unwrap(), data);
        })
    }
}

#[test]
fn start_and_stop_from_other_threads_lose_no_client() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 50;
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let address = listen_loopback(&service, None);

        let running = Arc::new(AtomicBool::new(true));
        let toggles = Arc::new(AtomicUsize::new(0));
        let toggler = std::thread::spawn({
            let handle = service.handle();
            let running = running.clone();
            let toggles = toggles.clone();
            move || {
                while running.load(Ordering::SeqCst) {
                    handle.stop();
                    std::thread::yield_now();
                    handle.start();
                    toggles.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                spawn_client(context, move || {
                    for round in 0..ROUNDS {
                        let line = format!("client {client} round {round}");
                        assert_eq!(echo_line(address, &line), format!("{line}\n"));
                    }
                })
            })
            .collect();
        iterate_until(context, || {
            clients.iter().all(|client| client.is_finished())
        });
        running.store(false, Ordering::SeqCst);
        toggler.join().unwrap();
        for client in clients {
            client.join().expect("every client got its echo");
        }
        assert!(toggles.load(Ordering::SeqCst) > 0);
        assert!(service.is_active());
    })
}

#[test]
fn a_service_started_on_a_thread_with_its_own_context_accepts_there() {
    // GLib's start() accepts on the caller's thread-default context; so does Usher's where the
    // caller pushed one of its own (gcr's SSH agent runs its service so). The creating thread
    // does not run its context meanwhile: only the starting thread's can accept.
    with_context(|_creating_threads| {
        let service = usher::SocketService::new();
        service.stop();
        let address = listen_loopback(&service, None);
        let handle = service.handle();
        let server = std::thread::spawn(move || {
            with_context(|context| {
                handle.start();
                let client = spawn_client(context, move || {
                    let mut client = TcpStream::connect(address).unwrap();
                    client.set_read_timeout(Some(DEADLINE)).unwrap();
                    // No handler: the service closes the connection it accepted, as GLib's.
                    matches!(client.read(&mut [0; 1]), Ok(0))
                });
                iterate_until(context, || client.is_finished());
                assert!(
                    client.join().unwrap(),
                    "accepted on the starting thread's context"
                );
                handle.stop();
            })
        });
        server.join().unwrap();
        assert!(!service.is_active());
    })
}

#[test]
fn a_service_accepts_on_the_context_of_the_thread_that_created_it() {
    // Started again from a thread with no thread-default context of its own, it keeps
    // accepting on its own private context, where GLib would move to the global default
    // context (bug B7).
    let (handle_sender, handle_receiver) = std::sync::mpsc::channel();
    let (address_sender, address_receiver) = std::sync::mpsc::channel();
    let (restarted_sender, restarted_receiver) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let context = glib::MainContext::new();
        context
            .with_thread_default(|| {
                let service = usher::SocketService::new();
                let address = listen_loopback(&service, None);
                let server_thread = std::thread::current().id();
                let seen = Rc::new(Cell::new(0));
                service.connect_incoming({
                    let seen = seen.clone();
                    move |_, _, _| {
                        assert_eq!(std::thread::current().id(), server_thread);
                        seen.set(seen.get() + 1);
                        false
                    }
                });
                service.stop();
                handle_sender.send(service.handle()).unwrap();
                address_sender.send(address).unwrap();
                restarted_receiver.recv().unwrap();
                assert!(service.is_active());
                iterate_until(&context, || seen.get() == 1);
            })
            .unwrap();
    });
    let handle: usher::SocketServiceHandle = handle_receiver.recv().unwrap();
    let address = address_receiver.recv().unwrap();
    handle.start();
    let _client = TcpStream::connect(address).unwrap();
    restarted_sender.send(()).unwrap();
    server.join().expect("the private context accepted");
}

#[test]
fn start_before_any_socket_accepts_once_one_is_added() {
    // GLib wedges here (bug B5): an accept over zero sockets never completes.
    with_context(|context| {
        let constructed_inactive: usher::SocketService =
            glib::Object::builder().property("active", false).build();
        constructed_inactive.start();

        let stopped_and_started = usher::SocketService::new();
        stopped_and_started.stop();
        stopped_and_started.start();

        for service in [constructed_inactive, stopped_and_started] {
            let seen = keep_incoming(&service);
            let address = listen_loopback(&service, None);
            let _client = TcpStream::connect(address).unwrap();
            iterate_until(context, || seen.borrow().len() == 1);
        }
    })
}

#[test]
fn stop_keeps_a_queued_client_for_start() {
    // GLib can accept and drop a client queued when stop() is called (bug B6).
    with_context(|context| {
        let service = usher::SocketService::new();
        let seen = keep_incoming(&service);
        let address = listen_loopback(&service, None);
        drain(context);

        let mut client = TcpStream::connect(address).unwrap();
        service.stop();
        drain(context);
        assert!(seen.borrow().is_empty(), "a stopped service accepted");
        client.set_nonblocking(true).unwrap();
        assert_eq!(
            client.read(&mut [0; 1]).unwrap_err().kind(),
            ErrorKind::WouldBlock,
            "the client was not dropped"
        );

        service.start();
        iterate_until(context, || seen.borrow().len() == 1);
        let connection = seen.borrow()[0].clone();
        connection
            .output_stream()
            .write_all(b"hi", gio::Cancellable::NONE)
            .unwrap();
        client.set_nonblocking(false).unwrap();
        let mut greeting = [0; 2];
        client.read_exact(&mut greeting).unwrap();
        assert_eq!(&greeting, b"hi");
    })
}

#[test]
fn a_stop_from_a_handler_leaves_the_other_clients_waiting_for_start() {
    const CLIENTS: usize = 10;
    with_context(|context| {
        let service = usher::SocketService::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        service.connect_incoming({
            let seen = seen.clone();
            move |service, connection, _| {
                seen.borrow_mut().push(connection.clone());
                service.stop();
                false
            }
        });
        let address = listen_loopback(&service, None);
        let _clients: Vec<TcpStream> = (0..CLIENTS)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || !seen.borrow().is_empty());
        drain(context);
        assert_eq!(seen.borrow().len(), 1, "stopped after the first");
        for expected in 2..=CLIENTS {
            service.start();
            iterate_until(context, || seen.borrow().len() == expected);
            drain(context);
            assert_eq!(seen.borrow().len(), expected, "one per start");
        }
    })
}

#[test]
fn a_service_that_dies_leaves_no_handler_on_its_memory_monitor() {
    // The default monitor lives as long as the process (no other test of this file uses it):
    // a handler left on it by each service that watched it would be a leak, run on every
    // warning.
    let monitor = gio::MemoryMonitor::dup_default();
    let warning = glib::subclass::SignalId::lookup("low-memory-warning", monitor.type_()).unwrap();
    let pending = || glib::signal::signal_has_handler_pending(&monitor, warning, None, false);
    assert!(!pending());
    let service = usher::SocketService::new();
    service.set_memory_monitor(Some(&monitor));
    assert!(pending());
    let weak = service.downgrade();
    drop(service);
    assert!(weak.upgrade().is_none());
    assert!(!pending(), "the service's handler went with it");
}

#[test]
fn an_active_service_keeps_itself_alive_and_a_stopped_one_is_freed() {
    with_context(|context| {
        let service = usher::SocketService::new();
        assert_eq!(service.ref_count(), 1);
        let seen = keep_incoming(&service);
        let address = listen_loopback(&service, None);
        // One reference for the pending accept, as GLib's GTask.
        assert_eq!(service.ref_count(), 2);

        let weak = service.downgrade();
        let handle = service.handle();
        drop(service);
        assert!(weak.upgrade().is_some(), "an active service stays alive");
        let _client = TcpStream::connect(address).unwrap();
        iterate_until(context, || seen.borrow().len() == 1);

        // As GLib's pending accept, the reference goes in a later iteration of the service's
        // context, never inside stop().
        handle.stop();
        assert!(weak.upgrade().is_some(), "not inside stop()");
        iterate_until(context, || weak.upgrade().is_none());
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            ErrorKind::ConnectionRefused,
            "its port is released"
        );
    })
}

#[test]
fn many_waiting_clients_are_all_served() {
    const CLIENTS: usize = 500;
    with_context(|context| {
        let service = usher::SocketService::new();
        service.set_listen_backlog(1000);
        serve_echo(&service);
        let address = listen_loopback(&service, None);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                spawn_client(context, move || {
                    assert_eq!(echo_line(address, &i.to_string()), format!("{i}\n"))
                })
            })
            .collect();
        iterate_until(context, || {
            clients.iter().all(|client| client.is_finished())
        });
        for client in clients {
            client.join().unwrap();
        }
    })
}

/// A socket listening on 127.0.0.1, made without the listener (which announces those it makes).
fn listening_socket() -> (gio::Socket, std::net::SocketAddr) {
    let socket = gio::Socket::new(
        gio::SocketFamily::Ipv4,
        gio::SocketType::Stream,
        gio::SocketProtocol::Tcp,
    )
    .unwrap();
    let any_port = gio::InetSocketAddress::from_string("127.0.0.1", 0).unwrap();
    socket.bind(&any_port, true).unwrap();
    socket.listen().unwrap();
    let port = socket
        .local_address()
        .unwrap()
        .downcast::<gio::InetSocketAddress>()
        .unwrap()
        .port();
    (socket, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

#[test]
fn a_socket_added_with_add_socket_is_served() {
    // GSocketListener does not announce such sockets; the service falls back to accepting
    // through the listener.
    with_context(|context| {
        let service = usher::SocketService::new();
        serve_echo(&service);
        let (socket, address) = listening_socket();
        let port = address.port();
        let tag = tag();
        service.add_socket(&socket, Some(&tag)).unwrap();
        let announced = listen_loopback(&service, None);
        // The second socket cancels the accept in flight, which begins again with both once
        // the context runs: a client queued before then could be dropped, as with GLib's
        // service (see README's known limitation).
        drain(context);
        for address in [
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            announced,
        ] {
            for round in 0..3 {
                assert_echoed(context, address, &round.to_string());
            }
        }

        // Stopped, it releases its self-reference; started, it serves again.
        service.stop();
        drain(context);
        assert_eq!(service.ref_count(), 1);
        service.start();
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        assert_echoed(context, address, "again");
    })
}

#[test]
fn a_first_socket_added_under_another_thread_default_context_is_served_there() {
    // As GLib: the thread that begins the accepting, here by adding the first socket to an
    // active service, accepts on its thread-default context, for the fallback accept through
    // the listener as for the service's own sockets. Only `other` is iterated: a service that
    // stayed on the creating context would never accept.
    with_context(|context| {
        let other = glib::MainContext::new();
        for add_socket in [true, false] {
            let service = usher::SocketService::new();
            let seen = Rc::new(Cell::new(0));
            service.connect_incoming({
                let seen = seen.clone();
                move |_, _, _| {
                    seen.set(seen.get() + 1);
                    false
                }
            });
            let address = other
                .with_thread_default(|| {
                    if add_socket {
                        let (socket, address) = listening_socket();
                        service.add_socket(&socket, None::<&glib::Object>).unwrap();
                        address
                    } else {
                        listen_loopback(&service, None)
                    }
                })
                .unwrap();
            let _first = TcpStream::connect(address).unwrap();
            iterate_until(&other, || seen.get() == 1);

            // A socket added while it accepts is served where it accepts (GLib restarts its
            // outstanding accept in its own context), whichever thread adds it.
            let second = listen_loopback(&service, None);
            let _second = TcpStream::connect(second).unwrap();
            iterate_until(&other, || seen.get() == 2);
            assert!(!context.pending(), "nothing for the creating context");
        }
    })
}

#[test]
fn start_after_the_listener_was_closed_leaves_the_service_inactive_and_notifies_nothing() {
    with_context(|context| {
        let service = usher::SocketService::new();
        listen_loopback(&service, None);
        service.stop();
        let notified = Rc::new(Cell::new(0));
        service.connect_active_notify({
            let notified = notified.clone();
            move |_| notified.set(notified.get() + 1)
        });
        service.close();
        service.start();
        assert!(!service.is_active());
        drain(context);
        assert_eq!(notified.get(), 0, "it was inactive, and is");
    })
}

#[test]
fn closing_the_listener_of_an_active_service_stops_it_cleanly() {
    // GLib loops on "Listener is already closed" (bug B2).
    with_context(|context| {
        let service = usher::SocketService::new();
        let address = listen_loopback(&service, None);
        let errors = Rc::new(Cell::new(0));
        service.connect_accept_error({
            let errors = errors.clone();
            move |_, _| errors.set(errors.get() + 1)
        });
        drain(context);
        service.close();
        iterate_until(context, || !service.is_active());
        assert_eq!(errors.get(), 0);
        // The service's reference to itself goes in a later iteration.
        iterate_until(context, || service.ref_count() == 1);
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
        let _ = Write::flush(&mut std::io::stdout());
    })
}

#[test]
fn services_on_two_threads_share_a_port_with_reuse_port() {
    const CLIENTS: usize = 200;
    let mut port = 0;
    let mut servers = Vec::new();
    for _ in 0..2 {
        let (bound_sender, bound) = std::sync::mpsc::channel();
        let requested = port;
        let thread = std::thread::spawn(move || {
            with_context(|context| {
                let service = usher::SocketService::new();
                service.set_listen_backlog(CLIENTS as i32);
                serve_echo(&service);
                let any =
                    gio::InetSocketAddress::from_string("127.0.0.1", requested.into()).unwrap();
                let effective = service
                    .add_reuse_port_address(&any, None::<&glib::Object>)
                    .unwrap()
                    .downcast::<gio::InetSocketAddress>()
                    .unwrap();
                let main_loop = glib::MainLoop::new(Some(context), false);
                // Once the loop runs, so that a quit() cannot come before run().
                let running = main_loop.clone();
                glib::idle_source_new(None, glib::Priority::DEFAULT, move || {
                    bound_sender
                        .send((effective.port(), running.clone()))
                        .unwrap();
                    glib::ControlFlow::Break
                })
                .attach(Some(context));
                main_loop.run();
                service.n_accepted()
            })
        });
        let (chosen, main_loop) = bound.recv().unwrap();
        port = chosen;
        servers.push((thread, main_loop));
    }
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for i in 0..CLIENTS {
        assert_eq!(echo_line(address, &i.to_string()), format!("{i}\n"));
    }
    let served: Vec<u64> = servers
        .into_iter()
        .map(|(thread, main_loop)| {
            main_loop.quit();
            thread.join().unwrap()
        })
        .collect();
    assert_eq!(served.iter().sum::<u64>(), CLIENTS as u64);
    assert!(
        served.iter().all(|&count| count > 0),
        "the kernel spread the clients: {served:?}"
    );
}
