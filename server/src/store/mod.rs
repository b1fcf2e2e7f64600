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
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // Connect options cannot carry these under `Any`, so set them per connection.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA busy_timeout = 5000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.with_context(|| format!("connecting to {}", redact_url(&url)))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.context("running database migrations")?;
        Ok(Store { pool, backend })
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
