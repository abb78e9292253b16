//! The listening sockets that systemd, or any launcher following the `sd_listen_fds(3)`
//! protocol, passed to this process.
//!
//! The protocol: descriptors from 3 on, `LISTEN_FDS` of them, meant for the process whose id is
//! `LISTEN_PID`, optionally named by the colon-separated `LISTEN_FDNAMES`. Like
//! `sd_listen_fds(3)`, taking them marks them close-on-exec and unsets the three variables, so
//! that children neither inherit the sockets nor believe they were activated.
//!
//! The variables are untrusted input: the descriptors are checked one at a time, nothing is
//! allocated in proportion to the count they announce, and on any error nothing is adopted,
//! no descriptor is closed or altered, and the environment is left as it was.

use std::os::fd::{OwnedFd, RawFd};

use crate::sys;

/// The first descriptor passed (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// A passed descriptor and its name (`"unknown"` when the launcher gave none, as in systemd).
pub(super) struct Passed {
    pub fd: OwnedFd,
    pub name: String,
}

/// Takes the descriptors passed to this process; none if it was not socket-activated.
pub(super) fn take() -> Result<Vec<Passed>, glib::Error> {
    let Some(pid) = std::env::var_os("LISTEN_PID") else {
        return Ok(Vec::new());
    };
    if pid.to_str().and_then(|pid| pid.parse::<u32>().ok()) != Some(std::process::id()) {
        // Meant for another process (the one that launched this one, say).
        unset_variables();
        return Ok(Vec::new());
    }
    let count = std::env::var("LISTEN_FDS").ok();
    let count = count
        .as_deref()
        .and_then(|count| count.parse::<RawFd>().ok())
        .filter(|count| (0..=RawFd::MAX - FIRST_FD).contains(count))
        .ok_or_else(|| {
            invalid(format!(
                "LISTEN_FDS is not a number of descriptors: {:?}",
                count.unwrap_or_default()
            ))
        })?;
    let names = std::env::var("LISTEN_FDNAMES").ok();
    // As `sd_listen_fds_with_names()`: names, if given, one per descriptor.
    let named = names
        .as_deref()
        .map(|names| names.split(':').filter(|_| !names.is_empty()).count());
    if let Some(named) = named
        && named != count as usize
    {
        return Err(invalid(format!(
            "LISTEN_FDNAMES names {named} descriptors, LISTEN_FDS {count}"
        )));
    }
    // One at a time, stopping at the first that is not a listening socket, before claiming any.
    for fd in FIRST_FD..FIRST_FD + count {
        if !sys::is_listening_stream(fd) {
            return Err(glib::Error::new(
                gio::IOErrorEnum::NotSupported,
                &format!("The passed descriptor {fd} is not a listening stream socket"),
            ));
        }
    }
    unset_variables();
    let mut names = names.iter().flat_map(|names| names.split(':'));
    Ok((FIRST_FD..FIRST_FD + count)
        .map(|fd| Passed {
            fd: sys::claim_passed_descriptor(fd),
            name: names.next().unwrap_or("unknown").to_owned(),
        })
        .collect())
}

fn invalid(message: String) -> glib::Error {
    glib::Error::new(gio::IOErrorEnum::InvalidData, &message)
}

fn unset_variables() {
    for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        sys::remove_env(variable);
    }
}
