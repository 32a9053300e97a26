//! How long an invocation may still work (R8).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// Tokio's clock: the same as the system's, unless a benchmark pauses it.
use tokio::time::Instant;

/// The pauses of a bounded wait: `first`, then doubling up to `max`. Tests
/// pass zero or a few milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            max: Duration::from_secs(2),
        }
    }
}

/// The moment work must stop, with the safety margin already taken off.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    /// From Lambda's deadline (epoch milliseconds) less `margin`. A deadline
    /// that is not in the future is unknown (some emulators send a duration
    /// there), and `fallback` from now is used instead.
    pub fn from_lambda(deadline_ms: u64, margin: Duration, fallback: Duration) -> Self {
        let now = SystemTime::now();
        let end = UNIX_EPOCH + Duration::from_millis(deadline_ms);
        match end.duration_since(now) {
            Ok(left) if !left.is_zero() => Self::after(left.saturating_sub(margin)),
            _ => Self::after(fallback),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Sleeps for `wait`, or until the deadline if that comes first; false when
    /// the deadline has come.
    pub async fn sleep(&self, wait: Duration) -> bool {
        tokio::time::sleep(wait.min(self.remaining())).await;
        !self.expired()
    }

    /// Reads with `read` until `done` holds of what it read, pausing as
    /// `backoff` says in between: the last read, and whether `done` held
    /// before the deadline. The one bounded wait of the crate (R8): no other
    /// loop sleeps.
    pub async fn read_until<T, E, F, Fut>(
        &self,
        backoff: Backoff,
        mut read: F,
        done: impl Fn(&T) -> bool,
    ) -> Result<(T, bool), E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut pause = backoff.first;
        loop {
            let value = read().await?;
            if done(&value) {
                return Ok((value, true));
            }
            if !self.sleep(pause).await {
                return Ok((value, false));
            }
            pause = (pause * 2).min(backoff.max);
        }
    }

    /// Asks `check` until it answers `Some`; `Ok(None)` when the deadline
    /// comes first.
    pub async fn wait_for<T, E, F, Fut>(&self, backoff: Backoff, check: F) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let (found, _) = self.read_until(backoff, check, Option::is_some).await?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch_ms(at: SystemTime) -> u64 {
        at.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
    }

    #[test]
    fn lambda_deadline_less_margin() {
        let at = epoch_ms(SystemTime::now() + Duration::from_secs(60));
        let d = Deadline::from_lambda(at, Duration::from_secs(10), Duration::from_secs(1));
        assert!(d.remaining() > Duration::from_secs(45));
        assert!(d.remaining() <= Duration::from_secs(50));
    }

    #[test]
    fn deadline_in_the_past_falls_back_to_budget() {
        // The emulator sends a duration (600000) where an epoch time belongs.
        let d = Deadline::from_lambda(600_000, Duration::from_secs(10), Duration::from_secs(30));
        assert!(d.remaining() > Duration::from_secs(25));
    }

    #[tokio::test]
    async fn wait_for_asks_until_an_answer() {
        let mut asked = 0;
        let backoff = Backoff {
            first: Duration::ZERO,
            max: Duration::ZERO,
        };
        let deadline = Deadline::after(Duration::from_secs(5));
        let found: Result<_, ()> = deadline
            .wait_for(backoff, || {
                asked += 1;
                std::future::ready(Ok((asked == 3).then_some(asked)))
            })
            .await;
        assert_eq!(found, Ok(Some(3)));
    }

    #[tokio::test]
    async fn wait_for_ends_at_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(30));
        let started = Instant::now();
        let found: Result<Option<()>, ()> = deadline
            .wait_for(Backoff::default(), || std::future::ready(Ok(None)))
            .await;
        assert_eq!(found, Ok(None));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn margin_larger_than_time_left_expires() {
        let at = epoch_ms(SystemTime::now() + Duration::from_secs(5));
        let d = Deadline::from_lambda(at, Duration::from_secs(10), Duration::from_secs(30));
        assert!(d.expired());
    }
}
