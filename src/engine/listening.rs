//! A listening socket the service accepts on: the source watching it, the clients taken off its
//! backlog, and its settings, resolved against the service's and applied to the socket.

use std::collections::VecDeque;
use std::sync::Arc;

use gio::prelude::*;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use crate::connection::{CloseSink, Shared};
use crate::log::{debug, warning};
use crate::socket_settings::{Origin, Resolved, SocketSettings, TcpSettings, UnixSettings};
use crate::sys::{self, SendObject};

/// A listening socket and, while the service accepts on it, the source watching it.
pub(super) struct Listening {
    pub id: u32,
    pub socket: SendObject<gio::Socket>,
    pub source: Option<glib::Source>,
    /// Clients taken off the kernel's backlog and not yet handed out, oldest first.
    pub waiting: VecDeque<sys::Accepted>,
    /// The most clients to take in, and to hand out, per dispatch: the socket's backlog, or
    /// more.
    pub most: usize,
    /// Whether each client taken in needs `TCP_NODELAY` set: those queued before the socket
    /// had it to pass on (see `accept::pass_on_no_delay`), until the backlog is seen empty.
    pub no_delay_each: bool,
    /// The name it was passed with (`LISTEN_FDNAMES`, a handover), if any.
    pub name: Option<String>,
    /// It was passed by systemd (`LISTEN_FDS`), which holds it already.
    activated: bool,
    /// The file of a Unix socket the service made at a path, to remove when done with it.
    unix_file: Option<UnixFile>,
    /// The settings it was given; `None` for its service's.
    settings: Option<SendObject<SocketSettings>>,
    /// What its connections are served with, resolved from the versions of its settings and its
    /// service's given.
    resolved: Arc<Resolved>,
    versions: (u64, u64),
    /// What its connections share: where they report their close, and where they come from;
    /// made again when the settings in force are other ones. It holds the engine, which holds
    /// this: the engine lets go of its sockets when disposed.
    shared: Option<(Arc<Origin>, Arc<Shared>)>,
}

impl Listening {
    /// A socket newly served with `settings` (`None`: the service's, `defaults`), its TCP
    /// options applied.
    pub fn new(id: u32, socket: gio::Socket, adding: Adding, defaults: &SocketSettings) -> Self {
        let backlog = usize::try_from(socket.listen_backlog()).unwrap_or(0);
        let (resolved, versions) = resolve(adding.settings.as_deref(), defaults);
        tune(&socket, &TcpSettings::default(), &resolved.tcp);
        let no_delay_each = super::accept::pass_on_no_delay(&socket, is_tcp(&socket));
        Self {
            id,
            socket: SendObject::new(socket),
            source: None,
            waiting: VecDeque::new(),
            most: backlog.max(super::ACCEPT_BATCH),
            no_delay_each,
            name: adding.name,
            activated: adding.activated,
            unix_file: adding.unix_file,
            settings: adding.settings,
            resolved,
            versions,
            shared: None,
        }
    }

    /// What its connections share: `sink`, the engine's, and where they come from, the socket
    /// and the settings in force for it.
    pub fn shared(
        &mut self,
        defaults: &SendObject<SocketSettings>,
        sink: impl FnOnce() -> Arc<dyn CloseSink>,
    ) -> Arc<Shared> {
        let settings = self.settings_in_force(defaults);
        match &self.shared {
            Some((origin, shared)) if origin.has_settings(&settings) => shared.clone(),
            _ => {
                let origin = Origin::new(Some(&self.socket), &settings);
                let shared = Arc::new(Shared {
                    sink: sink(),
                    origin: origin.clone(),
                });
                self.shared = Some((origin, shared.clone()));
                shared
            }
        }
    }

    /// What the socket's connections are served with now: resolved again if its settings or
    /// its service's changed since (two atomic reads otherwise).
    pub fn resolved(&mut self, defaults: &SocketSettings) -> &Arc<Resolved> {
        let versions = versions(self.settings.as_deref(), defaults);
        if versions != self.versions {
            let (tcp, unix) = (self.resolved.tcp, self.resolved.unix);
            (self.resolved, self.versions) = resolve(self.settings.as_deref(), defaults);
            // A socket closed under the service only hands out clients it had accepted.
            if self.resolved.tcp != tcp && !self.socket.is_closed() {
                tune(&self.socket, &tcp, &self.resolved.tcp);
            }
            // Only when they change: the file had them from its bind on.
            if self.resolved.unix != unix
                && let Some(file) = &self.unix_file
                && let Err(error) = file.apply(&self.resolved.unix)
            {
                warning!("{}", error.message());
            }
        }
        &self.resolved
    }

