//! The `keyward` binary as an operator runs it: first-start bootstrap printed
//! once, `keyward bootstrap`, durability across kill -9, and logs free of secrets.

use keyward_tests::{Backend, TestDatabase, backend_tests, json, server_binary};
use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

struct Running {
    child: Child,
    base_url: String,
    stdout_first_line: Option<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the binary, reads what it prints on stdout before listening, and
/// waits (bounded) for `/healthz`.
async fn start(database_url: &str, log: &str) -> Running {
    let port = free_port();
    let mut child = Command::new(server_binary())
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url", database_url])
        .env("KEYWARD_LOG", log)
        .env_remove("KEYWARD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyward");
    let base_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base_url}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not become healthy in 30 s");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything printed on stdout was printed before the listener bound.
    let stdout = child.stdout.take().unwrap();
    let first_line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // The line (if any) is already in the pipe; EOF is not, so read with a bound.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let n = reader.read_line(&mut line).unwrap_or(0);
            let _ = tx.send((n, line));
        });
        rx.recv_timeout(Duration::from_millis(500)).ok().filter(|(n, _)| *n > 0).map(|(_, l)| l.trim().to_string())
    })
    .await
    .unwrap();
    Running { child, base_url, stdout_first_line: first_line }
}

fn stderr_of(mut child: Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    out
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
    let mut child = first.child;
    child.kill().unwrap();
    child.wait().unwrap();

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
    let logs = stderr_of(second.child);
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
    let r = reqwest::Client::new().get(format!("{}/v1/api-keys", running.base_url)).bearer_auth(lines[0]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let keys: serde_json::Value = r.json().await.unwrap();
    assert_eq!(keys[0]["scopes"], json!(["*"]), "the bootstrap key is an ordinary key in lists");
    assert_eq!(keys[0]["source"], "bootstrap");
    let logs = stderr_of(running.child);
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
