//! Storage behaviour that the HTTP suites only hit by chance under load.

use keyward_server::Store;
use keyward_tests::{Backend, TestDatabase};
use std::time::Duration;

async fn insert_counter(conn: &mut sqlx::AnyConnection, key_id: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO usage_counters (key_id, hour_start, code, count) VALUES ($1, 0, 'VALID', 1)")
        .bind(key_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A transaction that reads, then writes, must not fail because another
/// connection committed a write in between (on SQLite a deferred transaction
/// answers SQLITE_BUSY at its first write; it surfaced as a 500 on
/// `DELETE /v1/projects/{id}` while the usage write-behind was flushing).
async fn read_then_write_transaction_survives_a_concurrent_writer(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(&db.url, 4).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    sqlx::query("SELECT COUNT(*) FROM organizations").fetch_one(&mut *tx).await.unwrap();

    let other = store.clone();
    let writer = tokio::spawn(async move {
        let mut conn = other.pool().acquire().await?;
        insert_counter(&mut conn, "written-meanwhile").await
    });
    // Give the other writer time to commit (deferred BEGIN) or to queue behind us (IMMEDIATE).
    tokio::time::sleep(Duration::from_millis(200)).await;
    insert_counter(&mut tx, "written-in-transaction").await.expect("the transaction's write succeeds");
    tx.commit().await.expect("the transaction commits");
    tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the other writer finishes")
        .unwrap()
        .expect("the other writer's write succeeds");
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_counters").fetch_one(store.pool()).await.unwrap();
    assert_eq!(n.0, 2);
    store.close().await;
    db.drop_database().await;
}

keyward_tests::backend_tests!(read_then_write_transaction_survives_a_concurrent_writer);
