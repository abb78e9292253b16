//! User and group names to their ids, as the system's name service knows them (`getpwnam_r`,
//! `getgrnam_r`).

use std::ffi::CString;

/// The most room a lookup is given for the entry's strings: 1 MiB, far beyond any real entry.
const MAX_BUFFER: usize = 1 << 20;

/// The id of the user `name`, if the system knows one.
pub(crate) fn user_id(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    lookup(|buffer| {
        let mut entry = std::mem::MaybeUninit::<libc::passwd>::zeroed();
        let mut found = std::ptr::null_mut();
        // SAFETY: `entry` and `buffer` are ours and their sizes are given; `found` is set to
        // `entry` or NULL.
        let status = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                entry.as_mut_ptr(),
                buffer.as_mut_ptr() as *mut libc::c_char,
                buffer.len(),
                &mut found,
            )
        };
        // SAFETY: filled when `found` is not NULL.
        (
            status,
            (!found.is_null()).then(|| unsafe { entry.assume_init() }.pw_uid),
        )
    })
}

/// The id of the group `name`, if the system knows one.
pub(crate) fn group_id(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    lookup(|buffer| {
        let mut entry = std::mem::MaybeUninit::<libc::group>::zeroed();
        let mut found = std::ptr::null_mut();
        // SAFETY: as in `user_id()`.
        let status = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                entry.as_mut_ptr(),
                buffer.as_mut_ptr() as *mut libc::c_char,
                buffer.len(),
                &mut found,
            )
        };
        // SAFETY: as in `user_id()`.
        (
            status,
            (!found.is_null()).then(|| unsafe { entry.assume_init() }.gr_gid),
        )
    })
}

/// Runs `lookup` with a buffer that grows while the entry does not fit (`ERANGE`).
fn lookup(mut lookup: impl FnMut(&mut [u8]) -> (i32, Option<u32>)) -> Option<u32> {
    let mut buffer = vec![0u8; 1024];
    loop {
        match lookup(&mut buffer) {
            (libc::ERANGE, _) if buffer.len() < MAX_BUFFER => buffer.resize(buffer.len() * 2, 0),
            (_, id) => return id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_user_and_group_0() {
        assert_eq!(user_id("root"), Some(0));
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(user_id("no such user, surely"), None);
        assert_eq!(user_id("nul\0byte"), None);
    }
}
