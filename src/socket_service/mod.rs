//! [`SocketService`]: GLib's `GSocketService`, re-implemented.

mod accept;
mod activation;
pub(crate) mod imp;
mod reuse_port;
mod shutdown;
mod state;
mod stream;

pub use stream::IncomingStream;

use std::pin::Pin;

use gio::prelude::{SocketExt, SocketListenerExt};
use glib::{prelude::*, signal::SignalHandlerId, subclass::prelude::*, translate::*};

glib::wrapper! {
    /// A service that accepts connections on the sockets of its [`gio::SocketListener`] and
    /// emits [`incoming`](SocketServiceExt::connect_incoming) for each, from the main loop.
    ///
    /// It behaves as GLib's [`gio::SocketService`], of which it is a re-implementation, and
    /// does more: it accepts every waiting connection per main-loop turn, never loses a client
    /// to `stop()`, always accepts on the thread-default [`glib::MainContext`] of the thread that
    /// created it, backs off instead of spinning when the process runs out of file descriptors,
    /// can cap its live connections, and can shut down gracefully.
    ///
    /// There are two ways to write a service, as with GLib: connect to `incoming`, or subclass
    /// and override [`SocketServiceImpl::incoming`](crate::subclass::prelude::SocketServiceImpl::incoming).
    /// Either way the handler must not block; see [`ThreadedSocketService`](crate::ThreadedSocketService)
    /// for handlers that do.
    ///
    /// A new service is active: it accepts as soon as a socket is added with the listener's
    /// `add_*()` methods and its context runs.
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

/// The methods of [`SocketService`] and its subclasses.
pub trait SocketServiceExt: IsA<SocketService> + 'static {
    /// Starts accepting connections again after [`stop`](Self::stop). Safe from any thread.
    ///
    /// New services are already active. Accepting happens on the context the service was
    /// created in, whichever thread calls this.
    #[doc(alias = "usher_socket_service_start")]
    fn start(&self) {
        self.as_ref().imp().set_active(true)
    }

    /// Stops accepting connections. Safe from any thread.
    ///
    /// Clients that connect meanwhile wait in the kernel's backlog and are accepted after
    /// [`start`](Self::start). The listening sockets stay open; close them with the listener's
    /// `close()`, or use [`shutdown_future`](Self::shutdown_future).
    #[doc(alias = "usher_socket_service_stop")]
    fn stop(&self) {
        self.as_ref().imp().set_active(false)
    }

    /// Whether the service accepts connections (the `active` property). Safe from any thread.
    ///
    /// This is what the application asked for: a service that waits for a free thread, a free
    /// connection slot or free file descriptors stays active meanwhile.
    #[doc(alias = "usher_socket_service_is_active")]
    #[doc(alias = "active")]
    fn is_active(&self) -> bool {
        self.as_ref().imp().is_active()
    }

    /// The `active` property; the same as [`is_active`](Self::is_active).
    fn active(&self) -> bool {
        self.is_active()
    }

    /// Sets the `active` property: [`start`](Self::start) or [`stop`](Self::stop).
    #[doc(alias = "active")]
    fn set_active(&self, active: bool) {
        self.as_ref().imp().set_active(active)
    }

    /// The most live connections before the service stops accepting, 0 for no limit (the
    /// `max-connections` property; default 0).
    ///
    /// At the limit, new clients wait in the kernel's backlog (they are neither accepted nor
    /// refused) until a connection closes. A connection counts from its `incoming` until it is
    /// closed or finalized.
    #[doc(alias = "usher_socket_service_get_max_connections")]
    #[doc(alias = "max-connections")]
    fn max_connections(&self) -> u32 {
        self.as_ref().property("max-connections")
    }

    /// Sets [`max_connections`](Self::max_connections). Safe from any thread.
    #[doc(alias = "usher_socket_service_set_max_connections")]
    #[doc(alias = "max-connections")]
    fn set_max_connections(&self, max_connections: u32) {
        self.as_ref().imp().set_max_connections(max_connections)
    }

    /// The connections handed out and not yet closed (the `n-connections` property).
    #[doc(alias = "usher_socket_service_get_n_connections")]
    #[doc(alias = "n-connections")]
    fn n_connections(&self) -> u32 {
        self.as_ref().property("n-connections")
    }

    /// The connections accepted since the service was created (the `n-accepted` property).
    #[doc(alias = "usher_socket_service_get_n_accepted")]
    #[doc(alias = "n-accepted")]
    fn n_accepted(&self) -> u64 {
        self.as_ref().property("n-accepted")
    }

    /// The accepts that failed since the service was created (the `n-accept-errors` property).
    #[doc(alias = "usher_socket_service_get_n_accept_errors")]
    #[doc(alias = "n-accept-errors")]
    fn n_accept_errors(&self) -> u64 {
        self.as_ref().property("n-accept-errors")
    }

    /// Shuts the service down gracefully: stops accepting, closes the listening sockets so
    /// that the ports are free at once, then calls `callback` once every live connection is
    /// closed (for a [`ThreadedSocketService`](crate::ThreadedSocketService), once every `run`
    /// handler has returned, too).
    ///
    /// Cancelling `cancellable` ends the wait with [`gio::IOErrorEnum::Cancelled`]; the
    /// connections stay open and the ports closed. To bound the wait, call
    /// [`close_connections`](Self::close_connections) after a deadline of your choosing.
    #[doc(alias = "usher_socket_service_shutdown_async")]
    fn shutdown_async<P: FnOnce(Result<(), glib::Error>) + 'static>(
        &self,
        cancellable: Option<&impl IsA<gio::Cancellable>>,
        callback: P,
    ) {
        let main_context = glib::MainContext::ref_thread_default();
        let is_main_context_owner = main_context.is_owner();
        let has_acquired_main_context = (!is_main_context_owner)
            .then(|| main_context.acquire().ok())
            .flatten();
        assert!(
            is_main_context_owner || has_acquired_main_context.is_some(),
            "Async operations only allowed if the thread is owning the MainContext"
        );

        unsafe extern "C" fn shutdown_trampoline<P: FnOnce(Result<(), glib::Error>) + 'static>(
            service: *mut glib::gobject_ffi::GObject,
            result: *mut gio::ffi::GAsyncResult,
            user_data: glib::ffi::gpointer,
        ) {
            unsafe {
                let service =
                    SocketService::from_glib_borrow(service as *mut crate::ffi::UsherSocketService);
                let result = service.imp().shutdown_finish(&from_glib_borrow(result));
                let callback: Box<glib::thread_guard::ThreadGuard<P>> =
                    Box::from_raw(user_data as *mut _);
                callback.into_inner()(result);
            }
        }
        let callback = Box::new(glib::thread_guard::ThreadGuard::new(callback));
        unsafe {
            self.as_ref().imp().shutdown_async(
                cancellable.map(|cancellable| cancellable.as_ref()),
                Some(shutdown_trampoline::<P>),
                Box::into_raw(callback) as glib::ffi::gpointer,
            )
        }
    }

    /// [`shutdown_async`](Self::shutdown_async) as a future; dropping it cancels the wait.
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
        Box::pin(gio::GioFuture::new(self, |service, cancellable, send| {
            service.shutdown_async(Some(cancellable), move |result| send.resolve(result));
        }))
    }

    /// Shuts down, in both directions, every live connection the service handed out: peers see
    /// the end of the stream, reads in progress end, writes fail. The service stops counting
    /// them at once, so a pending shutdown completes (once `run` handlers return, for a
    /// threaded service). Each connection releases its descriptor when its owner closes or
    /// drops it. Safe from any thread.
    #[doc(alias = "usher_socket_service_close_connections")]
    fn close_connections(&self) {
        self.as_ref().imp().close_connections()
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
        let listener = service.upcast_ref::<gio::SocketListener>();
        let socket = reuse_port::listen(listener, address.as_ref(), listener.listen_backlog())?;
        let effective = socket.local_address()?;
        service
            .imp()
            .add_own_socket(&socket, source_object.map(|object| object.as_ref()))?;
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
    /// Like `sd_listen_fds(1)`, it checks `LISTEN_PID`, marks the sockets close-on-exec and unsets
    /// `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`, so that child processes inherit neither
    /// the sockets nor the variables: call it early, before starting threads that might read the
    /// environment. Stream sockets of any family work, Unix-domain ones included. If a passed
    /// descriptor is not a listening socket, it fails with [`gio::IOErrorEnum::NotSupported`] and
    /// leaves the descriptors and the environment alone.
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
        mut source_object_for: impl FnMut(&str) -> Option<glib::Object>,
    ) -> Result<u32, glib::Error> {
        let mut added = 0;
        for passed in activation::take()? {
            let socket = gio::Socket::from_fd(passed.fd)?;
            let source_object = source_object_for(&passed.name);
            self.as_ref()
                .imp()
                .add_own_socket(&socket, source_object.as_ref())?;
            added += 1;
        }
        Ok(added)
    }

    /// The connections the service hands out from now on, as a
    /// [`Stream`](futures_core::Stream), to read with `while let Some(..) = stream.next().await`
    /// in a future on the service's context. See [`IncomingStream`].
    fn incoming_stream(&self) -> IncomingStream {
        IncomingStream::new(self.as_ref())
    }

    /// A handle that starts and stops this service from any thread.
    fn handle(&self) -> SocketServiceHandle {
        SocketServiceHandle(WeakService::new(self.as_ref()))
    }

    /// Connects to `incoming`, emitted on the service's context for each new connection.
    ///
    /// The handler must start handling `connection` and return at once; keep a reference to the
    /// connection to use it later, as the service drops its own when the signal returns.
    /// `source_object` is the object given to the listener's `add_*()` call for the socket the
    /// connection came in on. Return `true` to stop the handlers after this one, the class
    /// handler included.
    #[doc(alias = "incoming")]
    fn connect_incoming<F>(&self, f: F) -> SignalHandlerId
    where
        F: Fn(&Self, &gio::SocketConnection, Option<&glib::Object>) -> bool + 'static,
    {
        unsafe extern "C" fn incoming_trampoline<P, F>(
            this: *mut crate::ffi::UsherSocketService,
            connection: *mut gio::ffi::GSocketConnection,
            source_object: *mut glib::gobject_ffi::GObject,
            f: glib::ffi::gpointer,
        ) -> glib::ffi::gboolean
        where
            P: IsA<SocketService>,
            F: Fn(&P, &gio::SocketConnection, Option<&glib::Object>) -> bool + 'static,
        {
            unsafe {
                let f: &F = &*(f as *const F);
                let source_object = Option::<glib::Object>::from_glib_borrow(source_object);
                f(
                    SocketService::from_glib_borrow(this).unsafe_cast_ref(),
                    &from_glib_borrow(connection),
                    source_object.as_ref().as_ref(),
                )
                .into_glib()
            }
        }
        unsafe {
            connect_boxed(
                self.as_ptr() as *mut _,
                c"incoming",
                incoming_trampoline::<Self, F> as *const (),
                f,
            )
        }
    }

    /// Connects to `accept-error`, emitted on the service's context for every failed accept
    /// but cancellations. The service keeps serving: it retries at once after a transient error
    /// and after a short, growing pause when out of resources (file descriptors, memory).
    ///
    /// While no handler is connected, the service logs a warning at most once a second.
    #[doc(alias = "accept-error")]
    fn connect_accept_error<F: Fn(&Self, &glib::Error) + 'static>(&self, f: F) -> SignalHandlerId {
        unsafe extern "C" fn accept_error_trampoline<P, F>(
            this: *mut crate::ffi::UsherSocketService,
            error: *mut glib::ffi::GError,
            f: glib::ffi::gpointer,
        ) where
            P: IsA<SocketService>,
            F: Fn(&P, &glib::Error) + 'static,
        {
            unsafe {
                let f: &F = &*(f as *const F);
                f(
                    SocketService::from_glib_borrow(this).unsafe_cast_ref(),
                    &from_glib_borrow(error),
                )
            }
        }
        unsafe {
            connect_boxed(
                self.as_ptr() as *mut _,
                c"accept-error",
                accept_error_trampoline::<Self, F> as *const (),
                f,
            )
        }
    }

    /// Connects to `notify::max-connections`.
    #[doc(alias = "max-connections")]
    fn connect_max_connections_notify<F: Fn(&Self) + 'static>(&self, f: F) -> SignalHandlerId {
        unsafe { self.connect_notify_unsafe(Some("max-connections"), move |this, _| f(this)) }
    }

    /// Connects to `notify::n-connections`, emitted on the service's context.
    #[doc(alias = "n-connections")]
    fn connect_n_connections_notify<F: Fn(&Self) + 'static>(&self, f: F) -> SignalHandlerId {
        unsafe { self.connect_notify_unsafe(Some("n-connections"), move |this, _| f(this)) }
    }

    /// Connects to `notify::n-accepted`, emitted on the service's context.
    #[doc(alias = "n-accepted")]
    fn connect_n_accepted_notify<F: Fn(&Self) + 'static>(&self, f: F) -> SignalHandlerId {
        unsafe { self.connect_notify_unsafe(Some("n-accepted"), move |this, _| f(this)) }
    }

    /// Connects to `notify::n-accept-errors`, emitted on the service's context.
    #[doc(alias = "n-accept-errors")]
    fn connect_n_accept_errors_notify<F: Fn(&Self) + 'static>(&self, f: F) -> SignalHandlerId {
        unsafe { self.connect_notify_unsafe(Some("n-accept-errors"), move |this, _| f(this)) }
    }

    /// Connects to `notify::active`, emitted in the thread that changed it.
    #[doc(alias = "active")]
    fn connect_active_notify<F: Fn(&Self) + 'static>(&self, f: F) -> SignalHandlerId {
        unsafe { self.connect_notify_unsafe(Some("active"), move |this, _| f(this)) }
    }
}

