//! `UsherSocketSettings`: its constructor, which settings are set, its property accessors
//! (`socket-settings.h`).

use std::ffi::{CStr, c_char, c_uint};

use gio::prelude::*;
use glib::translate::*;

use super::*;
use crate::SocketSettings;

/// `UsherSocketSettings`: the instance structure, opaque to C (`G_DECLARE_FINAL_TYPE`).
pub(super) type UsherSocketSettings = <SocketSettings as ObjectType>::GlibType;

unsafe fn settings(settings: *mut UsherSocketSettings) -> Borrowed<SocketSettings> {
    unsafe { SocketSettings::from_glib_borrow(settings) }
}

/// Whether `name` is the name of a setting (`"tls-certificate"`, …).
fn is_a_setting(name: *const c_char) -> bool {
    setting_name(name).is_some()
}

/// `name`, the name of a setting, if it is one.
fn setting_name<'a>(name: *const c_char) -> Option<&'a str> {
    if name.is_null() {
        return None;
    }
    let name = unsafe { CStr::from_ptr(name) }.to_str().ok()?;
    SocketSettings::has_setting(name).then_some(name)
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_socket_settings_get_type() -> glib::ffi::GType {
    SocketSettings::static_type().into_glib()
}

#[unsafe(no_mangle)]
pub extern "C" fn usher_socket_settings_new() -> *mut UsherSocketSettings {
    SocketSettings::new().into_glib_ptr()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_is_set(
    settings: *mut UsherSocketSettings,
    name: *const c_char,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_settings_is_set => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SETTINGS(settings),
        is_a_setting(name),
    }
    let name = setting_name(name).unwrap_or_default();
    unsafe { self::settings(settings) }.is_set(name).into_glib()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_unset(
    settings: *mut UsherSocketSettings,
    name: *const c_char,
) {
    return_if_fail! {
        usher_socket_settings_unset;
        USHER_IS_SOCKET_SETTINGS(settings),
        is_a_setting(name),
    }
    let name = setting_name(name).unwrap_or_default();
    let _ = unsafe { self::settings(settings) }.unset(name);
}

/// (transfer none): the connection keeps them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_get_for_connection(
    connection: *mut gio::ffi::GSocketConnection,
) -> *mut UsherSocketSettings {
    return_if_fail! {
        usher_socket_settings_get_for_connection => std::ptr::null_mut();
        G_IS_SOCKET_CONNECTION(connection),
    }
    let connection: Borrowed<gio::SocketConnection> = unsafe { from_glib_borrow(connection) };
    SocketSettings::for_connection(&*connection)
        .to_glib_none()
        .0
}

property_accessors! {
    UsherSocketSettings, USHER_IS_SOCKET_SETTINGS, settings;
    object usher_socket_settings_get_tls_certificate / usher_socket_settings_set_tls_certificate:
        tls_certificate / set_tls_certificate: gio::TlsCertificate, G_IS_TLS_CERTIFICATE;
    object usher_socket_settings_get_tls_database / usher_socket_settings_set_tls_database:
        tls_database / set_tls_database: gio::TlsDatabase, G_IS_TLS_DATABASE;
    authentication_mode usher_socket_settings_get_tls_authentication_mode
        / usher_socket_settings_set_tls_authentication_mode:
        tls_authentication_mode / set_tls_authentication_mode;
    strv usher_socket_settings_get_tls_advertised_protocols
        / usher_socket_settings_set_tls_advertised_protocols:
        tls_advertised_protocols / set_tls_advertised_protocols;
    value usher_socket_settings_get_tls_handshake_timeout
        / usher_socket_settings_set_tls_handshake_timeout:
        tls_handshake_timeout / set_tls_handshake_timeout: c_uint;
    // Through the property's setter, which logs a critical for an invalid entry.
    strv usher_socket_settings_get_proxy_protocol_peers
        / usher_socket_settings_set_proxy_protocol_peers:
        proxy_protocol_peers / set_proxy_protocol_peers;
    value usher_socket_settings_get_proxy_protocol_required
        / usher_socket_settings_set_proxy_protocol_required:
        proxy_protocol_required / set_proxy_protocol_required: bool;
    value usher_socket_settings_get_proxy_protocol_timeout
        / usher_socket_settings_set_proxy_protocol_timeout:
        proxy_protocol_timeout / set_proxy_protocol_timeout: c_uint;
    value usher_socket_settings_get_timeout / usher_socket_settings_set_timeout:
        timeout / set_timeout: c_uint;
    value usher_socket_settings_get_tcp_keepalive / usher_socket_settings_set_tcp_keepalive:
        tcp_keepalive / set_tcp_keepalive: bool;
    value usher_socket_settings_get_tcp_keepalive_idle
        / usher_socket_settings_set_tcp_keepalive_idle:
        tcp_keepalive_idle / set_tcp_keepalive_idle: c_uint;
    value usher_socket_settings_get_tcp_keepalive_interval
        / usher_socket_settings_set_tcp_keepalive_interval:
        tcp_keepalive_interval / set_tcp_keepalive_interval: c_uint;
    value usher_socket_settings_get_tcp_keepalive_count
        / usher_socket_settings_set_tcp_keepalive_count:
        tcp_keepalive_count / set_tcp_keepalive_count: c_uint;
    value usher_socket_settings_get_tcp_user_timeout / usher_socket_settings_set_tcp_user_timeout:
        tcp_user_timeout / set_tcp_user_timeout: c_uint;
    value usher_socket_settings_get_tcp_defer_accept / usher_socket_settings_set_tcp_defer_accept:
        tcp_defer_accept / set_tcp_defer_accept: c_uint;
    value usher_socket_settings_get_unix_mode / usher_socket_settings_set_unix_mode:
        unix_mode / set_unix_mode: c_uint;
    value usher_socket_settings_get_unix_owner / usher_socket_settings_set_unix_owner:
        unix_owner / set_unix_owner: c_uint;
    value usher_socket_settings_get_unix_group / usher_socket_settings_set_unix_group:
        unix_group / set_unix_group: c_uint;
    // Through the properties' setters, which log a critical for an invalid entry.
    strv usher_socket_settings_get_allowed_users / usher_socket_settings_set_allowed_users:
        allowed_users / set_allowed_users;
    strv usher_socket_settings_get_allowed_groups / usher_socket_settings_set_allowed_groups:
        allowed_groups / set_allowed_groups;
    value usher_socket_settings_get_peer_rate / usher_socket_settings_set_peer_rate:
        peer_rate / set_peer_rate: c_uint;
    value usher_socket_settings_get_peer_rate_burst / usher_socket_settings_set_peer_rate_burst:
        peer_rate_burst / set_peer_rate_burst: c_uint;
    value usher_socket_settings_get_rate / usher_socket_settings_set_rate:
        rate / set_rate: c_uint;
    value usher_socket_settings_get_rate_burst / usher_socket_settings_set_rate_burst:
        rate_burst / set_rate_burst: c_uint;
    value usher_socket_settings_get_tls_handshakes_per_peer
        / usher_socket_settings_set_tls_handshakes_per_peer:
        tls_handshakes_per_peer / set_tls_handshakes_per_peer: c_uint;
    value usher_socket_settings_get_tls_handshake_rate
        / usher_socket_settings_set_tls_handshake_rate:
        tls_handshake_rate / set_tls_handshake_rate: c_uint;
    strv usher_socket_settings_get_allowed_peers / usher_socket_settings_set_allowed_peers:
        allowed_peers / set_allowed_peers;
    strv usher_socket_settings_get_denied_peers / usher_socket_settings_set_denied_peers:
        denied_peers / set_denied_peers;
    // Through the property's setter, which logs a critical for an invalid name.
    string usher_socket_settings_get_name / usher_socket_settings_set_name: name / set_name;
}

/// The `try_set_*()` of a list setting: its entries, or the error saying which is wrong.
macro_rules! try_set_list {
    ($($function:ident: $method:ident;)+) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $function(
                settings: *mut UsherSocketSettings,
                entries: *const *const c_char,
                error: *mut *mut glib::ffi::GError,
            ) -> glib::ffi::gboolean {
                return_if_fail! {
                    $function => glib::ffi::GFALSE;
                    USHER_IS_SOCKET_SETTINGS(settings),
                    strv_is_utf8(entries),
                    error_is_unset(error),
                }
                let entries = unsafe { strv_from_c(entries) };
                let set = unsafe { self::settings(settings) }.$method(&entries);
                unsafe { boolean_or_error(set, error) }
            }
        )+
    };
}

