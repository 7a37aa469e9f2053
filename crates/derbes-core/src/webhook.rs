//! When a webhook job is tried again: soon at first, then less and less often, and given up
//! after about five hours of attempts, so that a request never waits silently on a system that
//! is gone.

use time::Duration;

/// Attempts before a job is given up (the request's action then fails, with the last error).
pub const MAX_ATTEMPTS: u32 = 12;
/// The wait after the first failed attempt; it doubles after each.
pub const FIRST_RETRY: Duration = Duration::seconds(30);
/// The longest wait between two attempts.
pub const LONGEST_WAIT: Duration = Duration::hours(1);

/// How long to wait after `attempts` failed attempts; `None` when the job is given up.
pub fn retry_after(attempts: u32) -> Option<Duration> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(16);
    Some((FIRST_RETRY * 2i32.pow(doublings)).min(LONGEST_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn waits_double_up_to_an_hour_and_stop_after_the_last_attempt() {
        assert_eq!(retry_after(1), Some(Duration::seconds(30)));
        assert_eq!(retry_after(2), Some(Duration::seconds(60)));
        assert_eq!(retry_after(8), Some(Duration::hours(1)));
        assert_eq!(retry_after(MAX_ATTEMPTS - 1), Some(Duration::hours(1)));
        assert_eq!(retry_after(MAX_ATTEMPTS), None);
        let total: Duration = (1..MAX_ATTEMPTS).filter_map(retry_after).sum();
        assert!(
            total > Duration::hours(4) && total < Duration::hours(24),
            "{total}"
        );
    }

    proptest! {
        #[test]
        fn waits_never_shrink(n in 1u32..MAX_ATTEMPTS - 1) {
            prop_assert!(retry_after(n + 1) >= retry_after(n));
        }
    }
}
