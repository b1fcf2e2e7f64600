//! Domain types and rules: pure functions of their arguments, with no HTTP
//! (axum), no SQL (sqlx) and no application state. Everything else may use
//! them; they use nothing of the rest of the crate. `docs/architecture.md`
//! describes the layers.

pub mod access;
pub mod events;
pub mod ids;
pub mod keys;
pub mod leaks;
pub mod network;
pub mod projects;
pub mod time;
pub mod verify;
