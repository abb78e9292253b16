//! Listening sockets the service makes itself, where `g_socket_listener_add_address()` cannot
//! make them right, with the listener's `event` emissions all the same:
//!
//! * TCP sockets that share their port with others (`SO_REUSEPORT`), so that several services,
//!   each on its own thread and main context, accept on one port and the kernel spreads the
//!   connections between them. `g_socket_bind()` clears `SO_REUSEPORT` on stream sockets just
//!   before `bind()` (GLib honours it for datagrams only), so the option cannot be set from the
//!   `event` signal: the socket is bound here with `bind(2)`.
//! * Unix sockets at a path: a path where a live server answers is refused, a stale one (a
//!   socket file nothing listens on, left by a crash) is replaced, and the file's mode, owner
//!   and group are set between `bind()` and `listen()`, before any client can connect. The
//!   service removes the file when it lets go of the socket, if it is still the one it bound.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use gio::prelude::*;

use super::SocketService;
use crate::engine::{Host, UnixFile};
use crate::socket_settings::UnixSettings;
use crate::sys;

/// Creates a TCP socket with `SO_REUSEPORT`, bound to `address` and listening with the
/// service's backlog.
pub(super) fn listen_reuse_port(
    service: &SocketService,
    address: &gio::SocketAddress,
) -> Result<gio::Socket, glib::Error> {
    let socket = gio::Socket::new(
        address.family(),
        gio::SocketType::Stream,
        gio::SocketProtocol::Tcp,
    )?;
    listen(service, socket, |socket| {
        for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
            socket.set_option(libc::SOL_SOCKET, option, 1)?;
        }
        sys::bind(socket, address)
    })
}

/// Creates a Unix socket at the path of `address`, replacing a stale one, with the file's
/// `unix` settings, listening with the service's backlog; and the file it made.
pub(super) fn listen_unix_path(
    service: &SocketService,
    address: &gio::UnixSocketAddress,
    unix: &UnixSettings,
) -> Result<(gio::Socket, UnixFile), glib::Error> {
    let Some(gio::prelude::UnixSocketAddressPath::Path(path)) = address.path() else {
        return Err(glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            "A Unix socket address without a path",
        ));
    };
    let path = path.to_owned();
    let socket = gio::Socket::new(
        gio::SocketFamily::Unix,
        gio::SocketType::Stream,
        gio::SocketProtocol::Default,
    )?;
    let mut file = None;
    let listening = listen(service, socket, |socket| {
        bind_replacing_stale(socket, address, &path)?;
        // Bound, not listening yet: no client can connect before the file is as it should be.
        let bound = file.insert(file_of(&path)?);
        bound.apply(unix)
    });
    match (listening, file) {
        (Ok(socket), Some(file)) => Ok((socket, file)),
        (listening, file) => {
            // Not left behind: a file nobody listens on.
            if let Some(file) = file {
                file.remove_if_ours();
            }
            Err(listening.err().unwrap_or_else(|| {
                glib::Error::new(gio::IOErrorEnum::Failed, "The socket was never bound")
            }))
        }
    }
}

/// Binds `socket` to `address`, at `path`; a socket file there that nothing listens on is
/// removed first, one where a server answers is refused, a file that is not a socket left alone.
pub(super) fn bind_replacing_stale(
    socket: &gio::Socket,
    address: &gio::UnixSocketAddress,
    path: &std::path::Path,
) -> Result<(), glib::Error> {
    match socket.bind(address, false) {
        Err(error) if error.matches(gio::IOErrorEnum::AddressInUse) => {}
        bound => return bound,
    }
    let in_use = |why: &str| {
        glib::Error::new(
            gio::IOErrorEnum::AddressInUse,
            &format!("Cannot listen on {}: {why}", path.display()),
        )
    };
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|file| file.file_type().is_socket());
    if !is_socket {
        return Err(in_use("a file that is not a socket is there"));
    }
    if answers(address) {
        return Err(in_use("another server listens there"));
    }
    crate::log::debug!("replacing {}, a socket nothing listens on", path.display());
    // Another instance may replace it first: then the bind below fails, as it should.
    let _ = std::fs::remove_file(path);
    socket.bind(address, false)
}

/// Whether a server listens at `address`: a connection to it is accepted, or waits in its
/// backlog. The probe is a stream socket whatever the socket bound: the kernel refuses it from a
/// live socket of another type (`EPROTOTYPE`) without queueing it, so that a handover's
/// rendezvous (`SOCK_SEQPACKET`) never takes the probe for its successor.
fn answers(address: &gio::UnixSocketAddress) -> bool {
    let Ok(probe) = gio::Socket::new(
        gio::SocketFamily::Unix,
        gio::SocketType::Stream,
        gio::SocketProtocol::Default,
    ) else {
        return true;
    };
    probe.set_blocking(false);
    match SocketExt::connect(&probe, address, gio::Cancellable::NONE) {
        Ok(()) => true,
        // Nobody listens: the file is stale.
        Err(error) if error.matches(gio::IOErrorEnum::ConnectionRefused) => false,
        // Pending (a full backlog) or anything else: someone may be there; do not take it.
        Err(_) => true,
    }
}

/// The socket file at `path`, just bound.
fn file_of(path: &std::path::Path) -> Result<UnixFile, glib::Error> {
    let file = std::fs::symlink_metadata(path).map_err(|error| failed("look at", path, error))?;
    Ok(UnixFile::new(PathBuf::from(path), file.dev(), file.ino()))
}

fn failed(what: &str, path: &std::path::Path, error: std::io::Error) -> glib::Error {
    glib::Error::new(
        gio::io_error_from_errno(error.raw_os_error().unwrap_or(0)),
        &format!("Cannot {what} {}: {error}", path.display()),
    )
}

/// Emits the listener's `event` signal around `bind`, which binds `socket`, and its `listen()`,
/// as `g_socket_listener_add_address()` does, with the service's backlog.
fn listen(
    service: &SocketService,
    socket: gio::Socket,
    bind: impl FnOnce(&gio::Socket) -> Result<(), glib::Error>,
) -> Result<gio::Socket, glib::Error> {
    let event = |event| service.emit_by_name::<()>("event", &[&event, &socket]);
    event(gio::SocketListenerEvent::Binding);
    bind(&socket)?;
    event(gio::SocketListenerEvent::Bound);
    socket.set_listen_backlog(service.engine().listen_backlog(service.listen_backlog()));
    event(gio::SocketListenerEvent::Listening);
    socket.listen()?;
    event(gio::SocketListenerEvent::Listened);
    Ok(socket)
}
