//! Usher's log domain: debug messages for `G_MESSAGES_DEBUG=Usher`, rate-limited warnings, and
//! messages held back while a lock is held.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The log domain of Usher's messages.
pub(crate) const LOG_DOMAIN: &str = "Usher";

/// Whether Usher's debug messages are shown: `G_MESSAGES_DEBUG` names `Usher` (or `all`), or
/// the application enabled debug messages with `g_log_set_debug_enabled()`.
///
/// The environment is read once; after that, a disabled message costs one atomic load.
pub(crate) fn debug_enabled() -> bool {
    static NAMED: OnceLock<bool> = OnceLock::new();
    crate::sys::log_debug_enabled()
        || *NAMED.get_or_init(|| {
            !glib::log_writer_default_would_drop(glib::LogLevel::Debug, Some(LOG_DOMAIN))
        })
}

/// `g_debug()` in Usher's log domain, formatted only when shown.
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::debug_enabled() {
            $crate::log::log(glib::LogLevel::Debug, format!($($arg)*));
        }
    };
}
pub(crate) use debug;

/// `g_warning()` in Usher's log domain.
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::log::log(glib::LogLevel::Warning, format!($($arg)*))
    };
}
pub(crate) use warning;

thread_local! {
    /// How many [`Deferral`]s this thread holds.
    static DEFERRING: Cell<u32> = const { Cell::new(0) };
    /// The messages they hold back, oldest first.
    static DEFERRED: RefCell<Vec<(glib::LogLevel, String)>> = const { RefCell::new(Vec::new()) };
}

/// Logs `message` in Usher's domain now, or, while this thread holds a [`Deferral`], once it
/// lets go of the last.
pub(crate) fn log(level: glib::LogLevel, message: String) {
    if DEFERRING.get() > 0 {
        DEFERRED.with_borrow_mut(|deferred| deferred.push((level, message)));
    } else {
        glib::g_log!(LOG_DOMAIN, level, "{}", message);
    }
}

/// Held with a lock that a log writer may need: messages logged meanwhile on this thread wait
/// until it is let go. A log writer is application code: it may read a property of the service,
/// whose lock is not reentrant.
pub(crate) struct Deferral(PhantomData<*const ()>);

impl Deferral {
    pub(crate) fn begin() -> Self {
        DEFERRING.set(DEFERRING.get() + 1);
        Self(PhantomData)
    }
}

impl Drop for Deferral {
    fn drop(&mut self) {
        let left = DEFERRING.get() - 1;
        DEFERRING.set(left);
        if left == 0 {
            // Taken first: the writer may log, and lock, again.
            for (level, message) in DEFERRED.take() {
                glib::g_log!(LOG_DOMAIN, level, "{}", message);
            }
        }
    }
}

/// Lets through one warning a second and counts the others.
#[derive(Default)]
pub(crate) struct WarningLimiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl WarningLimiter {
    const INTERVAL: Duration = Duration::from_secs(1);

    /// Whether a warning may be logged `now`: if so, with the number of warnings held back
    /// since the last one.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < Self::INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_admitted_once_a_second_with_the_held_back_count() {
        let mut limiter = WarningLimiter::default();
        let start = Instant::now();
        assert_eq!(limiter.admit(start), Some(0));
        for ms in [1, 10, 500, 999] {
            assert_eq!(limiter.admit(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(limiter.admit(start + Duration::from_millis(1000)), Some(4));
        assert_eq!(limiter.admit(start + Duration::from_millis(1001)), None);
    }

    #[test]
    fn messages_wait_for_the_last_deferral() {
        let outer = Deferral::begin();
        let inner = Deferral::begin();
        log(glib::LogLevel::Debug, "held".to_owned());
        drop(inner);
        assert_eq!(DEFERRED.with_borrow(Vec::len), 1);
        drop(outer);
        assert_eq!(DEFERRED.with_borrow(Vec::len), 0);
    }
}
