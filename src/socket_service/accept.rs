//! One `accept(2)` on a listening socket, and what its result means for the service.
//!
//! `g_socket_accept()` blocks on a blocking `GSocket` (GLib 2.74 makes the listener's sockets
//! blocking) and folds errno into a few `GIOErrorEnum` codes; the service needs neither, so it
//! calls `accept4()` itself, as `g_socket_accept()` does. The descriptor becomes a `GSocket`
//! (`g_socket_new_from_fd()`, as there) when the service hands the connection out.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::LazyLock;

use gio::prelude::*;
use glib::translate::*;

/// How a failed accept is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The connection in the backlog went bad (ECONNABORTED, EPROTO, …): retry at once.
    Transient,
    /// The process or system is out of something (EMFILE, ENFILE, ENOBUFS, ENOMEM), or the error
    /// is unknown: retrying at once would spin, so back off.
    Persistent,
}

pub(super) enum Accepted {
    /// A new connection's descriptor.
    Client(OwnedFd),
    /// The backlog is empty.
    Empty,
    /// The listening socket was closed (`g_socket_listener_close()`).
    Closed,
    Failed(glib::Error, Failure),
}

/// Accepts one connection from `listening` without blocking.
pub(super) fn accept(listening: &gio::Socket) -> Accepted {
    if listening.is_closed() {
        return Accepted::Closed;
    }
    loop {
        // SAFETY: a valid descriptor for as long as `listening` is open; the address is not wanted.
        let fd = unsafe {
            libc::accept4(
                listening.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: accept4() just returned this descriptor to us.
            return Accepted::Client(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let failure = match errno {
            libc::EINTR => continue,
            libc::EAGAIN => return Accepted::Empty,
            libc::EBADF | libc::ENOTSOCK if listening.is_closed() => return Accepted::Closed,
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
        return Accepted::Failed(errno_error(errno, "Error accepting connection"), failure);
    }
}

/// The `GError` GSocket would set for `errno` while doing `what` ("Error accepting connection").
pub(super) fn errno_error(errno: i32, what: &str) -> glib::Error {
    // SAFETY: g_strerror() returns a string owned by GLib that lives forever.
    let reason = unsafe { CStr::from_ptr(glib::ffi::g_strerror(errno)) };
    glib::Error::new(
        gio::io_error_from_errno(errno),
        &format!("{what}: {}", reason.to_string_lossy()),
    )
}

/// The key under which `GSocketListener` keeps the `source_object` given to `add_*()` on each of
/// its sockets; `g_socket_listener_accept_finish()` reads it from there, and so do we.
static SOURCE_QUARK: LazyLock<glib::Quark> =
    LazyLock::new(|| glib::Quark::from_str("g-socket-listener-source"));

/// The `source_object` the listening socket was added with.
pub(super) fn source_object(listening: &gio::Socket) -> Option<glib::Object> {
    // SAFETY: GSocketListener stores a plain `GObject *` (a reference it owns) under this key.
    unsafe {
        let data = glib::gobject_ffi::g_object_get_qdata(
            listening.as_ptr() as *mut glib::gobject_ffi::GObject,
            SOURCE_QUARK.into_glib(),
        );
        from_glib_none(data as *mut glib::gobject_ffi::GObject)
    }
}
