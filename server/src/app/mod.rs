//! Use cases: what the API and the background jobs do, written once, one file
//! per resource. A use case takes the state, the caller (or names the system
//! as the actor) and a plain input (`NewProject`, `ProjectChanges`, …), checks
//! what the caller may do, validates, writes through `store/` with its audit
//! event in one transaction and returns store records or the views the API
//! and the audit log show (`Project`, `ApiKey`, …); it knows no HTTP (no
//! axum) and no SQL (no sqlx). `api/` translates requests into calls here;
//! jobs call here too. `docs/architecture.md#layers`.

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
