//! Per-key rate limits in process (`docs/architecture.md#the-verify-path`): GCRA, exact, keyed by key id.
//!
//! A key with `rate_limit {limit, window_ms}` may spend `limit` tokens per
//! window, all at once or spread out; a token comes back every
//! `window_ms / limit`. The state per key is one number, the theoretical
//! arrival time (TAT). Times are kept scaled by `limit` (ms × limit) so the
//! emission interval `window_ms / limit` is an exact integer: no drift.
//!
//! Memory stays bounded by the keys that spent tokens within their window: a
//! bucket whose TAT is in the past is indistinguishable from a fresh one, so
//! [`RateLimiter::sweep`] (run by the background flusher) and inserts into a
//! crowded shard drop those without changing any answer.

use std::{collections::HashMap, sync::Mutex};

const SHARDS: usize = 64;
/// A shard this big sweeps its idle buckets before inserting.
const SHARD_SOFT_CAP: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u64,
    window_ms: u64,
    /// Theoretical arrival time, in ms × limit.
    tat: i128,
}

/// The outcome of one check, with what the `X-RateLimit-*` headers and the
/// verify response report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    /// Tokens left after this request.
    pub remaining: u64,
    /// Unix ms when the bucket is full again.
    pub reset_at_ms: i64,
    /// When denied: ms until `cost` tokens are available (0 when allowed).
    pub retry_after_ms: i64,
}

impl Decision {
    pub fn retry_after_secs(&self) -> u64 {
        (self.retry_after_ms.max(0) as u64).div_ceil(1000).max(1)
    }
}

pub struct RateLimiter {
    shards: Box<[Mutex<HashMap<u128, Bucket>>]>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn shard(&self, id: u128) -> std::sync::MutexGuard<'_, HashMap<u128, Bucket>> {
        // UUIDv7: the low bits are random.
        let shard = &self.shards[(id as usize) % SHARDS];
        shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spend `cost` tokens of key `id` if they are available.
    pub fn check(&self, id: u128, limit: u64, window_ms: u64, cost: u64, now_ms: i64) -> Decision {
        self.decide(id, limit, window_ms, cost, now_ms, true)
    }

    /// What `check` would answer for `cost`, without spending anything.
    pub fn peek(&self, id: u128, limit: u64, window_ms: u64, now_ms: i64) -> Decision {
        self.decide(id, limit, window_ms, 0, now_ms, false)
    }

    fn decide(&self, id: u128, limit: u64, window_ms: u64, cost: u64, now_ms: i64, spend: bool) -> Decision {
        let limit = limit.max(1);
        let window_ms = window_ms.max(1);
        let scale = i128::from(limit);
        let now = i128::from(now_ms) * scale;
        let capacity = i128::from(window_ms) * scale; // the whole window, scaled
        let increment = i128::from(cost) * i128::from(window_ms); // cost × (window / limit), scaled

        let mut shard = self.shard(id);
        let current = shard.get(&id).filter(|b| b.limit == limit && b.window_ms == window_ms).map(|b| b.tat);
        let start = current.unwrap_or(now).max(now);
        let candidate = start + increment;
        let allowed = candidate - now <= capacity;
        let tat = if allowed { candidate } else { start };
        if spend && allowed && cost > 0 {
            if shard.len() >= SHARD_SOFT_CAP && !shard.contains_key(&id) {
                shard.retain(|_, b| b.tat > i128::from(now_ms) * i128::from(b.limit));
            }
            shard.insert(id, Bucket { limit, window_ms, tat });
        }
        drop(shard);

        let remaining = ((capacity - (tat - now)) / i128::from(window_ms)).clamp(0, i128::from(limit)) as u64;
        let reset_at_ms = ceil_div(tat, scale) as i64;
        let retry_after_ms = if allowed {
            0
        } else if cost > limit {
            window_ms as i64
        } else {
            ceil_div(candidate - capacity - now, scale) as i64
        };
        Decision { allowed, limit, remaining, reset_at_ms, retry_after_ms }
    }

    /// Drop buckets that are full again (idle): they answer like fresh ones.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let mut kept = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            shard.retain(|_, b| b.tat > i128::from(now_ms) * i128::from(b.limit));
            kept += shard.len();
        }
        kept
    }

    /// Buckets held right now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|s| s.len()).unwrap_or(0)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    if a <= 0 { a / b } else { (a + b - 1) / b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_then_reset_after_the_window() {
        let rl = RateLimiter::new();
        let t0 = 1_700_000_000_000;
        for expected_left in [2, 1, 0] {
            let d = rl.check(1, 3, 1000, 1, t0);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_left);
        }
        let d = rl.check(1, 3, 1000, 1, t0 + 10);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.retry_after_ms, 324); // next token at t0 + 333.33…
        assert_eq!(d.reset_at_ms, t0 + 1000);
        // One token back after a third of the window, all of them after the window.
        assert!(rl.check(1, 3, 1000, 1, t0 + 334).allowed);
        assert!(!rl.check(1, 3, 1000, 1, t0 + 340).allowed);
        let d = rl.check(1, 3, 1000, 3, t0 + 2000);
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn cost_spends_several_tokens_and_is_exact() {
        let rl = RateLimiter::new();
        let t0 = 5_000;
        assert!(rl.check(7, 10, 60_000, 4, t0).allowed);
        assert!(rl.check(7, 10, 60_000, 6, t0).allowed);
        assert!(!rl.check(7, 10, 60_000, 1, t0).allowed);
        assert!(!rl.check(8, 10, 60_000, 11, t0).allowed, "more than the limit never passes");
        assert_eq!(rl.peek(7, 10, 60_000, t0 + 6_000).remaining, 1);
        assert_eq!(rl.check(9, 10, 60_000, 0, t0).remaining, 10, "cost 0 spends nothing");
    }

    #[test]
    fn idle_buckets_are_swept() {
        let rl = RateLimiter::new();
        for id in 0..1000u128 {
            rl.check(id, 5, 1000, 1, 0);
        }
        assert_eq!(rl.len(), 1000);
        assert_eq!(rl.sweep(100), 1000);
        assert_eq!(rl.sweep(200), 0);
    }

    #[test]
    fn changed_settings_start_a_fresh_bucket() {
        let rl = RateLimiter::new();
        assert!(rl.check(1, 1, 1000, 1, 0).allowed);
        assert!(!rl.check(1, 1, 1000, 1, 1).allowed);
        assert!(rl.check(1, 2, 1000, 1, 1).allowed);
    }
}
