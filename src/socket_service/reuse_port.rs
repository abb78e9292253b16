//! Listening sockets that share their port with others (`SO_REUSEPORT`), so that several
//! services, each on its own thread and main context, accept on one port and the kernel spreads
//! the connections between them.
//!
//! `g_socket_bind()` clears `SO_REUSEPORT` on stream sockets just before `bind()` (GLib honours
//! it for datagrams only), so the option cannot be set from the listener's `event` signal: the
//! socket is bound here with `bind(2)`, then put to listening and added as the listener's own
//! `add_address()` would, with the same `event` emissions.

use gio::prelude::*;

use super::SocketService;
use crate::engine::Host;
use crate::sys;

/// Creates a TCP socket with `SO_REUSEPORT`, bound to `address` and listening with the
/// service's backlog.
pub(super) fn listen(
    service: &SocketService,
    address: &gio::SocketAddress,
) -> Result<gio::Socket, glib::Error> {
    let socket = gio::Socket::new(
        address.family(),
        gio::SocketType::Stream,
        gio::SocketProtocol::Tcp,
    )?;
    let event = |event| service.emit_by_name::<()>("event", &[&event, &socket]);

    event(gio::SocketListenerEvent::Binding);
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        socket.set_option(libc::SOL_SOCKET, option, 1)?;
    }
    sys::bind(&socket, address)?;
    event(gio::SocketListenerEvent::Bound);

    socket.set_listen_backlog(service.engine().listen_backlog(service.listen_backlog()));
    event(gio::SocketListenerEvent::Listening);
    socket.listen()?;
    event(gio::SocketListenerEvent::Listened);
    Ok(socket)
}
