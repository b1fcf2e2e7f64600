//! Usage accounting for the verify hot path (`docs/architecture.md#the-verify-path`).
//!
//! - Quotas (`usage_limit`) are spent with one conditional atomic UPDATE, so
//!   they stay exact across concurrent requests, restarts and replicas. The
//!   refill is applied by the same statement.
//! - Everything else (`last_used_at`, `usage_count`, the hourly
//!   `usage_counters` by outcome code) is counted in memory and written behind
//!   in batches by [`crate::jobs::usage_flush`] (every `usage_flush_interval`, and once
//!   more on graceful shutdown). On SQLite the batches are written on a
//!   low-priority thread ([`crate::store::BackgroundWriter`]): under
//!   saturation they wait for spare CPU and grow instead of slowing requests.

use crate::{
    domain::verify::VerifyCode,
    store::{KeyId, KeyUse, Store},
};
use std::{collections::HashMap, sync::Mutex, time::Duration};

pub const HOUR_MS: i64 = 3_600_000;

// ---------------------------------------------------------------- quota

pub use crate::store::Spend;

/// Spend `cost` credits of key `id` if it has them (`store::spend_quota`:
/// one conditional atomic decrement, with a due refill applied by the same
/// statement).
pub async fn spend_quota(store: &Store, id: &KeyId, cost: i64, now: i64) -> sqlx::Result<Spend> {
    crate::store::spend_quota(store.pool(), id, cost, now).await
}

// ---------------------------------------------------------------- write-behind counters

/// FxHash-style hashing for the in-memory counters: their keys are key ids
/// (UUIDv7s the server minted) and hours, not attacker-chosen strings.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_u128(&mut self, n: u128) {
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct Pending {
    counters: FastMap<(u128, i64, VerifyCode), i64>,
    keys: FastMap<u128, KeyUse>,
}

impl Pending {
    fn merge(&mut self, other: Pending) {
        for (k, n) in other.counters {
            *self.counters.entry(k).or_default() += n;
        }
        for (id, u) in other.keys {
            let e = self.keys.entry(id).or_default();
            e.count += u.count;
            e.last_used_at = e.last_used_at.max(u.last_used_at);
        }
    }
}

/// Counts in memory what the flusher writes behind.
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
    /// Entries of the last batch written (`counters`, `keys`): the next one is sized like it.
    last_batch: Mutex<(usize, usize)>,
}

impl UsageRecorder {
    fn last_batch_size(&self) -> Pending {
        let (counters, keys) = *self.last_batch.lock().unwrap_or_else(|p| p.into_inner());
        Pending {
            counters: FastMap::with_capacity_and_hasher(counters, Default::default()),
            keys: FastMap::with_capacity_and_hasher(keys, Default::default()),
        }
    }

