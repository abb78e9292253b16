//! [`SocketService`]: GLib's `GSocketService`, re-implemented.

mod activation;
mod fd_store;
mod handover;
pub(crate) mod imp;
mod own_socket;
mod stream;

/// The accessors of [`SocketService`]'s properties, for it and its subclasses: a getter each
/// (`max_connections()`, `tls_certificate()`, …), a setter for the writable ones
/// (`set_max_connections()`, …), `connect_*_notify()` and `notify_*()`. Each is documented with
/// its property.
#[doc(inline)]
pub use imp::SocketServicePropertiesExt;
pub use stream::IncomingStream;

use std::pin::Pin;

use gio::prelude::{
    CancellableExt, SocketConnectionExt, SocketExt, SocketListenerExt, UnixSocketAddressExtManual,
};
use glib::{prelude::*, signal::SignalHandlerId, subclass::prelude::*};

use crate::client_hello::ClientHello;
use crate::engine::{Adding, Engine, Host};
use crate::refusal::Refusal;
use crate::signals::{
    accept_certificate_args, accept_error_args, connect_connection_handler, connection_args,
};
use crate::socket_settings::SocketSettings;
use crate::sys::SendWeak;

glib::wrapper! {
    /// A service that accepts connections on the sockets of its [`gio::SocketListener`] and
    /// emits [`incoming`](SocketServiceExt::connect_incoming) for each, from the main loop.
    ///
    /// It behaves as GLib's [`gio::SocketService`], of which it is a re-implementation, and
    /// does more: it takes every waiting client off the backlog when a socket is readable (up to
    /// the socket's listen backlog per main-loop turn), never loses a client to `stop()`, never
    /// moves its accepting to the global default context from a worker thread, backs
    /// off instead of spinning when the process runs out of file descriptors, can cap its live
    /// connections, overall and per peer, time out idle I/O, serve TLS, read the PROXY
    /// protocol header of a load balancer it trusts, and shut down gracefully.
    ///
    /// There are two ways to write a service, as with GLib: connect to `incoming`, or subclass
    /// and override [`SocketServiceImpl::incoming`](crate::subclass::prelude::SocketServiceImpl::incoming).
    /// Either way the handler must not block; see [`ThreadedSocketService`](crate::ThreadedSocketService)
    /// for handlers that do.
    ///
    /// A new service is active: it accepts as soon as a socket is added with the listener's
    /// `add_*()` methods and its context runs.
    ///
    /// # Which context accepts
    ///
    /// The service accepts, and emits its signals, on the thread-default [`glib::MainContext`]
    /// of the thread that created it, until a thread that pushed a thread-default context of its
    /// own begins its accepting, by adding the first socket to the active service or by
    /// starting it: from then on it accepts on that thread's context, as GLib's does. A thread
    /// with no context of its own (a worker) moves nothing, where GLib would move accepting to
    /// the global default context. Adding more sockets while it accepts does not move it.
    ///
    /// ```no_run
    /// use gio::prelude::*;
    /// use usher::prelude::*;
    ///
    /// let service = usher::SocketService::new();
    /// service.add_inet_port(1024, None::<&glib::Object>)?;
    /// service.connect_incoming(|_service, connection, _source_object| {
    ///     let connection = connection.clone();
    ///     glib::spawn_future_local(async move {
    ///         let _ = connection.output_stream().write_all_future(b"hello\n", glib::Priority::DEFAULT).await;
    ///     });
    ///     false
    /// });
    /// glib::MainLoop::new(None, false).run();
    /// # Ok::<(), glib::Error>(())
    /// ```
    ///
    /// GObject type: `UsherSocketService`.
    #[doc(alias = "UsherSocketService")]
    pub struct SocketService(ObjectSubclass<imp::SocketService>)
        @extends crate::subclass::SocketListenerBase, gio::SocketListener;
}

impl SocketService {
    /// No service, for the `Option<&impl IsA<SocketService>>` arguments of generic code.
    pub const NONE: Option<&'static SocketService> = None;

    /// The credentials of the process at the other end of `connection`, a Unix-domain
    /// connection: those the service checked at its accept (`allowed-users`,
    /// `allowed-groups`, `accept-credentials`), or, if it did not, those the socket gives now
    /// (`g_socket_get_credentials()`). Fails for a connection without credentials (TCP).
    #[doc(alias = "usher_socket_service_get_peer_credentials")]
    pub fn peer_credentials(
        connection: &impl IsA<gio::SocketConnection>,
    ) -> Result<gio::Credentials, glib::Error> {
        let connection = connection.as_ref();
        if let Some(credentials) = crate::engine::checked_credentials(connection) {
            return Ok(credentials);
        }
        let socket = connection.socket();
        // Linux answers SO_PEERCRED on a TCP socket too, with no user (uid -1): not credentials.
        if socket.family() != gio::SocketFamily::Unix {
            return Err(glib::Error::new(
                gio::IOErrorEnum::NotSupported,
                "Only a Unix-domain connection has its peer's process credentials",
            ));
        }
        socket.credentials()
    }

    /// The listening socket `connection` came through, if a service handed it out and knows
    /// (it does not for one accepted through the listener, after the listener's
    /// `add_socket()`). Its settings are [`SocketSettings::for_connection()`].
    #[doc(alias = "usher_socket_service_get_listening_socket")]
    pub fn listening_socket(connection: &impl IsA<gio::SocketConnection>) -> Option<gio::Socket> {
        SocketSettings::listening_socket_of(connection)
    }

    /// Creates a new, active service with no sockets.
    #[doc(alias = "usher_socket_service_new")]
    pub fn new() -> SocketService {
        glib::Object::new()
    }
}

impl Default for SocketService {
    fn default() -> Self {
        Self::new()
    }
}

