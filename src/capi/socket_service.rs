//! `UsherSocketService`: its methods and property accessors (`socket-service.h`).

use std::ffi::{CString, c_char, c_uint};

use gio::prelude::*;
use glib::translate::*;

use super::*;
use crate::SocketService;
use crate::ffi::UsherSocketService;
use crate::prelude::*;

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
