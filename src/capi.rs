//! The C API: the `usher_*` functions declared in `include/usher/*.h`.
//!
//! Every function checks its arguments as `g_return_if_fail()` does, with a GLib critical that
//! names the function and the failed check, and an early return, never a crash; then it
//! translates to the Rust API. Behaviour lives in the Rust types, not here. Only meson's build of
//! `libusher-1.so` compiles this module (feature `capi`).

#![allow(clippy::missing_safety_doc)]

use std::ffi::{CString, c_char, c_int, c_uint};
use std::sync::{Arc, Mutex, PoisonError};

use gio::prelude::*;
use glib::translate::*;

use crate::engine::Engine;
use crate::ffi::{UsherSocketService, UsherThreadedSocketService};
use crate::prelude::*;
use crate::{ProxyCommand, ProxyInfo, SocketService, ThreadedSocketService};

/// `UsherProxyInfo`: the instance structure, opaque to C (`G_DECLARE_FINAL_TYPE`).
type UsherProxyInfo = <ProxyInfo as ObjectType>::GlibType;

/// `g_return_val_if_fail()`, as librsvg's `rsvg_return_val_if_fail!`: checks each condition in
/// turn and, at the first that fails, logs a critical naming `$function` and the condition, and
/// returns `$value` (nothing, without one).
macro_rules! return_if_fail {
    ($function:ident => $value:expr; $($condition:expr),+ $(,)?) => {
        $(
            if !$condition {
                return_if_fail_warning(stringify!($function), stringify!($condition));
                return $value;
            }
        )+
    };
    ($function:ident; $($condition:expr),+ $(,)?) => {
        return_if_fail! { $function => (); $($condition),+ }
    };
}

fn return_if_fail_warning(function: &str, condition: &str) {
    let (Ok(function), Ok(condition)) = (CString::new(function), CString::new(condition)) else {
        return;
    };
    unsafe {
        glib::ffi::g_return_if_fail_warning(
            c"Usher".as_ptr(),
            function.as_ptr(),
            condition.as_ptr(),
        )
    }
}

/// Whether `instance` is a non-NULL instance of `T` or a subclass.
fn is_a<T: StaticType>(instance: *const impl Sized) -> bool {
    !instance.is_null()
        && unsafe {
            glib::gobject_ffi::g_type_check_instance_is_a(
                instance as *mut glib::gobject_ffi::GTypeInstance,
                T::static_type().into_glib(),
            ) != glib::ffi::GFALSE
        }
}

/// The C type checks, named as in C for the criticals that name them.
macro_rules! type_checks {
    ($($check:ident: $type:ty),+ $(,)?) => {
        $(
            #[allow(non_snake_case)]
            fn $check(instance: *const impl Sized) -> bool {
                is_a::<$type>(instance)
            }
        )+
    };
}

type_checks! {
    USHER_IS_SOCKET_SERVICE: SocketService,
    USHER_IS_PROXY_INFO: ProxyInfo,
    G_IS_ASYNC_RESULT: gio::AsyncResult,
    G_IS_CANCELLABLE: gio::Cancellable,
    G_IS_OBJECT: glib::Object,
    G_IS_SOCKET_ADDRESS: gio::SocketAddress,
    G_IS_SOCKET_CONNECTION: gio::SocketConnection,
    G_IS_TLS_CERTIFICATE: gio::TlsCertificate,
    G_IS_TLS_DATABASE: gio::TlsDatabase,
}

/// `error == NULL || *error == NULL`: GLib's rule for the `GError **` of a call.
fn error_is_unset(error: *mut *mut glib::ffi::GError) -> bool {
    error.is_null() || unsafe { (*error).is_null() }
}

/// Stores `failure` in `error`, unless the caller passed NULL.
unsafe fn set_error(error: *mut *mut glib::ffi::GError, failure: glib::Error) {
    if !error.is_null() {
        unsafe { *error = failure.into_glib_ptr() };
    }
}

