//! `usher::ThreadedSocketService` over real loopback sockets and real main loops.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use common::*;
use gio::prelude::*;
use usher::prelude::*;
use usher::subclass::prelude::*;

/// A blocking echo of one line, for `run`.
fn blocking_echo(connection: &gio::SocketConnection) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    if let Ok(Some(line)) = input.read_line_utf8(gio::Cancellable::NONE) {
        let reply = format!("{line}\n");
        let _ = connection
            .output_stream()
            .write_all(reply.as_bytes(), gio::Cancellable::NONE);
    }
}

#[test]
fn max_threads_has_glibs_flags_range_and_default() {
    let ours = usher::ThreadedSocketService::default();
    assert_eq!(ours.max_threads(), 10);
    let ours = ours.find_property("max-threads").unwrap();
    let glibs = gio::ThreadedSocketService::new(Some(10))
        .find_property("max-threads")
        .unwrap();
    let static_strings = glib::ParamFlags::from_bits_retain(0xe0);
    assert_eq!(
        ours.flags() - static_strings,
        glibs.flags() - static_strings
    );
    let (ours, glibs) = (
        ours.downcast::<glib::ParamSpecInt>().unwrap(),
        glibs.downcast::<glib::ParamSpecInt>().unwrap(),
    );
    assert_eq!(
        (ours.minimum(), ours.maximum(), ours.default_value()),
        (glibs.minimum(), glibs.maximum(), glibs.default_value())
    );
    assert_eq!(usher::ThreadedSocketService::new(4).max_threads(), 4);
}

#[test]
fn run_is_emitted_in_a_worker_thread_and_may_block() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(4);
        let address = listen_loopback(&service, None);
        let main_thread = std::thread::current().id();
        service.connect_run(move |_, connection, _| {
            assert_ne!(std::thread::current().id(), main_thread);
            blocking_echo(connection);
            false
        });
        assert_echoed(context, address, "blocking");
    })
}

/// Handlers that block until released, counting how many run at once.
#[derive(Default)]
struct Gate {
    open: Mutex<usize>,
    opened: Condvar,
    running: AtomicUsize,
    most_running: AtomicUsize,
    started: AtomicUsize,
}

impl Gate {
    fn pass(&self, context: &glib::MainContext) {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(running, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        context.wakeup();
        let mut open = self.open.lock().unwrap();
        while *open == 0 {
            open = self.opened.wait(open).unwrap();
        }
        *open -= 1;
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    fn release(&self, handlers: usize) {
        *self.open.lock().unwrap() += handlers;
        self.opened.notify_all();
    }
}

#[test]
fn a_saturated_pool_pauses_accepting_and_a_finished_handler_resumes_it() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(2);
        let address = listen_loopback(&service, None);
        let gate = Arc::new(Gate::default());
        let incoming_threads = Arc::new(Mutex::new(Vec::new()));
        service.connect_incoming({
            let incoming_threads = incoming_threads.clone();
            move |_, _, _| {
                incoming_threads
                    .lock()
                    .unwrap()
                    .push(std::thread::current().id());
                false
            }
        });
        service.connect_run({
            let gate = gate.clone();
            let context = context.clone();
            move |_, _, _| {
                gate.pass(&context);
                false
            }
        });

        let _clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        iterate_until(context, || gate.started.load(Ordering::SeqCst) == 2);
        // The third client is connected (the kernel's backlog) but not accepted.
        drain(context);
        assert_eq!(incoming_threads.lock().unwrap().len(), 2);
        assert!(service.is_active(), "saturation does not touch `active`");

        gate.release(1);
        iterate_until(context, || gate.started.load(Ordering::SeqCst) == 3);
        gate.release(2);
        assert_eq!(gate.most_running.load(Ordering::SeqCst), 2);
        let main_thread = std::thread::current().id();
        assert!(
            incoming_threads
                .lock()
                .unwrap()
                .iter()
                .all(|thread| *thread == main_thread),
            "accepts stay on the creating thread's context"
        );
    })
}

