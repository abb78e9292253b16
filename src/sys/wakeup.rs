//! A source that runs its callback each time it is woken, from any thread.

use std::ffi::CStr;

use glib::translate::*;

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

#[cfg(test)]
mod tests {
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
