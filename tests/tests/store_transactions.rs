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

/// Ids are decoded once, at the store boundary: a stored id that is not a
/// UUID fails the read that meets it, naming its kind, and the API answers
/// 500 — it never turns into a nil UUID in a response.
async fn a_malformed_stored_id_is_an_error_not_a_nil_uuid(backend: Backend) {
    let s = keyward_tests::TestServer::start(backend).await;
    let key = s.create_key(serde_json::json!({"name": "corrupted"})).await;
    let id = key["id"].as_str().expect("id").to_string();
    // `replaced_by_key_id` has no foreign key, so both backends take the bad value.
    sqlx::query("UPDATE api_keys SET replaced_by_key_id = 'not-a-uuid' WHERE id = $1")
        .bind(&id)
        .execute(s.state.store.pool())
        .await
        .expect("corrupt the row");

    let org = s.organization_id.parse().expect("organization id");
    let mut conn = s.state.store.pool().acquire().await.unwrap();
    let err = keyward_server::store::get_key(&mut conn, &org, &id.parse().expect("key id"))
        .await
        .expect_err("a malformed stored id fails the read");
    assert!(err.to_string().contains("malformed api key id \"not-a-uuid\""), "{err}");
    drop(conn);

    let r = s.get(&format!("/v1/api-keys/{id}"), &s.admin_key).await;
    assert_eq!(r.status, reqwest::StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(!r.body.to_string().contains("00000000-0000-0000-0000-000000000000"), "{}", r.body);
    s.stop().await;
}

keyward_tests::backend_tests!(
    read_then_write_transaction_survives_a_concurrent_writer,
    a_malformed_stored_id_is_an_error_not_a_nil_uuid
);
