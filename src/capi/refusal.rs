//! `UsherRefusal` (`refusal.h`).

use glib::prelude::*;
use glib::translate::*;

#[unsafe(no_mangle)]
pub extern "C" fn usher_refusal_get_type() -> glib::ffi::GType {
    crate::Refusal::static_type().into_glib()
}
