//! The handover of a service's listening sockets to its successor, a process of the same user,
//! without systemd: the way to restart (upgrade, reload) without refusing a client.
//!
//! The predecessor listens on a Unix socket (`SOCK_SEQPACKET`, a path or an abstract name), the
//! successor connects to it, and each checks that the other runs as its own user
//! (`SO_PEERCRED`). The predecessor sends one message: the names of its listening sockets and,
//! as `SCM_RIGHTS`, the sockets themselves:
//!
//! ```text
//! usher-handover 1 COUNT
//! FILE NAME      one line per descriptor, in order
//! ```
//!
//! (`FILE`: `-`, or `DEVICE:INODE` of the socket file the predecessor made at a path, which the
//! successor then owns. `NAME`, any valid name, spaces and the empty one included, is the rest
//! of the line: a valid name has no control character.) The successor adopts them, and from the
//! first iteration of its context, where it accepts, answers `ready`; or `refused: WHY` and
//! closes. The predecessor goes on accepting until the answer: the kernel's backlog of each
//! socket is shared by both processes, and every client in it is accepted by exactly one of
//! them. Only then does the application shut the predecessor down, which serves every client it
//! had accepted (those still in their PROXY protocol header or TLS handshake, and those taken
//! off a backlog and not yet handed out, included) and lets its connections finish.
//!
//! The message is untrusted input, checked as `LISTEN_FDS` is: bounded (at most
//! [`MOST_SOCKETS`] descriptors and [`MOST_BYTES`] bytes), every line checked, every
//! descriptor a listening stream socket; on any error nothing is adopted and every descriptor
//! received is closed.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use gio::prelude::*;

use super::own_socket::bind_replacing_stale;
use super::{SocketService, adopt, listener_closed};
use crate::engine::{Adding, Engine, Host, Served, UnixFile};
use crate::log::debug;
use crate::socket_settings::is_valid_name;
use crate::sys;

/// The most sockets one handover carries.
pub(crate) const MOST_SOCKETS: usize = 64;

/// The most bytes a handover message may have: a line of the longest name and file for each
/// socket, and more.
pub(crate) const MOST_BYTES: usize = 32 * 1024;

/// How long the successor waits for the predecessor's message once connected.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The first line's beginning: the protocol and its version.
const MAGIC: &str = "usher-handover 1 ";

/// The successor's answer once it accepts.
const READY: &[u8] = b"ready\n";

/// The name of a socket with none, as systemd calls one.
pub(crate) const UNNAMED: &str = "unknown";

/// One socket of a handover message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub name: String,
    /// The device and inode numbers of the socket file the predecessor made for it.
    pub file: Option<(u64, u64)>,
}

impl Entry {
    fn of(served: &Served) -> Result<Self, glib::Error> {
        Ok(Self {
            name: name_of(served)?.to_owned(),
            file: served.unix_file.as_ref().map(UnixFile::identity),
        })
    }
}

/// The name `served` goes by to another process: checked, since it ends a line of the
/// handover's message and of systemd's notification.
pub(super) fn name_of(served: &Served) -> Result<&str, glib::Error> {
    let name = served.name.as_deref().unwrap_or(UNNAMED);
    if !is_valid_name(name) {
        return Err(glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            &format!("The socket name {name:?} is not one systemd takes"),
        ));
    }
    Ok(name)
}

/// The message that hands over the sockets of `entries`, whose names are valid.
pub(super) fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut message = format!("{MAGIC}{}\n", entries.len());
    for entry in entries {
        debug_assert!(is_valid_name(&entry.name), "{:?}", entry.name);
        match entry.file {
            Some((device, inode)) => message.push_str(&format!("{device}:{inode} ")),
            None => message.push_str("- "),
        }
        message.push_str(&entry.name);
        message.push('\n');
    }
    message.into_bytes()
}

