//! # Usher
//!
//! GLib's `GSocketService`, re-implemented in Rust as a real GObject: [`SocketService`] is a
//! subclass of [`gio::SocketListener`] registered with GObject as `UsherSocketService`, usable
//! from Rust, C, Vala, Python and JavaScript. It behaves as GLib's service where GLib defines the
//! behaviour, and does better where GLib is weak.
//!
//! ```no_run
//! use gio::prelude::*;
//! use usher::prelude::*;
//!
//! let service = usher::SocketService::new();
//! service.add_inet_port(1024, None::<&glib::Object>)?;
//! service.connect_incoming(|_, connection, _| {
//!     println!("connection from {:?}", connection.remote_address().ok());
//!     false
//! });
//! glib::MainLoop::new(None, false).run();
//! # Ok::<(), glib::Error>(())
//! ```
//!
//! Import [`prelude`] for the methods, and [`subclass::prelude`] to subclass.

// The layers, each importing only from those below it: `sys` and `ffi`; `log`, `signals`,
// `glib_property`, `connection`, `proxy_protocol`, `tls_hello` and `admission`; `proxy_info`,
// `client_hello` and `socket_settings`;
// `engine`; the listener's
// subclassing support (`subclass::socket_listener`); `socket_service`; the service's
// subclassing support; `threaded_socket_service` and its subclassing support; `capi`.
mod admission;
#[cfg(feature = "capi")]
mod capi;
mod client_hello;
mod connection;
mod engine;
pub mod ffi;
mod glib_property;
mod log;
mod proxy_info;
mod proxy_protocol;
mod refusal;
mod signals;
mod socket_service;
mod socket_settings;
#[path = "../subclass/mod.rs"]
pub mod subclass;
mod sys;
mod threaded_socket_service;
mod tls_hello;

pub use client_hello::ClientHello;
pub use proxy_info::{ProxyCommand, ProxyInfo};
pub use refusal::Refusal;
pub use socket_service::{
    IncomingStream, SocketService, SocketServiceExt, SocketServiceHandle,
    SocketServicePropertiesExt,
};
pub use socket_settings::SocketSettings;
pub use threaded_socket_service::{
    ThreadedSocketService, ThreadedSocketServiceExt, ThreadedSocketServicePropertiesExt,
};

/// The traits of Usher's types, to glob-import beside `gio::prelude::*`.
///
/// They are imported anonymously: gio's prelude has a `SocketServiceExt` of its own, and the
/// two glob imports must not clash.
pub mod prelude {
    pub use crate::socket_service::{SocketServiceExt as _, SocketServicePropertiesExt as _};
    pub use crate::threaded_socket_service::{
        ThreadedSocketServiceExt as _, ThreadedSocketServicePropertiesExt as _,
    };
}