#[test]
fn a_stop_made_while_saturated_survives_the_end_of_a_handler() {
    // GLib restarts the service when a handler finishes, undoing this stop().
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(1);
        let address = listen_loopback(&service, None);
        let gate = Arc::new(Gate::default());
        let finished = Arc::new(AtomicBool::new(false));
        service.connect_run({
            let (gate, finished, context) = (gate.clone(), finished.clone(), context.clone());
            move |_, _, _| {
                gate.pass(&context);
                finished.store(true, Ordering::SeqCst);
                context.wakeup();
                false
            }
        });
        let _client = TcpStream::connect(address).unwrap();
        iterate_until(context, || gate.started.load(Ordering::SeqCst) == 1);
        service.stop();
        gate.release(1);
        iterate_until(context, || finished.load(Ordering::SeqCst));
        drain(context);
        assert!(!service.is_active());
    })
}

#[test]
fn two_hundred_clients_with_four_threads_are_all_served() {
    const CLIENTS: usize = 200;
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(4);
        service.set_listen_backlog(CLIENTS as i32);
        let address = listen_loopback(&service, None);
        service.connect_run(|_, connection, _| {
            blocking_echo(connection);
            false
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| spawn_client(context, move || echo_line(address, &i.to_string())))
            .collect();
        iterate_until(context, || {
            clients.iter().all(|client| client.is_finished())
        });
        for (i, client) in clients.into_iter().enumerate() {
            assert_eq!(client.join().unwrap(), format!("{i}\n"));
        }
    })
}

#[test]
fn zero_max_threads_runs_handlers_instead_of_wedging() {
    // GLib accepts 0 and then never runs a job (bug B11).
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(0);
        let address = listen_loopback(&service, None);
        service.connect_run(|_, connection, _| {
            blocking_echo(connection);
            false
        });
        assert_echoed(context, address, "zero");
    })
}

#[test]
fn an_incoming_handler_returning_true_keeps_run_from_being_emitted() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(2);
        let address = listen_loopback(&service, None);
        let runs = Arc::new(AtomicU32::new(0));
        service.connect_run({
            let runs = runs.clone();
            move |_, _, _| {
                runs.fetch_add(1, Ordering::SeqCst);
                false
            }
        });
        let claimed = Arc::new(AtomicU32::new(0));
        service.connect_incoming({
            let claimed = claimed.clone();
            move |_, _, _| {
                claimed.fetch_add(1, Ordering::SeqCst);
                true
            }
        });
        let client = spawn_client(context, move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            stream.read(&mut [0; 1]).unwrap()
        });
        iterate_until(context, || client.is_finished());
        assert_eq!(
            client.join().unwrap(),
            0,
            "the unclaimed connection was closed"
        );
        assert_eq!(claimed.load(Ordering::SeqCst), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    })
}

mod imp {
    use super::*;

    /// Echoes in `run`, or claims the connection without echoing when `claim` is set.
    #[derive(Default)]
    pub struct Echo {
        pub runs: AtomicU32,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Echo {
        const NAME: &'static str = "TestThreadedEcho";
        type Type = super::Echo;
        type ParentType = usher::ThreadedSocketService;
    }

    impl ObjectImpl for Echo {}
    impl SocketListenerImpl for Echo {}
    impl SocketServiceImpl for Echo {}

    impl ThreadedSocketServiceImpl for Echo {
        fn run(
            &self,
            connection: &gio::SocketConnection,
            source_object: Option<&glib::Object>,
        ) -> bool {
            self.runs.fetch_add(1, Ordering::SeqCst);
            assert!(!self.parent_run(connection, source_object));
            blocking_echo(connection);
            true
        }
    }

    /// Records its finalization, for the 712570 test.
    #[derive(Default)]
    pub struct Finalizing;

    #[glib::object_subclass]
    impl ObjectSubclass for Finalizing {
        const NAME: &'static str = "TestThreaded712570";
        type Type = super::Finalizing;
        type ParentType = usher::ThreadedSocketService;
    }

    impl ObjectImpl for Finalizing {}
    impl SocketListenerImpl for Finalizing {}
    impl SocketServiceImpl for Finalizing {}
    impl ThreadedSocketServiceImpl for Finalizing {}

