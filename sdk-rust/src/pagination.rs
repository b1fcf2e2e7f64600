//! One page of a list, and the stream that walks every page.

use std::future::Future;

use futures::{Stream, StreamExt, TryStreamExt, stream};

use crate::error::Error;

/// Most pages a stream fetches. At the server's maximum page size (200) this
/// is 20 million items; the bound exists so that a server bug that keeps
/// returning a next cursor cannot turn a `collect()` into an endless loop.
const MAX_PAGES: usize = 100_000;

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page, newest first.
    pub items: Vec<T>,
    /// The cursor for the next page (from `X-Next-Cursor`, or `next_cursor`
    /// in the organization family); `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Whether another page follows.
    pub fn has_more(&self) -> bool {
        self.next_cursor.is_some()
    }
}

/// Streams every item of every page: calls `fetch_page(cursor)` starting with
/// `first_cursor`, then with each page's `next_cursor` until there is none.
///
/// Stops with [`Error::Decode`] if the server hands out the same cursor twice
/// in a row, which would otherwise repeat one page forever.
pub(crate) fn paginate<T, Fetch, PageFuture>(
    first_cursor: Option<String>,
    fetch_page: Fetch,
) -> impl Stream<Item = Result<T, Error>> + Send + 'static
where
    T: Send + 'static,
    Fetch: FnMut(Option<String>) -> PageFuture + Send + 'static,
    PageFuture: Future<Output = Result<Page<T>, Error>> + Send + 'static,
{
    struct State<Fetch> {
        fetch_page: Fetch,
        /// `None` once the last page was fetched.
        next: Option<Option<String>>,
        pages_fetched: usize,
    }
    let start = State { fetch_page, next: Some(first_cursor), pages_fetched: 0 };
    stream::try_unfold(start, |mut state| async move {
        let Some(cursor) = state.next.take() else {
            return Ok(None);
        };
        if state.pages_fetched >= MAX_PAGES {
            return Err(Error::Decode(format!("stopped after {MAX_PAGES} pages: the list does not end")));
        }
        let page = (state.fetch_page)(cursor.clone()).await?;
        state.pages_fetched += 1;
        if page.next_cursor.is_some() && page.next_cursor == cursor {
            return Err(Error::Decode("the server returned the same page cursor twice".into()));
        }
        state.next = page.next_cursor.map(Some);
        Ok(Some((page.items, state)))
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// The `X-Next-Cursor` header of a list response; empty means the last page.
pub(crate) fn next_cursor_header(headers: &reqwest::header::HeaderMap) -> Result<Option<String>, Error> {
    match headers.get("x-next-cursor") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|cursor| Some(cursor.to_string()).filter(|cursor| !cursor.is_empty()))
            .map_err(|_| Error::Decode("X-Next-Cursor is not text".into())),
    }
}

/// Cursors are key, project, organization, environment or event ids; the generated builders take them typed.
pub(crate) fn parse_cursor(cursor: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(cursor).map_err(|_| Error::Decode(format!("page cursor {cursor:?} is not an id")))
}
