//! Background jobs: the rotation scheduler, webhook delivery, housekeeping,
//! the usage write-behind and (on Postgres) following other replicas' cache
//! invalidations, each a [`BackgroundTask`] that runs one pass per interval.
//! A pass claims its rows with conditional UPDATEs, so several processes may
//! run the jobs against one database (`docs/architecture.md#background-jobs-and-their-claims`).
//! Jobs call the use cases of `app/` and the store, never the HTTP layer.

pub mod cache_follow;
pub mod delivery;
pub mod housekeeping;
pub mod scheduler;
pub mod task;
pub mod usage_flush;

pub use task::BackgroundTask;
