//! Descriptors passed between processes over Unix sockets: `sendmsg(2)` and `recvmsg(2)` with
//! `SCM_RIGHTS`, and the credentials of a Unix socket's peer (`SO_PEERCRED`), which GSocket
//! gives only as a `GCredentials`, for the handover of listening sockets and systemd's file
//! descriptor store.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The credentials of the process at the other end of a connected Unix socket, as the kernel
/// recorded them at its `connect()` or `listen()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerCredentials {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
}

/// `SO_PEERCRED` of the connected Unix socket `socket`, or the errno.
pub(crate) fn peer_credentials(socket: BorrowedFd<'_>) -> Result<PeerCredentials, i32> {
    let mut ucred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut size = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt() writes at most `size` bytes, a `struct ucred`, into `ucred`.
    let status = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut ucred as *mut libc::ucred as *mut libc::c_void,
            &mut size,
        )
    };
    if status != 0 {
        return Err(errno());
    }
    Ok(PeerCredentials {
        uid: ucred.uid,
        gid: ucred.gid,
        pid: ucred.pid,
    })
}

/// This process's effective user id, to compare a peer's with.
pub(crate) fn effective_user() -> u32 {
    // SAFETY: geteuid() cannot fail.
    unsafe { libc::geteuid() }
}

/// The most descriptors the kernel passes in one message (`SCM_MAX_FD`).
pub(crate) const MOST_DESCRIPTORS: usize = 253;

/// Sends `data` and a copy of each of `descriptors` (`SCM_RIGHTS`) as one message on the
/// connected socket `socket`, without blocking and without `SIGPIPE`: the errno if the kernel
/// refuses it, or takes only part of `data`.
pub(crate) fn send_with_descriptors(
    socket: BorrowedFd<'_>,
    data: &[u8],
    descriptors: &[BorrowedFd<'_>],
) -> Result<(), i32> {
    if descriptors.len() > MOST_DESCRIPTORS {
        return Err(libc::EINVAL);
    }
    let raw: Vec<RawFd> = descriptors.iter().map(AsRawFd::as_raw_fd).collect();
    let payload = std::mem::size_of_val(raw.as_slice());
    // u64s: the control buffer must be aligned for `struct cmsghdr`.
    // SAFETY: CMSG_SPACE() only computes a size.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: zeroed is a valid `msghdr` (no name, no buffers).
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    if !raw.is_empty() {
        message.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        message.msg_controllen = space as _;
        // SAFETY: the control buffer has room for one header with `payload` bytes of data, as
        // CMSG_SPACE() computed; CMSG_FIRSTHDR() of a buffer that large is not null.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
            std::ptr::copy_nonoverlapping(
                raw.as_ptr() as *const u8,
                libc::CMSG_DATA(header),
                payload,
            );
        }
    }
    loop {
        // SAFETY: the message points at `iov`, `data` and `control`, alive for the call; the
        // descriptors in it are open (borrowed).
        let sent = unsafe {
            libc::sendmsg(
                socket.as_raw_fd(),
                &message,
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        match usize::try_from(sent) {
            Ok(sent) if sent == data.len() => return Ok(()),
            Ok(_) => return Err(libc::EMSGSIZE),
            Err(_) => match errno() {
                libc::EINTR => continue,
                errno => return Err(errno),
            },
        }
    }
}

/// A message received with [`receive_with_descriptors`].
pub(crate) struct Received {
    /// The bytes received into the buffer.
    pub length: usize,
    /// Every descriptor that came with it, close-on-exec, each closed when dropped.
    pub descriptors: Vec<OwnedFd>,
    /// The message was longer than the buffer (`MSG_TRUNC`): its end is lost.
    pub truncated: bool,
    /// More descriptors came than there was room for (`MSG_CTRUNC`): the kernel closed the
    /// others.
    pub too_many_descriptors: bool,
}

/// Receives one message on `socket` into `buffer`, without blocking, with up to `most`
/// descriptors (`SCM_RIGHTS`), which are close-on-exec: the errno if none is there
/// (`EAGAIN`) or the call fails. Every descriptor received is in the result, to be closed
/// when it is dropped, whatever the message says.
pub(crate) fn receive_with_descriptors(
    socket: BorrowedFd<'_>,
    buffer: &mut [u8],
    most: usize,
) -> Result<Received, i32> {
    let most = most.min(MOST_DESCRIPTORS);
    // SAFETY: CMSG_SPACE() only computes a size.
    let space = unsafe { libc::CMSG_SPACE((most * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr() as *mut libc::c_void,
        iov_len: buffer.len(),
    };
    // SAFETY: zeroed is a valid `msghdr`.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    message.msg_controllen = space as _;
    let received = loop {
        // SAFETY: the message points at `buffer` and `control`, which recvmsg() fills within
        // the sizes it is given.
        let received = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut message,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            )
        };
        match usize::try_from(received) {
            Ok(received) => break received,
            Err(_) => match errno() {
                libc::EINTR => continue,
                errno => return Err(errno),
            },
        }
    };
    let mut descriptors = Vec::new();
    // SAFETY: recvmsg() filled the control buffer with whole headers, `msg_controllen` bytes
    // of it; CMSG_NXTHDR() stays within them. Each SCM_RIGHTS header carries descriptors that
    // are now this process's, which nothing else owns.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header);
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for index in 0..bytes / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned((data as *const RawFd).add(index));
                    descriptors.push(OwnedFd::from_raw_fd(fd));
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    Ok(Received {
        length: received.min(buffer.len()),
        descriptors,
        truncated: message.msg_flags & libc::MSG_TRUNC != 0,
        too_many_descriptors: message.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn descriptors_cross_with_their_message_and_the_peer_is_known() {
        let (left, right) = UnixDatagram::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        send_with_descriptors(left.as_fd(), b"hello", &[file.as_fd(), file.as_fd()]).unwrap();
        let mut buffer = [0u8; 16];
        let received = receive_with_descriptors(right.as_fd(), &mut buffer, 4).unwrap();
        assert_eq!(&buffer[..received.length], b"hello");
        assert_eq!(received.descriptors.len(), 2);
        assert!(!received.truncated && !received.too_many_descriptors);
        let credentials = peer_credentials(right.as_fd()).unwrap();
        assert_eq!(credentials.uid, effective_user());
        assert_eq!(credentials.pid, std::process::id() as i32);
    }

    #[test]
    fn more_descriptors_or_bytes_than_room_are_reported_and_closed() {
        let (left, right) = UnixDatagram::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let many = vec![file.as_fd(); 5];
        send_with_descriptors(left.as_fd(), b"a longer message", &many).unwrap();
        let mut buffer = [0u8; 4];
        let received = receive_with_descriptors(right.as_fd(), &mut buffer, 2).unwrap();
        assert!(received.truncated);
        assert!(received.too_many_descriptors);
        assert!(received.descriptors.len() <= 2);
        assert_eq!(
            receive_with_descriptors(right.as_fd(), &mut buffer, 2).err(),
            Some(libc::EAGAIN)
        );
    }
}
