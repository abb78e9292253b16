//! Safe wrappers over the calls that neither std nor gio-rs offer safely, a file per concern:
//! GObject references that cross threads (`refs`), system calls on sockets and descriptors
//! (`socket`), GLib's logging state (`log`), a source woken from any thread (`wakeup`), GIO
//! asynchronous calls whose callback may run on another thread (`gio_async`), typed object data
//! (`object_data`), registering a type that reports its close (`close_reporting`), handlers of
//! `incoming` and `run` (`closure`), descriptors passed between processes and a peer's
//! credentials (`fd_passing`), a `GThreadPool` (`thread_pool`), user and group names
//! (`users`) and a file changed through a descriptor of its inode, not its path (`path_fd`).
//!
//! Outside the C ABI (`ffi.rs`, `capi/`) and `subclass/`, this module is the only place with
//! `unsafe`. Its files import nothing of the crate but each other: it is the lowest layer.

mod close_reporting;
mod closure;
mod fd_passing;
mod gio_async;
mod log;
mod object_data;
mod path_fd;
mod refs;
mod socket;
mod thread_pool;
mod users;
mod wakeup;

pub(crate) use close_reporting::{
    CloseReporting, CloseReportingType, new_connection, register_close_reporting_type,
};
pub(crate) use closure::connect_connection_handler;
pub(crate) use fd_passing::{
    PeerCredentials, Received, effective_user, peer_credentials, receive_with_descriptors,
    send_with_descriptors,
};
pub(crate) use gio_async::{accept_socket_async, tls_handshake_async};
pub(crate) use log::log_debug_enabled;
pub(crate) use object_data::{DataKey, listener_source_object};
pub(crate) use path_fd::PathFd;
pub(crate) use refs::{SendObject, SendWeak};
pub(crate) use socket::{
    Accepted, accept, bind, canonical_ip, close_passed_descriptor, credential_ids,
    descriptor_limit, duplicate_descriptor, errno_error, is_listening_stream,
    lowest_free_descriptor, peer_closed, readable_now, receive, remote_address, set_no_delay,
};
pub(crate) use thread_pool::ThreadPool;
pub(crate) use users::{group_id, user_id};
pub(crate) use wakeup::Wakeup;