    impl Drop for Finalizing {
        fn drop(&mut self) {
            let mut finalized = super::FINALIZED.0.lock().unwrap();
            *finalized = true;
            super::FINALIZED.1.notify_all();
        }
    }
}

glib::wrapper! {
    pub struct Echo(ObjectSubclass<imp::Echo>)
        @extends usher::ThreadedSocketService, usher::SocketService, gio::SocketListener;
}

glib::wrapper! {
    pub struct Finalizing(ObjectSubclass<imp::Finalizing>)
        @extends usher::ThreadedSocketService, usher::SocketService, gio::SocketListener;
}

#[test]
fn a_rust_subclass_overrides_run() {
    with_context(|context| {
        let echo: Echo = glib::Object::builder().property("max-threads", 2).build();
        let address = listen_loopback(&echo, None);
        let after = Arc::new(AtomicU32::new(0));
        let counter = after.clone();
        echo.connect_closure(
            "run",
            true,
            glib::closure!(move |_: Echo,
                                 _: gio::SocketConnection,
                                 _: Option<glib::Object>|
                  -> bool {
                counter.fetch_add(1, Ordering::SeqCst);
                false
            }),
        );
        assert_echoed(context, address, "subclass");
        assert_eq!(echo.imp().runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            after.load(Ordering::SeqCst),
            0,
            "the class handler returned TRUE"
        );
    })
}

static FINALIZED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// GLib's `/socket-service/threaded/712570`: the last reference goes in `run`'s thread, and
/// finalization must not wait for the pool. Reference counts as GLib's test asserts them.
#[test]
fn glib_threaded_712570() {
    with_context(|context| {
        let main_loop = glib::MainLoop::new(Some(context), false);
        let gate = Arc::new((Mutex::new(()), Condvar::new()));
        let held = gate.0.lock().unwrap();

        let service: Finalizing = glib::Object::new();
        let address = listen_loopback(&service, None);
        let count_in_run = Arc::new(AtomicU32::new(0));
        service.connect_run({
            let main_loop = main_loop.clone();
            let gate = gate.clone();
            let count_in_run = count_in_run.clone();
            move |service, _, _| {
                main_loop.quit();
                // Wait until the main thread has dropped its reference.
                let _unblocked = gate.0.lock().unwrap();
                // One reference for this emission, one held by the job.
                count_in_run.store(service.ref_count(), Ordering::SeqCst);
                false
            }
        });
        let _client = TcpStream::connect(address).unwrap();
        main_loop.run();

        service.stop();
        assert!(!service.is_active());
        iterate_until(context, || service.ref_count() <= 3);
        drain(context);
        drop(service);

        let mut finalized = FINALIZED.0.lock().unwrap();
        drop(held);
        while !*finalized {
            finalized = FINALIZED.1.wait(finalized).unwrap();
        }
        assert_eq!(count_in_run.load(Ordering::SeqCst), 2);
    })
}

#[test]
fn handlers_run_in_parallel_up_to_max_threads() {
    with_context(|context| {
        let service = usher::ThreadedSocketService::new(3);
        service.set_listen_backlog(20);
        let address = listen_loopback(&service, None);
        let gate = Arc::new(Gate::default());
        service.connect_run({
            let (gate, context) = (gate.clone(), context.clone());
            move |_, connection, _| {
                gate.pass(&context);
                let _ = connection
                    .output_stream()
                    .write_all(b"done\n", gio::Cancellable::NONE);
                false
            }
        });
        let clients: Vec<_> = (0..6)
            .map(|_| {
                spawn_client(context, move || {
                    let stream = TcpStream::connect(address).unwrap();
                    let mut reply = String::new();
                    BufReader::new(stream).read_line(&mut reply).unwrap();
                    reply
                })
            })
            .collect();
        iterate_until(context, || gate.started.load(Ordering::SeqCst) == 3);
        assert_eq!(gate.running.load(Ordering::SeqCst), 3);
        gate.release(6);
        iterate_until(context, || {
            clients.iter().all(|client| client.is_finished())
        });
        for client in clients {
            assert_eq!(client.join().unwrap(), "done\n");
        }
        assert_eq!(gate.most_running.load(Ordering::SeqCst), 3);
        let _ = std::io::stdout().flush();
    })
}
