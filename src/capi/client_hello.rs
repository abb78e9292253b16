//! `UsherClientHello` (`client-hello.h`).

use std::ffi::c_char;

use glib::prelude::*;
use glib::translate::*;

use super::*;
use crate::ClientHello;
use crate::ffi::UsherClientHello;

#[unsafe(no_mangle)]
pub extern "C" fn usher_client_hello_get_type() -> glib::ffi::GType {
    ClientHello::static_type().into_glib()
}

unsafe fn hello(hello: *mut UsherClientHello) -> Borrowed<ClientHello> {
    unsafe { ClientHello::from_glib_borrow(hello) }
}

/// (transfer none): the connection keeps it, under its data.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_client_hello_get_for_connection(
    connection: *mut gio::ffi::GSocketConnection,
) -> *mut UsherClientHello {
    return_if_fail! {
        usher_client_hello_get_for_connection => std::ptr::null_mut();
        G_IS_SOCKET_CONNECTION(connection)
    }
    let connection: Borrowed<gio::SocketConnection> = unsafe { from_glib_borrow(connection) };
    ClientHello::for_connection(&*connection)
        .map_or(std::ptr::null_mut(), |hello| hello.to_glib_none().0)
}

/// (transfer none): the object keeps its name as a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_client_hello_get_server_name(
    hello: *mut UsherClientHello,
) -> *const c_char {
    return_if_fail! {
        usher_client_hello_get_server_name => std::ptr::null();
        USHER_IS_CLIENT_HELLO(hello)
    }
    unsafe { self::hello(hello) }
        .server_name_text()
        .map_or(std::ptr::null(), |name| name.as_ptr())
}

/// (transfer none): the object keeps its list, NULL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usher_client_hello_get_alpn_protocols(
    hello: *mut UsherClientHello,
) -> *const *const c_char {
    return_if_fail! {
        usher_client_hello_get_alpn_protocols => std::ptr::null();
        USHER_IS_CLIENT_HELLO(hello)
    }
    unsafe { self::hello(hello) }.alpn_protocols_strv().as_ptr() as *const *const c_char
}