impl<O: IsA<SocketService>> SocketServiceExt for O {}

/// Connects `f`, boxed, to `signal` through `trampoline`, as gio's generated code does.
///
/// # Safety
/// `trampoline` must be an `extern "C"` function with the signal's signature followed by the
/// `gpointer` that points to an `F`.
pub(crate) unsafe fn connect_boxed<F>(
    instance: *mut glib::gobject_ffi::GObject,
    signal: &std::ffi::CStr,
    trampoline: *const (),
    f: F,
) -> SignalHandlerId {
    unsafe extern "C" fn destroy<F>(
        data: glib::ffi::gpointer,
        _closure: *mut glib::gobject_ffi::GClosure,
    ) {
        unsafe { drop(Box::from_raw(data as *mut F)) }
    }
    unsafe {
        let handler = glib::gobject_ffi::g_signal_connect_data(
            instance,
            signal.as_ptr(),
            Some(std::mem::transmute::<*const (), unsafe extern "C" fn()>(
                trampoline,
            )),
            Box::into_raw(Box::new(f)) as glib::ffi::gpointer,
            Some(destroy::<F>),
            0,
        );
        from_glib(handler)
    }
}

/// A weak reference to a service that may be moved to other threads.
///
/// Upgrading it off the service's context thread is sound only to call the service's
/// thread-safe methods (those that only lock its state) and to drop the reference again.
#[derive(Clone)]
pub(crate) struct WeakService(glib::WeakRef<SocketService>);

// SAFETY: GWeakRef is thread-safe, and see the type's documentation for the use of the upgrade.
unsafe impl Send for WeakService {}
unsafe impl Sync for WeakService {}

impl WeakService {
    pub(crate) fn new(service: &SocketService) -> Self {
        Self(service.downgrade())
    }

    pub(crate) fn upgrade(&self) -> Option<SocketService> {
        self.0.upgrade()
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
pub struct SocketServiceHandle(WeakService);

impl SocketServiceHandle {
    /// [`SocketServiceExt::start`], from any thread.
    pub fn start(&self) {
        if let Some(service) = self.0.upgrade() {
            service.imp().set_active(true)
        }
    }

    /// [`SocketServiceExt::stop`], from any thread.
    pub fn stop(&self) {
        if let Some(service) = self.0.upgrade() {
            service.imp().set_active(false)
        }
    }

    /// [`SocketServiceExt::is_active`], from any thread; `false` once the service is gone.
    pub fn is_active(&self) -> bool {
        self.0
            .upgrade()
            .is_some_and(|service| service.imp().is_active())
    }
}

impl std::fmt::Debug for SocketServiceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketServiceHandle")
            .field("alive", &self.0.upgrade().is_some())
            .finish()
    }
}
