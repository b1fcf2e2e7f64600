//! Use cases: what the API and the background jobs do, written once. A use
//! case takes the caller (or names the system as the actor), checks what it
//! may do, validates, writes through `store/` in one unit of work and returns
//! domain or store types; it knows no HTTP (no axum) and no SQL (no sqlx).
//! `api/` translates requests into calls here; jobs call here too.
//! `docs/architecture.md#layers`.

pub mod audit;
pub mod caller;
pub mod cas;
pub mod environments;
pub mod import;
pub mod keys;
pub mod leaks;
pub mod members;
pub mod organizations;
pub mod outbox;
pub mod pagination;
pub mod projects;
pub mod sessions;
pub mod state;
pub mod usage;
pub mod validate;
pub mod verify;
pub mod webhooks;

pub use state::AppState;
