//! How long an invocation may still work (R8).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

    #[test]
    fn margin_larger_than_time_left_expires() {
        let at = epoch_ms(SystemTime::now() + Duration::from_secs(5));
        let d = Deadline::from_lambda(at, Duration::from_secs(10), Duration::from_secs(30));
        assert!(d.expired());
    }
}
