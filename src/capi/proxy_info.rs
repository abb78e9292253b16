//! `UsherProxyInfo` and `UsherProxyCommand` (`proxy-info.h`).

use std::ffi::{c_char, c_int, c_uint};

use glib::prelude::*;
use glib::translate::*;

use super::*;
use crate::{ProxyCommand, ProxyInfo};

/// `UsherProxyInfo`: the instance structure, opaque to C (`G_DECLARE_FINAL_TYPE`).
type UsherProxyInfo = <ProxyInfo as ObjectType>::GlibType;

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