unsafe fn service(service: *mut UsherSocketService) -> Borrowed<SocketService> {
    unsafe { SocketService::from_glib_borrow(service) }
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_socket_service_get_type() -> glib::ffi::GType {
    SocketService::static_type().into_glib()
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_socket_service_new() -> *mut UsherSocketService {
    SocketService::new().into_glib_ptr()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_start(service: *mut UsherSocketService) {
    return_if_fail! { usher_socket_service_start; USHER_IS_SOCKET_SERVICE(service) }
    unsafe { self::service(service) }.start()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_stop(service: *mut UsherSocketService) {
    return_if_fail! { usher_socket_service_stop; USHER_IS_SOCKET_SERVICE(service) }
    unsafe { self::service(service) }.stop()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_is_active(
    service: *mut UsherSocketService,
) -> glib::ffi::gboolean {
    return_if_fail! { usher_socket_service_is_active => glib::ffi::GFALSE; USHER_IS_SOCKET_SERVICE(service) }
    unsafe { self::service(service) }.is_active().into_glib()
}

/// How a property's Rust type crosses the C ABI: numbers as they are, `bool` as `gboolean`.
/// (`pub(crate)` as the functions that name it in their signatures are.)
pub(crate) trait CValue {
    /// The C type; its default is what a getter returns when its check fails.
    type C: Default;
    fn into_c(self) -> Self::C;
    fn from_c(value: Self::C) -> Self;
}

macro_rules! c_value_as_itself {
    ($($type:ty),+) => {
        $(
            impl CValue for $type {
                type C = $type;
                fn into_c(self) -> $type {
                    self
                }
                fn from_c(value: $type) -> $type {
                    value
                }
            }
        )+
    };
}

c_value_as_itself!(u32, u64);

impl CValue for bool {
    type C = glib::ffi::gboolean;
    fn into_c(self) -> glib::ffi::gboolean {
        self.into_glib()
    }
    fn from_c(value: glib::ffi::gboolean) -> bool {
        value != glib::ffi::GFALSE
    }
}

/// A property's C getter, `usher_socket_service_get_$name()`, and its setter if it has one,
/// through the Rust accessors.
macro_rules! property_accessors {
    ($get:ident, $name:ident: $type:ty) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(service: *mut UsherSocketService) -> <$type as CValue>::C {
            return_if_fail! { $get => Default::default(); USHER_IS_SOCKET_SERVICE(service) }
            unsafe { self::service(service) }.$name().into_c()
        }
    };
    ($get:ident, $set:ident, $name:ident, $set_name:ident: $type:ty) => {
        property_accessors!($get, $name: $type);

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(service: *mut UsherSocketService, value: <$type as CValue>::C) {
            return_if_fail! { $set; USHER_IS_SOCKET_SERVICE(service) }
            unsafe { self::service(service) }.$set_name(<$type>::from_c(value))
        }
    };
}

property_accessors!(
    usher_socket_service_get_max_connections,
    usher_socket_service_set_max_connections,
    max_connections,
    set_max_connections: c_uint
);
property_accessors!(
    usher_socket_service_get_max_connections_per_peer,
    usher_socket_service_set_max_connections_per_peer,
    max_connections_per_peer,
    set_max_connections_per_peer: c_uint
);
property_accessors!(
    usher_socket_service_get_timeout,
    usher_socket_service_set_timeout,
    timeout,
    set_timeout: c_uint
);
property_accessors!(
    usher_socket_service_get_tls_handshake_timeout,
    usher_socket_service_set_tls_handshake_timeout,
    tls_handshake_timeout,
    set_tls_handshake_timeout: c_uint
);

property_accessors!(
    usher_socket_service_get_proxy_protocol_required,
    usher_socket_service_set_proxy_protocol_required,
    proxy_protocol_required,
    set_proxy_protocol_required: bool
);
property_accessors!(
    usher_socket_service_get_proxy_protocol_timeout,
    usher_socket_service_set_proxy_protocol_timeout,
    proxy_protocol_timeout,
    set_proxy_protocol_timeout: c_uint
);

property_accessors!(usher_socket_service_get_n_connections, n_connections: c_uint);
property_accessors!(usher_socket_service_get_n_accepted, n_accepted: u64);
property_accessors!(usher_socket_service_get_n_accept_errors, n_accept_errors: u64);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_tls_certificate(
    service: *mut UsherSocketService,
) -> *mut gio::ffi::GTlsCertificate {
    return_if_fail! {
        usher_socket_service_get_tls_certificate => std::ptr::null_mut();
        USHER_IS_SOCKET_SERVICE(service)
    }
    // (transfer none): the service keeps its reference.
    unsafe { self::service(service) }
        .tls_certificate()
        .to_glib_none()
        .0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_tls_certificate(
    service: *mut UsherSocketService,
    certificate: *mut gio::ffi::GTlsCertificate,
) {
    return_if_fail! {
        usher_socket_service_set_tls_certificate;
        USHER_IS_SOCKET_SERVICE(service),
        certificate.is_null() || G_IS_TLS_CERTIFICATE(certificate),
    }
    let certificate: Borrowed<Option<gio::TlsCertificate>> =
        unsafe { from_glib_borrow(certificate) };
    unsafe { self::service(service) }.set_tls_certificate(certificate.as_ref().as_ref())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_tls_database(
    service: *mut UsherSocketService,
) -> *mut gio::ffi::GTlsDatabase {
    return_if_fail! {
        usher_socket_service_get_tls_database => std::ptr::null_mut();
        USHER_IS_SOCKET_SERVICE(service)
    }
    unsafe { self::service(service) }
        .tls_database()
        .to_glib_none()
        .0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_tls_database(
    service: *mut UsherSocketService,
    database: *mut gio::ffi::GTlsDatabase,
) {
    return_if_fail! {
        usher_socket_service_set_tls_database;
        USHER_IS_SOCKET_SERVICE(service),
        database.is_null() || G_IS_TLS_DATABASE(database),
    }
    let database: Borrowed<Option<gio::TlsDatabase>> = unsafe { from_glib_borrow(database) };
    unsafe { self::service(service) }.set_tls_database(database.as_ref().as_ref())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_tls_authentication_mode(
    service: *mut UsherSocketService,
) -> gio::ffi::GTlsAuthenticationMode {
    return_if_fail! {
        usher_socket_service_get_tls_authentication_mode => gio::ffi::G_TLS_AUTHENTICATION_NONE;
        USHER_IS_SOCKET_SERVICE(service)
    }
    unsafe { self::service(service) }
        .tls_authentication_mode()
        .into_glib()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_tls_authentication_mode(
    service: *mut UsherSocketService,
    mode: gio::ffi::GTlsAuthenticationMode,
) {
    return_if_fail! {
        usher_socket_service_set_tls_authentication_mode;
        USHER_IS_SOCKET_SERVICE(service),
        (gio::ffi::G_TLS_AUTHENTICATION_NONE..=gio::ffi::G_TLS_AUTHENTICATION_REQUIRED)
            .contains(&mode),
    }
    unsafe { self::service(service) }
        .set_tls_authentication_mode(unsafe { gio::TlsAuthenticationMode::from_glib(mode) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_tls_advertised_protocols(
    service: *mut UsherSocketService,
) -> *mut *mut c_char {
    return_if_fail! {
        usher_socket_service_get_tls_advertised_protocols => std::ptr::null_mut();
        USHER_IS_SOCKET_SERVICE(service)
    }
    strv_or_null(unsafe { self::service(service) }.tls_advertised_protocols())
}

/// A list property's C value: (transfer full), NULL for none, as GTlsConnection's
/// `advertised-protocols`.
fn strv_or_null(strings: glib::StrV) -> *mut *mut c_char {
    if strings.is_empty() {
        std::ptr::null_mut()
    } else {
        strings.into_raw()
    }
}

/// The strings of the NULL-terminated array `strv`, none for NULL.
unsafe fn strv_from_c(strv: *const *const c_char) -> Vec<glib::GString> {
    unsafe { FromGlibPtrContainer::from_glib_none(strv) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_tls_advertised_protocols(
    service: *mut UsherSocketService,
    protocols: *const *const c_char,
) {
    return_if_fail! {
        usher_socket_service_set_tls_advertised_protocols;
        USHER_IS_SOCKET_SERVICE(service),
        strv_is_utf8(protocols),
    }
    let protocols = unsafe { strv_from_c(protocols) };
    unsafe { self::service(service) }.set_tls_advertised_protocols(glib::StrV::from(protocols))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_proxy_protocol_peers(
    service: *mut UsherSocketService,
) -> *mut *mut c_char {
    return_if_fail! {
        usher_socket_service_get_proxy_protocol_peers => std::ptr::null_mut();
        USHER_IS_SOCKET_SERVICE(service)
    }
    strv_or_null(unsafe { self::service(service) }.proxy_protocol_peers())
}

/// Through the property's setter, which logs a critical for an invalid entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_proxy_protocol_peers(
    service: *mut UsherSocketService,
    peers: *const *const c_char,
) {
    return_if_fail! {
        usher_socket_service_set_proxy_protocol_peers;
        USHER_IS_SOCKET_SERVICE(service),
        strv_is_utf8(peers),
    }
    let peers = unsafe { strv_from_c(peers) };
    unsafe { self::service(service) }.set_proxy_protocol_peers(glib::StrV::from(peers))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_try_set_proxy_protocol_peers(
    service: *mut UsherSocketService,
    peers: *const *const c_char,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_try_set_proxy_protocol_peers => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        strv_is_utf8(peers),
        error_is_unset(error),
    }
    let peers = unsafe { strv_from_c(peers) };
    match unsafe { self::service(service) }.try_set_proxy_protocol_peers(&peers) {
        Ok(()) => glib::ffi::GTRUE,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            glib::ffi::GFALSE
        }
    }
}

/// Whether every string of the NULL-terminated array `strv` (or NULL) is UTF-8: `gchar *`
/// strings in GLib's API are.
fn strv_is_utf8(strv: *const *const c_char) -> bool {
    if strv.is_null() {
        return true;
    }
    (0..)
        .map(|index| unsafe { *strv.add(index) })
        .take_while(|string| !string.is_null())
        .all(|string| unsafe { std::ffi::CStr::from_ptr(string) }.to_str().is_ok())
}

/// A `GTask` of `usher_socket_service_shutdown_async()`, returned into once: with the
/// shutdown's outcome, or, if it is dropped first (its service gone), an error.
struct PendingTask(*mut gio::ffi::GTask);

// SAFETY: a GTask may be returned into and unreferenced from any thread; GTask then calls back
// on the context it was created on.
unsafe impl Send for PendingTask {}

impl PendingTask {
    fn complete(self, result: Result<(), glib::Error>) {
        let task = std::mem::ManuallyDrop::new(self);
        unsafe {
            match result {
                Ok(()) => gio::ffi::g_task_return_boolean(task.0, glib::ffi::GTRUE),
                Err(error) => gio::ffi::g_task_return_error(task.0, error.into_glib_ptr()),
            }
            glib::gobject_ffi::g_object_unref(task.0 as *mut glib::gobject_ffi::GObject);
        }
    }
}

impl Drop for PendingTask {
    fn drop(&mut self) {
        PendingTask(self.0).complete(Err(glib::Error::new(
            gio::IOErrorEnum::Cancelled,
            "The service went away before its shutdown completed",
        )));
    }
}

/// The source tag of the tasks of `shutdown_async`, to recognise them in `shutdown_finish`.
fn shutdown_source_tag() -> glib::ffi::gpointer {
    usher_socket_service_shutdown_async as *const () as glib::ffi::gpointer
}

/// The `GAsyncReadyCallback` adapter of the engine's shutdown: the task completes when the
/// shutdown does, or with `G_IO_ERROR_CANCELLED` when `cancellable` is cancelled first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_shutdown_async(
    service: *mut UsherSocketService,
    cancellable: *mut gio::ffi::GCancellable,
    callback: gio::ffi::GAsyncReadyCallback,
    user_data: glib::ffi::gpointer,
) {
    return_if_fail! {
        usher_socket_service_shutdown_async;
        USHER_IS_SOCKET_SERVICE(service),
        cancellable.is_null() || G_IS_CANCELLABLE(cancellable),
    }
    let task = unsafe {
        let task = gio::ffi::g_task_new(
            service as *mut glib::gobject_ffi::GObject,
            cancellable,
            callback,
            user_data,
        );
        gio::ffi::g_task_set_source_tag(task, shutdown_source_tag());
        gio::ffi::g_task_set_name(task, c"usher_socket_service_shutdown_async".as_ptr());
        if gio::ffi::g_task_return_error_if_cancelled(task) != glib::ffi::GFALSE {
            glib::gobject_ffi::g_object_unref(task as *mut glib::gobject_ffi::GObject);
            return;
        }
        task
    };
    let pending = Arc::new(Mutex::new(Some(PendingTask(task))));
    let cancellable: Option<gio::Cancellable> = unsafe { from_glib_none(cancellable) };
    let watch = cancellable.and_then(|cancellable| {
        let pending = pending.clone();
        let handler = cancellable.connect_cancelled(move |_| {
            if let Some(task) = take(&pending) {
                task.complete(Err(glib::Error::new(
                    gio::IOErrorEnum::Cancelled,
                    "Operation was cancelled",
                )));
            }
        })?;
        Some((cancellable, handler))
    });
    let completion = Completion { pending, watch };
    let service = unsafe { self::service(service) };
    Engine::shutdown(&*service, Box::new(move || completion.complete()));
}

/// Takes the task out of `pending`, if nobody did yet.
fn take(pending: &Mutex<Option<PendingTask>>) -> Option<PendingTask> {
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

/// The engine's waiter of a shutdown task: returns `Ok` into it, unless the cancellable's
/// handler returned `CANCELLED` first; dropped unrun (its service gone), lets the task go with
/// an error.
struct Completion {
    pending: Arc<Mutex<Option<PendingTask>>>,
    watch: Option<(gio::Cancellable, gio::CancelledHandlerId)>,
}

impl Completion {
    fn complete(self) {
        if let Some(task) = take(&self.pending) {
            task.complete(Ok(()));
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some((cancellable, handler)) = self.watch.take() {
            cancellable.disconnect_cancelled(handler);
        }
        // The task, if neither completed nor cancelled, goes with an error.
        drop(take(&self.pending));
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_shutdown_finish(
    service: *mut UsherSocketService,
    result: *mut gio::ffi::GAsyncResult,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_shutdown_finish => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_ASYNC_RESULT(result),
        error_is_unset(error),
    }
    unsafe {
        let task = result as *mut gio::ffi::GTask;
        let ours = gio::ffi::g_task_is_valid(result, service as *mut glib::gobject_ffi::GObject)
            != glib::ffi::GFALSE
            && gio::ffi::g_task_get_source_tag(task) == shutdown_source_tag();
        if !ours {
            set_error(
                error,
                glib::Error::new(
                    gio::IOErrorEnum::InvalidArgument,
                    "The result is not from this service's shutdown_async()",
                ),
            );
            return glib::ffi::GFALSE;
        }
        gio::ffi::g_task_propagate_boolean(task, error)
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_reuse_port_address(
    service: *mut UsherSocketService,
    address: *mut gio::ffi::GSocketAddress,
    source_object: *mut glib::gobject_ffi::GObject,
    effective_address: *mut *mut gio::ffi::GSocketAddress,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_add_reuse_port_address => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_SOCKET_ADDRESS(address),
        source_object.is_null() || G_IS_OBJECT(source_object),
        error_is_unset(error),
    }
    let address: Borrowed<gio::SocketAddress> = unsafe { from_glib_borrow(address) };
    let source_object: Borrowed<Option<glib::Object>> = unsafe { from_glib_borrow(source_object) };
    let service = unsafe { self::service(service) };
    match service.add_reuse_port_address(&*address, source_object.as_ref().as_ref()) {
        Ok(effective) => {
            if !effective_address.is_null() {
                unsafe { *effective_address = effective.into_glib_ptr() };
            }
            glib::ffi::GTRUE
        }
        Err(failure) => {
            unsafe { set_error(error, failure) };
            glib::ffi::GFALSE
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_close_connections(service: *mut UsherSocketService) {
    return_if_fail! { usher_socket_service_close_connections; USHER_IS_SOCKET_SERVICE(service) }
    unsafe { self::service(service) }.close_connections()
}

/// `UsherActivatedSourceFunc`: returns a new reference, or NULL.
pub type ActivatedSourceFunc = Option<
    unsafe extern "C" fn(
        name: *const c_char,
        user_data: glib::ffi::gpointer,
    ) -> *mut glib::gobject_ffi::GObject,
>;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_activated_sockets(
    service: *mut UsherSocketService,
    source_func: ActivatedSourceFunc,
    user_data: glib::ffi::gpointer,
    error: *mut *mut glib::ffi::GError,
) -> c_uint {
    return_if_fail! {
        usher_socket_service_add_activated_sockets => 0;
        USHER_IS_SOCKET_SERVICE(service),
        error_is_unset(error),
    }
    let source_object_for = |name: &str| {
        let func = source_func?;
        let name = CString::new(name).ok()?;
        unsafe { from_glib_full(func(name.as_ptr(), user_data)) }
    };
    match unsafe { self::service(service) }.add_activated_sockets(source_object_for) {
        Ok(added) => {
            // As sd_listen_fds(1): C programs expect it, and the header asks them to call this
            // before other threads run.
            for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
                unsafe { std::env::remove_var(variable) };
            }
            added
        }
        Err(failure) => {
            unsafe { set_error(error, failure) };
            0
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_threaded_socket_service_get_type() -> glib::ffi::GType {
    ThreadedSocketService::static_type().into_glib()
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_threaded_socket_service_new(max_threads: c_int) -> *mut UsherSocketService {
    return_if_fail! {
        usher_threaded_socket_service_new => std::ptr::null_mut();
        max_threads >= -1,
    }
    let service: *mut UsherThreadedSocketService =
        ThreadedSocketService::new(max_threads).into_glib_ptr();
    service as *mut UsherSocketService
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_proxy_command_get_type() -> glib::ffi::GType {
    ProxyCommand::static_type().into_glib()
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_proxy_info_get_type() -> glib::ffi::GType {
    ProxyInfo::static_type().into_glib()
}

unsafe fn info(info: *mut UsherProxyInfo) -> Borrowed<ProxyInfo> {
    unsafe { ProxyInfo::from_glib_borrow(info) }
}

/// (transfer none): the connection keeps the info, under its data.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_for_connection(
    connection: *mut gio::ffi::GSocketConnection,
) -> *mut UsherProxyInfo {
    return_if_fail! {
        usher_proxy_info_get_for_connection => std::ptr::null_mut();
        G_IS_SOCKET_CONNECTION(connection)
    }
    let connection: Borrowed<gio::SocketConnection> = unsafe { from_glib_borrow(connection) };
    ProxyInfo::for_connection(&*connection)
        .map_or(std::ptr::null_mut(), |info| info.to_glib_none().0)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_version(info: *mut UsherProxyInfo) -> c_uint {
    return_if_fail! { usher_proxy_info_get_version => 0; USHER_IS_PROXY_INFO(info) }
    unsafe { self::info(info) }.version()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_command(info: *mut UsherProxyInfo) -> c_int {
    return_if_fail! {
        usher_proxy_info_get_command => ProxyCommand::Proxy.into_glib();
        USHER_IS_PROXY_INFO(info)
    }
    unsafe { self::info(info) }.command().into_glib()
}

/// An address getter of `UsherProxyInfo`: (transfer none), as the info keeps its addresses for
/// its lifetime.
macro_rules! proxy_info_addresses {
    ($($get:ident: $name:ident),+ $(,)?) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $get(
                info: *mut UsherProxyInfo,
            ) -> *mut gio::ffi::GSocketAddress {
                return_if_fail! { $get => std::ptr::null_mut(); USHER_IS_PROXY_INFO(info) }
                unsafe { self::info(info) }.$name().to_glib_none().0
            }
        )+
    };
}

proxy_info_addresses! {
    usher_proxy_info_get_source_address: source_address,
    usher_proxy_info_get_destination_address: destination_address,
    usher_proxy_info_get_proxy_address: proxy_address,
}

/// (transfer none): the info keeps its text TLVs as C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_alpn(info: *mut UsherProxyInfo) -> *const c_char {
    return_if_fail! { usher_proxy_info_get_alpn => std::ptr::null(); USHER_IS_PROXY_INFO(info) }
    unsafe { self::info(info) }
        .alpn_text()
        .map_or(std::ptr::null(), |alpn| alpn.as_ptr())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_authority(
    info: *mut UsherProxyInfo,
) -> *const c_char {
    return_if_fail! {
        usher_proxy_info_get_authority => std::ptr::null();
        USHER_IS_PROXY_INFO(info)
    }
    unsafe { self::info(info) }
        .authority_text()
        .map_or(std::ptr::null(), |authority| authority.as_ptr())
}

/// (transfer none): the info keeps its TLVs' bytes, which the Rust getters share.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_unique_id(
    info: *mut UsherProxyInfo,
) -> *mut glib::ffi::GBytes {
    return_if_fail! {
        usher_proxy_info_get_unique_id => std::ptr::null_mut();
        USHER_IS_PROXY_INFO(info)
    }
    unsafe { self::info(info) }.unique_id().to_glib_none().0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_proxy_info_get_tlv(
    info: *mut UsherProxyInfo,
    kind: u8,
) -> *mut glib::ffi::GBytes {
    return_if_fail! { usher_proxy_info_get_tlv => std::ptr::null_mut(); USHER_IS_PROXY_INFO(info) }
    unsafe { self::info(info) }.tlv(kind).to_glib_none().0
}
