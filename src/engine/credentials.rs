//! The credentials stage, first after the accept, before anything is spent on a connection: on
//! a Unix-domain socket, the peer's process credentials (`SO_PEERCRED`, one system call) are
//! held to the socket's `allowed-users` and `allowed-groups`, then put to `accept-credentials`.
//! A connection without credentials (TCP) on a socket that restricts who may connect is
//! refused: a policy that cannot be checked fails closed.

use gio::prelude::*;

use super::Host;
use super::arriving::Arriving;
use crate::sys::{self, DataKey, SendObject};

/// The credentials a connection was checked with, attached to it.
static CREDENTIALS: DataKey<SendObject<gio::Credentials>> =
    DataKey::new("usher-connection-credentials");

/// The credentials `connection`'s peer was checked with at its accept, if it was.
pub(crate) fn checked(connection: &gio::SocketConnection) -> Option<gio::Credentials> {
    CREDENTIALS.get(connection).map(SendObject::into_inner)
}

/// Checks the credentials of `arriving`'s peer, if its socket's settings or the application
/// ask for it: the credentials, once accepted, or the reason for refusing the connection.
pub(super) fn check<H: Host>(
    host: &H,
    arriving: &Arriving,
) -> Result<Option<SendObject<gio::Credentials>>, glib::Error> {
    let policy = &arriving.settings.credentials;
    let socket = arriving.connection.socket();
    if socket.family() != gio::SocketFamily::Unix {
        return match policy.restricts() {
            false => Ok(None),
            true => Err(refusal(
                "from a peer without process credentials (not a Unix-domain socket)",
            )),
        };
    }
    let decides = host.decides_credentials();
    if !policy.restricts() && !decides {
        return Ok(None);
    }
    let credentials = socket.credentials()?;
    let Some((uid, gid, pid)) = sys::credential_ids(&credentials) else {
        return Err(refusal("whose credentials say no user"));
    };
    if !policy.allows(uid, gid) {
        return Err(refusal(&format!(
            "from uid {uid} (gid {gid}, pid {pid}): not an allowed user or group"
        )));
    }
    if decides && !host.accept_credentials(&arriving.connection, &credentials) {
        return Err(refusal(&format!(
            "from uid {uid} (gid {gid}, pid {pid}): refused by accept-credentials"
        )));
    }
    Ok(Some(SendObject::new(credentials)))
}

/// Attaches the credentials `connection`'s peer was checked with to it.
pub(super) fn attach(
    connection: &gio::SocketConnection,
    credentials: SendObject<gio::Credentials>,
) {
    CREDENTIALS.set(connection, credentials);
}

fn refusal(what: &str) -> glib::Error {
    glib::Error::new(
        gio::IOErrorEnum::PermissionDenied,
        &format!("Refused a connection {what}"),
    )
}
