//! Background jobs: the rotation scheduler, webhook delivery and
//! housekeeping, each a [`BackgroundTask`] that runs one pass per interval.
//! A pass claims its rows with conditional UPDATEs, so several processes may
//! run the jobs against one database (`docs/architecture.md#background-jobs-and-their-claims`).
//! Jobs call the use cases of `app/` and the store, never the HTTP layer.

pub mod delivery;
pub mod housekeeping;
pub mod scheduler;
pub mod task;

pub use task::BackgroundTask;