    /// The settings in force for the socket: its own, or its service's.
    pub fn settings_in_force(
        &self,
        defaults: &SendObject<SocketSettings>,
    ) -> SendObject<SocketSettings> {
        self.settings.as_ref().unwrap_or(defaults).clone()
    }

    /// The socket as it is handed to another process: its name (the one it was passed with,
    /// else its settings'), and the file the service made for it.
    pub fn served(&mut self, defaults: &SocketSettings) -> Served {
        let name = match &self.name {
            Some(name) => Some(name.clone()),
            None => self.resolved(defaults).name.clone(),
        };
        Served {
            socket: self.socket.clone(),
            name,
            activated: self.activated,
            unix_file: self.unix_file.clone(),
        }
    }

    /// The socket went to another process, which serves it on: its file is that process's,
    /// never removed or changed from here.
    pub fn give_up_file(&mut self) {
        if let Some(file) = self.unix_file.take() {
            debug!("{} is another process's now", file.path.display());
        }
    }

    /// The socket, about to be closed by a shutdown, kept only to hand out the clients it has
    /// waiting: no longer watched, and its file removed now, as any closed socket's, so that
    /// the path is free for a successor.
    pub fn closed_with_waiting(mut self) -> Self {
        if let Some(source) = self.source.take() {
            source.destroy();
        }
        if let Some(file) = self.unix_file.take() {
            file.remove_if_ours();
        }
        self
    }

    /// Serves the socket with `settings` from now on (`None`: its service's); returns those
    /// it had, to let go of unlocked.
    pub fn set_settings(
        &mut self,
        settings: Option<SendObject<SocketSettings>>,
        defaults: &SocketSettings,
    ) -> Option<SendObject<SocketSettings>> {
        let previous = std::mem::replace(&mut self.settings, settings);
        // Resolved again at once, so that the TCP options apply now.
        self.versions = (u64::MAX, u64::MAX);
        self.resolved(defaults);
        previous
    }
}

impl Drop for Listening {
    /// The service is done with the socket: the file it made for it goes, if it is still the
    /// one it bound.
    fn drop(&mut self) {
        if let Some(file) = &self.unix_file {
            file.remove_if_ours();
        }
    }
}

/// What the sockets added by an `add_*()` call are served with.
#[derive(Clone, Default)]
pub(crate) struct Adding {
    /// Their settings; `None` for the service's.
    pub settings: Option<SendObject<SocketSettings>>,
    /// Their name, for sockets passed to the process.
    pub name: Option<String>,
    /// They were passed by systemd (`LISTEN_FDS`).
    pub activated: bool,
    /// The file of a Unix socket the service made at a path.
    pub unix_file: Option<UnixFile>,
}

/// A listening socket the service serves, as it is handed to another process (a successor,
/// systemd's file descriptor store).
pub(crate) struct Served {
    pub socket: SendObject<gio::Socket>,
    /// The name it was passed with, else its settings' `name`; `None` if neither has one.
    pub name: Option<String>,
    /// It was passed by systemd (`LISTEN_FDS`), which holds it already.
    pub activated: bool,
    /// The file the service made for it, if it is a Unix socket at a path.
    pub unix_file: Option<UnixFile>,
}

/// The file of a Unix socket the service made at a path: which file it is (its device and
/// inode), so that the service never removes or changes one that another process put there
/// since.
#[derive(Clone, Debug)]
pub(crate) struct UnixFile {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl UnixFile {
    pub(crate) fn new(path: PathBuf, device: u64, inode: u64) -> Self {
        Self {
            path,
            device,
            inode,
        }
    }

    /// The file's device and inode numbers.
    pub(crate) fn identity(&self) -> (u64, u64) {
        (self.device, self.inode)
    }

    /// Whether the file at the path is still the one the service bound.
    pub(crate) fn is_ours(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|file| (file.dev(), file.ino()) == (self.device, self.inode))
    }