/// The sockets a handover message names, checked against the number of descriptors that came
/// with it.
pub(super) fn parse(message: &[u8], descriptors: usize) -> Result<Vec<Entry>, glib::Error> {
    let text = std::str::from_utf8(message)
        .map_err(|_| invalid("The handover message is not text".to_owned()))?;
    let Some(body) = text.strip_suffix('\n') else {
        return Err(invalid(
            "The handover message is truncated: it does not end with a line".to_owned(),
        ));
    };
    let mut lines = body.split('\n');
    let count = lines
        .next()
        .and_then(|header| header.strip_prefix(MAGIC))
        .and_then(number)
        .and_then(|count| usize::try_from(count).ok())
        .ok_or_else(|| invalid("Not a handover message of a known version".to_owned()))?;
    if !(1..=MOST_SOCKETS).contains(&count) {
        return Err(invalid(format!(
            "The handover message names {count} sockets: from 1 to {MOST_SOCKETS} are taken"
        )));
    }
    if count != descriptors {
        return Err(invalid(format!(
            "The handover message names {count} sockets, and came with {descriptors} descriptors"
        )));
    }
    let lines: Vec<&str> = lines.collect();
    if lines.len() < count {
        return Err(invalid(format!(
            "The handover message is truncated: it names {} of its {count} sockets",
            lines.len()
        )));
    }
    if lines.len() > count {
        return Err(invalid(format!(
            "The handover message has {} lines for its {count} sockets",
            lines.len()
        )));
    }
    let bad_line = |line: &str| invalid(format!("A bad line in the handover message: {line:?}"));
    lines
        .into_iter()
        .map(|line| {
            let (file, name) = line.split_once(' ').ok_or_else(|| bad_line(line))?;
            let file = match file {
                "-" => None,
                _ => {
                    let (device, inode) = file.split_once(':').ok_or_else(|| bad_line(line))?;
                    Some(
                        number(device)
                            .zip(number(inode))
                            .ok_or_else(|| bad_line(line))?,
                    )
                }
            };
            if !is_valid_name(name) {
                return Err(invalid(format!(
                    "A bad socket name in the handover message: {name:?}"
                )));
            }
            Ok(Entry {
                name: name.to_owned(),
                file,
            })
        })
        .collect()
}

/// `text`, a decimal number of digits only (no sign, no space).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn invalid(message: String) -> glib::Error {
    glib::Error::new(gio::IOErrorEnum::InvalidData, &message)
}

fn errno_error(errno: i32, what: &str) -> glib::Error {
    sys::errno_error(errno, what)
}

/// `address`, if it is a Unix socket address a handover can use: a path or an abstract name.
fn unix_address(address: &gio::SocketAddress) -> Result<gio::UnixSocketAddress, glib::Error> {
    address
        .downcast_ref::<gio::UnixSocketAddress>()
        .filter(|unix| {
            matches!(
                unix.address_type(),
                gio::UnixSocketAddressType::Path
                    | gio::UnixSocketAddressType::Abstract
                    | gio::UnixSocketAddressType::AbstractPadded
            )
        })
        .cloned()
        .ok_or_else(|| {
            glib::Error::new(
                gio::IOErrorEnum::InvalidArgument,
                "A handover goes through a Unix socket at a path or an abstract name",
            )
        })
}

fn new_channel() -> Result<gio::Socket, glib::Error> {
    gio::Socket::new(
        gio::SocketFamily::Unix,
        gio::SocketType::Seqpacket,
        gio::SocketProtocol::Default,
    )
}

/// The credentials of `channel`'s peer, if it runs as this process's user.
fn check_peer(channel: &gio::Socket, peer: &str) -> Result<sys::PeerCredentials, glib::Error> {
    let credentials = sys::peer_credentials(channel.as_fd())
        .map_err(|errno| errno_error(errno, "Cannot read the credentials of the handover peer"))?;
    let me = sys::effective_user();
    if credentials.uid != me {
        return Err(glib::Error::new(
            gio::IOErrorEnum::PermissionDenied,
            &format!(
                "The {peer} (pid {}) runs as uid {}, not as this process's uid {me}",
                credentials.pid, credentials.uid
            ),
        ));
    }
    Ok(credentials)
}

