//! Cursor pagination as the use cases see it: a requested page (size and
//! cursor, validated here so a bad `limit` answers 400 at the point the use
//! case reaches it, after its permission checks) and the page found. The
//! `X-Next-Cursor` and `Link` headers are HTTP and stay in `api/`
//! (`docs/architecture.md#http-conventions`).

use crate::error::{ApiError, ApiResult};
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// Cursor pagination input shared by every list: the cursor is the id of the
/// last item of the previous page (a user id for members, else a UUID).
#[derive(Debug, Clone)]
pub struct PageQuery<C = Uuid> {
    pub limit: Option<u32>,
    pub starting_after: Option<C>,
}

impl<C> Default for PageQuery<C> {
    fn default() -> Self {
        PageQuery { limit: None, starting_after: None }
    }
}

impl<C> PageQuery<C> {
    /// The page size asked for, 1-200 (default 50).
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit.unwrap_or(DEFAULT_PAGE_SIZE) {
            n @ 1..=MAX_PAGE_SIZE => Ok(i64::from(n)),
            _ => Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
        }
    }
}

impl PageQuery<Uuid> {
    /// The cursor as the store compares it.
    pub fn after(&self) -> Option<String> {
        self.starting_after.map(|u| u.to_string())
    }
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Page { items: Vec::new(), next_cursor: None }
    }

    /// `rows` were fetched with `limit + 1`: the extra row only says "there is more".
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(&cursor_of) } else { None };
        Page { items: rows, next_cursor }
    }

    /// The same page with each item shown as `U` (a record as its view).
    pub fn map<'a, U>(&'a self, f: impl FnMut(&'a T) -> U) -> Page<U> {
        Page { items: self.items.iter().map(f).collect(), next_cursor: self.next_cursor.clone() }
    }
}
