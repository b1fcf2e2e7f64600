//! The one storage module: sqlx `Any` over SQLite (embedded default) or
//! Postgres, with a portable schema (DESIGN §6). Times are unix milliseconds,
//! JSON is TEXT, booleans are 0/1 BIGINTs.

mod records;
mod tenancy;
mod webhooks;

pub use records::*;
pub use tenancy::*;
pub use webhooks::*;

use anyhow::Context;
use sqlx::{
    AnyConnection, AnyPool, Row,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};
use std::time::Duration;

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
    /// SQLite: the usage write-behind's connection (see [`Store::begin_usage_write`]).
    usage_pool: Option<AnyPool>,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

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
            &[],
        );
        let pool = options.connect(&url).await.with_context(|| format!("connecting to {}", redact_url(&url)))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.context("running database migrations")?;
        // The usage write-behind touches a page per key counted: on SQLite it
        // gets a connection of its own whose page cache (32 MiB; it grows
        // only as pages are used) keeps those pages in memory between
        // flushes for up to a few hundred thousand keys. Beyond that the
        // pages come from the OS page cache: a bigger cache measured no
        // faster at 1M keys and cost its full size in RSS. Its commits
        // checkpoint the WAL every 64 MiB rather than every 4 MiB, so a page
        // dirtied by several flushes is copied back once. Statement journals stay in (unlinked) temp files: in
        // memory they would add a copy of every page a flush touches to the
        // heap. An in-memory database cannot be shared that way.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let usage_pool = if backend == Backend::Sqlite && !in_memory {
            let options = sqlite_pragmas(
                AnyPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(30)),
                backend,
                &["PRAGMA cache_size = -32768", "PRAGMA wal_autocheckpoint = 16384"],
            );
            Some(options.connect(&url).await.with_context(|| format!("connecting to {}", redact_url(&url)))?)
        } else {
            None
        };
        Ok(Store { pool, backend, usage_pool })
    }

    /// A write transaction on the usage write-behind's own connection
    /// (SQLite; the shared pool on Postgres).
    pub async fn begin_usage_write(&self) -> Result<Tx, sqlx::Error> {
        match (&self.usage_pool, self.backend) {
            (Some(pool), _) => pool.begin_with("BEGIN IMMEDIATE").await,
            (None, _) => self.begin().await,
        }
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
        if let Some(pool) = &self.usage_pool {
            pool.close().await;
        }
        self.pool.close().await;
    }
}

/// SQLite: connect options cannot carry pragmas under `Any`, so set them per
/// connection (the shared ones, then `extra`).
fn sqlite_pragmas(options: AnyPoolOptions, backend: Backend, extra: &'static [&'static str]) -> AnyPoolOptions {
    if backend != Backend::Sqlite {
        return options;
    }
    options.after_connect(move |conn, _| {
        Box::pin(async move {
            for pragma in [
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA busy_timeout = 5000",
                "PRAGMA foreign_keys = ON",
            ]
            .iter()
            .chain(extra)
            {
                sqlx::query(*pragma).execute(&mut *conn).await?;
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
