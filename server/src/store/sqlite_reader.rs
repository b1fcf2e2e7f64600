//! SQLite point reads that run on the calling thread.
//!
//! sqlx runs every SQLite statement on a thread of its connection, so a read
//! is two thread hand-offs (tokio worker → connection thread → back). On a
//! busy 2-core machine those cost more than the read itself: in a profile of
//! uncached verification the scheduler (`finish_task_switch`, run-queue
//! locks) took 37 % of the samples. Reading a key by hash is an index lookup
//! of a few microseconds in pages SQLite already holds, so the verify path
//! runs it in place, on a small pool of read-only connections.
//!
//! In WAL mode a reader never waits for the writer and sees every
//! transaction committed before it starts, so this is as fresh as the
//! pool. A read that fails for any reason (SQLITE_BUSY while the WAL is
//! reset, say) is retried through the pool by the caller.

use std::{
    path::PathBuf,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rusqlite::{Connection, OpenFlags};

/// Read-only connections to one SQLite file, opened on demand and kept.
pub struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads answered in place, and reads that failed (and went to the pool).
    pub reads: AtomicU64,
    pub failures: AtomicU64,
}

/// At most this many connections stay idle (one per worker thread is enough).
const MAX_IDLE: usize = 8;

impl SqliteReader {
    /// Connections to the SQLite file at `path` (opened as they are needed).
    pub fn new(path: PathBuf) -> Self {
        SqliteReader { path, idle: Mutex::default(), reads: AtomicU64::new(0), failures: AtomicU64::new(0) }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Only the rare WAL-index rebuild makes a reader wait; never let it
        // hold a worker thread for long (the caller falls back to the pool).
        conn.busy_timeout(Duration::from_millis(50))?;
        conn.set_prepared_statement_cache_capacity(8);
        Ok(conn)
    }

    /// Run `read` on an idle connection (or a new one) on this thread.
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        let counter = if result.is_ok() { &self.reads } else { &self.failures };
        counter.fetch_add(1, Ordering::Relaxed);
        // A connection whose read failed is dropped rather than reused.
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        result
    }
}
