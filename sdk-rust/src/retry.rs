//! When to try a request again, and how long to wait first.

use std::time::Duration;

/// First backoff step; doubled on every further retry.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// No computed backoff sleeps longer than this.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// A `Retry-After` longer than this is not waited for: the error is returned
/// instead, since a caller rarely wants a call to hang that long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How safe it is to send an operation again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetrySafety {
    /// GET, PATCH, DELETE, a POST carrying an `Idempotency-Key`, or a verify
    /// with `cost: 0`: repeating it cannot do anything twice.
    Idempotent,
    /// A verify that spends credits (`cost` > 0, the default): if the request
    /// may have reached the server (timeout, broken connection) a retry could
    /// spend twice, so only failures the server reported itself (408, 429,
    /// 5xx) and failures to connect at all are retried.
    OnlyIfNotProcessed,
}

/// Delay before retry number `retry` (0 for the first retry): exponential
/// from 500 ms, capped at 8 s, with "equal jitter" (a random point in the
/// upper half) so that many clients failing together do not retry in lockstep
/// while each still waits at least half the nominal delay.
pub(crate) fn backoff_delay(retry: u32) -> Duration {
    let nominal = INITIAL_BACKOFF.saturating_mul(2u32.saturating_pow(retry)).min(MAX_BACKOFF);
    let half = nominal / 2;
    let jitter_ms = rand::random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

/// What to do after a failed attempt, given the server's `Retry-After`.
/// `None` means: do not retry, return the error.
pub(crate) fn delay_before_retry(retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
    match retry_after {
        Some(wait) if wait > MAX_RETRY_AFTER => None,
        Some(wait) => Some(wait),
        None => Some(backoff_delay(retry)),
    }
}

/// Parses a `Retry-After` header in its delay-seconds form (`Retry-After: 2`).
/// The HTTP-date form is not used by keyward and falls back to backoff.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let trimmed = value.trim();
    if let Ok(seconds) = trimmed.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Some proxies send fractional seconds; accept them rather than ignore the hint.
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
}

/// How safe a POST without an `Idempotency-Key` is to repeat, judged from its
/// body (the generated handles ask this of every such operation's body).
pub(crate) trait RetryHint {
    fn retry_safety(&self) -> RetrySafety;
}

impl RetryHint for crate::types::VerifyKeyRequest {
    /// A verify that spends credits (`cost` > 0, the default is 1) is not
    /// retried after a timeout or a broken connection, since the server may
    /// already have counted it; `cost: 0` spends nothing and is always retried.
    fn retry_safety(&self) -> RetrySafety {
        if self.cost.unwrap_or(1) > 0 { RetrySafety::OnlyIfNotProcessed } else { RetrySafety::Idempotent }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_at_eight_seconds() {
        for retry in 0..20 {
            let delay = backoff_delay(retry);
            let nominal = INITIAL_BACKOFF.saturating_mul(2u32.saturating_pow(retry)).min(MAX_BACKOFF);
            assert!(delay >= nominal / 2 && delay <= nominal, "retry {retry}: {delay:?}");
            assert!(delay <= MAX_BACKOFF);
        }
    }

    #[test]
    fn retry_after_is_honoured_in_seconds_form() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(delay_before_retry(0, Some(Duration::from_secs(3))), Some(Duration::from_secs(3)));
        assert_eq!(delay_before_retry(0, Some(Duration::from_secs(3600))), None);
    }
}