    /// Removes the file, if it is still the one the service bound.
    pub(crate) fn remove_if_ours(&self) {
        if self.is_ours() {
            debug!("removing {}", self.path.display());
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Gives the file the mode, owner and group `unix` sets; fails if it is no longer the
    /// socket the service bound.
    pub(crate) fn apply(&self, unix: &UnixSettings) -> Result<(), glib::Error> {
        if *unix == UnixSettings::default() {
            return Ok(());
        }
        let failed = |what: &str, error: std::io::Error| {
            glib::Error::new(
                gio::io_error_from_errno(error.raw_os_error().unwrap_or(0)),
                &format!("Cannot {what} {}: {error}", self.path.display()),
            )
        };
        // Checked and changed through one descriptor of the inode, never the path again: a
        // user who may write the directory could swap in a symlink to any file in between.
        let file = sys::PathFd::open(&self.path).map_err(|error| failed("open", error))?;
        let found = file.metadata().map_err(|error| failed("look at", error))?;
        if !found.file_type().is_socket() || (found.dev(), found.ino()) != self.identity() {
            return Err(glib::Error::new(
                gio::IOErrorEnum::NotFound,
                &format!(
                    "Cannot change the mode, owner or group of {}: it is no longer the socket \
                     the service made",
                    self.path.display()
                ),
            ));
        }
        if unix.owner.is_some() || unix.group.is_some() {
            file.chown(unix.owner, unix.group)
                .map_err(|error| failed("change the owner of", error))?;
        }
        if let Some(mode) = unix.mode {
            file.chmod(mode)
                .map_err(|error| failed("change the mode of", error))?;
        }
        Ok(())
    }
}

/// Whether `socket` is a TCP one: an IP stream socket, made with `G_SOCKET_PROTOCOL_TCP` or, as
/// `g_socket_listener_add_inet_port()` makes them, `G_SOCKET_PROTOCOL_DEFAULT`.
fn is_tcp(socket: &gio::Socket) -> bool {
    matches!(
        socket.family(),
        gio::SocketFamily::Ipv4 | gio::SocketFamily::Ipv6
    ) && SocketExt::type_(socket) == gio::SocketType::Stream
        && matches!(
            socket.protocol(),
            gio::SocketProtocol::Tcp | gio::SocketProtocol::Default
        )
}

/// The versions of a socket's settings and of its service's.
fn versions(settings: Option<&SocketSettings>, defaults: &SocketSettings) -> (u64, u64) {
    (
        settings.map_or(0, SocketSettings::version),
        defaults.version(),
    )
}

/// What a socket with `settings` (`None`: its service's, `defaults`) serves connections with,
/// and the versions it was resolved from.
pub(super) fn resolve(
    settings: Option<&SocketSettings>,
    defaults: &SocketSettings,
) -> (Arc<Resolved>, (u64, u64)) {
    let own = settings.map(SocketSettings::snapshot);
    let (service, service_version) = defaults.snapshot();
    let resolved = Resolved::new(own.as_ref().map(|(values, _)| values), &service);
    let versions = (own.map_or(0, |(_, version)| version), service_version);
    (Arc::new(resolved), versions)
}

/// Applies to the listening `socket`, if it is a TCP one, the TCP options `tcp` sets, and the
/// system's value of those that `previous` set and `tcp` no longer does: Linux copies them into
/// every connection it makes for the socket, so that they cost nothing per accept. An option
/// nobody set is left as the socket has it (an application's socket keeps its own). An option
/// the system refuses is reported, and the others are applied all the same.
pub(super) fn tune(socket: &gio::Socket, previous: &TcpSettings, tcp: &TcpSettings) {
    if !is_tcp(socket) {
        return;
    }
    // Each option: its level and name, what `previous` and `tcp` set it to, and the sysctl
    // whose value 0 stands for (setsockopt() does not take 0 for these).
    type Setting = fn(&TcpSettings) -> Option<u32>;
    let options: [(i32, i32, &str, Setting, Option<&str>); 6] = [
        (
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            "SO_KEEPALIVE",
            |tcp: &TcpSettings| tcp.keepalive.map(u32::from),
            None,
        ),
        (
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            "TCP_KEEPIDLE",
            |tcp: &TcpSettings| tcp.keepalive_idle,
            Some("tcp_keepalive_time"),
        ),
        (
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            "TCP_KEEPINTVL",
            |tcp: &TcpSettings| tcp.keepalive_interval,
            Some("tcp_keepalive_intvl"),
        ),
        (
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            "TCP_KEEPCNT",
            |tcp: &TcpSettings| tcp.keepalive_count,
            Some("tcp_keepalive_probes"),
        ),
        (
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            "TCP_USER_TIMEOUT",
            |tcp: &TcpSettings| tcp.user_timeout,
            None,
        ),
        (
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            "TCP_DEFER_ACCEPT",
            |tcp: &TcpSettings| tcp.defer_accept,
            None,
        ),
    ];
    for (level, option, name, setting, system) in options {
        let value = match (setting(previous), setting(tcp)) {
            (None, None) => continue,
            // No longer set: back to the system's.
            (Some(_), None) => 0,
            (_, Some(value)) => value,
        };
        let value = match (value, system) {
            (0, Some(sysctl)) => std::fs::read_to_string(format!("/proc/sys/net/ipv4/{sysctl}"))
                .ok()
                .and_then(|value| value.trim().parse().ok()),
            (value, _) => Some(value),
        };
        let Some(value) = value.and_then(|value: u32| i32::try_from(value).ok()) else {
            continue;
        };
        if let Err(error) = socket.set_option(level, option, value) {
            warning!(
                "Cannot set {name} to {value} on a listening socket: {}",
                error.message()
            );
        }
    }
}
