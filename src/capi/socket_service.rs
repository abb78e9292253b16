//! `UsherSocketService`: its methods and property accessors (`socket-service.h`).

use std::ffi::{CString, c_char, c_uint};

use gio::prelude::*;
use glib::translate::*;

use super::socket_settings::UsherSocketSettings;
use super::*;
use crate::ffi::UsherSocketService;
use crate::prelude::*;
use crate::{SocketService, SocketSettings};

pub(super) unsafe fn service(service: *mut UsherSocketService) -> Borrowed<SocketService> {
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

property_accessors! {
    UsherSocketService, USHER_IS_SOCKET_SERVICE, service;
    value usher_socket_service_get_max_connections / usher_socket_service_set_max_connections:
        max_connections / set_max_connections: c_uint;
    value usher_socket_service_get_max_connections_per_peer
        / usher_socket_service_set_max_connections_per_peer:
        max_connections_per_peer / set_max_connections_per_peer: c_uint;
    value usher_socket_service_get_timeout / usher_socket_service_set_timeout:
        timeout / set_timeout: c_uint;
    value usher_socket_service_get_tls_handshake_timeout
        / usher_socket_service_set_tls_handshake_timeout:
        tls_handshake_timeout / set_tls_handshake_timeout: c_uint;
    value usher_socket_service_get_proxy_protocol_required
        / usher_socket_service_set_proxy_protocol_required:
        proxy_protocol_required / set_proxy_protocol_required: bool;
    value usher_socket_service_get_proxy_protocol_timeout
        / usher_socket_service_set_proxy_protocol_timeout:
        proxy_protocol_timeout / set_proxy_protocol_timeout: c_uint;
    value usher_socket_service_get_n_connections: n_connections: c_uint;
    value usher_socket_service_get_n_accepted: n_accepted: u64;
    value usher_socket_service_get_n_accept_errors: n_accept_errors: u64;
    object usher_socket_service_get_tls_certificate / usher_socket_service_set_tls_certificate:
        tls_certificate / set_tls_certificate: gio::TlsCertificate, G_IS_TLS_CERTIFICATE;
    object usher_socket_service_get_tls_database / usher_socket_service_set_tls_database:
        tls_database / set_tls_database: gio::TlsDatabase, G_IS_TLS_DATABASE;
    authentication_mode usher_socket_service_get_tls_authentication_mode
        / usher_socket_service_set_tls_authentication_mode:
        tls_authentication_mode / set_tls_authentication_mode;
    strv usher_socket_service_get_tls_advertised_protocols
        / usher_socket_service_set_tls_advertised_protocols:
        tls_advertised_protocols / set_tls_advertised_protocols;
    value usher_socket_service_get_descriptor_margin
        / usher_socket_service_set_descriptor_margin:
        descriptor_margin / set_descriptor_margin: c_uint;
    value usher_socket_service_get_overloaded: overloaded: bool;
    object usher_socket_service_get_memory_monitor / usher_socket_service_set_memory_monitor:
        memory_monitor / set_memory_monitor: gio::MemoryMonitor, G_IS_MEMORY_MONITOR;
    // Through the property's setter, which logs a critical for an invalid entry.
    strv usher_socket_service_get_proxy_protocol_peers
        / usher_socket_service_set_proxy_protocol_peers:
        proxy_protocol_peers / set_proxy_protocol_peers;
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_socket_settings(
    service: *mut UsherSocketService,
) -> *mut UsherSocketSettings {
    return_if_fail! {
        usher_socket_service_get_socket_settings => std::ptr::null_mut();
        USHER_IS_SOCKET_SERVICE(service)
    }
    // (transfer none): the service keeps its settings as long as it lives.
    unsafe { self::service(service) }
        .socket_settings()
        .to_glib_none()
        .0
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
    let set = unsafe { self::service(service) }.try_set_proxy_protocol_peers(&peers);
    unsafe { boolean_or_error(set, error) }
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

/// `settings`, a nullable `UsherSocketSettings *`, borrowed.
unsafe fn borrow_settings(settings: *mut UsherSocketSettings) -> Borrowed<Option<SocketSettings>> {
    unsafe { from_glib_borrow(settings) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_address_full(
    service: *mut UsherSocketService,
    address: *mut gio::ffi::GSocketAddress,
    type_: gio::ffi::GSocketType,
    protocol: gio::ffi::GSocketProtocol,
    source_object: *mut glib::gobject_ffi::GObject,
    settings: *mut UsherSocketSettings,
    effective_address: *mut *mut gio::ffi::GSocketAddress,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_add_address_full => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_SOCKET_ADDRESS(address),
        source_object.is_null() || G_IS_OBJECT(source_object),
        settings.is_null() || USHER_IS_SOCKET_SETTINGS(settings),
        error_is_unset(error),
    }
    let address: Borrowed<gio::SocketAddress> = unsafe { from_glib_borrow(address) };
    let source_object: Borrowed<Option<glib::Object>> = unsafe { from_glib_borrow(source_object) };
    let settings = unsafe { borrow_settings(settings) };
    let added = unsafe { self::service(service) }.add_address_with_settings(
        &*address,
        unsafe { from_glib(type_) },
        unsafe { from_glib(protocol) },
        source_object.as_ref().as_ref(),
        settings.as_ref().as_ref(),
    );
    match added {
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
pub unsafe extern "C" fn usher_socket_service_add_inet_port_full(
    service: *mut UsherSocketService,
    port: u16,
    source_object: *mut glib::gobject_ffi::GObject,
    settings: *mut UsherSocketSettings,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_add_inet_port_full => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        port != 0,
        source_object.is_null() || G_IS_OBJECT(source_object),
        settings.is_null() || USHER_IS_SOCKET_SETTINGS(settings),
        error_is_unset(error),
    }
    let source_object: Borrowed<Option<glib::Object>> = unsafe { from_glib_borrow(source_object) };
    let settings = unsafe { borrow_settings(settings) };
    let added = unsafe { self::service(service) }.add_inet_port_with_settings(
        port,
        source_object.as_ref().as_ref(),
        settings.as_ref().as_ref(),
    );
    unsafe { boolean_or_error(added, error) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_any_inet_port_full(
    service: *mut UsherSocketService,
    source_object: *mut glib::gobject_ffi::GObject,
    settings: *mut UsherSocketSettings,
    error: *mut *mut glib::ffi::GError,
) -> u16 {
    return_if_fail! {
        usher_socket_service_add_any_inet_port_full => 0;
        USHER_IS_SOCKET_SERVICE(service),
        source_object.is_null() || G_IS_OBJECT(source_object),
        settings.is_null() || USHER_IS_SOCKET_SETTINGS(settings),
        error_is_unset(error),
    }
    let source_object: Borrowed<Option<glib::Object>> = unsafe { from_glib_borrow(source_object) };
    let settings = unsafe { borrow_settings(settings) };
    let added = unsafe { self::service(service) }.add_any_inet_port_with_settings(
        source_object.as_ref().as_ref(),
        settings.as_ref().as_ref(),
    );
    match added {
        Ok(port) => port,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            0
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_add_socket_full(
    service: *mut UsherSocketService,
    socket: *mut gio::ffi::GSocket,
    source_object: *mut glib::gobject_ffi::GObject,
    settings: *mut UsherSocketSettings,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_add_socket_full => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_SOCKET(socket),
        source_object.is_null() || G_IS_OBJECT(source_object),
        settings.is_null() || USHER_IS_SOCKET_SETTINGS(settings),
        error_is_unset(error),
    }
    let socket: Borrowed<gio::Socket> = unsafe { from_glib_borrow(socket) };
    let source_object: Borrowed<Option<glib::Object>> = unsafe { from_glib_borrow(source_object) };
    let settings = unsafe { borrow_settings(settings) };
    let added = unsafe { self::service(service) }.add_socket_with_settings(
        &*socket,
        source_object.as_ref().as_ref(),
        settings.as_ref().as_ref(),
    );
    unsafe { boolean_or_error(added, error) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_socket_settings(
    service: *mut UsherSocketService,
    socket: *mut gio::ffi::GSocket,
    settings: *mut UsherSocketSettings,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_service_set_socket_settings => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_SOCKET(socket),
        settings.is_null() || USHER_IS_SOCKET_SETTINGS(settings),
        error_is_unset(error),
    }
    let socket: Borrowed<gio::Socket> = unsafe { from_glib_borrow(socket) };
    let settings = unsafe { borrow_settings(settings) };
    let set =
        unsafe { self::service(service) }.set_socket_settings(&*socket, settings.as_ref().as_ref());
    unsafe { boolean_or_error(set, error) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_set_named_socket_settings(
    service: *mut UsherSocketService,
    name: *const c_char,
    settings: *mut UsherSocketSettings,
) {
    return_if_fail! {
        usher_socket_service_set_named_socket_settings;
        USHER_IS_SOCKET_SERVICE(service),
        !name.is_null(),
        settings.is_null() || USHER_IS_SOCKET_SETTINGS(settings),
    }
    let Ok(name) = unsafe { std::ffi::CStr::from_ptr(name) }.to_str() else {
        // A name from LISTEN_FDNAMES is ASCII: no socket has this one.
        return;
    };
    let settings = unsafe { borrow_settings(settings) };
    unsafe { self::service(service) }.set_named_socket_settings(name, settings.as_ref().as_ref())
}

/// (transfer full): the service holds the socket weakly, and the listener only while it
/// listens, which another thread may end.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_listening_socket(
    connection: *mut gio::ffi::GSocketConnection,
) -> *mut gio::ffi::GSocket {
    return_if_fail! {
        usher_socket_service_get_listening_socket => std::ptr::null_mut();
        G_IS_SOCKET_CONNECTION(connection),
    }
    let connection: Borrowed<gio::SocketConnection> = unsafe { from_glib_borrow(connection) };
    SocketService::listening_socket(&*connection).into_glib_ptr()
}

/// (transfer full): a reference of the caller's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_peer_credentials(
    connection: *mut gio::ffi::GSocketConnection,
    error: *mut *mut glib::ffi::GError,
) -> *mut gio::ffi::GCredentials {
    return_if_fail! {
        usher_socket_service_get_peer_credentials => std::ptr::null_mut();
        G_IS_SOCKET_CONNECTION(connection),
        error_is_unset(error),
    }
    let connection: Borrowed<gio::SocketConnection> = unsafe { from_glib_borrow(connection) };
    match SocketService::peer_credentials(&*connection) {
        Ok(credentials) => credentials.into_glib_ptr(),
        Err(failure) => {
            unsafe { set_error(error, failure) };
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_get_n_refused(
    service: *mut UsherSocketService,
    reason: std::ffi::c_int,
) -> u64 {
    return_if_fail! {
        usher_socket_service_get_n_refused => 0;
        USHER_IS_SOCKET_SERVICE(service),
        usize::try_from(reason).is_ok_and(|reason| reason < crate::Refusal::ALL.len()),
    }
    let reason = crate::Refusal::ALL[reason as usize];
    unsafe { self::service(service) }.n_refused(reason)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_store_sockets(
    service: *mut UsherSocketService,
    error: *mut *mut glib::ffi::GError,
) -> c_uint {
    return_if_fail! {
        usher_socket_service_store_sockets => 0;
        USHER_IS_SOCKET_SERVICE(service),
        error_is_unset(error),
    }
    match unsafe { self::service(service) }.store_sockets() {
        Ok(stored) => stored,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            0
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_service_take_over(
    service: *mut UsherSocketService,
    address: *mut gio::ffi::GSocketAddress,
    cancellable: *mut gio::ffi::GCancellable,
    source_func: ActivatedSourceFunc,
    user_data: glib::ffi::gpointer,
    error: *mut *mut glib::ffi::GError,
) -> c_uint {
    return_if_fail! {
        usher_socket_service_take_over => 0;
        USHER_IS_SOCKET_SERVICE(service),
        G_IS_SOCKET_ADDRESS(address),
        cancellable.is_null() || G_IS_CANCELLABLE(cancellable),
        error_is_unset(error),
    }
    let address: Borrowed<gio::SocketAddress> = unsafe { from_glib_borrow(address) };
    let cancellable: Borrowed<Option<gio::Cancellable>> = unsafe { from_glib_borrow(cancellable) };
    let source_object_for = |name: &str| {
        let func = source_func?;
        let name = CString::new(name).ok()?;
        unsafe { from_glib_full(func(name.as_ptr(), user_data)) }
    };
    let taken = unsafe { self::service(service) }.take_over(
        &*address,
        source_object_for,
        cancellable.as_ref().as_ref(),
    );
    match taken {
        Ok(added) => added,
        Err(failure) => {
            unsafe { set_error(error, failure) };
            0
        }
    }
}
