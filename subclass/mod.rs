//! Subclassing Usher's types from Rust.
//!
//! ```
//! use usher::subclass::prelude::*;
//! ```

pub(crate) mod socket_listener;
pub(crate) mod socket_service;
mod threaded_socket_service;

#[doc(hidden)]
pub use socket_listener::SocketListenerBase;

/// The traits to implement and the `parent_*` calls, with glib's and gio's subclass preludes.
pub mod prelude {
    #[doc(hidden)]
    pub use gio::subclass::prelude::*;

    pub use super::socket_listener::{SocketListenerImpl, SocketListenerImplExt};
    pub use super::socket_service::{SocketServiceImpl, SocketServiceImplExt};
    pub use super::threaded_socket_service::{
        ThreadedSocketServiceImpl, ThreadedSocketServiceImplExt,
    };
}
