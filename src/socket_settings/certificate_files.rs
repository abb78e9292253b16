//! Certificates loaded from files, and the files watched: a certificate is taken only once it
//! loaded completely (every PEM block ended, a certificate and a private key) and its key
//! matches it (a handshake with itself, over a socket pair, which its signature must pass),
//! so that a half-written, unreadable or mismatched file never replaces one that serves.
//!
//! The files are watched through their directories (`GFileMonitor`, with `WATCH_MOVES`), as
//! certificate tools replace them: written elsewhere and renamed into place (`RENAMED`,
//! `MOVED_IN`), written in place (`CHANGES_DONE_HINT`, once the writer closes the file), or
//! behind a symbolic link swapped (Kubernetes' `..data`). Whatever the event, a file is read
//! again only if what it names changed (device, inode, size, times), once per burst of events.

use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use gio::prelude::*;

use crate::log::debug;
use crate::sys::SendObject;

/// Why a certificate's files were not taken: the file at fault, and the error, whose message
/// names it.
#[derive(Debug)]
pub(crate) struct LoadError {
    pub file: PathBuf,
    pub error: glib::Error,
}

/// Loads the certificate in `certificate_file` with the private key in `key_file`, or in the
/// same file if none is given, and checks that the key is the certificate's.
pub(crate) fn load(
    certificate_file: &Path,
    key_file: Option<&Path>,
) -> Result<gio::TlsCertificate, LoadError> {
    let certificate_pem = read_pem(certificate_file)?;
    let (key_file, key_pem) = match key_file {
        Some(key_file) => (key_file, Some(read_pem(key_file)?)),
        None => (certificate_file, None),
    };
    let fault = |file: &Path, message: String| LoadError {
        file: file.to_owned(),
        error: glib::Error::new(gio::TlsError::BadCertificate, &message),
    };
    let blocks = |pem: &str| pem_blocks(pem);
    let certificate_blocks = blocks(&certificate_pem).map_err(|why| {
        fault(
            certificate_file,
            format!("{}: {why}", certificate_file.display()),
        )
    })?;
    if !certificate_blocks
        .iter()
        .any(|label| label == "CERTIFICATE" || label == "TRUSTED CERTIFICATE")
    {
        return Err(fault(
            certificate_file,
            format!("{}: no certificate in it", certificate_file.display()),
        ));
    }
    let key_blocks = match &key_pem {
        Some(pem) => {
            blocks(pem).map_err(|why| fault(key_file, format!("{}: {why}", key_file.display())))?
        }
        None => certificate_blocks,
    };
    if !key_blocks
        .iter()
        .any(|label| label.ends_with("PRIVATE KEY"))
    {
        return Err(fault(
            key_file,
            format!("{}: no private key in it", key_file.display()),
        ));
    }
    let pem = match &key_pem {
        Some(key_pem) => format!("{certificate_pem}\n{key_pem}"),
        None => certificate_pem,
    };
    let certificate = gio::TlsCertificate::from_pem(&pem).map_err(|error| {
        fault(
            certificate_file,
            format!("{}: {}", certificate_file.display(), error.message()),
        )
    })?;
    if let Err(error) = key_matches(&certificate) {
        return Err(fault(
            key_file,
            format!(
                "{}: the private key does not match the certificate of {} ({})",
                key_file.display(),
                certificate_file.display(),
                error.message()
            ),
        ));
    }
    Ok(certificate)
}

/// The text of a PEM file.
fn read_pem(file: &Path) -> Result<String, LoadError> {
    let error = |kind: gio::IOErrorEnum, why: String| LoadError {
        file: file.to_owned(),
        error: glib::Error::new(kind, &format!("{}: {why}", file.display())),
    };
    let bytes = std::fs::read(file).map_err(|failure| {
        let kind = match failure.kind() {
            std::io::ErrorKind::NotFound => gio::IOErrorEnum::NotFound,
            std::io::ErrorKind::PermissionDenied => gio::IOErrorEnum::PermissionDenied,
            std::io::ErrorKind::IsADirectory => gio::IOErrorEnum::IsDirectory,
            _ => gio::IOErrorEnum::Failed,
        };
        error(kind, failure.to_string())
    })?;
    String::from_utf8(bytes).map_err(|_| {
        error(
            gio::IOErrorEnum::InvalidData,
            "not a PEM file (not text)".into(),
        )
    })
}

