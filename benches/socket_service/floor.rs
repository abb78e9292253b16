//! The floor: an epoll loop with no GLib that accepts until the backlog is empty, reads a line,
//! echoes it and closes; or, to `keep` connections, only holds them open.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::os::write_fd;

/// Listens on 127.0.0.1 with `backlog` and serves until the eventfd given to `started` is
/// written to. With `keep`, the connections are neither watched nor read, only held.
pub fn serve(
    backlog: i32,
    keep: bool,
    accepted: &AtomicUsize,
    started: impl FnOnce(SocketAddr, Arc<OwnedFd>),
) {
    unsafe {
        let listener = OwnedFd::from_raw_fd(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        ));
        let mut address: libc::sockaddr_in = std::mem::zeroed();
        address.sin_family = libc::AF_INET as libc::sa_family_t;
        address.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(
                listener.as_raw_fd(),
                &address as *const _ as *const libc::sockaddr,
                size
            ),
            0
        );
        assert_eq!(libc::listen(listener.as_raw_fd(), backlog), 0);
        let mut bound = size;
        libc::getsockname(
            listener.as_raw_fd(),
            &mut address as *mut _ as *mut libc::sockaddr,
            &mut bound,
        );
        let port = u16::from_be(address.sin_port);

        let stop = Arc::new(OwnedFd::from_raw_fd(libc::eventfd(0, libc::EFD_CLOEXEC)));
        let epoll = OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC));
        let watch = |fd: RawFd| {
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: fd as u64,
            };
            libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event);
        };
        watch(listener.as_raw_fd());
        watch(stop.as_raw_fd());
        started(SocketAddr::from(([127, 0, 0, 1], port)), stop.clone());

        let mut lines: HashMap<RawFd, Vec<u8>> = HashMap::new();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        loop {
            let ready = libc::epoll_wait(
                epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                -1,
            );
            for event in &events[..ready.max(0) as usize] {
                let fd = event.u64 as RawFd;
                if fd == stop.as_raw_fd() {
                    for (client, _) in lines.drain() {
                        libc::close(client);
                    }
                    return;
                } else if fd == listener.as_raw_fd() {
                    loop {
                        let client = libc::accept4(
                            fd,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                        );
                        if client < 0 {
                            break;
                        }
                        accepted.fetch_add(1, Ordering::Relaxed);
                        lines.insert(client, Vec::new());
                        if !keep {
                            watch(client);
                        }
                    }
                } else {
                    let mut buffer = [0u8; 256];
                    let read =
                        libc::read(fd, buffer.as_mut_ptr() as *mut libc::c_void, buffer.len());
                    let line = lines.get_mut(&fd).unwrap();
                    if read > 0 {
                        line.extend_from_slice(&buffer[..read as usize]);
                        if !line.ends_with(b"\n") {
                            continue;
                        }
                        write_fd(fd, line);
                    } else if read < 0
                        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
                    {
                        continue;
                    }
                    lines.remove(&fd);
                    libc::close(fd);
                }
            }
        }
    }
}
