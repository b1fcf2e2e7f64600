//! The retry loop of a compare-and-swap write: read, change, write only if
//! the row's `updated_at` is still what was read, else read again — so a
//! concurrent delete, rotation or second PATCH is never overwritten
//! (`docs/architecture.md#storage`).

use crate::error::{ApiError, ApiResult};

/// How many times a write re-reads a row that changed under it before
/// answering 409: each retry means another writer committed in between.
pub const MAX_ATTEMPTS: usize = 5;

/// Runs `attempt` (one read, change and conditional write, answering `None`
/// when the row changed since it was read) until it writes, at most
/// [`MAX_ATTEMPTS`] times; then 409 naming `what`.
// A closure returning a future rather than an async closure: the future of
// an `AsyncFnMut` cannot be required `Send`, and a handler's future must be.
pub async fn compare_and_swap<T, F>(what: &str, mut attempt: impl FnMut() -> F) -> ApiResult<T>
where
    F: Future<Output = ApiResult<Option<T>>>,
{
    for _ in 0..MAX_ATTEMPTS {
        if let Some(written) = attempt().await? {
            return Ok(written);
        }
    }
    Err(ApiError::conflict(format!("{what} is being changed concurrently; retry the request")))
}
