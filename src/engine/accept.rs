//! One `accept(2)` on a listening socket, and what its result means for the service.
//!
//! `g_socket_accept()` blocks on a blocking `GSocket` (GLib 2.74 makes the listener's sockets
//! blocking) and folds errno into a few `GIOErrorEnum` codes; the service needs neither, so it
//! calls `accept4()` itself, as `g_socket_accept()` does. The descriptor becomes a `GSocket`
//! (`g_socket_new_from_fd()`, as there) when the service hands the connection out.

use std::os::fd::AsFd;
use std::sync::LazyLock;

use gio::prelude::*;

use crate::sys;

/// How a failed accept is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The connection in the backlog went bad (ECONNABORTED, EPROTO, …): retry at once.
    Transient,
    /// The process or system is out of something (EMFILE, ENFILE, ENOBUFS, ENOMEM), or the error
    /// is unknown: retrying at once would spin, so back off.
    Persistent,
}

pub(super) enum Outcome {
    Client(sys::Accepted),
    /// The backlog is empty.
    Empty,
    /// The listening socket was closed (`g_socket_listener_close()`).
    Closed,
    Failed(glib::Error, Failure),
}

/// Whether the running GLib sets `TCP_NODELAY` on every stream `GSocket` itself, the accepted
/// ones included (`g_socket_constructed()`, since 2.79.0, the development releases of 2.80).
pub(super) fn glib_sets_no_delay() -> bool {
    static SETS: LazyLock<bool> = LazyLock::new(|| glib::check_version(2, 79, 0).is_none());
    *SETS
}

/// Gives the clients `listening`, a `tcp` socket or not, will take `TCP_NODELAY`, as GLib ≥ 2.80
/// gives every TCP socket, through the listening socket: Linux copies it to each connection it
/// makes there, so that no accept needs a `setsockopt()` of its own. Returns whether the clients
/// already waiting in its backlog, made before, still need it: until the backlog is seen empty.
pub(super) fn pass_on_no_delay(listening: &gio::Socket, tcp: bool) -> bool {
    if !tcp || glib_sets_no_delay() {
        return false;
    }
    sys::set_no_delay(listening.as_fd());
    true
}

/// Whether a client waits in the backlog of `listening`. An `accept4()` that finds the backlog
/// empty costs as much as one that takes a client (Linux makes the new socket and its file
/// before it looks: 3 µs on this project's machine), `poll()` a tenth of that.
pub(super) fn client_waits(listening: &gio::Socket) -> bool {
    sys::readable_now(listening.as_fd())
}

/// Accepts one connection from `listening` without blocking; with `no_delay`, sets its
/// `TCP_NODELAY` (see [`pass_on_no_delay`]).
pub(super) fn accept(listening: &gio::Socket, no_delay: bool) -> Outcome {
    if listening.is_closed() {
        return Outcome::Closed;
    }
    let errno = match sys::accept(listening.as_fd()) {
        Ok(accepted) => {
            if no_delay {
                sys::set_no_delay(accepted.fd.as_fd());
            }
            return Outcome::Client(accepted);
        }
        Err(errno) => errno,
    };
    let failure = match errno {
        libc::EAGAIN => return Outcome::Empty,
        libc::EBADF | libc::ENOTSOCK if listening.is_closed() => return Outcome::Closed,
        // accept(2): "Linux accept() passes already-pending network errors on the new socket
        // as an error code from accept() … treat them like EAGAIN by retrying."
        libc::ECONNABORTED
        | libc::EPROTO
        | libc::EPERM
        | libc::ENETDOWN
        | libc::ENOPROTOOPT
        | libc::EHOSTDOWN
        | libc::ENONET
        | libc::EHOSTUNREACH
        | libc::EOPNOTSUPP
        | libc::ENETUNREACH
        | libc::ETIMEDOUT => Failure::Transient,
        _ => Failure::Persistent,
    };
    Outcome::Failed(
        sys::errno_error(errno, "Error accepting connection"),
        failure,
    )
}
