//! A file opened by its path without following a symlink at the path's end (`O_PATH |
//! O_NOFOLLOW`): its inode looked at and changed through the descriptor, never through the path
//! again, where another user may have swapped in a symlink to any file meanwhile.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A descriptor of the very inode a path named when opened: a symlink's own, if it was one.
pub(crate) struct PathFd(File);

impl PathFd {
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        // std adds O_CLOEXEC; O_PATH needs no access to the file, so a socket opens too.
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)
            .map(Self)
    }

    /// The inode's type, device, number, owner and mode (`fstat`).
    pub(crate) fn metadata(&self) -> io::Result<Metadata> {
        self.0.metadata()
    }

    /// Changes the inode's owner and group (`None`: left as they are).
    pub(crate) fn chown(&self, owner: Option<u32>, group: Option<u32>) -> io::Result<()> {
        // fchown() refuses an O_PATH descriptor; fchownat() with an empty path takes it.
        let (owner, group) = (owner.unwrap_or(u32::MAX), group.unwrap_or(u32::MAX));
        // SAFETY: the path is a valid empty C string, the descriptor ours and open.
        let done = unsafe {
            libc::fchownat(
                self.0.as_raw_fd(),
                c"".as_ptr(),
                owner,
                group,
                libc::AT_EMPTY_PATH,
            )
        };
        if done == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Changes the inode's permission bits.
    pub(crate) fn chmod(&self, mode: u32) -> io::Result<()> {
        // The /proc link of a symlink's descriptor would be followed on to its target.
        if self.metadata()?.file_type().is_symlink() {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        // fchmod() refuses an O_PATH descriptor and fchmodat2() is Linux 6.6's: as glibc's
        // fchmodat() does without it, through the descriptor's link in /proc, which leads to
        // the inode itself.
        let link = format!("/proc/self/fd/{}", self.0.as_raw_fd());
        std::fs::set_permissions(&link, std::fs::Permissions::from_mode(mode)).map_err(|error| {
            // The descriptor is open: its link is missing only where /proc is not mounted.
            if error.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    error.kind(),
                    format!("{link} is missing ({error}): changing the mode needs /proc mounted"),
                )
            } else {
                error
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_symlink_is_opened_itself_and_its_target_never_changed() {
        let dir = std::env::temp_dir().join(format!("usher-path-fd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (target, link) = (dir.join("target"), dir.join("link"));
        std::fs::write(&target, "data").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let opened = PathFd::open(&link).unwrap();
        assert!(opened.metadata().unwrap().file_type().is_symlink());
        assert!(opened.chmod(0o666).is_err());
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o7777, 0o600);

        let opened = PathFd::open(&target).unwrap();
        opened.chmod(0o640).unwrap();
        opened.chown(None, None).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o7777, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
