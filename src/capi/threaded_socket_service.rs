//! `UsherThreadedSocketService` (`threaded-socket-service.h`).

use std::ffi::c_int;

use glib::translate::*;

use super::*;
use crate::ThreadedSocketService;
use crate::ffi::{UsherSocketService, UsherThreadedSocketService};

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