try_set_list! {
    usher_socket_settings_try_set_proxy_protocol_peers: try_set_proxy_protocol_peers;
    usher_socket_settings_try_set_allowed_users: try_set_allowed_users;
    usher_socket_settings_try_set_allowed_groups: try_set_allowed_groups;
    usher_socket_settings_try_set_allowed_peers: try_set_allowed_peers;
    usher_socket_settings_try_set_denied_peers: try_set_denied_peers;
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_set_tls_certificate_files(
    settings: *mut UsherSocketSettings,
    certificate_file: *const c_char,
    key_file: *const c_char,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_settings_set_tls_certificate_files => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SETTINGS(settings),
        !certificate_file.is_null(),
        error_is_unset(error),
    }
    let certificate_file = unsafe { path_from_c(certificate_file) }.unwrap_or_default();
    let key_file = unsafe { path_from_c(key_file) };
    let set = unsafe { self::settings(settings) }
        .set_tls_certificate_files(certificate_file, key_file.as_deref());
    unsafe { boolean_or_error(set, error) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_set_tls_certificate_for_name(
    settings: *mut UsherSocketSettings,
    name: *const c_char,
    certificate: *mut gio::ffi::GTlsCertificate,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_settings_set_tls_certificate_for_name => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SETTINGS(settings),
        !name.is_null() && is_utf8_or_null(name),
        certificate.is_null() || G_IS_TLS_CERTIFICATE(certificate),
        error_is_unset(error),
    }
    let name = unsafe { CStr::from_ptr(name) }.to_str().unwrap_or_default();
    let certificate: Borrowed<Option<gio::TlsCertificate>> =
        unsafe { from_glib_borrow(certificate) };
    let set = unsafe { self::settings(settings) }
        .set_tls_certificate_for_name(name, certificate.as_ref().as_ref());
    unsafe { boolean_or_error(set, error) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_set_tls_certificate_files_for_name(
    settings: *mut UsherSocketSettings,
    name: *const c_char,
    certificate_file: *const c_char,
    key_file: *const c_char,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_settings_set_tls_certificate_files_for_name => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SETTINGS(settings),
        !name.is_null() && is_utf8_or_null(name),
        !certificate_file.is_null(),
        error_is_unset(error),
    }
    let name = unsafe { CStr::from_ptr(name) }.to_str().unwrap_or_default();
    let certificate_file = unsafe { path_from_c(certificate_file) }.unwrap_or_default();
    let key_file = unsafe { path_from_c(key_file) };
    let set = unsafe { self::settings(settings) }.set_tls_certificate_files_for_name(
        name,
        certificate_file,
        key_file.as_deref(),
    );
    unsafe { boolean_or_error(set, error) }
}

/// (transfer full): another thread may replace the certificate in the settings meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_get_tls_certificate_for_name(
    settings: *mut UsherSocketSettings,
    server_name: *const c_char,
) -> *mut gio::ffi::GTlsCertificate {
    return_if_fail! {
        usher_socket_settings_get_tls_certificate_for_name => std::ptr::null_mut();
        USHER_IS_SOCKET_SETTINGS(settings),
        is_utf8_or_null(server_name),
    }
    let server_name = (!server_name.is_null()).then(|| {
        unsafe { CStr::from_ptr(server_name) }
            .to_str()
            .unwrap_or_default()
    });
    unsafe { self::settings(settings) }
        .tls_certificate_for_name(server_name)
        .into_glib_ptr()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_reload_tls_certificates(
    settings: *mut UsherSocketSettings,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    return_if_fail! {
        usher_socket_settings_reload_tls_certificates => glib::ffi::GFALSE;
        USHER_IS_SOCKET_SETTINGS(settings),
        error_is_unset(error),
    }
    let reloaded = unsafe { self::settings(settings) }.reload_tls_certificates();
    unsafe { boolean_or_error(reloaded, error) }
}

/// A file name getter: (transfer full), in GLib's file name encoding, NULL for none.
macro_rules! file_getters {
    ($($get:ident: $name:ident),+ $(,)?) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $get(settings: *mut UsherSocketSettings) -> *mut c_char {
                return_if_fail! { $get => std::ptr::null_mut(); USHER_IS_SOCKET_SETTINGS(settings) }
                unsafe { self::settings(settings) }
                    .$name()
                    .map_or(std::ptr::null_mut(), |path| {
                        std::path::PathBuf::from(path).to_glib_full()
                    })
            }
        )+
    };
}

file_getters! {
    usher_socket_settings_get_tls_certificate_file: tls_certificate_file,
    usher_socket_settings_get_tls_key_file: tls_key_file,
}

/// (transfer full), NULL for none, as the other list getters.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_socket_settings_get_tls_certificate_names(
    settings: *mut UsherSocketSettings,
) -> *mut *mut c_char {
    return_if_fail! {
        usher_socket_settings_get_tls_certificate_names => std::ptr::null_mut();
        USHER_IS_SOCKET_SETTINGS(settings)
    }
    strv_or_null(unsafe { self::settings(settings) }.tls_certificate_names())
}