/// The labels of the PEM blocks of `pem`, in order, or why they do not all end: a file cut
/// short (half-written) ends inside a block.
fn pem_blocks(pem: &str) -> Result<Vec<String>, String> {
    let mut labels = Vec::new();
    let mut open: Option<&str> = None;
    for line in pem.lines().map(str::trim_end) {
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        {
            if let Some(open) = open {
                return Err(format!("a {open} block without its END line"));
            }
            open = Some(label);
        } else if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|rest| rest.strip_suffix("-----"))
        {
            match open.take() {
                Some(begun) if begun == label => labels.push(label.to_owned()),
                _ => return Err(format!("an END {label} line without its BEGIN")),
            }
        } else if line.starts_with("-----") {
            return Err(format!("a broken PEM line, {line:?} (half-written?)"));
        }
    }
    match open {
        Some(open) => Err(format!("cut short in a {open} block (half-written?)")),
        None if labels.is_empty() => Err("no PEM block in it".into()),
        None => Ok(labels),
    }
}

/// Whether the private key of `certificate` is its certificate's: a TLS handshake between a
/// server with it and a client, over a socket pair, which fails where the server's signature
/// does not verify against the certificate's public key. Some milliseconds, on threads of their
/// own: the calling thread's context is left alone.
pub(crate) fn key_matches(certificate: &gio::TlsCertificate) -> Result<(), glib::Error> {
    let io = |error: std::io::Error| glib::Error::new(gio::IOErrorEnum::Failed, &error.to_string());
    let (server, client) = std::os::unix::net::UnixStream::pair().map_err(io)?;
    let connection = |stream: std::os::unix::net::UnixStream| -> Result<_, glib::Error> {
        let socket = gio::Socket::from_fd(OwnedFd::from(stream))?;
        // A backend that hangs cannot hold the caller forever.
        socket.set_timeout(5);
        Ok(socket.connection_factory_create_connection())
    };
    let (server, client) = (connection(server)?, connection(client)?);
    let backend = gio::TlsBackend::default();
    let server = gio::Initable::builder_with_type(backend.server_connection_type())
        .property("base-io-stream", &server)
        .property("certificate", certificate)
        .property("database", None::<gio::TlsDatabase>)
        .build(gio::Cancellable::NONE)?
        .downcast::<gio::TlsConnection>()
        .map_err(|_| glib::Error::new(gio::TlsError::Unavailable, "no server connection"))?;
    // No database: nothing to verify against, and the signature is checked all the same.
    let client = gio::Initable::builder_with_type(backend.client_connection_type())
        .property("base-io-stream", &client)
        .property("database", None::<gio::TlsDatabase>)
        .build(gio::Cancellable::NONE)?
        .downcast::<gio::TlsConnection>()
        .map_err(|_| glib::Error::new(gio::TlsError::Unavailable, "no client connection"))?;
    client.connect_accept_certificate(|_, _, _| true);
    let handshake = |connection: gio::TlsConnection| {
        let connection = SendObject::new(connection);
        std::thread::spawn(move || {
            let result = connection.handshake(gio::Cancellable::NONE);
            let _ = connection.close(gio::Cancellable::NONE);
            result
        })
    };
    let (server, client) = (handshake(server), handshake(client));
    let joined = |thread: std::thread::JoinHandle<Result<(), glib::Error>>| {
        thread.join().unwrap_or_else(|_| {
            Err(glib::Error::new(
                gio::IOErrorEnum::Failed,
                "the handshake's thread panicked",
            ))
        })
    };
    // The client's error says why (the signature); the server's, that the client left.
    let client = joined(client);
    let server = joined(server);
    client.and(server)
}

/// What a file's path names now: device, inode, size and times, or nothing.
type Identity = Option<(u64, u64, u64, i64, i64, i64, i64)>;

fn identity(file: &Path) -> Identity {
    std::fs::metadata(file).ok().map(|metadata| {
        (
            metadata.dev(),
            metadata.ino(),
            metadata.size(),
            metadata.mtime(),
            metadata.mtime_nsec(),
            metadata.ctime(),
            metadata.ctime_nsec(),
        )
    })
}

/// The files a certificate was loaded from, watched: told of each change, on the thread-default
/// main context of the thread that began watching, while it lives.
pub(crate) struct Watch {
    pub certificate_file: PathBuf,
    pub key_file: Option<PathBuf>,
    /// What the files were when last loaded, or tried.
    seen: Mutex<(Identity, Identity)>,
    /// A directory monitor per directory of the files.
    monitors: Vec<SendObject<gio::FileMonitor>>,
    /// The reload due in the context's next idle moment, after a burst of events.
    pending: Mutex<Option<glib::Source>>,
    /// The context the monitors emit on: the thread-default one of the thread that began.
    context: glib::MainContext,
}

