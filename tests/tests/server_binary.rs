//! The `keyward` binary as an operator runs it: first-start bootstrap printed
//! once, `keyward bootstrap`, durability across kill -9, and logs free of secrets.

use keyward_tests::{Backend, ServerProcess, TestDatabase, backend_tests, json, server_binary};
use std::process::Command;

/// Starts the binary with `log` as its tracing filter.
async fn start(database_url: &str, log: &str) -> ServerProcess {
    ServerProcess::start(database_url, &[("KEYWARD_LOG", log)]).await
}

async fn first_start_bootstraps_once_and_kill_9_loses_nothing(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let first = start(&db.url, "info").await;
    let admin = first.stdout_first_line.clone().expect("first start prints the admin key on stdout");
    assert!(keyward_server::keyfmt::parse(&admin).is_some(), "one line holding just the key");
    let http = reqwest::Client::new();
    let created: serde_json::Value = {
        let r = http
            .post(format!("{}/v1/api-keys", first.base_url))
            .bearer_auth(&admin)
            .json(&json!({"name": "durable"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    };
    // kill -9 right after the 201.
    first.kill_9();

    let second = start(&db.url, "info").await;
    assert_eq!(second.stdout_first_line, None, "the admin key is never printed again");
    let got = http
        .get(format!("{}/v1/api-keys/{}", second.base_url, created["id"].as_str().unwrap()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200, "the key created before kill -9 survived");
    let verified: serde_json::Value = http
        .post(format!("{}/v1/keys/verify", second.base_url))
        .bearer_auth(&admin)
        .json(&json!({"key": created["key"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["code"], "VALID");
    let logs = second.stop_and_read_logs();
    assert!(!logs.contains(created["key"].as_str().unwrap()) && !logs.contains(&admin), "no plaintext in logs");
    db.drop_database().await;
}

async fn bootstrap_command_prints_one_key_line(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let out = Command::new(server_binary())
        .args(["bootstrap", "--org-name", "Acme", "--database-url", &db.url])
        .output()
        .expect("run keyward bootstrap");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {stdout:?}");
    assert!(keyward_server::keyfmt::parse(lines[0]).is_some());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(lines[0]), "the key is not logged");
    // A server on that database does not bootstrap again, and the key works.
    let running = start(&db.url, "debug").await;
    assert_eq!(running.stdout_first_line, None);
    let r = reqwest::Client::new()
        .get(format!("{}/v1/api-keys", running.base_url))
        .bearer_auth(lines[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let keys: serde_json::Value = r.json().await.unwrap();
    assert_eq!(keys[0]["scopes"], json!(["*"]), "the bootstrap key is an ordinary key in lists");
    assert_eq!(keys[0]["source"], "bootstrap");
    let logs = running.stop_and_read_logs();
    assert!(!logs.contains(lines[0]), "debug logs hold no plaintext");
    db.drop_database().await;
}

backend_tests!(first_start_bootstraps_once_and_kill_9_loses_nothing, bootstrap_command_prints_one_key_line);

#[test]
fn openapi_subcommand_prints_the_served_spec() {
    let out = Command::new(server_binary()).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(keyward_server::openapi()).unwrap());
}
