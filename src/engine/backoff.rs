//! The pause after running out of resources.

use std::time::Duration;

/// The pause after an accept failed for want of resources.
pub(super) struct Backoff {
    /// Set while accepting is paused.
    pub timer: Option<glib::Source>,
    delay: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const LONGEST: Duration = Duration::from_millis(640);

    /// The pause to take now; the next one will be twice as long, up to [`Self::LONGEST`].
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.delay;
        self.delay = (delay * 2).min(Self::LONGEST);
        delay
    }

    /// An accept succeeded: the next failure starts from a short pause again.
    pub fn reset(&mut self) {
        self.delay = Self::FIRST;
    }

    /// Ends the pause now.
    pub fn expire(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.destroy();
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            timer: None,
            delay: Self::FIRST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_longest_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..10)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 640, 640]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Backoff::FIRST);
    }
}
