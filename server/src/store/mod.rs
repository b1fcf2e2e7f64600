//! The one storage module: sqlx `Any` over SQLite (embedded default) or
//! Postgres, with a portable schema (`docs/architecture.md#storage`). Times are unix milliseconds,
//! JSON is TEXT, booleans are 0/1 BIGINTs.

mod audit;
mod background_writer;
mod environments;
mod idempotency;
mod ids;
mod key_hygiene;
mod keys;
mod members;
mod organizations;
mod projects;
mod retention;
mod sqlite_reader;
mod usage;
mod webhooks;

pub use audit::*;
pub use environments::*;
pub use idempotency::*;
pub use key_hygiene::*;
pub use keys::*;
pub use members::*;
pub use organizations::*;
pub use projects::*;
pub use retention::*;
pub use usage::*;
pub use webhooks::*;

pub use crate::domain::ids::{
    AuditEventId, EnvironmentId, KeyId, OrgId, ProjectId, WebhookDeliveryId, WebhookEndpointId,
};

use anyhow::Context;
pub use background_writer::BackgroundWriter;
use sqlite_reader::SqliteReader;
use sqlx::{
    AnyConnection, AnyPool, Row,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};
use std::{path::PathBuf, sync::Arc, time::Duration};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite: the usage write-behind's connection (see [`Store::background_writer`]).
    background_writer: Option<Arc<BackgroundWriter>>,
    /// SQLite: in-place reads for the verify path (see [`Store::key_view_by_hash`]).
    reader: Option<Arc<SqliteReader>>,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A page of an organization's rows of `table` that are not soft-deleted,
/// newest first (ids are UUIDv7, so newest is the highest id);
/// `starting_after` is the id of the last row already seen.
async fn live_page_of_org<T>(
    conn: &mut Conn,
    table: &str,
    columns: &str,
    org_id: &OrgId,
    starting_after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM {table} WHERE organization_id = $1 AND deleted_at IS NULL \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(org_id)
    .bind(starting_after.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// SQLite under `Any` takes only `mode`, `cache`, `immutable` and `vfs` from the
/// URL; make sure a missing database file is created.
fn normalize_sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

impl Store {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("database_url: expected sqlite://… or postgres://…");
        };
        let url = match backend {
            Backend::Sqlite => normalize_sqlite_url(url),
            Backend::Postgres => url.to_string(),
        };
        let options = sqlite_pragmas(
            AnyPoolOptions::new().max_connections(max_connections.max(1)).acquire_timeout(Duration::from_secs(10)),
            backend,
        );
        let pool = options.connect(&url).await.with_context(|| format!("connecting to {}", redact_url(&url)))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.context("running database migrations")?;
        let file = match backend {
            Backend::Sqlite => sqlite_file(&url),
            Backend::Postgres => None,
        };
        // The usage write-behind touches a page per key counted: on SQLite it
        // gets a connection of its own whose page cache (32 MiB; it grows
        // only as pages are used) keeps those pages in memory between
        // flushes for up to a few hundred thousand keys. Beyond that the
        // pages come from the OS page cache: a bigger cache measured no
        // faster at 1M keys and cost its full size in RSS. Its commits
        // checkpoint the WAL every 64 MiB rather than every 4 MiB, so a page
        // dirtied by several flushes is copied back once.
        let background_writer = match &file {
            Some(path) => Some(Arc::new(BackgroundWriter::open(
                path.clone(),
                &["PRAGMA cache_size = -32768", "PRAGMA wal_autocheckpoint = 16384"],
            )?)),
            None => None,
        };
        let reader = file.map(|path| Arc::new(SqliteReader::new(path)));
        Ok(Store { pool, backend, background_writer, reader })
    }

    /// SQLite (on a file): key reads answered in place, and those that failed
    /// there and went through the pool.
    pub fn in_place_reads(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.reader.as_ref().map(|r| (r.reads.load(Relaxed), r.failures.load(Relaxed)))
    }

    /// SQLite (on a file): the low-priority connection for background writes.
    pub fn background_writer(&self) -> Option<&BackgroundWriter> {
        self.background_writer.as_deref()
    }

    /// The fields of the key with `hash` that verify and caller
    /// authentication read ([`KEY_VIEW_BY_HASH`]); the rest are defaults. On
    /// SQLite the read runs on this thread (see [`sqlite_reader`]).
    pub async fn key_view_by_hash(&self, hash: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
        if let Some(reader) = &self.reader {
            match reader.read(|conn| keys::key_view_in_place(conn, hash)) {
                Ok(found) => return Ok(found),
                Err(err) => tracing::debug!(error = %err, "in-place key read failed; reading through the pool"),
            }
        }
        let row = sqlx::query(KEY_VIEW_BY_HASH).bind(hash).fetch_optional(&self.pool).await?;
        row.map(|row| keys::key_view_from_row(&row)).transpose()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred
    /// transaction that reads first and writes later fails at once with
    /// SQLITE_BUSY (busy_timeout does not apply) when another connection — the
    /// usage write-behind, say — commits in between. Taking the write lock up
    /// front makes such writers queue on busy_timeout instead.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn count_organizations(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM organizations").fetch_one(&self.pool).await?.try_get::<i64, _>("n")
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The file of a SQLite database URL; `None` for an in-memory database
/// (no other connection can open it).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory") || path.as_os_str().is_empty();
    (!in_memory).then(|| path.to_path_buf())
}

/// What every SQLite connection that writes runs first (the pool's and the
/// background writer's).
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
];

/// SQLite: connect options cannot carry pragmas under `Any`, so set them per
/// connection.
fn sqlite_pragmas(options: AnyPoolOptions, backend: Backend) -> AnyPoolOptions {
    if backend != Backend::Sqlite {
        return options;
    }
    options.after_connect(move |conn, _| {
        Box::pin(async move {
            for pragma in SQLITE_PRAGMAS {
                sqlx::query(pragma).execute(&mut *conn).await?;
            }
            Ok(())
        })
    })
}

/// Hide a password in a database URL before it reaches a log or error.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Queries below take a connection so callers decide the transaction.
pub type Conn = AnyConnection;

/// True when a unique index rejected the write (a constraint, not a fault).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// `NOTIFY channel, payload` (Postgres): what the other replicas follow.
pub async fn notify(pool: &AnyPool, channel: &str, payload: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(pool).await.map(|_| ())
}

/// SQLite's page cache of this connection, in KiB (bulk loads want a large
/// one; give it back after). A no-op on Postgres.
pub async fn set_page_cache_kib(conn: &mut Conn, backend: Backend, kib: i64) -> sqlx::Result<()> {
    if backend == Backend::Sqlite {
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = -{kib}"))).execute(&mut *conn).await?;
    }
    Ok(())
}