/// The socket a predecessor listens on for its successor, and the file it made for it, removed
/// when done.
pub(super) struct Rendezvous {
    socket: gio::Socket,
    file: Option<UnixFile>,
}

impl Rendezvous {
    fn listen(address: &gio::UnixSocketAddress) -> Result<Self, glib::Error> {
        let socket = new_channel()?;
        let file = match address.path() {
            Some(gio::prelude::UnixSocketAddressPath::Path(path)) => {
                // A predecessor killed mid-handover left its file: replaced, as the service's
                // own are, where a live one is refused.
                bind_replacing_stale(&socket, address, path)?;
                let path = PathBuf::from(path);
                std::fs::symlink_metadata(&path)
                    .ok()
                    .map(|file| UnixFile::new(path, file.dev(), file.ino()))
            }
            _ => {
                socket.bind(address, false)?;
                None
            }
        };
        let rendezvous = Self { socket, file };
        rendezvous.socket.set_listen_backlog(8);
        rendezvous.socket.listen()?;
        Ok(rendezvous)
    }
}

impl Drop for Rendezvous {
    fn drop(&mut self) {
        let _ = self.socket.close();
        if let Some(file) = &self.file {
            file.remove_if_ours();
        }
    }
}

/// Listens at `address` for `service`'s successor, at once: the successor may start as soon
/// as this returns.
pub(super) fn rendezvous(
    service: &SocketService,
    address: &gio::SocketAddress,
) -> Result<Rendezvous, glib::Error> {
    let address = unix_address(address)?;
    if !Engine::takes_sockets(service) {
        return Err(listener_closed());
    }
    Rendezvous::listen(&address)
}

/// Hands `service`'s listening sockets to the first process of this user that connects to
/// `rendezvous`, and completes with how many once it says it accepts.
pub(super) async fn hand_over(
    service: SocketService,
    rendezvous: Result<Rendezvous, glib::Error>,
) -> Result<u32, glib::Error> {
    let rendezvous = rendezvous?;
    // Another user's processes may connect as often as they like: the first refusal is a
    // warning, the others a debug message, so that they cannot flood the log (or abort a
    // program run with fatal warnings more than once).
    let mut refused = 0u64;
    let channel = loop {
        readable(&rendezvous.socket).await;
        let channel = match rendezvous.socket.accept(gio::Cancellable::NONE) {
            Ok(channel) => channel,
            Err(error) if error.matches(gio::IOErrorEnum::WouldBlock) => continue,
            Err(error) => return Err(error),
        };
        match check_peer(&channel, "process that connected for the handover") {
            Ok(credentials) => {
                debug!("handing over to process {}", credentials.pid);
                break channel;
            }
            // Someone else's: it gets nothing, and the successor may still come.
            Err(error) => {
                refused += 1;
                if refused == 1 {
                    glib::g_warning!(
                        crate::log::LOG_DOMAIN,
                        "Handover refused: {}",
                        error.message()
                    );
                } else {
                    debug!("handover refused ({refused} so far): {}", error.message());
                }
            }
        }
    };
    drop(rendezvous);

    if !Engine::takes_sockets(&service) {
        return Err(listener_closed());
    }
    let sockets = service.engine().served_sockets();
    if sockets.is_empty() {
        return Err(glib::Error::new(
            gio::IOErrorEnum::NotFound,
            "The service has no listening socket of its own to hand over",
        ));
    }
    if sockets.len() > MOST_SOCKETS {
        return Err(glib::Error::new(
            gio::IOErrorEnum::NotSupported,
            &format!(
                "The service has {} listening sockets: at most {MOST_SOCKETS} go in a handover",
                sockets.len()
            ),
        ));
    }
    let entries = sockets
        .iter()
        .map(Entry::of)
        .collect::<Result<Vec<_>, _>>()?;
    let message = encode(&entries);
    let descriptors: Vec<_> = sockets.iter().map(|served| served.socket.as_fd()).collect();
    sys::send_with_descriptors(channel.as_fd(), &message, &descriptors)
        .map_err(|errno| errno_error(errno, "Cannot send the sockets to the successor"))?;
    drop(descriptors);

    // Serving on meanwhile: the successor accepts from the same backlogs once it runs.
    let mut answer = [0u8; 512];
    let length = loop {
        readable(&channel).await;
        match channel.receive_with_blocking(&mut answer, false, gio::Cancellable::NONE) {
            Ok(length) => break length,
            Err(error) if error.matches(gio::IOErrorEnum::WouldBlock) => continue,
            Err(error) => {
                return Err(glib::Error::new(
                    gio::IOErrorEnum::BrokenPipe,
                    &format!(
                        "The successor went away before it was ready: {}",
                        error.message()
                    ),
                ));
            }
        }
    };
    let answer = &answer[..length];
    if answer != READY {
        let why = String::from_utf8_lossy(answer);
        return Err(match why.strip_prefix("refused: ") {
            Some(why) => glib::Error::new(
                gio::IOErrorEnum::Failed,
                &format!("The successor refused the sockets: {}", why.trim_end()),
            ),
            None if answer.is_empty() => glib::Error::new(
                gio::IOErrorEnum::BrokenPipe,
                "The successor went away before it was ready",
            ),
            None => invalid(format!("The successor answered {:?}", why.trim_end())),
        });
    }
    let handed: Vec<gio::Socket> = sockets
        .iter()
        .map(|served| (*served.socket).clone())
        .collect();
    service.engine().give_up_files(&handed);
    debug!("handed {} sockets over", handed.len());
    Ok(handed.len() as u32)
}