/// The methods of [`SocketService`] and its subclasses. The properties' accessors are in
/// [`SocketServicePropertiesExt`]; both are in [`prelude`](crate::prelude).
pub trait SocketServiceExt: IsA<SocketService> + 'static {
    /// Starts accepting connections again after [`stop`](Self::stop). Safe from any thread.
    ///
    /// New services are already active. A stopped service started from a thread that pushed a
    /// thread-default context of its own accepts on that context from then on, as GLib's does;
    /// from any other thread, it accepts where it did (see [which context
    /// accepts](SocketService#which-context-accepts)). A service whose listener was closed
    /// (`close()`, a shutdown) can never accept again: it stays inactive.
    #[doc(alias = "usher_socket_service_start")]
    fn start(&self) {
        Engine::set_active(self.upcast_ref::<SocketService>(), true)
    }

    /// Stops accepting connections. Safe from any thread.
    ///
    /// Clients that connect meanwhile wait in the kernel's backlog and are accepted after
    /// [`start`](Self::start). The listening sockets stay open; close them with the listener's
    /// `close()`, or use [`shutdown_future`](Self::shutdown_future).
    #[doc(alias = "usher_socket_service_stop")]
    fn stop(&self) {
        Engine::set_active(self.upcast_ref::<SocketService>(), false)
    }

    /// Whether the service accepts connections (the `active` property). Safe from any thread.
    ///
    /// This is what the application asked for: a service that waits for a free thread, a free
    /// connection slot or free file descriptors stays active meanwhile.
    #[doc(alias = "usher_socket_service_is_active")]
    fn is_active(&self) -> bool {
        self.as_ref().imp().is_active()
    }

    /// Shuts the service down gracefully: stops accepting, closes the listening sockets so
    /// that the ports are free at once, and serves every client it has already accepted: a
    /// connection in its PROXY protocol header, its ClientHello or its TLS handshake goes on
    /// through them (within their own timeouts) to `incoming`, and clients taken off a
    /// socket's backlog and not yet handed out (after a [`stop`](Self::stop), say) are handed
    /// out in a later iteration of the service's context. Then calls `callback`, on this
    /// thread's thread-default context, once all of those were handed out and every live
    /// connection is closed (for a [`ThreadedSocketService`](crate::ThreadedSocketService),
    /// once every `run` handler has returned, too).
    ///
    /// Cancelling `cancellable` ends the wait with [`gio::IOErrorEnum::Cancelled`]; the
    /// connections stay open and the ports closed. A `cancellable` already cancelled leaves
    /// the service as it is. To bound the wait, call
    /// [`close_connections`](Self::close_connections) after a deadline of your choosing.
    ///
    /// # Panics
    /// Like gio's asynchronous methods, if this thread does not own its thread-default
    /// context.
    #[doc(alias = "usher_socket_service_shutdown_async")]
    fn shutdown_async<P: FnOnce(Result<(), glib::Error>) + 'static>(
        &self,
        cancellable: Option<&impl IsA<gio::Cancellable>>,
        callback: P,
    ) {
        let cancellable = cancellable.map(|cancellable| cancellable.as_ref().clone());
        let shutdown = match &cancellable {
            Some(cancellable) if cancellable.is_cancelled() => None,
            _ => Some(self.shutdown_future()),
        };
        glib::MainContext::ref_thread_default().spawn_local(async move {
            let cancelled = || {
                Err(glib::Error::new(
                    gio::IOErrorEnum::Cancelled,
                    "Operation was cancelled",
                ))
            };
            let result = match (shutdown, cancellable) {
                (None, _) => cancelled(),
                (Some(shutdown), None) => shutdown.await,
                (Some(shutdown), Some(cancellable)) => {
                    gio::CancellableFuture::new(shutdown, cancellable)
                        .await
                        .unwrap_or_else(|_| cancelled())
                }
            };
            callback(result)
        });
    }

    /// Shuts the service down gracefully, at once, as
    /// [`shutdown_async`](Self::shutdown_async) does (serving every client already accepted),
    /// and returns a future that completes once all of those were handed out and every live
    /// connection is closed. Dropping the future stops waiting, not the shutdown: the service
    /// keeps itself alive until it has handed those clients out, whoever else lets go of it.
    ///
    /// ```no_run
    /// # use usher::prelude::*;
    /// # async fn example(service: usher::SocketService) -> Result<(), glib::Error> {
    /// // Let the connections finish for up to 10 s, then close the rest.
    /// let deadline = std::time::Duration::from_secs(10);
    /// if glib::future_with_timeout(deadline, service.shutdown_future()).await.is_err() {
    ///     service.close_connections();
    ///     service.shutdown_future().await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    fn shutdown_future(
        &self,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<(), glib::Error>> + 'static>> {
        let (done, drained) = futures_channel::oneshot::channel();
        Engine::shutdown(
            self.upcast_ref::<SocketService>(),
            Box::new(move || {
                let _ = done.send(());
            }),
        );
        // A service gone before its connections were all closed has nothing left to wait for.
        Box::pin(async move {
            let _ = drained.await;
            Ok(())
        })
    }

    /// Shuts down, in both directions, every live connection the service handed out (or has in
    /// its TLS handshake; those still in their PROXY protocol header or ClientHello are closed,
    /// and so are the clients a shutdown has still to hand out): peers see the end of the
    /// stream, reads in progress end, writes fail. None of them is handed out afterwards.
    /// The service stops counting them, so a pending shutdown completes (once `run` handlers
    /// return, for a threaded service). Each connection releases its descriptor when its owner
    /// closes or drops it. Safe from any thread: it happens at once on a thread that runs the
    /// service's context (in a handler, say), otherwise in the context's next iteration, where
    /// the connections are closed, so that no socket is shut down after its owner closed it and
    /// its descriptor went to another connection.
    #[doc(alias = "usher_socket_service_close_connections")]
    fn close_connections(&self) {
        self.as_ref().imp().engine.close_connections()
    }

    /// Listens on `address` with a TCP socket that shares its port with other sockets that have
    /// `SO_REUSEPORT` set, and returns the address it is bound to (with the port chosen, if
    /// `address` had port 0).
    ///
    /// This is how to spread a port's connections over several cores: run one service per
    /// thread, each created on its own [`glib::MainContext`], and add the same address to each;
    /// the kernel balances new connections between them. The listener's `event` signal is
    /// emitted as for [`add_address`](gio::prelude::SocketListenerExt::add_address).
    /// See `examples/reuse_port.rs`.
    #[doc(alias = "usher_socket_service_add_reuse_port_address")]
    fn add_reuse_port_address(
        &self,
        address: &impl IsA<gio::SocketAddress>,
        source_object: Option<&impl IsA<glib::Object>>,
    ) -> Result<gio::SocketAddress, glib::Error> {
        let service = self.as_ref();
        let socket = own_socket::listen_reuse_port(service, address.as_ref())?;
        let effective = socket.local_address()?;
        service.imp().add_own_socket(
            &socket,
            source_object.map(|object| object.as_ref()),
            Adding::default(),
        )?;
        Ok(effective)
    }

    /// Adds the listening sockets passed to this process by systemd socket activation (or any
    /// launcher that follows the `sd_listen_fds(3)` protocol, such as `systemd-socket-activate`),
    /// and returns how many it added: 0, and no error, when the process was not
    /// socket-activated.
    ///
    /// `source_object_for` is called with each socket's name (from `LISTEN_FDNAMES`, the
    /// `FileDescriptorName=` of the `.socket` unit; `"unknown"` if unnamed) and returns the
    /// `source_object` to tag it with, so that `incoming` handlers can tell the sockets apart.
    ///
    /// Like `sd_listen_fds(3)`, it checks `LISTEN_PID`, and the sockets it adopts are
    /// close-on-exec, so that child processes do not inherit them. It leaves the variables
    /// alone: unsetting them is unsound in Rust while another thread may read the environment,
    /// and a child that inherits them ignores them, as `LISTEN_PID` names another process. (The
    /// C function unsets them, as `sd_listen_fds(1)` does.) Stream sockets of any family work,
    /// Unix-domain ones included. A second call adds nothing.
    ///
    /// The variables are untrusted input. It fails, adopting nothing and leaving every
    /// descriptor and variable as it was, when `LISTEN_FDS` is not a count of descriptors, when
    /// a passed descriptor is not a listening stream socket
    /// ([`gio::IOErrorEnum::NotSupported`]; it looks at each in turn and stops at the first),
    /// when `LISTEN_FDNAMES` has another number of names than `LISTEN_FDS` or a name systemd
    /// would not take (as [`SocketSettings`'s `name`](crate::SocketSettings#name);
    /// [`gio::IOErrorEnum::InvalidData`]), or when the listener is closed, by
    /// `source_object_for` too ([`gio::IOErrorEnum::Closed`]).
    ///
    /// ```no_run
    /// use glib::prelude::*;
    /// use usher::prelude::*;
    ///
    /// // A unit with `FileDescriptorName=web` and one with `FileDescriptorName=admin`.
    /// let web = glib::Object::with_type(glib::Object::static_type());
    /// let admin = glib::Object::with_type(glib::Object::static_type());
    /// let service = usher::SocketService::new();
    /// let added = service.add_activated_sockets(|name| match name {
    ///     "web" => Some(web.clone()),
    ///     "admin" => Some(admin.clone()),
    ///     _ => None,
    /// })?;
    /// if added == 0 {
    ///     eprintln!("not socket-activated");
    /// }
    /// service.connect_incoming(move |_, _connection, source_object| {
    ///     let is_admin = source_object == Some(&admin);
    ///     false
    /// });
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "usher_socket_service_add_activated_sockets")]
    fn add_activated_sockets(
        &self,
        source_object_for: impl FnMut(&str) -> Option<glib::Object>,
    ) -> Result<u32, glib::Error> {
        let service = self.as_ref();
        let Some(passed) = activation::passed()? else {
            return Ok(0);
        };
        // What can fail comes before anything is adopted: the passed descriptors stay as they
        // are until the service has its duplicates.
        if !Engine::takes_sockets(service) {
            return Err(listener_closed());
        }
        let sockets = passed
            .sockets()
            .map(|(fd, name)| {
                let socket = gio::Socket::from_fd(activation::Passed::duplicate(fd)?)?;
                let adding = Adding {
                    name: Some(name.to_owned()),
                    activated: true,
                    ..Adding::default()
                };
                Ok((socket, adding))
            })
            .collect::<Result<Vec<_>, glib::Error>>()?;
        let added = adopt(service, sockets, source_object_for)?;
        passed.adopted();
        Ok(added)
    }

    /// Sends the service's listening sockets to systemd's file descriptor store, so that the
    /// next instance of the unit gets them back, with
    /// [`add_activated_sockets()`](Self::add_activated_sockets), and no client is refused
    /// while the service restarts: systemd holds the sockets meanwhile, and clients wait in
    /// their backlogs. Returns how many it sent.
    ///
    /// Each socket goes to `$NOTIFY_SOCKET` (a path, or an abstract name after `@`) in a
    /// message of its own, as `sd_pid_notify_with_fds(3)` sends it: `FDSTORE=1` and
    /// `FDNAME=` its name, which is the one it was passed with, else its settings'
    /// [`name`](crate::SocketSettings#name), else `"unknown"`; the next instance gets it as
    /// `LISTEN_FDNAMES`. The sockets systemd passed (through `LISTEN_FDS`) are not sent: it
    /// holds them already. A Unix socket file the service made is systemd's from then on: the
    /// service no longer removes it when it lets go of the socket, as the next instance
    /// serves it.
    ///
    /// The unit needs `FileDescriptorStoreMax=` (systemd drops stored descriptors beyond it,
    /// and reports that only in its own log) and a notify socket (`Type=notify`, or
    /// `NotifyAccess=`). Fails with [`gio::IOErrorEnum::NotFound`] when `NOTIFY_SOCKET` is not
    /// set, with the error of `connect()` when nothing listens there, and with the error of
    /// `sendmsg()` (`EPERM`, `EAGAIN`, …) when systemd refuses a socket; the sockets sent
    /// before it stay stored.
    ///
    /// ```no_run
    /// use usher::prelude::*;
    ///
    /// // In the unit: Type=notify, FileDescriptorStoreMax=4.
    /// let service = usher::SocketService::new();
    /// let tag: glib::Object = glib::Object::new();
    /// if service.add_activated_sockets(|_name| Some(tag.clone()))? == 0 {
    ///     // The first start: the sockets are made here, and stored for the next ones.
    ///     let settings = usher::SocketSettings::new();
    ///     settings.set_name(Some("web"));
    ///     service.add_inet_port_with_settings(8080, Some(&tag), Some(&settings))?;
    ///     service.store_sockets()?;
    /// }
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "usher_socket_service_store_sockets")]
    fn store_sockets(&self) -> Result<u32, glib::Error> {
        fd_store::store(self.as_ref())
    }

    /// Hands the service's listening sockets over to its successor, a process of the same
    /// user that calls [`take_over()`](Self::take_over) with `address`, and calls `callback`,
    /// on this thread's thread-default context, with how many once the successor accepts on
    /// them; then shut this service down with [`shutdown_async()`](Self::shutdown_async), and
    /// no client is refused. See [`hand_over_future()`](Self::hand_over_future).
    ///
    /// Cancelling `cancellable` ends the wait with [`gio::IOErrorEnum::Cancelled`].
    ///
    /// # Panics
    /// Like gio's asynchronous methods, if this thread does not own its thread-default
    /// context.
    #[doc(alias = "usher_socket_service_hand_over_async")]
    fn hand_over_async<P: FnOnce(Result<u32, glib::Error>) + 'static>(
        &self,
        address: &impl IsA<gio::SocketAddress>,
        cancellable: Option<&impl IsA<gio::Cancellable>>,
        callback: P,
    ) {
        let cancellable = cancellable.map(|cancellable| cancellable.as_ref().clone());
        let handover = self.hand_over_future(address);
        glib::MainContext::ref_thread_default().spawn_local(async move {
            let result = match cancellable {
                None => handover.await,
                Some(cancellable) => gio::CancellableFuture::new(handover, cancellable)
                    .await
                    .unwrap_or_else(|_| {
                        Err(glib::Error::new(
                            gio::IOErrorEnum::Cancelled,
                            "Operation was cancelled",
                        ))
                    }),
            };
            callback(result)
        });
    }

    /// Hands the service's listening sockets over to its successor, and completes with how
    /// many once the successor accepts on them. This is how to restart (upgrade, reload the
    /// configuration) without systemd and without refusing a client; see `examples/restart.rs`.
    ///
    /// It listens on `address`, a Unix socket address at a path (removed when done; made as
    /// [`add_address_with_settings()`](Self::add_address_with_settings) makes one: a stale
    /// socket file, left by a predecessor killed mid-handover, is replaced, a path where a
    /// server answers refused with [`gio::IOErrorEnum::AddressInUse`], a file that is not a
    /// socket never touched) or an abstract name, for the successor's
    /// [`take_over()`](Self::take_over), at once: start the successor once this returns. A
    /// process of another user that connects gets nothing (it is refused with a warning,
    /// `SO_PEERCRED` tells its user) and the wait goes on. To the first
    /// process of this user it sends the service's listening sockets (those it accepts on
    /// itself: all but those given to the listener's `add_socket()`), with their names (the
    /// one a socket was passed with, else its settings' [`name`](crate::SocketSettings#name),
    /// else `"unknown"`), from which the successor tags them, and the Unix socket files the
    /// service made, which are the successor's from then on.
    ///
    /// The service goes on accepting meanwhile: the kernel's backlog of each socket is shared
    /// by both processes, and each client in it is accepted by exactly one of them. The future
    /// completes once the successor has adopted the sockets and runs its main context, where
    /// it accepts; then shut this service down gracefully
    /// ([`shutdown_future()`](Self::shutdown_future), with a deadline of your choosing before
    /// [`close_connections()`](Self::close_connections)): it stops accepting and lets its
    /// connections finish, those still in their PROXY protocol header or TLS handshake
    /// included. It fails, and the service serves on as it did, when the successor
    /// refuses the sockets ([`gio::IOErrorEnum::Failed`], saying why) or goes away before it
    /// is ready ([`gio::IOErrorEnum::BrokenPipe`]), or when the service has no socket to hand
    /// over ([`gio::IOErrorEnum::NotFound`]). It waits for a successor as long as it takes:
    /// drop the future (or cancel [`hand_over_async()`](Self::hand_over_async)) once the
    /// successor has exited, or after a deadline.
    ///
    /// ```no_run
    /// use usher::prelude::*;
    ///
    /// # async fn restart(service: usher::SocketService) -> Result<(), Box<dyn std::error::Error>> {
    /// let address = gio::UnixSocketAddress::with_type(gio::prelude::UnixSocketAddressPath::Abstract(
    ///     format!("my-server-handover-{}", std::process::id()).as_bytes(),
    /// ));
    /// let handover = service.hand_over_future(&address);
    /// // The successor calls take_over() with the same address.
    /// let successor = std::process::Command::new(std::env::current_exe()?)
    ///     .arg("--take-over")
    ///     .arg(format!("my-server-handover-{}", std::process::id()))
    ///     .spawn()?;
    /// handover.await?;
    /// let deadline = std::time::Duration::from_secs(10);
    /// if glib::future_with_timeout(deadline, service.shutdown_future()).await.is_err() {
    ///     service.close_connections();
    /// }
    /// # drop(successor);
    /// # Ok(())
    /// # }
    /// ```
    fn hand_over_future(
        &self,
        address: &impl IsA<gio::SocketAddress>,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<u32, glib::Error>> + 'static>> {
        let service = self.upcast_ref::<SocketService>().clone();
        // Listening now: the successor may start as soon as this returns.
        let rendezvous = handover::rendezvous(&service, address.as_ref());
        Box::pin(handover::hand_over(service, rendezvous))
    }

    /// Takes over the listening sockets of the predecessor that hands them over at `address`
    /// ([`hand_over_future()`](Self::hand_over_future)), and returns how many it added.
    ///
    /// `source_object_for` is called with each socket's name and returns the `source_object`
    /// to tag it with, as for [`add_activated_sockets()`](Self::add_activated_sockets); the
    /// names also choose the settings given with
    /// [`set_named_socket_settings()`](Self::set_named_socket_settings). The sockets are
    /// served as the service's own, and a Unix socket file the predecessor made is the
    /// service's from then on. In the first iteration of the service's context, where it
    /// accepts, it tells the predecessor, which then stops accepting.
    ///
    /// It blocks until the predecessor's message is there (at most 10 seconds), or
    /// `cancellable` is cancelled. The message is untrusted input, checked as `LISTEN_FDS`
    /// is: the predecessor must run as this process's user (`SO_PEERCRED`;
    /// [`gio::IOErrorEnum::PermissionDenied`] otherwise), and the message must be well formed,
    /// with one descriptor per name and at most 64 ([`gio::IOErrorEnum::InvalidData`]), each
    /// a listening stream socket ([`gio::IOErrorEnum::NotSupported`]); the listener must not
    /// be closed, by `source_object_for` either ([`gio::IOErrorEnum::Closed`]). On any error
    /// nothing is adopted, every descriptor received is closed, and the predecessor is told why
    /// and serves on. A socket the service serves already is not added twice.
    ///
    /// ```no_run
    /// use usher::prelude::*;
    ///
    /// let service = usher::SocketService::new();
    /// let web: glib::Object = glib::Object::new();
    /// let address = gio::UnixSocketAddress::with_type(gio::prelude::UnixSocketAddressPath::Abstract(
    ///     b"my-server-handover-1234",
    /// ));
    /// let added = service.take_over(
    ///     &address,
    ///     |name| (name == "web").then(|| web.clone()),
    ///     gio::Cancellable::NONE,
    /// )?;
    /// println!("took over {added} sockets");
    /// glib::MainLoop::new(None, false).run();
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "usher_socket_service_take_over")]
    fn take_over(
        &self,
        address: &impl IsA<gio::SocketAddress>,
        source_object_for: impl FnMut(&str) -> Option<glib::Object>,
        cancellable: Option<&impl IsA<gio::Cancellable>>,
    ) -> Result<u32, glib::Error> {
        handover::take_over(
            self.upcast_ref::<SocketService>(),
            address.as_ref(),
            source_object_for,
            cancellable.map(|cancellable| cancellable.as_ref()),
        )
    }

    /// Listens on `address`, as the listener's
    /// [`add_address()`](gio::prelude::SocketListenerExt::add_address) does, and serves the
    /// socket with `settings` (`None`: the service's own,
    /// [`socket_settings()`](SocketServicePropertiesExt::socket_settings)). Returns the address
    /// it is bound to.
    ///
    /// A [`gio::UnixSocketAddress`] path is made right: where a server answers, it fails with
    /// [`gio::IOErrorEnum::AddressInUse`] (to tell, it connects to the path once: the server
    /// sees a client that hangs up at once); a stale socket file is replaced, a file that is
    /// not a socket never touched; the file gets the settings' `unix-mode`, `unix-owner` and
    /// `unix-group` before any client can connect, and is removed with the socket if it is
    /// still the one bound.
    ///
    /// ```no_run
    /// use gio::prelude::*;
    /// use usher::prelude::*;
    ///
    /// // A port behind HAProxy, which sends a PROXY protocol header, and a direct one.
    /// let service = usher::SocketService::new();
    /// let behind_haproxy = usher::SocketSettings::new();
    /// behind_haproxy.try_set_proxy_protocol_peers(&["10.0.0.2"])?;
    /// let any = gio::InetSocketAddress::new(&gio::InetAddress::new_any(gio::SocketFamily::Ipv6), 8080);
    /// service.add_address_with_settings(
    ///     &any,
    ///     gio::SocketType::Stream,
    ///     gio::SocketProtocol::Tcp,
    ///     None::<&glib::Object>,
    ///     Some(&behind_haproxy),
    /// )?;
    /// service.add_inet_port(8081, None::<&glib::Object>)?;
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "usher_socket_service_add_address_full")]
    fn add_address_with_settings(
        &self,
        address: &impl IsA<gio::SocketAddress>,
        type_: gio::SocketType,
        protocol: gio::SocketProtocol,
        source_object: Option<&impl IsA<glib::Object>>,
        settings: Option<&SocketSettings>,
    ) -> Result<gio::SocketAddress, glib::Error> {
        let service = self.upcast_ref::<SocketService>();
        if let Some(unix) = address.as_ref().downcast_ref::<gio::UnixSocketAddress>()
            && matches!(
                unix.path(),
                Some(gio::prelude::UnixSocketAddressPath::Path(_))
            )
            && type_ == gio::SocketType::Stream
        {
            let resolved = service.engine().resolve(settings);
            let (socket, unix_file) = own_socket::listen_unix_path(service, unix, &resolved.unix)?;
            let effective = socket.local_address()?;
            let adding = Adding {
                unix_file: Some(unix_file.clone()),
                ..adding(settings)
            };
            let added = service.imp().add_own_socket(
                &socket,
                source_object.map(|object| object.as_ref()),
                adding,
            );
            if added.is_err() {
                unix_file.remove_if_ours();
            }
            return added.map(|()| effective);
        }
        service.engine().adding(adding(settings), || {
            service.add_address(address, type_, protocol, source_object)
        })
    }

    /// Listens on TCP port `port` of every address, as the listener's
    /// [`add_inet_port()`](gio::prelude::SocketListenerExt::add_inet_port) does, and serves
    /// the sockets with `settings` (`None`: the service's own).
    #[doc(alias = "usher_socket_service_add_inet_port_full")]
    fn add_inet_port_with_settings(
        &self,
        port: u16,
        source_object: Option<&impl IsA<glib::Object>>,
        settings: Option<&SocketSettings>,
    ) -> Result<(), glib::Error> {
        let service = self.upcast_ref::<SocketService>();
        service.engine().adding(adding(settings), || {
            service.add_inet_port(port, source_object)
        })
    }

    /// Listens on a TCP port the system chooses, of every address, as the listener's
    /// [`add_any_inet_port()`](gio::prelude::SocketListenerExt::add_any_inet_port) does, and
    /// serves the sockets with `settings` (`None`: the service's own). Returns the port.
    #[doc(alias = "usher_socket_service_add_any_inet_port_full")]
    fn add_any_inet_port_with_settings(
        &self,
        source_object: Option<&impl IsA<glib::Object>>,
        settings: Option<&SocketSettings>,
    ) -> Result<u16, glib::Error> {
        let service = self.upcast_ref::<SocketService>();
        service.engine().adding(adding(settings), || {
            service.add_any_inet_port(source_object)
        })
    }

    /// Adds `socket`, a listening socket, as the listener's
    /// [`add_socket()`](gio::prelude::SocketListenerExt::add_socket) does, and serves it
    /// with `settings` (`None`: the service's own). Unlike a socket given to `add_socket()`,
    /// which the service accepts on through the listener, one at a time, it is served as the
    /// service's own sockets are.
    #[doc(alias = "usher_socket_service_add_socket_full")]
    fn add_socket_with_settings(
        &self,
        socket: &impl IsA<gio::Socket>,
        source_object: Option<&impl IsA<glib::Object>>,
        settings: Option<&SocketSettings>,
    ) -> Result<(), glib::Error> {
        self.as_ref().imp().add_own_socket(
            socket.as_ref(),
            source_object.map(|object| object.as_ref()),
            adding(settings),
        )
    }

    /// Serves the listening `socket` with `settings` from now on (`None`: the service's own):
    /// the connections accepted from then on. Fails with [`gio::IOErrorEnum::NotFound`] if
    /// `socket` is not one the service accepts on itself: one that came through the
    /// listener's `add_socket()` (use
    /// [`add_socket_with_settings()`](Self::add_socket_with_settings)), or of another service.
    /// A connection's listening socket is [`SocketService::listening_socket()`]; the listener's
    /// `event` signal gives each one as it is made.
    #[doc(alias = "usher_socket_service_set_socket_settings")]
    fn set_socket_settings(
        &self,
        socket: &impl IsA<gio::Socket>,
        settings: Option<&SocketSettings>,
    ) -> Result<(), glib::Error> {
        self.as_ref()
            .engine()
            .set_socket_settings(socket.as_ref(), settings)
    }

    /// Serves the listening sockets named `name` with `settings` (`None`: the service's own),
    /// those added already and those added later: the sockets passed to the process with that
    /// name ([`add_activated_sockets()`](Self::add_activated_sockets), `LISTEN_FDNAMES`).
    ///
    /// ```no_run
    /// use gio::prelude::*;
    /// use usher::prelude::*;
    ///
    /// # fn certificate() -> gio::TlsCertificate { unimplemented!() }
    /// // A unit with `FileDescriptorName=https` and one with `FileDescriptorName=http`.
    /// let service = usher::SocketService::new();
    /// let https = usher::SocketSettings::new();
    /// https.set_tls_certificate(Some(&certificate()));
    /// service.set_named_socket_settings("https", Some(&https));
    /// service.add_activated_sockets(|_name| None)?;
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "usher_socket_service_set_named_socket_settings")]
    fn set_named_socket_settings(&self, name: &str, settings: Option<&SocketSettings>) {
        self.as_ref().engine().set_named_settings(name, settings)
    }

    /// How many connections the service refused for `reason` since it was created (for
    /// [`Refusal::MaxConnections`](crate::Refusal::MaxConnections) and
    /// [`Refusal::Overload`](crate::Refusal::Overload), how many times it paused
    /// accepting). Every refusal is also reported with `refused` and `accept-error`.
    #[doc(alias = "usher_socket_service_get_n_refused")]
    fn n_refused(&self, reason: Refusal) -> u64 {
        self.as_ref().engine().n_refused(reason)
    }

    /// Connects to `refused`, emitted on the service's context for every connection refused
    /// after its accept, with its peer's address (`None` for a peer without one, Unix-domain),
    /// the reason, and the error `accept-error` reports it with too. The refusals are counted
    /// per reason ([`n_refused()`](Self::n_refused)); nothing is made for the signal while no
    /// handler is connected.
    #[doc(alias = "refused")]
    fn connect_refused<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, Option<&gio::InetAddress>, Refusal, &glib::Error) + 'static,
    {
        self.connect_local("refused", false, move |args| {
            let service = args[0].get::<&SocketService>().ok()?;
            let peer = args[1].get::<Option<gio::InetAddress>>().ok()?;
            let reason = args[2].get::<Refusal>().ok()?;
            let error = args[3].get::<&glib::Error>().ok()?;
            if let Some(service) = service.downcast_ref::<Self>() {
                f(service, peer.as_ref(), reason, error);
            }
            None
        })
    }

    /// Sets `proxy-protocol-peers`, the load balancers trusted to send a PROXY protocol
    /// header, from addresses and CIDR ranges (`"127.0.0.1"`, `"10.0.0.0/8"`, `"fd00::/8"`),
    /// as read from a configuration file; an empty list turns the PROXY protocol off. Fails
    /// with [`gio::IOErrorEnum::InvalidArgument`], saying which entry is wrong and how, and
    /// leaves the list as it was, if an entry is neither an address nor a range (or a range
    /// with bits set beyond its prefix, such as `10.1.2.3/8`).
    ///
    /// ```
    /// use usher::prelude::*;
    ///
    /// let service = usher::SocketService::new();
    /// service.try_set_proxy_protocol_peers(&["127.0.0.1", "10.0.0.0/8"])?;
    /// assert!(service.try_set_proxy_protocol_peers(&["10.1.2.3/8"]).is_err());
    /// assert_eq!(service.proxy_protocol_peers().as_slice(), ["127.0.0.1", "10.0.0.0/8"]);
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "usher_socket_service_try_set_proxy_protocol_peers")]
    fn try_set_proxy_protocol_peers<S: AsRef<str>>(&self, peers: &[S]) -> Result<(), glib::Error> {
        self.as_ref()
            .socket_settings()
            .try_set_proxy_protocol_peers(peers)
    }

    /// The connections the service hands out from now on, as a
    /// [`Stream`](futures_core::Stream), to read with `while let Some(..) = stream.next().await`
    /// in a future on the service's context. See [`IncomingStream`].
    fn incoming_stream(&self) -> IncomingStream {
        IncomingStream::new(self.as_ref())
    }

    /// A handle that starts and stops this service from any thread.
    fn handle(&self) -> SocketServiceHandle {
        SocketServiceHandle(SendWeak::new(self.as_ref()))
    }

    /// Connects to `incoming`, emitted on the service's context for each new connection.
    ///
    /// The handler must start handling `connection` and return at once; keep a reference to the
    /// connection to use it later, as the service drops its own when the signal returns.
    /// `source_object` is the object given to the listener's `add_*()` call for the socket the
    /// connection came in on. Return `true` to stop the handlers after this one, the class
    /// handler included.
    ///
    /// With `tls-certificate` set, the connection has completed its TLS handshake: it is a
    /// [`gio::TcpWrapperConnection`] whose
    /// [`base_io_stream`](gio::prelude::TcpWrapperConnectionExt::base_io_stream) is the
    /// [`gio::TlsServerConnection`].
    #[doc(alias = "incoming")]
    fn connect_incoming<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, &gio::SocketConnection, Option<&glib::Object>) -> bool + 'static,
    {
        // Not `Send`: called on this thread only, as glib-rs's `connect_local()` would.
        let f = glib::thread_guard::ThreadGuard::new(f);
        connect_connection_handler::<SocketService, Self>(
            self,
            imp::incoming_signal(),
            move |service, connection, source| (f.get_ref())(service, connection, source),
        )
    }

    /// Connects to `accept-error`, emitted on the service's context for every failed accept
    /// but cancellations, every failed TLS handshake and every refused client (at
    /// `max-connections-per-peer`, by an admission check, for its credentials, its PROXY
    /// protocol header or its ClientHello), after `refused`, which says why with a
    /// [`Refusal`](crate::Refusal). The service keeps serving: it retries at once after a
    /// transient error and after a short, growing pause when out of resources (file
    /// descriptors, memory).
    ///
    /// While no handler is connected, the service logs a warning at most once a second.
    #[doc(alias = "accept-error")]
    fn connect_accept_error<F: Fn(&Self, &glib::Error) + 'static>(&self, f: F) -> SignalHandlerId {
        self.connect_local("accept-error", false, move |args| {
            if let Some((service, error)) = accept_error_args::<SocketService>(args)
                && let Some(service) = service.downcast_ref::<Self>()
            {
                f(service, error)
            }
            None
        })
    }

    /// Connects to `accept-certificate`, emitted on the service's context when a client
    /// presents a certificate the TLS backend could not verify against `tls-database` (or its
    /// default one), with what is wrong with it. Return `true` to accept it anyway; the
    /// handlers after one that returns `true` do not run. With no handler, or all returning
    /// `false`, the certificate is refused and the handshake fails.
    #[doc(alias = "accept-certificate")]
    fn connect_accept_certificate<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, &gio::TlsConnection, &gio::TlsCertificate, gio::TlsCertificateFlags) -> bool
            + 'static,
    {
        self.connect_local("accept-certificate", false, move |args| {
            let accepted = accept_certificate_args::<SocketService>(args).is_some_and(
                |(service, connection, certificate, errors)| {
                    service
                        .downcast_ref::<Self>()
                        .is_some_and(|service| f(service, connection, certificate, errors))
                },
            );
            Some(accepted.to_value())
        })
    }

    /// Connects to `accept-credentials`, emitted on the service's context for each connection
    /// on a Unix-domain socket, after its accept and before anything else (its PROXY header,
    /// its TLS handshake, `incoming`), with the credentials of the peer's process
    /// (`SO_PEERCRED`: its user, group and process ids). Return `false` to refuse the
    /// connection, which is closed and reported with `accept-error`
    /// ([`gio::IOErrorEnum::PermissionDenied`], naming the peer's uid and pid); every handler
    /// must return `true` for it to be served. It is emitted for the peers the socket's
    /// `allowed-users` and `allowed-groups` let in, and, once a handler is connected, costs
    /// one system call per connection.
    ///
    /// ```no_run
    /// use gio::prelude::*;
    /// use usher::prelude::*;
    ///
    /// let service = usher::SocketService::new();
    /// // Only processes of this user, or root.
    /// let me = gio::Credentials::new().unix_user()?;
    /// service.connect_accept_credentials(move |_, _connection, credentials| {
    ///     credentials.unix_user().is_ok_and(|uid| uid == me || uid == 0)
    /// });
    /// # Ok::<(), glib::Error>(())
    /// ```
    #[doc(alias = "accept-credentials")]
    fn connect_accept_credentials<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, &gio::SocketConnection, &gio::Credentials) -> bool + 'static,
    {
        self.connect_local("accept-credentials", false, move |args| {
            let accepted = connection_args::<SocketService, gio::Credentials>(args).is_some_and(
                |(service, connection, credentials)| {
                    service
                        .downcast_ref::<Self>()
                        .is_some_and(|service| f(service, connection, credentials))
                },
            );
            Some(accepted.to_value())
        })
    }

    /// Connects to `select-certificate`, emitted on the service's context for each TLS
    /// connection, before its handshake, with what its ClientHello asked for (the server name,
    /// the ALPN protocols offered): return the certificate to serve it with, or `None` for its
    /// socket's settings to choose (the name's certificate in `tls-certificate-names`, else
    /// `tls-certificate`). The first handler that returns a certificate ends the emission. For
    /// names learned at run time: a certificate made or fetched for a name, a cache of them.
    ///
    /// Once a handler is connected, the service reads the ClientHello of every TLS connection
    /// before its handshake, a peek at the bytes, which stay for the TLS library. The handler
    /// runs on the service's context and must not block; it decides on TLS sockets only (one
    /// with neither `tls-certificate` nor names serves plain TCP). The connection is the
    /// accepted one, before TLS (its `ProxyInfo` is there, if a balancer sent a header).
    ///
    /// ```no_run
    /// use usher::prelude::*;
    ///
    /// # fn certificate_for(_: &str) -> Option<gio::TlsCertificate> { None }
    /// let service = usher::SocketService::new();
    /// service.connect_select_certificate(|_, _connection, hello| {
    ///     hello.server_name().and_then(|name| certificate_for(&name))
    /// });
    /// ```
    #[doc(alias = "select-certificate")]
    fn connect_select_certificate<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, &gio::SocketConnection, &ClientHello) -> Option<gio::TlsCertificate> + 'static,
    {
        self.connect_local("select-certificate", false, move |args| {
            let certificate = connection_args::<SocketService, ClientHello>(args).and_then(
                |(service, connection, client_hello)| {
                    service
                        .downcast_ref::<Self>()
                        .and_then(|service| f(service, connection, client_hello))
                },
            );
            Some(certificate.to_value())
        })
    }
}

