//! GLib's logging state that glib-rs does not expose.

/// Whether the application enabled every debug message (`g_log_set_debug_enabled()`).
pub(crate) fn log_debug_enabled() -> bool {
    // SAFETY: an atomic read in GLib.
    unsafe { glib::ffi::g_log_get_debug_enabled() != glib::ffi::GFALSE }
}
