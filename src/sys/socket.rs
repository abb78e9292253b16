//! System calls on sockets and descriptors that std and gio-rs do not offer: `accept4`, `poll`,
//! `getpeername`, `recv`, `getsockopt`, `fcntl`, `bind`; and the `GError` of an errno.

use std::ffi::CStr;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use gio::prelude::*;
use glib::translate::*;

/// A connection taken off a listening socket's backlog.
pub(crate) struct Accepted {
    pub fd: OwnedFd,
    /// The peer's IP address (a v4-mapped IPv6 address as IPv4); `None` for other families.
    pub peer: Option<IpAddr>,
}

/// `accept4(2)` without blocking, close-on-exec: the new connection, or the errno.
pub(crate) fn accept(listening: BorrowedFd<'_>) -> Result<Accepted, i32> {
    loop {
        let mut address = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut size = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `address` has room for any address and `size` says how much.
        let fd = unsafe {
            libc::accept4(
                listening.as_raw_fd(),
                address.as_mut_ptr() as *mut libc::sockaddr,
                &mut size,
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: accept4() filled what it did not leave zeroed, and returned this
            // descriptor to us.
            let address = unsafe { address.assume_init() };
            return Ok(Accepted {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                peer: peer_ip(&address),
            });
        }
        match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

/// Sets `TCP_NODELAY` on a TCP socket; an error (a socket of another kind) changes nothing.
pub(crate) fn set_no_delay(socket: BorrowedFd<'_>) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt() only reads the int it is given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Whether `socket` is readable now, by `poll(2)` without waiting: for a listening socket,
/// whether a client waits in its backlog. `true` when `poll()` fails: the next call on the
/// socket tells.
pub(crate) fn readable_now(socket: BorrowedFd<'_>) -> bool {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, which poll() writes `revents` of, and no wait.
    unsafe { libc::poll(&mut poll, 1, 0) != 0 }
}

/// The remote address of a connected IP socket (`getpeername(2)`), without the `GSocketAddress`
/// that `g_socket_get_remote_address()` makes.
pub(crate) fn remote_address(socket: BorrowedFd<'_>) -> Result<SocketAddr, glib::Error> {
    let mut address = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut size = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `address` has room for any address and `size` says how much.
    let status = unsafe {
        libc::getpeername(
            socket.as_raw_fd(),
            address.as_mut_ptr() as *mut libc::sockaddr,
            &mut size,
        )
    };
    if status != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(errno_error(errno, "Could not get remote address"));
    }
    // SAFETY: getpeername() filled what it did not leave zeroed.
    let address = unsafe { address.assume_init() };
    let port = match address.ss_family as libc::c_int {
        // SAFETY: the family says which structure the storage holds.
        libc::AF_INET => {
            u16::from_be(unsafe { (*(&address as *const _ as *const libc::sockaddr_in)).sin_port })
        }
        libc::AF_INET6 => u16::from_be(unsafe {
            (*(&address as *const _ as *const libc::sockaddr_in6)).sin6_port
        }),
        _ => 0,
    };
    // A v4-mapped IPv6 address as IPv4, as `g_socket_address_new_from_native()` makes it.
    match peer_ip(&address) {
        Some(ip) => Ok(SocketAddr::new(ip, port)),
        None => Err(glib::Error::new(
            gio::IOErrorEnum::NotSupported,
            "Not an IP connection",
        )),
    }
}

/// The IP address in a `sockaddr_storage` that `accept4()` filled.
fn peer_ip(address: &libc::sockaddr_storage) -> Option<IpAddr> {
    match address.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says which structure the storage holds.
            let v4 = unsafe { &*(address as *const _ as *const libc::sockaddr_in) };
            Some(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: as above.
            let v6 = unsafe { &*(address as *const _ as *const libc::sockaddr_in6) };
            Some(canonical_ip(IpAddr::V6(std::net::Ipv6Addr::from(
                v6.sin6_addr.s6_addr,
            ))))
        }
        _ => None,
    }
}

/// `ip`, with a v4-mapped IPv6 address (`::ffff:127.0.0.1`) as the IPv4 address it stands for.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `recv(2)` without blocking into `buffer`: the bytes received (0 at the end of the stream),
/// or the errno. With `peek`, the bytes stay in the socket, to be received again.
pub(crate) fn receive(socket: BorrowedFd<'_>, buffer: &mut [u8], peek: bool) -> Result<usize, i32> {
    let flags = libc::MSG_DONTWAIT | if peek { libc::MSG_PEEK } else { 0 };
    loop {
        // SAFETY: recv() writes at most `buffer.len()` bytes into `buffer`.
        let received = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr() as *mut libc::c_void,
                buffer.len(),
                flags,
            )
        };
        if let Ok(received) = usize::try_from(received) {
            return Ok(received);
        }
        match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

/// Whether the peer of the stream socket `socket` shut its side down (sent its FIN): data it
/// sent before may still be there to read, so a peek cannot tell.
pub(crate) fn peer_closed(socket: BorrowedFd<'_>) -> bool {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: poll() reads and writes the one pollfd given, and does not wait.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// An integer socket option of `fd`, or `None` if `fd` is no open socket.
fn option(fd: RawFd, level: i32, option: i32) -> Option<i32> {
    let mut value: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt() only reads `fd`, which it checks, and writes an int.
    let status = unsafe {
        libc::getsockopt(
            fd,
            level,
            option,
            &mut value as *mut libc::c_int as *mut libc::c_void,
            &mut size,
        )
    };
    (status == 0).then_some(value)
}

/// Whether the descriptor number `fd` is an open stream socket put to listening.
pub(crate) fn is_listening_stream(fd: RawFd) -> bool {
    option(fd, libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
        && option(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN).is_some_and(|on| on != 0)
}

/// A close-on-exec duplicate of the descriptor number `fd`.
pub(crate) fn duplicate_descriptor(fd: RawFd) -> Result<OwnedFd, glib::Error> {
    // SAFETY: fcntl() checks `fd`, and returns a new descriptor that is ours.
    let duplicate = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if duplicate < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(errno_error(errno, "Cannot duplicate a passed descriptor"));
    }
    // SAFETY: fcntl() just returned it to us.
    Ok(unsafe { OwnedFd::from_raw_fd(duplicate) })
}

/// Closes a descriptor this process was handed by its launcher.
///
/// The `sd_listen_fds(3)` protocol makes the process the owner of the descriptors it names;
/// the caller checked that `fd` is one of them, and closes it once, after adopting a duplicate.
pub(crate) fn close_passed_descriptor(fd: RawFd) {
    // SAFETY: see above: an open descriptor that nothing else in the process owns.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
}

/// `bind(2)`, which unlike `g_socket_bind()` leaves the socket's options (`SO_REUSEPORT`) alone.
pub(crate) fn bind(socket: &gio::Socket, address: &gio::SocketAddress) -> Result<(), glib::Error> {
    let size = usize::try_from(address.native_size()).map_err(|_| {
        glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            "Cannot bind to this address",
        )
    })?;
    let mut native = vec![0u8; size];
    // SAFETY: `native` has the size the address asked for.
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
            return Err(errno_error(errno, "Error binding to address"));
        }
    }
    Ok(())
}