    fn remember_batch_size(&self, batch: &Pending) {
        *self.last_batch.lock().unwrap_or_else(|p| p.into_inner()) = (batch.counters.len(), batch.keys.len());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One verification of key `id` with outcome `code`.
    pub fn record_verify(&self, id: u128, code: VerifyCode, now: i64) {
        let hour = now - now.rem_euclid(HOUR_MS);
        let mut p = self.lock();
        *p.counters.entry((id, hour, code)).or_default() += 1;
        let u = p.keys.entry(id).or_default();
        u.count += 1;
        if code == VerifyCode::Valid {
            u.last_used_at = u.last_used_at.max(now);
        }
    }

    /// Key `id` authenticated an API call.
    pub fn record_use(&self, id: u128, now: i64) {
        let mut p = self.lock();
        let u = p.keys.entry(id).or_default();
        u.last_used_at = u.last_used_at.max(now);
    }

    /// Write everything counted so far. On failure the counts not yet
    /// written are kept for the next flush (nothing is lost or counted twice).
    pub async fn flush(&self, store: &Store) -> anyhow::Result<usize> {
        self.flush_spread(store, Duration::ZERO).await
    }

    /// [`flush`](Self::flush) in transactions of [`KEYS_PER_TX`] keys (their
    /// counters with them) in key order, pausing between them so the writes
    /// spread over about `spread` instead of taking the cores in one burst
    /// (the request workers share them: the burst showed in verify's p99).
    /// A crash loses at most the transactions not yet committed.
    pub async fn flush_spread(&self, store: &Store, spread: Duration) -> anyhow::Result<usize> {
        // Allocated outside the lock, with room for a batch like the last one.
        let fresh = self.last_batch_size();
        let batch = std::mem::replace(&mut *self.lock(), fresh);
        if batch.counters.is_empty() && batch.keys.is_empty() {
            return Ok(0);
        }
        self.remember_batch_size(&batch);
        let (counters, keys) = (batch.counters.len(), batch.keys.len());
        let started = std::time::Instant::now();
        // Sorting a batch of a million keys takes tens of milliseconds: off
        // the request workers (dropping its maps too).
        let chunks = tokio::task::spawn_blocking(move || into_chunks(batch, KEYS_PER_TX)).await?;
        let pause = if chunks.len() > 1 {
            (spread / chunks.len() as u32).min(Duration::from_millis(20))
        } else {
            Duration::ZERO
        };
        let total = chunks.len();
        let mut chunks = chunks.into_iter();
        while let Some(chunk) = chunks.next() {
            if let Err((chunk, err)) = write_chunk(store, chunk).await {
                let mut pending = self.lock();
                for chunk in std::iter::once(chunk).chain(chunks) {
                    pending.merge(chunk.into_pending());
                }
                return Err(err);
            }
            if !pause.is_zero() && chunks.len() > 0 {
                tokio::time::sleep(pause).await;
            }
        }
        tracing::debug!(counters, keys, transactions = total, elapsed = ?started.elapsed(), "usage flushed");
        Ok(counters + keys)
    }
}

/// Keys per write-behind transaction.
const KEYS_PER_TX: usize = 2048;

/// A key range of a batch: its keys and their counters, in key order.
#[derive(Clone)]
struct Chunk {
    counters: Vec<((u128, i64, VerifyCode), i64)>,
    keys: Vec<(u128, KeyUse)>,
}

impl Chunk {
    fn into_pending(self) -> Pending {
        let mut p = Pending::default();
        p.counters.extend(self.counters);
        p.keys.extend(self.keys);
        p
    }
}

/// `batch` in key order, cut into ranges of `keys_per_chunk` keys (every
/// counted key is in `keys`: each counter row goes with its key).
fn into_chunks(batch: Pending, keys_per_chunk: usize) -> Vec<Chunk> {
    let mut keys: Vec<_> = batch.keys.into_iter().collect();
    keys.sort_unstable_by_key(|(id, _)| *id);
    let mut counters: Vec<_> = batch.counters.into_iter().collect();
    counters.sort_unstable_by_key(|((id, hour, code), _)| (*id, *hour, code.as_str()));
    let mut counters = counters.into_iter().peekable();
    let mut chunks: Vec<Chunk> = keys
        .chunks(keys_per_chunk.max(1))
        .map(|ks| {
            let last = ks.last().map_or(0, |(id, _)| *id);
            let mut cs = Vec::new();
            while let Some(row) = counters.next_if(|((id, _, _), _)| *id <= last) {
                cs.push(row);
            }
            Chunk { counters: cs, keys: ks.to_vec() }
        })
        .collect();
    let rest: Vec<_> = counters.collect();
    if !rest.is_empty() {
        match chunks.last_mut() {
            Some(last) => last.counters.extend(rest),
            None => chunks.push(Chunk { counters: rest, keys: Vec::new() }),
        }
    }
    chunks
}

/// Write `chunk` in one transaction; on failure hand it back with the error.
async fn write_chunk(store: &Store, chunk: Chunk) -> Result<(), (Chunk, anyhow::Error)> {
    if let Some(writer) = store.background_writer() {
        let chunk = std::sync::Arc::new(chunk);
        let rows = chunk.clone();
        return writer
            .transaction(move |tx| crate::store::write_usage_in_place(tx, &rows.counters, &rows.keys))
            .await
            .map_err(|err| (std::sync::Arc::unwrap_or_clone(chunk), err));
    }
    crate::store::write_usage_pooled(store, &chunk.counters, &chunk.keys).await.map_err(|err| (chunk, err.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_every_row_with_its_key_in_key_order() {
        let recorder = UsageRecorder::default();
        for id in (0..1000u128).rev() {
            recorder.record_verify(id, VerifyCode::Valid, 5 * HOUR_MS + 1);
            if id % 3 == 0 {
                recorder.record_verify(id, VerifyCode::Revoked, 6 * HOUR_MS + 1);
            }
            if id % 7 == 0 {
                recorder.record_use(id, 7 * HOUR_MS);
            }
        }
        recorder.record_use(5000, 7 * HOUR_MS);
        let batch = std::mem::take(&mut *recorder.lock());
        let (counters, keys) = (batch.counters.len(), batch.keys.len());
        let chunks = into_chunks(batch, 64);
        assert_eq!(chunks.iter().map(|c| c.counters.len()).sum::<usize>(), counters);
        assert_eq!(chunks.iter().map(|c| c.keys.len()).sum::<usize>(), keys);
        let mut last = None;
        for chunk in &chunks {
            assert!(chunk.keys.len() <= 64);
            assert!(chunk.keys.windows(2).all(|w| w[0].0 < w[1].0));
            for ((id, _, _), _) in &chunk.counters {
                assert!(chunk.keys.iter().any(|(k, _)| k == id), "counter of key {id} left its key's chunk");
            }
            let first = chunk.keys.first().map(|(id, _)| *id);
            assert!(last < first);
            last = chunk.keys.last().map(|(id, _)| *id);
        }
        // A failed chunk goes back whole.
        let mut p = Pending::default();
        for chunk in chunks {
            p.merge(chunk.into_pending());
        }
        assert_eq!((p.counters.len(), p.keys.len()), (counters, keys));
        assert_eq!(p.keys[&0].count, 2);
        assert_eq!(p.keys[&0].last_used_at, 7 * HOUR_MS);
    }
}
