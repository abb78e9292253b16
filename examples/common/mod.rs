//! What the echo examples share: the `Source` tag and the command line.

use gio::glib;
use glib::prelude::*;

mod imp {
    use gio::glib;
    use glib::prelude::*;
    use glib::subclass::prelude::*;
    use std::cell::Cell;

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::Source)]
    pub struct Source {
        /// The port the tagged socket listens on.
        #[property(get, construct_only)]
        port: Cell<u32>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Source {
        const NAME: &'static str = "EchoSource";
        type Type = super::Source;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Source {}
}

glib::wrapper! {
    /// The `source_object` of a listening socket: which port a client came in on.
    pub struct Source(ObjectSubclass<imp::Source>);
}

impl Source {
    pub fn new(port: u16) -> Self {
        glib::Object::builder()
            .property("port", u32::from(port))
            .build()
    }

    /// The port of a `source_object`, or 0 if it is not a `Source`.
    pub fn port_of(source_object: Option<&glib::Object>) -> u32 {
        source_object
            .and_then(|source| source.downcast_ref::<Source>())
            .map_or(0, Source::port)
    }
}

/// The ports given on the command line, or GLib's documented 1024 and 1025.
pub fn ports_from_args(program: &str) -> Option<Vec<u16>> {
    match std::env::args()
        .skip(1)
        .map(|arg| arg.parse())
        .collect::<Result<Vec<u16>, _>>()
    {
        Ok(ports) if !ports.is_empty() => Some(ports),
        Ok(_) => Some(vec![1024, 1025]),
        Err(error) => {
            eprintln!("usage: {program} [PORT…]: {error}");
            None
        }
    }
}