/// The user id, primary group id and process id in `credentials`, a peer's as
/// `g_socket_get_credentials()` read them (`SO_PEERCRED`): `GCredentials` gives the group only
/// through its native structure.
pub(crate) fn credential_ids(credentials: &gio::Credentials) -> Option<(u32, u32, i32)> {
    // SAFETY: on Linux, GCredentials holds a `struct ucred`, which this returns a pointer to,
    // alive while `credentials` is.
    unsafe {
        let native = gio::ffi::g_credentials_get_native(
            credentials.to_glib_none().0,
            gio::ffi::G_CREDENTIALS_TYPE_LINUX_UCRED,
        ) as *const libc::ucred;
        native
            .as_ref()
            .map(|ucred| (ucred.uid, ucred.gid, ucred.pid))
    }
}

/// The soft limit of the process's descriptors (`RLIMIT_NOFILE`); `u64::MAX` for none.
pub(crate) fn descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit() writes the structure it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return u64::MAX;
    }
    limit.rlim_cur
}

/// The lowest descriptor number free in the process, which the next `accept()` would get;
/// `None` when none is.
pub(crate) fn lowest_free_descriptor() -> Option<RawFd> {
    // SAFETY: F_DUPFD returns a new descriptor of ours, the lowest free one, closed at once.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        // EBADF: no descriptor 0 to duplicate; try with a descriptor of our own.
        return std::fs::File::open("/dev/null")
            .ok()
            .map(|file| file.as_raw_fd());
    }
    // SAFETY: just returned to us.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Some(fd)
}

/// The `GError` GSocket would set for `errno` while doing `what` ("Error accepting connection").
pub(crate) fn errno_error(errno: i32, what: &str) -> glib::Error {
    // SAFETY: g_strerror() returns a string owned by GLib that lives forever.
    let reason = unsafe { CStr::from_ptr(glib::ffi::g_strerror(errno)) };
    glib::Error::new(
        gio::io_error_from_errno(errno),
        &format!("{what}: {}", reason.to_string_lossy()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_mapped_peers_count_as_ipv4() {
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let v6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
        v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        v6.sin6_addr.s6_addr = "::ffff:127.0.0.2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(peer_ip(&storage), Some("127.0.0.2".parse().unwrap()));
        v6.sin6_addr.s6_addr = "::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
        assert_eq!(peer_ip(&storage), Some("::1".parse().unwrap()));
        let v4 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
        v4.sin_family = libc::AF_INET as libc::sa_family_t;
        v4.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        assert_eq!(peer_ip(&storage), Some("127.0.0.1".parse().unwrap()));
        storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
        assert_eq!(peer_ip(&storage), None);
    }
}
