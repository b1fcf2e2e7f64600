//! A low-priority SQLite connection on a thread of its own, for background
//! writes that must not compete with requests for the cores.
//!
//! The usage write-behind touches a page per key it counts: at a million
//! keys verified at random that is the whole of `key_usage` and
//! `usage_counters` (~29k pages) every flush, seconds of work. On a normal
//! priority thread it took its fair share of two saturated cores from the
//! request workers — verify at 1M keys lost 25 % of its throughput and its
//! p99 tripled. At nice 10 it runs on what the requests leave over; when
//! there is little, batches simply grow (a key counted twice in a batch is
//! written once), so the write-behind needs less work per verification
//! exactly when the machine is busiest.

use std::{path::PathBuf, sync::mpsc};

use anyhow::{Context, anyhow};
use rusqlite::Connection;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Niceness of the writer thread (0 normal … 19 lowest).
const NICENESS: i32 = 10;

pub struct BackgroundWriter {
    jobs: mpsc::Sender<Job>,
}

impl BackgroundWriter {
    /// Open a connection to the SQLite file at `path` on a new thread.
    /// `pragmas` run once, after the ones every SQLite connection runs.
    pub fn open(path: PathBuf, pragmas: &'static [&'static str]) -> anyhow::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, opening) = mpsc::sync_channel::<anyhow::Result<()>>(1);
        std::thread::Builder::new()
            .name("keyward-bg-writer".into())
            .spawn(move || {
                lower_priority();
                let mut conn = match connect(&path, pragmas) {
                    Ok(conn) => {
                        let _ = opened.send(Ok(()));
                        conn
                    }
                    Err(err) => {
                        let _ = opened.send(Err(err));
                        return;
                    }
                };
                // Ends when the last `BackgroundWriter` is dropped.
                for job in queue {
                    job(&mut conn);
                }
            })
            .context("starting the background writer thread")?;
        opening.recv().map_err(|_| anyhow!("the background writer thread exited"))??;
        Ok(BackgroundWriter { jobs })
    }

    /// Run `work` in a `BEGIN IMMEDIATE` transaction on the writer thread.
    pub async fn transaction<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = (|| -> rusqlite::Result<T> {
                let tx = rusqlite::Transaction::new(conn, rusqlite::TransactionBehavior::Immediate)?;
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            let _ = reply.send(result);
        });
        self.jobs.send(job).map_err(|_| anyhow!("the background writer thread exited"))?;
        Ok(answer.await.map_err(|_| anyhow!("the background writer thread exited"))??)
    }
}

fn connect(path: &PathBuf, pragmas: &[&str]) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    for pragma in super::SQLITE_PRAGMAS.iter().chain(pragmas) {
        // Some pragmas answer with a row (journal_mode, say): read and drop it.
        conn.query_row(pragma, [], |_| Ok(())).or_else(|err| match err {
            rusqlite::Error::QueryReturnedNoRows => Ok(()),
            err => Err(err),
        })?;
    }
    Ok(conn)
}

/// Lower this thread's scheduling priority (Linux: niceness is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on this thread's own id; no memory is shared.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICENESS) != 0 {
            tracing::debug!("could not lower the background writer's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_transactions_at_low_priority_and_rolls_back_failures() {
        let dir =
            std::env::temp_dir().join(format!("keyward-bg-writer-{}-{}", std::process::id(), crate::store::now_ms()));
        std::fs::create_dir_all(&dir).unwrap();
        let writer = BackgroundWriter::open(dir.join("t.db"), &[]).unwrap();
        writer.transaction(|tx| tx.execute("CREATE TABLE t (n INTEGER)", []).map(|_| ())).await.unwrap();
        #[cfg(target_os = "linux")]
        {
            // SAFETY: a read-only syscall about the calling thread.
            let nice = writer
                .transaction(|_| Ok(unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }))
                .await
                .unwrap();
            assert_eq!(nice, NICENESS);
        }
        let failed = writer
            .transaction(|tx| {
                tx.execute("INSERT INTO t VALUES (1)", [])?;
                tx.execute("INSERT INTO missing VALUES (1)", []).map(|_| ())
            })
            .await;
        assert!(failed.is_err());
        let rows: i64 =
            writer.transaction(|tx| tx.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))).await.unwrap();
        assert_eq!(rows, 0, "the failed transaction was rolled back");
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