impl<O: IsA<SocketService>> SocketServiceExt for O {}

/// Adopts `sockets`, passed to the process, each tagged with the `source_object` that
/// `source_object_for` gives for its name, or none of them. A socket the service serves
/// already, or that came twice (systemd passes a socket of a `.socket` unit and the same socket
/// from its file descriptor store), is adopted once: the other descriptor is closed.
fn adopt(
    service: &SocketService,
    sockets: Vec<(gio::Socket, Adding)>,
    mut source_object_for: impl FnMut(&str) -> Option<glib::Object>,
) -> Result<u32, glib::Error> {
    let mut known: Vec<(u64, u64)> = service
        .engine()
        .served_sockets()
        .iter()
        .filter_map(|served| identity(&*served.socket))
        .collect();
    // All or nothing, and the listener cannot give a socket back: whatever can fail comes
    // before the first is added, the application's callback included (it may close the
    // service).
    let mut adopting = Vec::with_capacity(sockets.len());
    for (socket, adding) in sockets {
        if let Some(identity) = identity(&socket) {
            if known.contains(&identity) {
                crate::log::debug!("a socket passed twice: adopted once");
                continue;
            }
            known.push(identity);
        }
        let source_object = source_object_for(adding.name.as_deref().unwrap_or_default());
        adopting.push((socket, source_object, adding));
    }
    if !Engine::takes_sockets(service) {
        return Err(listener_closed());
    }
    let added = adopting.len() as u32;
    // From here, an add fails only if application code it runs (a `changed` override, a
    // notify handler) closes the listener, which closes the sockets added before too.
    for (socket, source_object, adding) in adopting {
        service
            .imp()
            .add_own_socket(&socket, source_object.as_ref(), adding)?;
    }
    Ok(added)
}

