//! The listening sockets that systemd, or any launcher following the `sd_listen_fds(3)`
//! protocol, passed to this process.
//!
//! The protocol: descriptors from 3 on, `LISTEN_FDS` of them, meant for the process whose id is
//! `LISTEN_PID`, optionally named by the colon-separated `LISTEN_FDNAMES`. Like
//! `sd_listen_fds(1)`, taking them marks them close-on-exec and unsets the three variables, so
//! that children neither inherit the sockets nor believe they were activated.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first descriptor passed (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// A passed descriptor and its name (`"unknown"` when the launcher gave none, as in systemd).
pub(super) struct Passed {
    pub fd: OwnedFd,
    pub name: String,
}

/// Takes the descriptors passed to this process; none if it was not socket-activated.
///
/// Every one must be a listening socket: if one is not, this fails and leaves the descriptors
/// and the environment alone, for the application to handle them itself.
pub(super) fn take() -> Result<Vec<Passed>, glib::Error> {
    let Some(pid) = std::env::var_os("LISTEN_PID") else {
        return Ok(Vec::new());
    };
    if pid.to_str().and_then(|pid| pid.parse::<u32>().ok()) != Some(std::process::id()) {
        // Meant for another process (the one that launched this one, say).
        unset_variables();
        return Ok(Vec::new());
    }
    let fds = std::env::var("LISTEN_FDS").ok();
    let count = fds
        .as_deref()
        .and_then(|fds| fds.parse::<RawFd>().ok())
        .filter(|count| (0..=RawFd::MAX - FIRST_FD).contains(count))
        .ok_or_else(|| {
            glib::Error::new(
                gio::IOErrorEnum::InvalidData,
                &format!("LISTEN_FDS is not a number of descriptors: {fds:?}"),
            )
        })?;
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|names| names.split(':').map(str::to_owned).collect())
        .ok()
        .filter(|names: &Vec<String>| names.len() == count as usize)
        .unwrap_or_else(|| vec!["unknown".to_owned(); count as usize]);

    let fds: Vec<RawFd> = (FIRST_FD..FIRST_FD + count).collect();
    if let Some(fd) = fds.iter().find(|&&fd| !is_listening_socket(fd)) {
        return Err(glib::Error::new(
            gio::IOErrorEnum::NotSupported,
            &format!("The passed descriptor {fd} is not a listening socket"),
        ));
    }
    unset_variables();
    Ok(fds
        .into_iter()
        .zip(names)
        .map(|(fd, name)| {
            // SAFETY: an open socket (checked above) the launcher handed to this process, which
            // takes it over from here on: the variables that named it are gone.
            unsafe {
                libc::fcntl(
                    fd,
                    libc::F_SETFD,
                    libc::fcntl(fd, libc::F_GETFD) | libc::FD_CLOEXEC,
                )
            };
            Passed {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                name,
            }
        })
        .collect())
}

fn unset_variables() {
    for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: as sd_listen_fds() does; the documentation of `add_activated_sockets` asks to
        // call it before other threads run that could read the environment.
        unsafe { std::env::remove_var(variable) };
    }
}

/// Whether `fd` is an open socket put to listening.
fn is_listening_socket(fd: RawFd) -> bool {
    let mut listening: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt() only fails on a descriptor that is not an open socket.
    let status = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            &mut listening as *mut libc::c_int as *mut libc::c_void,
            &mut size,
        )
    };
    status == 0 && listening != 0
}
