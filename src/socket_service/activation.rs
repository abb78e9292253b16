//! The listening sockets that systemd, or any launcher following the `sd_listen_fds(3)`
//! protocol, passed to this process.
//!
//! The protocol: descriptors from 3 on, `LISTEN_FDS` of them, meant for the process whose id is
//! `LISTEN_PID`, optionally named by the colon-separated `LISTEN_FDNAMES`. The sockets adopted
//! are close-on-exec, so that children do not inherit them; children that inherit the
//! variables ignore them, since `LISTEN_PID` names another process. (Unsetting them, as
//! `sd_listen_fds(1)` does, is unsound in Rust while other threads may read the environment:
//! the C API does it, for C programs that expect it.)
//!
//! The variables are untrusted input: the descriptors are checked one at a time, nothing is
//! allocated in proportion to the count they announce, every name must be one systemd takes
//! (`fdname_is_valid()`), and on any error nothing is adopted, no descriptor is closed or
//! altered, and the environment is left as it was. To that end the service adopts duplicates of
//! the passed descriptors, and closes the passed ones only once every duplicate is its own.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::socket_settings::is_valid_name;
use crate::sys;

/// The passed sockets were adopted: they are the process's no more.
static ADOPTED: AtomicBool = AtomicBool::new(false);

/// The first descriptor passed (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// The listening sockets passed to this process, checked, not yet adopted.
pub(super) struct Passed {
    count: RawFd,
    names: Option<String>,
}

impl Passed {
    /// The passed descriptors, with their names (`"unknown"` when the launcher gave none, as
    /// in systemd).
    pub(super) fn sockets(&self) -> impl Iterator<Item = (RawFd, &str)> {
        let mut names = self.names.iter().flat_map(|names| names.split(':'));
        (FIRST_FD..FIRST_FD + self.count).map(move |fd| (fd, names.next().unwrap_or("unknown")))
    }

    /// A close-on-exec duplicate of the passed descriptor `fd`, to adopt.
    pub(super) fn duplicate(fd: RawFd) -> Result<OwnedFd, glib::Error> {
        sys::duplicate_descriptor(fd)
    }

    /// Every passed socket is adopted, as a duplicate: lets go of the passed descriptors.
    pub(super) fn adopted(self) {
        ADOPTED.store(true, Ordering::SeqCst);
        for fd in FIRST_FD..FIRST_FD + self.count {
            sys::close_passed_descriptor(fd);
        }
    }
}

/// The descriptors passed to this process, checked; `None` if it was not socket-activated, or
/// adopted them already.
pub(super) fn passed() -> Result<Option<Passed>, glib::Error> {
    let Some(pid) = std::env::var_os("LISTEN_PID") else {
        return Ok(None);
    };
    if ADOPTED.load(Ordering::SeqCst)
        || pid.to_str().and_then(|pid| pid.parse::<u32>().ok()) != Some(std::process::id())
    {
        // Meant for another process (the one that launched this one, say), or taken already.
        return Ok(None);
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
    // As `sd_listen_fds_with_names()`: nothing passed, no names looked at.
    if count == 0 {
        return Ok(Some(Passed { count, names: None }));
    }
    let names = std::env::var_os("LISTEN_FDNAMES")
        .map(|names| {
            names
                .into_string()
                .map_err(|_| invalid("LISTEN_FDNAMES is not ASCII text".to_owned()))
        })
        .transpose()?;
    if let Some(names) = &names {
        // As `sd_listen_fds_with_names()`: one name per descriptor, empty ones too ("" is one).
        let named = names.split(':').count();
        if named != count as usize {
            return Err(invalid(format!(
                "LISTEN_FDNAMES names {named} descriptors, LISTEN_FDS {count}"
            )));
        }
        // Names go on to a successor and systemd's store, which take only valid ones.
        if let Some((index, name)) = names
            .split(':')
            .enumerate()
            .find(|(_, name)| !is_valid_name(name))
        {
            let fd = FIRST_FD + index as RawFd;
            return Err(invalid(if name.len() > 255 {
                format!(
                    "LISTEN_FDNAMES names descriptor {fd} with {} bytes: at most 255 are taken",
                    name.len()
                )
            } else {
                format!(
                    "LISTEN_FDNAMES names descriptor {fd} {name:?}: only printable ASCII is taken"
                )
            }));
        }
    }
    // One at a time, stopping at the first that is not a listening socket.
    for fd in FIRST_FD..FIRST_FD + count {
        if !sys::is_listening_stream(fd) {
            return Err(glib::Error::new(
                gio::IOErrorEnum::NotSupported,
                &format!("The passed descriptor {fd} is not a listening stream socket"),
            ));
        }
    }
    Ok(Some(Passed { count, names }))
}

fn invalid(message: String) -> glib::Error {
    glib::Error::new(gio::IOErrorEnum::InvalidData, &message)
}
