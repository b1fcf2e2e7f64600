//! The integration suites: one test binary (one link instead of one per
//! file), one module per suite. Each drives a real keyward server on
//! 127.0.0.1 — in process through `keyward_tests::TestServer`, or the binary
//! through `ServerProcess` — over HTTP and through the Rust SDK, on every
//! backend of `keyward_tests::backends()` (`backend_tests!`).
//!
//! Run one suite with a filter: `cargo nextest run -p keyward-tests trust::`.

mod support {
    pub mod proxy;
}

mod authorization;
mod http_api;
mod idempotency;
mod key_hygiene;
mod key_hygiene_processes;
mod migrations;
mod sdk_operations;
mod sdk_rust;
mod sdk_rust_guard;
mod sdk_rust_tenancy;
mod sdk_rust_webhooks;
mod server_binary;
mod spec_conformance;
mod store_transactions;
mod tenancy;
mod trust;
mod verify_hot_path;
mod webhook_secrets;
