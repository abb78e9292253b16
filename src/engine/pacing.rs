//! How fast a listening socket is served, and the pause after running out of resources.

use std::time::{Duration, Instant};

/// How a socket's connections are accepted, adapted to the load.
///
/// Under light load a readiness brings one connection, and accepting once more only to find the
/// backlog empty would cost a system call per connection: the allowance follows what the last
/// dispatch found, and grows to the most allowed when a dispatch uses all of it.
///
/// During a burst (a dispatch that finds more than one client waiting), the next dispatches run
/// before the context's default-priority sources, the handlers' I/O among them: accepting is
/// cheap and the handlers are not, and a listen backlog left waiting behind them overflows, the
/// kernel then dropping clients that retry only a second later. So that a flood of connections
/// cannot starve the rest of the context, the raised priority lasts at most
/// [`Pacing::LONGEST_RAISE`] at a time, then one dispatch runs at the default priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pacing {
    allowance: usize,
    /// When the priority was raised, during a burst.
    raised_at: Option<Instant>,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            allowance: 1,
            raised_at: None,
        }
    }
}

impl Pacing {
    const LONGEST_RAISE: Duration = Duration::from_millis(50);

    /// How many connections to try to accept in this dispatch.
    pub fn allowance(self) -> usize {
        self.allowance
    }

    /// A dispatch ending `now` accepted `accepted` connections and `emptied` the backlog (or
    /// not); `most` is the most one may accept. Returns the priority of the next dispatch.
    pub fn adjust(
        &mut self,
        accepted: usize,
        emptied: bool,
        most: usize,
        now: Instant,
    ) -> glib::Priority {
        self.allowance = if emptied {
            accepted.max(1)
        } else if accepted >= self.allowance {
            most
        } else {
            self.allowance
        };
        let burst = accepted > 1 || !emptied && accepted >= 1;
        self.raised_at = match self.raised_at {
            _ if !burst => None,
            None => Some(now),
            Some(raised_at) if now.duration_since(raised_at) > Self::LONGEST_RAISE => None,
            raised => raised,
        };
        if self.raised_at.is_some() {
            glib::Priority::HIGH
        } else {
            glib::Priority::DEFAULT
        }
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
    fn pacing_follows_the_load_and_never_starves_the_context() {
        use glib::Priority;
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut pacing = Pacing::default();
        assert_eq!(pacing.allowance(), 1);
        // Light load: one connection per readiness, at the default priority.
        assert_eq!(pacing.adjust(1, true, 1024, at(0)), Priority::DEFAULT);
        assert_eq!(pacing.allowance(), 1);
        // A burst: all the allowance used, clients still waiting.
        assert_eq!(pacing.adjust(1, false, 1024, at(1)), Priority::HIGH);
        assert_eq!(pacing.allowance(), 1024);
        assert_eq!(pacing.adjust(300, true, 1024, at(2)), Priority::HIGH);
        assert_eq!(pacing.allowance(), 300);
        assert_eq!(pacing.adjust(300, false, 1024, at(40)), Priority::HIGH);
        // A flood: after LONGEST_RAISE, one dispatch at the default priority, then raised again.
        assert_eq!(pacing.adjust(1024, false, 1024, at(52)), Priority::DEFAULT);
        assert_eq!(pacing.adjust(1024, false, 1024, at(60)), Priority::HIGH);
        // Over: back to the default priority and one accept at a time.
        assert_eq!(pacing.adjust(1, true, 1024, at(70)), Priority::DEFAULT);
        assert_eq!(pacing.allowance(), 1);
        assert_eq!(pacing.adjust(0, true, 1024, at(80)), Priority::DEFAULT);
        assert_eq!(pacing.allowance(), 1, "a spurious wakeup");
    }
}
