//! What the echo examples share: the `Source` tag and the command line.

use gio::glib;
use glib::prelude::*;

mod imp {
    use gio::glib;
    use glib::prelude::*;
    use glib::subclass::prelude::*;
    use std::cell::{Cell, RefCell};

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::Source)]
    pub struct Source {
        /// The port the tagged socket listens on (0 for a socket from socket activation).
        #[property(get, construct_only)]
        port: Cell<u32>,
        /// The name of a socket from socket activation.
        #[property(get, construct_only)]
        name: RefCell<Option<String>>,
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
    /// The `source_object` of a listening socket: which one a client came in on.
    pub struct Source(ObjectSubclass<imp::Source>);
}

impl Source {
    pub fn new(port: u16) -> Self {
        glib::Object::builder()
            .property("port", u32::from(port))
            .build()
    }

    /// The tag of a socket from socket activation, named by its `.socket` unit.
    pub fn named(name: &str) -> Self {
        glib::Object::builder().property("name", name).build()
    }

    /// How `Accepted! (Source: …)` names the socket of `source_object`.
    pub fn describe(source_object: Option<&glib::Object>) -> String {
        match source_object.and_then(|source| source.downcast_ref::<Source>()) {
            Some(source) if source.port() != 0 => source.port().to_string(),
            Some(source) => source.name().unwrap_or_default(),
            None => "?".to_owned(),
        }
    }
}

/// Where the examples listen, and whether they serve TLS, from the command line:
/// `[PORT…] | --activation`, and `--tls CERT KEY` anywhere.
pub struct Listen {
    sockets: Sockets,
    /// The certificate and private key files to serve TLS with.
    tls: Option<(String, String)>,
}

enum Sockets {
    /// These ports, GLib's documented 1024 and 1025 if none are given.
    Ports(Vec<u16>),
    /// The sockets from socket activation (`--activation`).
    Activation,
}

impl Listen {
    pub fn from_args(program: &str) -> Option<Listen> {
        let usage = |error: &dyn std::fmt::Display| {
            eprintln!("usage: {program} [PORT…] | --activation, [--tls CERT KEY]: {error}");
        };
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        let tls = match args.iter().position(|arg| arg == "--tls") {
            Some(at) if args.len() >= at + 3 => {
                let files: Vec<String> = args.drain(at..at + 3).skip(1).collect();
                Some((files[0].clone(), files[1].clone()))
            }
            Some(_) => {
                usage(&"--tls needs a certificate and a key file");
                return None;
            }
            None => None,
        };
        if args == ["--activation"] {
            return Some(Listen {
                sockets: Sockets::Activation,
                tls,
            });
        }
        let sockets = match args
            .iter()
            .map(|arg| arg.parse())
            .collect::<Result<Vec<u16>, _>>()
        {
            Ok(ports) if !ports.is_empty() => Sockets::Ports(ports),
            Ok(_) => Sockets::Ports(vec![1024, 1025]),
            Err(error) => {
                usage(&error);
                return None;
            }
        };
        Some(Listen { sockets, tls })
    }

    /// Adds the sockets to `service`, tagged with `Source`s, sets its TLS certificate, and
    /// says where it listens.
    pub fn add_to(&self, service: &usher::SocketService) -> Result<(), String> {
        use gio::prelude::*;
        use usher::prelude::*;
        if let Some((certificate, key)) = &self.tls {
            let certificate = gio::TlsCertificate::from_files(certificate, key)
                .map_err(|error| format!("Cannot read the TLS certificate: {error}"))?;
            service.set_tls_certificate(Some(&certificate));
        }
        match &self.sockets {
            Sockets::Ports(ports) => {
                for &port in ports {
                    service
                        .add_inet_port(port, Some(&Source::new(port)))
                        .map_err(|error| format!("Cannot listen on port {port}: {error}"))?;
                }
                let tls = if self.tls.is_some() { " with TLS" } else { "" };
                println!("Listening on ports {ports:?}{tls}; send \"shutdown\" to stop.");
            }
            Sockets::Activation => {
                let added = service
                    .add_activated_sockets(|name| Some(Source::named(name).upcast()))
                    .map_err(|error| format!("Cannot take the activated sockets: {error}"))?;
                println!("{added} sockets from socket activation");
                if added == 0 {
                    return Err("Not socket-activated: nothing to listen on".to_owned());
                }
            }
        }
        Ok(())
    }
}