/// Completes once `socket` is readable, or hung up.
async fn readable(socket: &gio::Socket) {
    SocketExtManual::create_source_future(
        socket,
        glib::IOCondition::IN,
        gio::Cancellable::NONE,
        glib::Priority::DEFAULT,
    )
    .await;
}

/// Takes over the listening sockets of the predecessor that listens at `address`: adopts them
/// into `service`, tagged by `source_object_for`, and answers `ready` from the first iteration
/// of the service's context.
pub(super) fn take_over(
    service: &SocketService,
    address: &gio::SocketAddress,
    source_object_for: impl FnMut(&str) -> Option<glib::Object>,
    cancellable: Option<&gio::Cancellable>,
) -> Result<u32, glib::Error> {
    let address = unix_address(address)?;
    if !Engine::takes_sockets(service) {
        return Err(listener_closed());
    }
    let channel = new_channel()?;
    channel.set_timeout(TIMEOUT.as_secs() as u32);
    SocketExt::connect(&channel, &address, cancellable)?;
    check_peer(&channel, "predecessor")?;
    channel
        .condition_timed_wait(
            glib::IOCondition::IN,
            TIMEOUT.as_micros() as i64,
            cancellable,
        )
        .map_err(|error| {
            glib::Error::new(
                error
                    .kind::<gio::IOErrorEnum>()
                    .unwrap_or(gio::IOErrorEnum::Failed),
                &format!(
                    "No handover message from the predecessor: {}",
                    error.message()
                ),
            )
        })?;
    let mut buffer = vec![0u8; MOST_BYTES];
    let received = sys::receive_with_descriptors(channel.as_fd(), &mut buffer, MOST_SOCKETS)
        .map_err(|errno| errno_error(errno, "Cannot receive the handover message"))?;
    match adopt_handed(service, &buffer, received, source_object_for) {
        Ok(added) => {
            say_ready(service, channel);
            Ok(added)
        }
        Err(error) => {
            let why = format!("refused: {}\n", error.message());
            let _ = channel.send_with_blocking(why.as_bytes(), false, gio::Cancellable::NONE);
            Err(error)
        }
    }
}

