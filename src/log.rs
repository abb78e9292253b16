//! Usher's log domain: debug messages for `G_MESSAGES_DEBUG=Usher`, and rate-limited warnings.

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
            glib::g_debug!($crate::log::LOG_DOMAIN, $($arg)*);
        }
    };
}
pub(crate) use debug;

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
}