fn listener_closed() -> glib::Error {
    glib::Error::new(gio::IOErrorEnum::Closed, "Listener is already closed")
}

/// The device and inode numbers of the socket `descriptor` is open on: the same for every
/// descriptor of one socket, in any process.
fn identity(descriptor: impl std::os::fd::AsFd) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let copy = descriptor.as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(copy).metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

/// The sockets an `add_*_with_settings()` adds are served with `settings`.
fn adding(settings: Option<&SocketSettings>) -> Adding {
    Adding {
        settings: settings.cloned().map(crate::sys::SendObject::new),
        ..Adding::default()
    }
}

/// Starts and stops a [`SocketService`] from any thread.
///
/// GLib documents `start` and `stop` as thread-safe, but a [`SocketService`], like every
/// gio object, is neither `Send` nor `Sync`. This handle is both, and does only what is safe from
/// any thread. It does not keep the service alive: once the service is gone, it does nothing.
///
/// ```
/// use usher::prelude::*;
///
/// let service = usher::SocketService::new();
/// let handle = service.handle();
/// std::thread::spawn(move || handle.stop()).join().unwrap();
/// assert!(!service.is_active());
/// ```
#[derive(Clone)]
pub struct SocketServiceHandle(SendWeak<SocketService>);

impl SocketServiceHandle {
    /// Calls `f` with the service, if it is still there. The reference it takes meanwhile is
    /// let go of on the service's context: it may be the last one, and no call may finalize
    /// the service.
    fn with_service(&self, f: impl FnOnce(&SocketService)) {
        if let Some(service) = self.0.upgrade() {
            f(&service);
            service.engine().clone().release_on_context(service);
        }
    }

    /// [`SocketServiceExt::start`], from any thread.
    pub fn start(&self) {
        self.with_service(|service| service.start())
    }

    /// [`SocketServiceExt::stop`], from any thread.
    pub fn stop(&self) {
        self.with_service(|service| service.stop())
    }

    /// [`SocketServiceExt::is_active`], from any thread; `false` once the service is gone.
    pub fn is_active(&self) -> bool {
        let mut active = false;
        self.with_service(|service| active = service.is_active());
        active
    }
}

impl std::fmt::Debug for SocketServiceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut alive = false;
        self.with_service(|_| alive = true);
        f.debug_struct("SocketServiceHandle")
            .field("alive", &alive)
            .finish()
    }
}
