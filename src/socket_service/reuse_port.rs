//! Listening sockets that share their port with others (`SO_REUSEPORT`), so that several
//! services, each on its own thread and main context, accept on one port and the kernel spreads
//! the connections between them.
//!
//! `g_socket_bind()` clears `SO_REUSEPORT` on stream sockets just before `bind()` (GLib honours
//! it for datagrams only), so the option cannot be set from the listener's `event` signal: the
//! socket is bound here with `bind(2)`, then put to listening and added as the listener's own
//! `add_address()` would, with the same `event` emissions.

use std::os::fd::AsRawFd;

use gio::prelude::*;
use glib::translate::*;

/// Creates a TCP socket with `SO_REUSEPORT`, bound to `address` and listening with `backlog`.
pub(super) fn listen(
    listener: &gio::SocketListener,
    address: &gio::SocketAddress,
    backlog: i32,
) -> Result<gio::Socket, glib::Error> {
    let socket = gio::Socket::new(
        address.family(),
        gio::SocketType::Stream,
        gio::SocketProtocol::Tcp,
    )?;
    let event = |event| listener.emit_by_name::<()>("event", &[&event, &socket]);

    event(gio::SocketListenerEvent::Binding);
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        socket.set_option(libc::SOL_SOCKET, option, 1)?;
    }
    bind(&socket, address)?;
    event(gio::SocketListenerEvent::Bound);

    socket.set_listen_backlog(backlog);
    event(gio::SocketListenerEvent::Listening);
    socket.listen()?;
    event(gio::SocketListenerEvent::Listened);
    Ok(socket)
}

/// `bind(2)`, which unlike `g_socket_bind()` leaves the socket's options alone.
fn bind(socket: &gio::Socket, address: &gio::SocketAddress) -> Result<(), glib::Error> {
    let size = usize::try_from(address.native_size()).map_err(|_| {
        glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            "Cannot bind to this address",
        )
    })?;
    let mut native = vec![0u8; size];
    unsafe {
        let mut error = std::ptr::null_mut();
        if gio::ffi::g_socket_address_to_native(
            address.to_glib_none().0,
            native.as_mut_ptr() as glib::ffi::gpointer,
            size,
            &mut error,
        ) == glib::ffi::GFALSE
        {
            return Err(from_glib_full(error));
        }
        if libc::bind(
            socket.as_raw_fd(),
            native.as_ptr() as *const libc::sockaddr,
            size as libc::socklen_t,
        ) != 0
        {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(super::accept::errno_error(
                errno,
                "Error binding to address",
            ));
        }
    }
    Ok(())
}
