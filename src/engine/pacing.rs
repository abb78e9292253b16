//! How fast a listening socket is served, and the pause after running out of resources.

use std::time::Duration;

/// How many connections one dispatch takes off a socket's backlog, adapted to the load.
///
/// Under light load a readiness brings one connection, and accepting once more only to find the
/// backlog empty would cost a system call per connection: the allowance follows what the last
/// dispatch found, and grows to the most allowed when a dispatch uses all of it (a burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pacing {
    allowance: usize,
}

impl Default for Pacing {
    fn default() -> Self {
        Self { allowance: 1 }
    }
}

impl Pacing {
    /// How many connections to try to accept in this dispatch.
    pub fn allowance(self) -> usize {
        self.allowance
    }

    /// A dispatch accepted `accepted` connections and `emptied` the backlog (or not); `most` is
    /// the most one may accept.
    pub fn adjust(&mut self, accepted: usize, emptied: bool, most: usize) {
        self.allowance = if emptied {
            accepted.max(1)
        } else if accepted >= self.allowance {
            most
        } else {
            self.allowance
        };
    }
}

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

    #[test]
    fn pacing_follows_the_load() {
        let mut pacing = Pacing::default();
        assert_eq!(pacing.allowance(), 1);
        // Light load: one connection per readiness.
        pacing.adjust(1, true, 1024);
        assert_eq!(pacing.allowance(), 1);
        // A burst: all the allowance used, clients still waiting.
        pacing.adjust(1, false, 1024);
        assert_eq!(pacing.allowance(), 1024);
        pacing.adjust(300, true, 1024);
        assert_eq!(pacing.allowance(), 300);
        pacing.adjust(200, false, 1024);
        assert_eq!(pacing.allowance(), 300, "room ran out before the allowance");
        // Over: one accept at a time.
        pacing.adjust(1, true, 1024);
        assert_eq!(pacing.allowance(), 1);
        pacing.adjust(0, true, 1024);
        assert_eq!(pacing.allowance(), 1, "a spurious wakeup");
    }
}
