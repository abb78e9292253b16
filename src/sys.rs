//! Safe wrappers over the calls that neither std nor gio-rs offer safely: a few system calls
//! (`accept4`, `setsockopt`, `getsockopt`, `fcntl`, `bind`), GLib API that gio-rs does not wrap
//! (a source woken from any thread, `GThreadPool`, typed object data, registering a type that
//! overrides `GIOStream`'s close), and GObject references that cross threads.
//!
//! Outside the C ABI (`ffi.rs`, `capi.rs`) and `subclass/`, this is the only file with `unsafe`.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use gio::prelude::*;
use glib::translate::*;

// ---------------------------------------------------------------------------------------------
// References that cross threads
// ---------------------------------------------------------------------------------------------

/// A GObject reference that may be moved to, used on and dropped on any thread.
///
/// GObject reference counting is thread-safe, but gio-rs marks most types neither `Send` nor
/// `Sync`. Usher moves a few references between threads: the engine's state keeps its sockets
/// under its mutex, which serialises every call on them; the threaded service hands a connection
/// to a worker, as GLib does; the rest is only cloned, dropped, or given thread-safe calls
/// (`g_socket_shutdown()`, `g_object_notify()`, signal emission).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SendObject<T: ObjectType>(T);

// SAFETY: see the type's documentation: the references are used as GLib allows from any thread.
unsafe impl<T: ObjectType> Send for SendObject<T> {}
unsafe impl<T: ObjectType> Sync for SendObject<T> {}

impl<T: ObjectType> SendObject<T> {
    pub(crate) fn new(object: T) -> Self {
        Self(object)
    }

    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T: ObjectType> std::ops::Deref for SendObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A weak GObject reference that may be upgraded on any thread (`GWeakRef` is thread-safe).
pub(crate) struct SendWeak<T: ObjectType>(glib::WeakRef<T>);

// SAFETY: GWeakRef is thread-safe; what is done with an upgraded reference is the caller's,
// under the rules of `SendObject`.
unsafe impl<T: ObjectType> Send for SendWeak<T> {}
unsafe impl<T: ObjectType> Sync for SendWeak<T> {}

impl<T: ObjectType> SendWeak<T> {
    pub(crate) fn new(object: &T) -> Self {
        Self(object.downgrade())
    }

