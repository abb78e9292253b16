//! systemd's file descriptor store (<https://systemd.io/FILE_DESCRIPTOR_STORE>): the service's
//! listening sockets sent to `$NOTIFY_SOCKET` as `sd_pid_notify_with_fds(3)` sends them, one
//! message per socket, `FDSTORE=1` and `FDNAME=` its name, with the socket as `SCM_RIGHTS`.
//! systemd keeps them while the unit restarts and passes them to the next instance with
//! `LISTEN_FDS` and `LISTEN_FDNAMES`, where `add_activated_sockets()` takes them up by name. The
//! sockets systemd passed (`LISTEN_FDS`) are not sent: it holds them already, and would pass
//! them twice.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use gio::prelude::*;

use super::SocketService;
use super::handover::name_of;
use crate::engine::Host;
use crate::log::debug;
use crate::sys;

/// `$NOTIFY_SOCKET` as an address: a path, or an abstract name after `@`.
fn notify_address() -> Result<(gio::UnixSocketAddress, String), glib::Error> {
    let Some(variable) = std::env::var_os("NOTIFY_SOCKET").filter(|value| !value.is_empty()) else {
        return Err(glib::Error::new(
            gio::IOErrorEnum::NotFound,
            "NOTIFY_SOCKET is not set: the process was not started by systemd with a notify \
             socket (a Type=notify service, or one with NotifyAccess=)",
        ));
    };
    let shown = variable.to_string_lossy().into_owned();
    let bytes = variable.as_bytes();
    let address = match bytes.first() {
        Some(b'@') => gio::UnixSocketAddress::with_type(
            gio::prelude::UnixSocketAddressPath::Abstract(&bytes[1..]),
        ),
        Some(b'/') => gio::UnixSocketAddress::new(std::path::Path::new(&variable)),
        _ => {
            return Err(glib::Error::new(
                gio::IOErrorEnum::NotSupported,
                &format!("NOTIFY_SOCKET is neither a path nor an abstract name: {shown:?}"),
            ));
        }
    };
    Ok((address, shown))
}

/// Sends `service`'s listening sockets, those systemd did not pass, to systemd's file
/// descriptor store; returns how many.
pub(super) fn store(service: &SocketService) -> Result<u32, glib::Error> {
    let (address, shown) = notify_address()?;
    let sockets: Vec<_> = service
        .engine()
        .served_sockets()
        .into_iter()
        .filter(|served| !served.activated)
        .collect();
    // Each ends a line of its message: checked before any is sent.
    let names = sockets.iter().map(name_of).collect::<Result<Vec<_>, _>>()?;
    let channel = gio::Socket::new(
        gio::SocketFamily::Unix,
        gio::SocketType::Datagram,
        gio::SocketProtocol::Default,
    )?;
    SocketExt::connect(&channel, &address, gio::Cancellable::NONE).map_err(|error| {
        glib::Error::new(
            error
                .kind::<gio::IOErrorEnum>()
                .unwrap_or(gio::IOErrorEnum::Failed),
            &format!(
                "Cannot reach systemd's notify socket {shown}: {}",
                error.message()
            ),
        )
    })?;
    let mut stored = Vec::new();
    let mut failure = None;
    for (served, name) in sockets.iter().zip(names) {
        let message = format!("FDSTORE=1\nFDNAME={name}\n");
        let send = || {
            sys::send_with_descriptors(
                channel.as_fd(),
                message.as_bytes(),
                &[served.socket.as_fd()],
            )
        };
        // As sd_notify() blocks on a full queue, waits a little for room.
        let sent = match send() {
            Err(libc::EAGAIN) => channel
                .condition_timed_wait(glib::IOCondition::OUT, 5_000_000, gio::Cancellable::NONE)
                .map_or(Err(libc::EAGAIN), |()| send()),
            sent => sent,
        };
        match sent {
            Ok(()) => stored.push((*served.socket).clone()),
            Err(errno) => {
                failure = Some(sys::errno_error(
                    errno,
                    &format!("systemd's notify socket {shown} refused the socket {name}"),
                ));
                break;
            }
        }
    }
    // systemd holds them now, and passes them to the next instance: the files are its.
    service.engine().give_up_files(&stored);
    debug!("{} sockets stored with systemd", stored.len());
    match failure {
        Some(error) => Err(error),
        None => Ok(stored.len() as u32),
    }
}