/// Checks what came, and adopts it if it holds.
fn adopt_handed(
    service: &SocketService,
    buffer: &[u8],
    received: sys::Received,
    source_object_for: impl FnMut(&str) -> Option<glib::Object>,
) -> Result<u32, glib::Error> {
    let descriptors = received.descriptors;
    if received.too_many_descriptors {
        return Err(invalid(format!(
            "The handover message came with more than {MOST_SOCKETS} descriptors"
        )));
    }
    if received.truncated {
        return Err(invalid(format!(
            "The handover message is longer than {MOST_BYTES} bytes"
        )));
    }
    let entries = parse(&buffer[..received.length], descriptors.len())?;
    for (index, (descriptor, entry)) in descriptors.iter().zip(&entries).enumerate() {
        if !sys::is_listening_stream(descriptor.as_raw_fd()) {
            return Err(glib::Error::new(
                gio::IOErrorEnum::NotSupported,
                &format!(
                    "The handed-over descriptor {index} ({}) is not a listening stream socket",
                    entry.name
                ),
            ));
        }
    }
    let sockets = descriptors
        .into_iter()
        .zip(entries)
        .map(|(descriptor, entry)| {
            let socket = gio::Socket::from_fd(descriptor)?;
            let unix_file = entry.file.and_then(|file| own_file(&socket, file));
            let adding = Adding {
                name: Some(entry.name),
                unix_file,
                ..Adding::default()
            };
            Ok((socket, adding))
        })
        .collect::<Result<Vec<_>, glib::Error>>()?;
    adopt(service, sockets, source_object_for)
}

/// The socket file of `socket`, a Unix socket at a path, if it is the file `identity` names,
/// which the predecessor made: the successor owns it from now on.
fn own_file(socket: &gio::Socket, (device, inode): (u64, u64)) -> Option<UnixFile> {
    let address = socket.local_address().ok()?;
    let file = UnixFile::new(bound_path(address.downcast_ref()?)?, device, inode);
    file.is_ours().then_some(file)
}

/// The path a Unix socket is bound to, as the kernel reports it. Newer GLib (2.90 in Debian sid,
/// not 2.74) keeps in the address's path the terminating NUL that `getsockname()` counts; no
/// file name has one.
fn bound_path(address: &gio::UnixSocketAddress) -> Option<PathBuf> {
    let Some(gio::prelude::UnixSocketAddressPath::Path(path)) = address.path() else {
        return None;
    };
    let bytes = path.as_os_str().as_bytes();
    let end = bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(bytes.len());
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes[..end])))
}