impl Watch {
    /// Watches `certificate_file` and `key_file` from now on, as they are now; `changed` is
    /// called, on this thread's thread-default context, when what either names changes.
    pub(crate) fn new(
        certificate_file: &Path,
        key_file: Option<&Path>,
        changed: impl Fn(&Arc<Watch>) + Send + Sync + 'static,
    ) -> Result<Arc<Watch>, glib::Error> {
        let changed = Arc::new(changed);
        let mut directories: Vec<PathBuf> = Vec::new();
        for file in [Some(certificate_file), key_file].into_iter().flatten() {
            let directory = match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            };
            if !directories.contains(&directory) {
                directories.push(directory);
            }
        }
        let mut result = Ok(());
        let watch = Arc::new_cyclic(|weak: &Weak<Watch>| {
            let mut monitors = Vec::new();
            for directory in &directories {
                let monitor = gio::File::for_path(directory)
                    .monitor_directory(gio::FileMonitorFlags::WATCH_MOVES, gio::Cancellable::NONE);
                let monitor = match monitor {
                    Ok(monitor) => monitor,
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                };
                let (weak, changed) = (weak.clone(), changed.clone());
                monitor.connect_changed(move |_, _, _, event| {
                    use gio::FileMonitorEvent as Event;
                    if matches!(
                        event,
                        Event::ChangesDoneHint | Event::Renamed | Event::MovedIn
                    ) && let Some(watch) = weak.upgrade()
                    {
                        watch.schedule(&changed);
                    }
                });
                monitors.push(SendObject::new(monitor));
            }
            Watch {
                certificate_file: certificate_file.to_owned(),
                key_file: key_file.map(Path::to_owned),
                seen: Mutex::new((identity(certificate_file), key_file.and_then(identity))),
                monitors,
                pending: Mutex::new(None),
                context: glib::MainContext::ref_thread_default(),
            }
        });
        result.map(|()| watch)
    }

    /// Runs `changed` once the context is idle, once for a burst of events (a certificate and
    /// its key renamed into place one after the other), if what the files name changed.
    fn schedule(self: &Arc<Self>, changed: &Arc<impl Fn(&Arc<Watch>) + Send + Sync + 'static>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending
            .as_ref()
            .is_some_and(|source| !source.is_destroyed())
        {
            return;
        }
        let (weak, changed) = (Arc::downgrade(self), changed.clone());
        let source = glib::idle_source_new(
            Some("[usher] certificate files changed"),
            glib::Priority::DEFAULT_IDLE,
            move || {
                if let Some(watch) = weak.upgrade() {
                    watch
                        .pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if watch.take_change() {
                        changed(&watch);
                    }
                }
                glib::ControlFlow::Break
            },
        );
        source.attach(Some(&self.context));
        *pending = Some(source);
    }

    /// Whether what the files name changed since last seen; they are seen now.
    fn take_change(&self) -> bool {
        let now = (
            identity(&self.certificate_file),
            self.key_file.as_deref().and_then(identity),
        );
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = *seen != now;
        if changed {
            debug!("{} changed", self.certificate_file.display());
        }
        *seen = now;
        changed
    }

    /// Marks the files seen as they are now: an explicit reload read them.
    pub(crate) fn mark_seen(&self) {
        self.take_change();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        for monitor in &self.monitors {
            monitor.cancel();
        }
        if let Some(source) = self
            .pending
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            source.destroy();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_must_all_end() {
        let certificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_blocks(&format!("{certificate}{key}")),
            Ok(vec!["CERTIFICATE".into(), "PRIVATE KEY".into()])
        );
        let both = format!("{certificate}{key}");
        for cut in [30, certificate.len() + 35, both.len() - 26] {
            assert!(
                pem_blocks(&both[..cut])
                    .unwrap_err()
                    .contains("cut short in a"),
                "{cut}"
            );
        }
        for cut in [10, certificate.len() + 10, both.len() - 5] {
            assert!(
                pem_blocks(&both[..cut])
                    .unwrap_err()
                    .contains("a broken PEM line"),
                "{cut}"
            );
        }
        assert!(pem_blocks("").is_err());
        assert!(pem_blocks("-----END CERTIFICATE-----\n").is_err());
        assert!(
            pem_blocks(&format!("-----BEGIN CERTIFICATE-----\n{key}"))
                .unwrap_err()
                .contains("without its END")
        );
    }
}