    pub(crate) fn upgrade(&self) -> Option<T> {
        self.0.upgrade()
    }
}

impl<T: ObjectType> Clone for SendWeak<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------------------------

/// A connection taken off a listening socket's backlog.
pub(crate) struct Accepted {
    pub fd: OwnedFd,
    /// The peer's IP address (a v4-mapped IPv6 address as IPv4); `None` for other families.
    pub peer: Option<IpAddr>,
}

/// `accept4(2)` without blocking, close-on-exec: the new connection, or the errno.
pub(crate) fn accept(listening: BorrowedFd<'_>) -> Result<Accepted, i32> {
    loop {
        let mut address = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut size = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `address` has room for any address and `size` says how much.
        let fd = unsafe {
            libc::accept4(
                listening.as_raw_fd(),
                address.as_mut_ptr() as *mut libc::sockaddr,
                &mut size,
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: accept4() filled what it did not leave zeroed, and returned this
            // descriptor to us.
            let address = unsafe { address.assume_init() };
            return Ok(Accepted {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                peer: peer_ip(&address),
            });
        }
        match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

/// The remote address of a connected IP socket (`getpeername(2)`), without the `GSocketAddress`
/// that `g_socket_get_remote_address()` makes.
pub(crate) fn remote_address(socket: BorrowedFd<'_>) -> Result<SocketAddr, glib::Error> {
    let mut address = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut size = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `address` has room for any address and `size` says how much.
    let status = unsafe {
        libc::getpeername(
            socket.as_raw_fd(),
            address.as_mut_ptr() as *mut libc::sockaddr,
            &mut size,
        )
    };
    if status != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(errno_error(errno, "Could not get remote address"));
    }
    // SAFETY: getpeername() filled what it did not leave zeroed.
    let address = unsafe { address.assume_init() };
    let port = match address.ss_family as libc::c_int {
        // SAFETY: the family says which structure the storage holds.
        libc::AF_INET => {
            u16::from_be(unsafe { (*(&address as *const _ as *const libc::sockaddr_in)).sin_port })
        }
        libc::AF_INET6 => u16::from_be(unsafe {
            (*(&address as *const _ as *const libc::sockaddr_in6)).sin6_port
        }),
        _ => 0,
    };
    // A v4-mapped IPv6 address as IPv4, as `g_socket_address_new_from_native()` makes it.
    match peer_ip(&address) {
        Some(ip) => Ok(SocketAddr::new(ip, port)),
        None => Err(glib::Error::new(
            gio::IOErrorEnum::NotSupported,
            "Not an IP connection",
        )),
    }
}

/// The IP address in a `sockaddr_storage` that `accept4()` filled.
fn peer_ip(address: &libc::sockaddr_storage) -> Option<IpAddr> {
    match address.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says which structure the storage holds.
            let v4 = unsafe { &*(address as *const _ as *const libc::sockaddr_in) };
            Some(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: as above.
            let v6 = unsafe { &*(address as *const _ as *const libc::sockaddr_in6) };
            Some(canonical_ip(IpAddr::V6(std::net::Ipv6Addr::from(
                v6.sin6_addr.s6_addr,
            ))))
        }
        _ => None,
    }
}

/// `ip`, with a v4-mapped IPv6 address (`::ffff:127.0.0.1`) as the IPv4 address it stands for.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `recv(2)` without blocking into `buffer`: the bytes received (0 at the end of the stream),
/// or the errno. With `peek`, the bytes stay in the socket, to be received again.
pub(crate) fn receive(socket: BorrowedFd<'_>, buffer: &mut [u8], peek: bool) -> Result<usize, i32> {
    let flags = libc::MSG_DONTWAIT | if peek { libc::MSG_PEEK } else { 0 };
    loop {
        // SAFETY: recv() writes at most `buffer.len()` bytes into `buffer`.
        let received = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr() as *mut libc::c_void,
                buffer.len(),
                flags,
            )
        };
        if let Ok(received) = usize::try_from(received) {
            return Ok(received);
        }
        match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

/// An integer socket option of `fd`, or `None` if `fd` is no open socket.
fn option(fd: RawFd, level: i32, option: i32) -> Option<i32> {
    let mut value: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt() only reads `fd`, which it checks, and writes an int.
    let status = unsafe {
        libc::getsockopt(
            fd,
            level,
            option,
            &mut value as *mut libc::c_int as *mut libc::c_void,
            &mut size,
        )
    };
    (status == 0).then_some(value)
}

/// Whether the descriptor number `fd` is an open stream socket put to listening.
pub(crate) fn is_listening_stream(fd: RawFd) -> bool {
    option(fd, libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
        && option(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN).is_some_and(|on| on != 0)
}

/// A close-on-exec duplicate of the descriptor number `fd`.
pub(crate) fn duplicate_descriptor(fd: RawFd) -> Result<OwnedFd, glib::Error> {
    // SAFETY: fcntl() checks `fd`, and returns a new descriptor that is ours.
    let duplicate = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if duplicate < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(errno_error(errno, "Cannot duplicate a passed descriptor"));
    }
    // SAFETY: fcntl() just returned it to us.
    Ok(unsafe { OwnedFd::from_raw_fd(duplicate) })
}

/// Closes a descriptor this process was handed by its launcher.
///
/// The `sd_listen_fds(3)` protocol makes the process the owner of the descriptors it names;
/// the caller checked that `fd` is one of them, and closes it once, after adopting a duplicate.
pub(crate) fn close_passed_descriptor(fd: RawFd) {
    // SAFETY: see above: an open descriptor that nothing else in the process owns.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
}

/// `bind(2)`, which unlike `g_socket_bind()` leaves the socket's options (`SO_REUSEPORT`) alone.
pub(crate) fn bind(socket: &gio::Socket, address: &gio::SocketAddress) -> Result<(), glib::Error> {
    let size = usize::try_from(address.native_size()).map_err(|_| {
        glib::Error::new(
            gio::IOErrorEnum::InvalidArgument,
            "Cannot bind to this address",
        )
    })?;
    let mut native = vec![0u8; size];
    // SAFETY: `native` has the size the address asked for.
    unsafe {
        let mut error = std::ptr::null_mut();
        if gio::ffi::g_socket_address_to_native(
            address.to_glib_none().0,
            native.as_mut_ptr() as glib::ffi::gpointer,
            size,
            &mut error,
        ) == glib::ffi::GFALSE
        {
            return Err(from_glib_full(error));
        }
        if libc::bind(
            socket.as_raw_fd(),
            native.as_ptr() as *const libc::sockaddr,
            size as libc::socklen_t,
        ) != 0
        {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(errno_error(errno, "Error binding to address"));
        }
    }
    Ok(())
}

/// The `GError` GSocket would set for `errno` while doing `what` ("Error accepting connection").
pub(crate) fn errno_error(errno: i32, what: &str) -> glib::Error {
    // SAFETY: g_strerror() returns a string owned by GLib that lives forever.
    let reason = unsafe { CStr::from_ptr(glib::ffi::g_strerror(errno)) };
    glib::Error::new(
        gio::io_error_from_errno(errno),
        &format!("{what}: {}", reason.to_string_lossy()),
    )
}

/// Whether the application enabled every debug message (`g_log_set_debug_enabled()`).
pub(crate) fn log_debug_enabled() -> bool {
    // SAFETY: an atomic read in GLib.
    unsafe { glib::ffi::g_log_get_debug_enabled() != glib::ffi::GFALSE }
}

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

/// A source that runs its callback on its context, in a later iteration, each time it is woken:
/// from any thread, at any time (inside another object's finalization too), without allocating.
/// Woken several times before it runs, it runs once; not woken, it wakes nobody. Woken on the
/// thread that runs its context, it costs no system call: the context's next `prepare` finds it
/// ready (from another thread, `g_main_context_wakeup()` interrupts the context's poll).
pub(crate) struct Wakeup(glib::Source);

/// The source structure of a [`Wakeup`]: a `GSource` and whether it was woken.
#[repr(C)]
struct WakeupSource {
    source: glib::ffi::GSource,
    woken: std::sync::atomic::AtomicBool,
}

/// The flag of a [`WakeupSource`], borrowed alone: GLib changes the rest under its own locks.
///
/// # Safety
/// `source` is a live `WakeupSource`.
unsafe fn woken<'a>(source: *mut glib::ffi::GSource) -> &'a std::sync::atomic::AtomicBool {
    unsafe { &*std::ptr::addr_of!((*(source as *mut WakeupSource)).woken) }
}

impl Wakeup {
    pub(crate) fn new<F: FnMut() + Send + 'static>(
        context: &glib::MainContext,
        name: &CStr,
        priority: glib::Priority,
        callback: F,
    ) -> Self {
        use std::sync::atomic::Ordering;
        static FUNCS: glib::ffi::GSourceFuncs = glib::ffi::GSourceFuncs {
            prepare: Some(prepare),
            check: Some(check),
            dispatch: Some(dispatch),
            finalize: None,
            closure_callback: None,
            closure_marshal: None,
        };
        unsafe extern "C" fn prepare(
            source: *mut glib::ffi::GSource,
            timeout: *mut i32,
        ) -> glib::ffi::gboolean {
            unsafe {
                *timeout = -1;
                check(source)
            }
        }
        unsafe extern "C" fn check(source: *mut glib::ffi::GSource) -> glib::ffi::gboolean {
            unsafe { woken(source) }.load(Ordering::Acquire).into_glib()
        }
        unsafe extern "C" fn dispatch(
            source: *mut glib::ffi::GSource,
            callback: glib::ffi::GSourceFunc,
            data: glib::ffi::gpointer,
        ) -> glib::ffi::gboolean {
            unsafe {
                woken(source).store(false, Ordering::Release);
                if let Some(callback) = callback {
                    callback(data);
                }
            }
            glib::ffi::GTRUE
        }
        unsafe extern "C" fn call<F: FnMut()>(data: glib::ffi::gpointer) -> glib::ffi::gboolean {
            unsafe { (*(data as *mut F))() };
            glib::ffi::GTRUE
        }
        unsafe extern "C" fn free<F>(data: glib::ffi::gpointer) {
            unsafe { drop(Box::from_raw(data as *mut F)) }
        }
        // SAFETY: a GSource with room for the flag (g_source_new() zeroes it: not woken), whose
        // callback is the boxed closure, freed with the source.
        let source: glib::Source = unsafe {
            let raw = glib::ffi::g_source_new(
                &FUNCS as *const glib::ffi::GSourceFuncs as *mut glib::ffi::GSourceFuncs,
                std::mem::size_of::<WakeupSource>() as u32,
            );
            glib::ffi::g_source_set_callback(
                raw,
                Some(call::<F>),
                Box::into_raw(Box::new(callback)) as glib::ffi::gpointer,
                Some(free::<F>),
            );
            glib::ffi::g_source_set_priority(raw, priority.into_glib());
            glib::ffi::g_source_set_name(raw, name.as_ptr());
            from_glib_full(raw)
        };
        source.attach(Some(context));
        Self(source)
    }

    /// Makes the callback run in a later iteration of the context; safe from any thread.
    pub(crate) fn wake(&self) {
        // SAFETY: the source is a `WakeupSource`, alive while `self` is.
        let woken = unsafe { woken(self.0.as_ptr()) };
        if woken.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        if let Some(context) = self.0.context()
            && !context.is_owner()
        {
            context.wakeup();
        }
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        self.0.destroy();
    }
}

/// Finishes a GIO asynchronous operation: its result, or its error.
type Finish<T> = unsafe fn(
    *mut glib::gobject_ffi::GObject,
    *mut gio::ffi::GAsyncResult,
    *mut *mut glib::ffi::GError,
) -> Option<T>;

/// Starts a GIO asynchronous operation with `start`, given its `GAsyncReadyCallback` and data,
/// and calls `callback` with what `finish` makes of its result.
///
/// gio-rs's wrappers insist that their callback run on the thread that started the operation;
/// this one's may run on whichever thread iterates the context it was started on, hence `Send`.
///
/// # Safety
/// `start` must start one operation that calls the callback it is given once, with the data it
/// is given, and `finish` must be that operation's finish function.
unsafe fn gio_async<T, F>(
    start: impl FnOnce(gio::ffi::GAsyncReadyCallback, glib::ffi::gpointer),
    finish: Finish<T>,
    callback: F,
) where
    F: FnOnce(Result<T, glib::Error>) + Send + 'static,
{
    unsafe extern "C" fn done<T, F>(
        source: *mut glib::gobject_ffi::GObject,
        result: *mut gio::ffi::GAsyncResult,
        data: glib::ffi::gpointer,
    ) where
        F: FnOnce(Result<T, glib::Error>) + Send + 'static,
    {
        // SAFETY: the data boxed below, and the result of the operation `finish` is for.
        unsafe {
            let (callback, finish) = *Box::from_raw(data as *mut (F, Finish<T>));
            let mut error = std::ptr::null_mut();
            let value = finish(source, result, &mut error);
            callback(match value {
                Some(value) => Ok(value),
                None if !error.is_null() => Err(from_glib_full(error)),
                None => Err(glib::Error::new(
                    gio::IOErrorEnum::Failed,
                    "The operation failed without saying why",
                )),
            })
        }
    }
    let data = Box::into_raw(Box::new((callback, finish)));
    start(Some(done::<T, F>), data as glib::ffi::gpointer);
}

/// `g_socket_listener_accept_socket_async()` on the calling thread's thread-default context:
/// the socket accepted and the `source_object` of the listening socket it came from.
pub(crate) fn accept_socket_async<F>(
    listener: &gio::SocketListener,
    cancellable: &gio::Cancellable,
    callback: F,
) where
    F: FnOnce(Result<(gio::Socket, Option<glib::Object>), glib::Error>) + Send + 'static,
{
    unsafe fn finish(
        listener: *mut glib::gobject_ffi::GObject,
        result: *mut gio::ffi::GAsyncResult,
        error: *mut *mut glib::ffi::GError,
    ) -> Option<(gio::Socket, Option<glib::Object>)> {
        unsafe {
            let mut source_object = std::ptr::null_mut();
            let socket = gio::ffi::g_socket_listener_accept_socket_finish(
                listener as *mut gio::ffi::GSocketListener,
                result,
                &mut source_object,
                error,
            );
            (!socket.is_null()).then(|| (from_glib_full(socket), from_glib_none(source_object)))
        }
    }
    // SAFETY: one accept, which calls back once; and its finish function.
    unsafe {
        gio_async(
            |ready, data| {
                gio::ffi::g_socket_listener_accept_socket_async(
                    listener.to_glib_none().0,
                    cancellable.to_glib_none().0,
                    ready,
                    data,
                )
            },
            finish,
            callback,
        )
    }
}

/// `g_tls_connection_handshake_async()` on the calling thread's thread-default context.
pub(crate) fn tls_handshake_async<F>(
    connection: &gio::TlsConnection,
    cancellable: &gio::Cancellable,
    callback: F,
) where
    F: FnOnce(Result<(), glib::Error>) + Send + 'static,
{
    unsafe fn finish(
        connection: *mut glib::gobject_ffi::GObject,
        result: *mut gio::ffi::GAsyncResult,
        error: *mut *mut glib::ffi::GError,
    ) -> Option<()> {
        let done = unsafe {
            gio::ffi::g_tls_connection_handshake_finish(
                connection as *mut gio::ffi::GTlsConnection,
                result,
                error,
            )
        };
        (done != glib::ffi::GFALSE).then_some(())
    }
    // SAFETY: one handshake, which calls back once; and its finish function.
    unsafe {
        gio_async(
            |ready, data| {
                gio::ffi::g_tls_connection_handshake_async(
                    connection.to_glib_none().0,
                    glib::ffi::G_PRIORITY_DEFAULT,
                    cancellable.to_glib_none().0,
                    ready,
                    data,
                )
            },
            finish,
            callback,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Object data
// ---------------------------------------------------------------------------------------------

/// A key for Rust data of type `T` attached to GObjects; one key, one type.
pub(crate) struct DataKey<T> {
    name: &'static str,
    quark: std::sync::OnceLock<glib::Quark>,
    kind: PhantomData<fn(T) -> T>,
}

impl<T: 'static> DataKey<T> {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            quark: std::sync::OnceLock::new(),
            kind: PhantomData,
        }
    }

    fn quark(&self) -> glib::Quark {
        *self.quark.get_or_init(|| glib::Quark::from_str(self.name))
    }

    pub(crate) fn set(&self, object: &impl IsA<glib::Object>, data: T) {
        // SAFETY: data under this quark is only ever of type `T`.
        unsafe { object.as_ref().set_qdata(self.quark(), data) }
    }

    pub(crate) fn take(&self, object: &impl IsA<glib::Object>) -> Option<T> {
        // SAFETY: as above.
        unsafe { object.as_ref().steal_qdata(self.quark()) }
    }

    pub(crate) fn get(&self, object: &impl IsA<glib::Object>) -> Option<T>
    where
        T: Clone,
    {
        // SAFETY: as above; the data is only read, and lives while `object` holds it.
        unsafe {
            object
                .as_ref()
                .qdata::<T>(self.quark())
                .map(|data| data.as_ref().clone())
        }
    }
}

/// The `source_object` that `GSocketListener` keeps on each of its sockets (a plain `GObject *`
/// under the quark `g-socket-listener-source`), as `g_socket_listener_accept_finish()` reads it.
pub(crate) fn listener_source_object(socket: &gio::Socket) -> Option<glib::Object> {
    static QUARK: std::sync::LazyLock<glib::Quark> =
        std::sync::LazyLock::new(|| glib::Quark::from_str("g-socket-listener-source"));
    // SAFETY: GSocketListener stores a `GObject *` it owns under this key.
    unsafe {
        let data = glib::gobject_ffi::g_object_get_qdata(
            socket.as_ptr() as *mut glib::gobject_ffi::GObject,
            QUARK.into_glib(),
        );
        from_glib_none(data as *mut glib::gobject_ffi::GObject)
    }
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// Registers `name`, a subclass of the `GIOStream` subclass `parent` that calls `report` after
/// every close (`close_fn` and `close_finish`, after the parent's), whatever its outcome:
/// `GIOStream` marks the stream closed either way.
pub(crate) fn register_close_reporting_type(
    parent: glib::Type,
    name: &'static CStr,
    report: fn(&gio::IOStream),
) -> glib::Type {
    unsafe extern "C" fn class_init(klass: glib::ffi::gpointer, _data: glib::ffi::gpointer) {
        unsafe {
            let klass = klass as *mut gio::ffi::GIOStreamClass;
            (*klass).close_fn = Some(close_fn);
            (*klass).close_finish = Some(close_finish);
        }
    }
    /// The class of the GLib type one of ours derives from.
    unsafe fn parent_class(stream: *mut gio::ffi::GIOStream) -> *const gio::ffi::GIOStreamClass {
        unsafe {
            let klass = (*(stream as *mut glib::gobject_ffi::GTypeInstance)).g_class;
            glib::gobject_ffi::g_type_class_peek_parent(klass as glib::ffi::gpointer)
                as *const gio::ffi::GIOStreamClass
        }
    }
    unsafe fn call_report(stream: *mut gio::ffi::GIOStream) {
        if let Some(report) = REPORT.get() {
            report(&*unsafe { gio::IOStream::from_glib_borrow(stream) })
        }
    }
    unsafe extern "C" fn close_fn(
        stream: *mut gio::ffi::GIOStream,
        cancellable: *mut gio::ffi::GCancellable,
        error: *mut *mut glib::ffi::GError,
    ) -> glib::ffi::gboolean {
        unsafe {
            let closed = match (*parent_class(stream)).close_fn {
                Some(parent_close) => parent_close(stream, cancellable, error),
                None => glib::ffi::GTRUE,
            };
            call_report(stream);
            closed
        }
    }
    unsafe extern "C" fn close_finish(
        stream: *mut gio::ffi::GIOStream,
        result: *mut gio::ffi::GAsyncResult,
        error: *mut *mut glib::ffi::GError,
    ) -> glib::ffi::gboolean {
        unsafe {
            // `GTcpConnection`'s graceful close calls its parent's `close_fn` directly, not
            // ours, but every asynchronous close ends here.
            let closed = match (*parent_class(stream)).close_finish {
                Some(parent_finish) => parent_finish(stream, result, error),
                None => glib::ffi::GTRUE,
            };
            call_report(stream);
            closed
        }
    }
    static REPORT: std::sync::OnceLock<fn(&gio::IOStream)> = std::sync::OnceLock::new();

    assert!(parent.is_a(gio::IOStream::static_type()));
    // Usher has one report for all such types.
    let _ = REPORT.set(report);
    // SAFETY: a static type derived from `parent` with its class and instance sizes.
    unsafe {
        let mut query = std::mem::MaybeUninit::<glib::gobject_ffi::GTypeQuery>::zeroed();
        glib::gobject_ffi::g_type_query(parent.into_glib(), query.as_mut_ptr());
        let query = query.assume_init();
        let info = glib::gobject_ffi::GTypeInfo {
            class_size: query.class_size as u16,
            base_init: None,
            base_finalize: None,
            class_init: Some(class_init),
            class_finalize: None,
            class_data: std::ptr::null(),
            instance_size: query.instance_size as u16,
            n_preallocs: 0,
            instance_init: None,
            value_table: std::ptr::null(),
        };
        from_glib(glib::gobject_ffi::g_type_register_static(
            parent.into_glib(),
            name.as_ptr(),
            &info,
            0,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Thread pool
// ---------------------------------------------------------------------------------------------

/// A shared (non-exclusive) `GThreadPool` that runs boxed jobs, as `GThreadedSocketService`'s.
///
/// glib-rs's `ThreadPool` waits for its jobs when dropped, which would deadlock when the last
/// reference to the service goes in one of its own jobs (GLib bug 712570); this one neither
/// waits nor cancels: its owner drops it only once every job is done.
pub(crate) struct ThreadPool(std::ptr::NonNull<glib::ffi::GThreadPool>);

type Job = Box<dyn FnOnce() + Send>;

// SAFETY: GThreadPool is thread-safe.
unsafe impl Send for ThreadPool {}
unsafe impl Sync for ThreadPool {}

impl ThreadPool {
    /// A pool of at most `max_threads` threads (`None`: no limit).
    pub(crate) fn new(max_threads: Option<u32>) -> Self {
        unsafe extern "C" fn run(job: glib::ffi::gpointer, _pool_data: glib::ffi::gpointer) {
            let job = unsafe { Box::from_raw(job as *mut Job) };
            job()
        }
        let max_threads = max_threads.map_or(-1, |limit| i32::try_from(limit).unwrap_or(i32::MAX));
        // SAFETY: a shared pool is never refused.
        let pool = unsafe {
            glib::ffi::g_thread_pool_new(
                Some(run),
                std::ptr::null_mut(),
                max_threads,
                glib::ffi::GFALSE,
                std::ptr::null_mut(),
            )
        };
        Self(std::ptr::NonNull::new(pool).expect("g_thread_pool_new() of a shared pool"))
    }

    /// Queues `job` for a thread of the pool.
    pub(crate) fn push(&self, job: impl FnOnce() + Send + 'static) -> Result<(), glib::Error> {
        let job: *mut Job = Box::into_raw(Box::new(Box::new(job)));
        let mut error = std::ptr::null_mut();
        // SAFETY: the pool owns `job` once pushed, and gives it back to `run`.
        unsafe {
            if from_glib(glib::ffi::g_thread_pool_push(
                self.0.as_ptr(),
                job as glib::ffi::gpointer,
                &mut error,
            )) {
                Ok(())
            } else {
                drop(Box::from_raw(job));
                Err(from_glib_full(error))
            }
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        // SAFETY: neither cancel nor wait, which would deadlock in a worker (see above).
        unsafe {
            glib::ffi::g_thread_pool_free(self.0.as_ptr(), glib::ffi::GFALSE, glib::ffi::GFALSE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_mapped_peers_count_as_ipv4() {
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let v6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
        v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        v6.sin6_addr.s6_addr = "::ffff:127.0.0.2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(peer_ip(&storage), Some("127.0.0.2".parse().unwrap()));
        v6.sin6_addr.s6_addr = "::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
        assert_eq!(peer_ip(&storage), Some("::1".parse().unwrap()));
        let v4 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
        v4.sin_family = libc::AF_INET as libc::sa_family_t;
        v4.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        assert_eq!(peer_ip(&storage), Some("127.0.0.1".parse().unwrap()));
        storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
        assert_eq!(peer_ip(&storage), None);
    }
}

#[cfg(test)]
mod wakeup_tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_wakeup_runs_once_per_wake_in_a_later_iteration_and_idles_otherwise() {
        let context = glib::MainContext::new();
        let runs = Arc::new(AtomicU32::new(0));
        let wakeup = Wakeup::new(&context, c"test", glib::Priority::DEFAULT, {
            let runs = runs.clone();
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert!(!context.iteration(false));
        wakeup.wake();
        wakeup.wake();
        std::thread::scope(|scope| {
            scope.spawn(|| wakeup.wake());
        });
        assert!(context.iteration(false));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!context.iteration(false), "not woken again: nothing to do");
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        // On the thread that runs the context, without waking its poll: the next iteration
        // finds the source ready all the same (a blocking one would never return otherwise).
        let _owner = context.acquire().unwrap();
        wakeup.wake();
        assert!(context.iteration(true));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