/// Answers `ready` on `channel` in the first iteration of `service`'s context: the service
/// accepts there.
fn say_ready(service: &SocketService, channel: gio::Socket) {
    let channel = sys::SendObject::new(channel);
    let ready = glib::idle_source_new(
        Some("[usher] handover ready"),
        glib::Priority::DEFAULT,
        move || {
            match channel.send_with_blocking(READY, false, gio::Cancellable::NONE) {
                Ok(_) => debug!("told the predecessor this process accepts"),
                Err(error) => debug!("the predecessor is gone: {}", error.message()),
            }
            let _ = channel.close();
            glib::ControlFlow::Break
        },
    );
    ready.attach(Some(&service.engine().context()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, file: Option<(u64, u64)>) -> Entry {
        Entry {
            name: name.to_owned(),
            file,
        }
    }

    #[test]
    fn a_bound_path_is_the_file_name_without_the_nul_the_kernel_counts() {
        // As GLib makes it from what `getsockname()` returns.
        let reported = |bytes: &[u8]| {
            glib::Object::builder::<gio::UnixSocketAddress>()
                .property("path-as-array", glib::ByteArray::from(bytes))
                .property("address-type", gio::UnixSocketAddressType::Path)
                .build()
        };
        for bytes in [&b"/run/echo.sock\0"[..], b"/run/echo.sock"] {
            assert_eq!(
                bound_path(&reported(bytes)).as_deref(),
                Some(std::path::Path::new("/run/echo.sock"))
            );
        }
        let abstract_name = gio::UnixSocketAddress::with_type(
            gio::prelude::UnixSocketAddressPath::Abstract(b"echo"),
        );
        assert_eq!(bound_path(&abstract_name), None);
    }

    #[test]
    fn a_message_names_each_descriptor() {
        let message = b"usher-handover 1 4\n- web\n2049:1234 local\n- web admin\n- \n";
        assert_eq!(
            parse(message, 4).unwrap(),
            [
                entry("web", None),
                entry("local", Some((2049, 1234))),
                entry("web admin", None),
                entry("", None),
            ]
        );
    }

    #[test]
    fn every_valid_name_goes_over_as_it_is() {
        let printable: String = (b' '..=b'~')
            .filter(|byte| *byte != b':')
            .map(char::from)
            .collect();
        let longest = "n".repeat(255);
        let entries: Vec<Entry> = [
            entry("web", None),
            entry("web admin", Some((0, 0))),
            entry("", None),
            entry(" ", Some((u64::MAX, u64::MAX))),
            entry(" spaced  out ", None),
            entry("- 12 34 x", None),
            entry(&printable, Some((2049, 1234))),
        ]
        .into_iter()
        .chain((0..MOST_SOCKETS - 7).map(|_| entry(&longest, Some((u64::MAX, u64::MAX)))))
        .collect();
        let message = encode(&entries);
        assert!(message.len() <= MOST_BYTES, "{} bytes", message.len());
        assert_eq!(parse(&message, entries.len()).unwrap(), entries);
    }

    #[test]
    fn an_invalid_name_is_not_sent() {
        for name in ["a:b", "line\nbreak", "tab\t", &"n".repeat(256)] {
            let served = Served {
                socket: sys::SendObject::new(new_channel().unwrap()),
                name: Some(name.to_owned()),
                activated: false,
                unix_file: None,
            };
            let error = Entry::of(&served).unwrap_err();
            assert!(error.matches(gio::IOErrorEnum::InvalidArgument), "{error}");
        }
    }

    #[test]
    fn a_bad_message_is_refused() {
        let refused = |message: &[u8], descriptors| {
            let error = parse(message, descriptors).unwrap_err();
            assert!(error.matches(gio::IOErrorEnum::InvalidData), "{error}");
            error.message().to_owned()
        };
        assert!(refused(b"usher-handover 1 2\n- web\n", 2).contains("truncated"));
        assert!(refused(b"usher-handover 1 2\n- web\n- local", 2).contains("truncated"));
        assert!(refused(b"usher-handover 1 1\n- web\n", 2).contains("came with 2 descriptors"));
        assert!(refused(b"usher-handover 1 0\n", 0).contains("from 1 to 64"));
        assert!(refused(b"usher-handover 1 65\n", 65).contains("from 1 to 64"));
        assert!(refused(b"usher-handover 2 1\n- web\n", 1).contains("known version"));
        assert!(refused(b"usher-handover 1 -1\n- web\n", 1).contains("known version"));
        assert!(refused(b"usher-handover 1 +1\n- web\n", 1).contains("known version"));
        assert!(
            refused(b"usher-handover 1 99999999999999999999999\n", 1).contains("known version")
        );
        assert!(refused(b"", 0).contains("truncated"));
        assert!(refused(b"usher-handover 1 1\n- web:admin\n", 1).contains("name"));
        assert!(refused(b"usher-handover 1 1\n- web\tadmin\n", 1).contains("name"));
        assert!(refused(b"usher-handover 1 1\n- web\r\n", 1).contains("name"));
        let long = format!("usher-handover 1 1\n- {}\n", "n".repeat(256));
        assert!(refused(long.as_bytes(), 1).contains("name"));
        // The file first, then a space, then the name: each missing is a bad line.
        assert!(refused(b"usher-handover 1 1\n\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\n-\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\nweb\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\nweb admin\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\n1 web\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\n1: web\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\n:1 web\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\nx:1 web\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\n+1:1 web\n", 1).contains("bad line"));
        assert!(refused(b"usher-handover 1 1\n1:2:3 web\n", 1).contains("bad line"));
        assert!(
            refused(b"usher-handover 1 1\n99999999999999999999:1 web\n", 1).contains("bad line")
        );
        assert!(refused(b"usher-handover 1 1\n- web\n- more\n", 1).contains("2 lines"));
        assert!(refused(b"usher-handover 1 1\n- \xff\n", 1).contains("not text"));
    }
}
