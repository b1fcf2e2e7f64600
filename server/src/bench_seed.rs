//! `keyward bench-seed` (hidden): bulk-creates keys for `cargo xtask bench`.
//!
//! Runs inside the release server binary so minting and hashing are optimised
//! code. Every key row is built exactly as `POST /v1/api-keys` builds it
//! (`KeyRecord::fresh`, the same validators and JSON encodings, `source`
//! `api` as for an API-key caller) and written with the same columns as
//! `store::insert_key`, in multi-row INSERTs inside large transactions. Only
//! the per-key `api_key.created` audit events are left out.

use crate::{
    app::validate,
    bootstrap::bootstrap,
    keyfmt,
    store::{self, KeyRecord, Store, now_ms},
};
use anyhow::Context;
use std::{io::Write, path::Path, time::Instant};

/// Keys per transaction.
const KEYS_PER_TX: usize = 50_000;

/// Creates an organization with its admin key, then `n` keys in its `live`
/// environment (scopes `["read","write"]`, meta `{"plan":"bench"}`). Writes the
/// plaintexts to `keys_file`, the admin key first, one per line, and returns
/// the admin key.
pub async fn seed(store: &Store, n: usize, keys_file: &Path) -> anyhow::Result<String> {
    let started = Instant::now();
    let made = bootstrap(store, "Bench organization").await?;
    let org = made.organization.clone();
    let env = {
        let mut conn = store.pool().acquire().await?;
        store::find_environment(&mut conn, &org.id, "live").await?.context("the live environment")?
    };
    let scopes =
        validate::scopes("scopes", &["read".to_string(), "write".to_string()]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let scopes = serde_json::to_string(&scopes)?;
    let allowed_ips =
        serde_json::to_string(&validate::allowed_ips("allowed_ips", &[]).map_err(|e| anyhow::anyhow!("{e}"))?)?;
    let mut meta = serde_json::Map::new();
    meta.insert("plan".into(), "bench".into());
    let meta = validate::meta("meta", &meta).map_err(|e| anyhow::anyhow!("{e}"))?;

    let file = std::fs::File::create(keys_file).with_context(|| format!("creating {}", keys_file.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "{}", made.admin_key)?;

    // Minting (CSPRNG + SHA-256) on a blocking thread, one batch ahead of the
    // inserts, which go through one connection whose page cache holds the
    // growing indexes.
    let (tx_batches, mut batches) = tokio::sync::mpsc::channel::<anyhow::Result<Vec<KeyRecord>>>(2);
    let minter = tokio::task::spawn_blocking(move || {
        let mut done = 0;
        while done < n {
            let batch = KEYS_PER_TX.min(n - done);
            let now = now_ms();
            let made = (0..batch)
                .map(|i| {
                    let minted = keyfmt::generate(&org.key_prefix, &env.name);
                    writeln!(out, "{}", minted.plaintext())?;
                    Ok(KeyRecord {
                        name: validate::name("name", &format!("bench key {}", done + i))
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                        scopes: scopes.clone(),
                        allowed_ips: allowed_ips.clone(),
                        meta: meta.clone(),
                        source: "api".into(),
                        ..KeyRecord::fresh(&org.id, &env, &minted, now)
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>();
            let failed = made.is_err();
            if tx_batches.blocking_send(made).is_err() || failed {
                return Ok(());
            }
            done += batch;
        }
        out.flush()?;
        anyhow::Ok(())
    });
    let mut conn = store.pool().acquire().await?;
    store::set_page_cache_kib(&mut conn, store.backend(), 262_144).await?;
    let mut done = 0;
    while let Some(keys) = batches.recv().await {
        let keys = keys?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        store::insert_keys(&mut tx, &keys).await?;
        tx.commit().await?;
        done += keys.len();
        if done % 200_000 == 0 || done == n {
            tracing::info!(done, elapsed = ?started.elapsed(), "bench-seed");
        }
    }
    store::set_page_cache_kib(&mut conn, store.backend(), 2_000).await?;
    drop(conn);
    minter.await??;
    anyhow::ensure!(done == n, "seeded {done} of {n} keys");
    Ok(made.admin_key)
}
