//! Subclassing `usher::SocketService` from another crate, with every prelude glob-imported.

mod common;

use std::cell::{Cell, RefCell};
use std::net::TcpStream;

use common::*;
// gio's preludes have their own `SocketServiceExt` and friends: these four globs must not clash.
use gio::prelude::*;
use gio::subclass::prelude::*;
use usher::prelude::*;
use usher::subclass::prelude::*;

mod imp {
    use super::*;

    /// Greets each client, and records what the listener told it.
    #[derive(Default)]
    pub struct Greeter {
        pub greeted: Cell<usize>,
        pub changes: Cell<usize>,
        pub handled: Cell<bool>,
        pub order: RefCell<Vec<&'static str>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Greeter {
        const NAME: &'static str = "TestGreeter";
        type Type = super::Greeter;
        type ParentType = usher::SocketService;
    }

    impl ObjectImpl for Greeter {}

    impl SocketListenerImpl for Greeter {
        fn changed(&self) {
            self.changes.set(self.changes.get() + 1);
            self.parent_changed();
        }
    }

    impl SocketServiceImpl for Greeter {
        fn incoming(
            &self,
            connection: &gio::SocketConnection,
            source_object: Option<&glib::Object>,
        ) -> bool {
            self.order.borrow_mut().push("class");
            assert!(!self.parent_incoming(connection, source_object));
            connection
                .output_stream()
                .write_all(b"hello\n", gio::Cancellable::NONE)
                .unwrap();
            self.greeted.set(self.greeted.get() + 1);
            self.handled.get()
        }
    }
}

glib::wrapper! {
    pub struct Greeter(ObjectSubclass<imp::Greeter>)
        @extends usher::SocketService, gio::SocketListener;
}

#[test]
fn a_rust_subclass_overrides_incoming_and_changed() {
    with_context(|context| {
        let greeter: Greeter = glib::Object::new();
        // Usher's methods through its prelude, gio's through its own.
        assert!(greeter.is_active());
        greeter.stop();
        greeter.start();
        let address = listen_loopback(&greeter, None);
        assert_eq!(greeter.imp().changes.get(), 1);

        let client = spawn_client(context, move || {
            let mut reply = String::new();
            let stream = TcpStream::connect(address).unwrap();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut reply).unwrap();
            reply
        });
        iterate_until(context, || client.is_finished());
        assert_eq!(client.join().unwrap(), "hello\n");
        assert_eq!(greeter.imp().greeted.get(), 1);
    })
}

#[test]
fn the_class_handler_runs_between_handlers_and_after_handlers() {
    with_context(|context| {
        let greeter: Greeter = glib::Object::new();
        greeter.imp().handled.set(true);
        let address = listen_loopback(&greeter, None);
        let order = greeter.imp();
        greeter.connect_incoming(|greeter, _, _| {
            greeter.imp().order.borrow_mut().push("handler");
            false
        });
        greeter.connect_closure(
            "incoming",
            true,
            glib::closure_local!(|greeter: Greeter,
                                  _: gio::SocketConnection,
                                  _: Option<glib::Object>|
             -> bool {
                greeter.imp().order.borrow_mut().push("after");
                false
            }),
        );
        let _client = TcpStream::connect(address).unwrap();
        iterate_until(context, || !order.order.borrow().is_empty());
        // RUN_LAST: handlers, then the class handler, whose TRUE stops the `after` handlers.
        assert_eq!(*order.order.borrow(), ["handler", "class"]);
    })
}
