//! The audit trail in PostgreSQL: every [`AuditRecord`](crate::audit::AuditRecord) becomes a row
//! of `mcp_tool_executions`, written by a background task so a tool's answer never waits on the
//! database.
//!
//! [`AuditLog::record`](crate::audit::AuditLog::record) gives each record a random `record_id`
//! and hands it to the writer through a bounded channel. The writer inserts batches (up to
//! [`BATCH`] rows per statement) with `ON CONFLICT (record_id) DO NOTHING`, so a batch sent again
//! after a partial success or a lost answer never duplicates a row.
//!
//! When the database cannot be reached or fails, records go to a local spool file (JSON lines,
//! 0600) and are sent from it, in order, once the database answers again (retried after 1 s,
//! doubling up to 30 s); then the spool is emptied. While the spool holds anything, new records
//! queue behind it there, so rows arrive in the order the calls finished. A spool left by an
//! earlier process (one that crashed while the database was down) is sent at start. A record the
//! channel cannot take at once (the writer is behind) goes straight to the spool, which is the
//! one case where it may land ahead of records still in the channel; its `time` still says when
//! the call finished.
//!
//! The spool holds at most `max_spooled` records. Beyond that, new records are dropped, counted
//! and logged as errors, and the oldest kept: an unbroken trail from the start of the outage is
//! worth more than its end, the gap is at one known place, and an append-only file never needs
//! rewriting while the disk may be under pressure. They are still in the file or stderr trail
//! when `MCP_AUDIT_LOG` keeps one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_postgres::types::Json;

use super::db::{Database, explain};

/// Rows per INSERT: big enough that the database keeps up with a busy server, small enough that
/// one statement stays well under a megabyte.
pub const BATCH: usize = 500;

/// Records waiting for the writer; a record that finds it full goes to the spool instead.
const CHANNEL: usize = 4_096;

/// The first wait before trying the database again after a failure, and the longest.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long shutdown may spend writing what is left to the database before spooling it.
const CLOSE_ATTEMPT: Duration = Duration::from_secs(3);

/// How much of the spool is read at a time.
const READ_CHUNK: usize = 1 << 20;

const INSERT: &str = "
INSERT INTO mcp_tool_executions
    (record_id, time, server, tool, principal, caller, arguments, outcome, error,
     result_summary, duration_ms, consent, request_id, notes)
SELECT e.x->>'record_id', (e.x->>'time')::timestamptz, e.x->>'server', e.x->>'tool',
       e.x->'caller'->>'principal', e.x->'caller', coalesce(e.x->'arguments', 'null'::jsonb),
       e.x->>'outcome', e.x->>'error', e.x->>'result_summary', (e.x->>'duration_ms')::float8,
       e.x->>'consent', e.x->>'request_id', coalesce(e.x->'notes', '{}'::jsonb)
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(x, n)
ORDER BY e.n
ON CONFLICT (record_id) DO NOTHING";

/// The database side of an [`AuditLog`](crate::audit::AuditLog): the channel to the writer task.
pub(crate) struct DatabaseSink {
    tx: mpsc::Sender<Value>,
    state: DatabaseAudit,
}

/// What the database audit is doing, for metrics, readiness and shutdown; cheap to clone.
#[derive(Clone)]
pub struct DatabaseAudit {
    shared: Arc<Shared>,
    /// Changes (closes) when the writer task has finished.
    done: watch::Receiver<()>,
}

impl std::fmt::Debug for DatabaseAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseAudit")
            .field("target", &self.shared.target)
            .field("spooled", &self.spooled())
            .field("dropped", &self.dropped())
            .finish()
    }
}

struct Shared {
    target: String,
    spool: Mutex<Spool>,
    max_spooled: u64,
    spooled: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    /// Whether the last attempt to write reached the database.
    reachable: AtomicBool,
    last_error: Mutex<Option<String>>,
    closing: AtomicBool,
    close: Notify,
}

struct Spool {
    path: PathBuf,
    file: File,
    /// Bytes at the start of the file already in the database.
    sent: u64,
}

impl DatabaseSink {
    /// Opens (or creates, 0600) the spool, counts what an earlier process left in it, and
    /// spawns the writer on the current tokio runtime.
    pub(crate) fn start(
        db: Database,
        spool_path: PathBuf,
        max_spooled: usize,
    ) -> std::io::Result<DatabaseSink> {
        // Checked first, so a caller outside a runtime gets an error rather than a panic.
        let runtime = tokio::runtime::Handle::try_current().map_err(|error| {
            std::io::Error::other(format!("the audit writer needs a tokio runtime: {error}"))
        })?;
        let (file, left) = open_spool(&spool_path)?;
        if left > 0 {
            tracing::warn!(records = left, spool = %spool_path.display(), "audit records left in the spool by an earlier process; sending them to the database");
        }
        let shared = Arc::new(Shared {
            target: db.target().to_owned(),
            spool: Mutex::new(Spool {
                path: spool_path,
                file,
                sent: 0,
            }),
            max_spooled: max_spooled as u64,
            spooled: AtomicU64::new(left),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            reachable: AtomicBool::new(true),
            last_error: Mutex::new(None),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (done_tx, done) = watch::channel(());
        let writer = Writer {
            db,
            rx,
            pending: Vec::new(),
            shared: shared.clone(),
            _done: done_tx,
        };
        runtime.spawn(writer.run());
        Ok(DatabaseSink {
            tx,
            state: DatabaseAudit { shared, done },
        })
    }

    /// Hands `record` (already serialised) to the writer, or to the spool when the writer is
    /// behind or gone. Never waits on the database.
    pub(crate) fn record(&self, mut record: Value) {
        if let Value::Object(map) = &mut record {
            map.insert("record_id".into(), Value::String(record_id()));
        }
        let record = without_nul(record);
        if self.state.shared.closing.load(Ordering::Acquire) {
            self.state.shared.spool(vec![record]);
            return;
        }
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(record))
            | Err(mpsc::error::TrySendError::Closed(record)) => {
                self.state.shared.spool(vec![record]);
            }
        }
    }

    /// The handle on its state.
    pub(crate) fn state(&self) -> &DatabaseAudit {
        &self.state
    }
}

impl DatabaseAudit {
    /// Records in the spool, waiting for the database.
    pub fn spooled(&self) -> u64 {
        self.shared.spooled.load(Ordering::Relaxed)
    }

    /// Records lost because the spool was full (or could not be written), since start.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Rows this process inserted, since start.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Whether the last attempt to write reached the database.
    pub fn reachable(&self) -> bool {
        self.shared.reachable.load(Ordering::Relaxed)
    }

    /// The last failure, while the database is unreachable.
    pub fn last_error(&self) -> Option<String> {
        self.shared.lock_error().clone()
    }

    /// Stops the writer: what is in the channel is written to the database, else to the spool,
    /// within `timeout`. Records arriving afterwards go to the spool. Call it at shutdown.
    pub async fn close(&self, timeout: Duration) {
        self.shared.closing.store(true, Ordering::Release);
        // notify_one keeps a permit, so a writer busy elsewhere still sees it.
        self.shared.close.notify_one();
        let mut done = self.done.clone();
        let finished =
            tokio::time::timeout(timeout, async { while done.changed().await.is_ok() {} }).await;
        if finished.is_err() {
            tracing::error!(
                spooled = self.spooled(),
                "the audit writer did not finish in time; unwritten records stay in the spool when its task is dropped"
            );
        }
    }
}

/// The readiness probe of the database audit trail: says whether the database takes records and
/// how many wait in the spool. It fails only once records are being dropped: while they are
/// safe in the spool the server still works, and every replica would go unready together with
/// the shared database, which would take the whole service down for an audit outage.
pub fn probe(audit: &crate::audit::AuditLog) -> Option<crate::health::Probe> {
    let state = audit.database()?;
    Some(crate::health::Probe::new("audit trail", move || {
        let state = state.clone();
        async move {
            let (spooled, dropped) = (state.spooled(), state.dropped());
            let target = state.shared.target.clone();
            let text = if state.reachable() {
                format!("PostgreSQL at {target} takes audit records, {spooled} records spooled")
            } else {
                format!(
                    "PostgreSQL at {target} unreachable ({}), {spooled} records spooled",
                    state.last_error().unwrap_or_default()
                )
            };
            if dropped > 0 {
                Err(format!(
                    "{text}; {dropped} records dropped because the spool is full"
                ))
            } else {
                Ok(text)
            }
        }
    }))
}

impl Shared {
    fn lock_spool(&self) -> std::sync::MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends records to the spool, as many as the bound allows; the rest are dropped.
    fn spool(&self, records: Vec<Value>) {
        if records.is_empty() {
            return;
        }
        let spool = self.lock_spool();
        let room = self
            .max_spooled
            .saturating_sub(self.spooled.load(Ordering::Relaxed)) as usize;
        let keep = records.len().min(room);
        let mut lines = Vec::new();
        for record in &records[..keep] {
            // Serialising a Value cannot fail.
            if serde_json::to_writer(&mut lines, record).is_ok() {
                lines.push(b'\n');
            }
        }
        let mut lost = records.len() - keep;
        if keep > 0 {
            let written = with_file_lock(&spool.file, |mut file| file.write_all(&lines));
            match written {
                Ok(()) => {
                    self.spooled.fetch_add(keep as u64, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::error!(%error, spool = %spool.path.display(), records = keep, "could not write audit records to the spool; they are lost from the database trail");
                    lost += keep;
                }
            }
        }
        if lost > 0 {
            let total = self.dropped.fetch_add(lost as u64, Ordering::Relaxed) + lost as u64;
            tracing::error!(
                dropped = lost,
                dropped_total = total,
                max_spooled = self.max_spooled,
                spool = %spool.path.display(),
                "audit spool full while the database is unreachable: records dropped (MCP_AUDIT_SPOOL_MAX)"
            );
        }
    }

    /// Up to `max` records from the spool after what was sent, and the offset after them.
    fn read_spool(&self, max: usize) -> std::io::Result<(Vec<Value>, u64)> {
        let mut guard = self.lock_spool();
        let Spool { file, sent, .. } = &mut *guard;
        with_file_lock(file, |file| {
            let len = file.metadata()?.len();
            if len < *sent {
                // Another process emptied it after sending what it held, ours included.
                *sent = 0;
                self.spooled.store(0, Ordering::Relaxed);
            }
            let mut records = Vec::new();
            let mut offset = *sent;
            let mut chunk = READ_CHUNK;
            while records.len() < max && offset < len {
                let size = chunk.min((len - offset) as usize);
                let mut buffer = vec![0; size];
                file.read_exact_at(&mut buffer, offset)?;
                let Some(end) = buffer.iter().rposition(|b| *b == b'\n') else {
                    if size == chunk {
                        // One line longer than the chunk: read more at once.
                        chunk *= 2;
                        continue;
                    }
                    break; // a line still being written (never: appends hold the lock)
                };
                let mut consumed = 0;
                for line in buffer[..=end].split_inclusive(|b| *b == b'\n') {
                    if records.len() >= max {
                        break;
                    }
                    consumed += line.len();
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<Value>(line) {
                        Ok(record) => records.push(record),
                        Err(error) => {
                            self.dropped.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(%error, line = %String::from_utf8_lossy(line), "an unreadable line in the audit spool is skipped");
                        }
                    }
                }
                offset += consumed as u64;
            }
            Ok((records, offset))
        })
    }

    /// After sending everything up to `offset`: empties the spool if nothing was added meanwhile.
    fn sent_up_to(&self, offset: u64, records: usize) -> std::io::Result<bool> {
        let mut guard = self.lock_spool();
        let Spool { file, sent, .. } = &mut *guard;
        *sent = offset;
        let _ = self
            .spooled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(records as u64))
            });
        with_file_lock(file, |file| {
            if file.metadata()?.len() == offset {
                file.set_len(0)?;
                *sent = 0;
                self.spooled.store(0, Ordering::Relaxed);
                return Ok(true);
            }
            Ok(false)
        })
    }

    fn failed(&self, error: String) {
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::error!(database = %self.target, %error, "audit records cannot reach the database; spooling them until it answers");
        }
        *self.lock_error() = Some(error);
    }

    fn succeeded(&self) {
        if !self.reachable.swap(true, Ordering::Relaxed) {
            tracing::info!(database = %self.target, "the database takes audit records again");
        }
        *self.lock_error() = None;
    }
}

/// The writer task's state. Dropped mid-write (the runtime shutting down), it spools what it
/// held and what is still in the channel, so a record is never lost between the two.
struct Writer {
    db: Database,
    rx: mpsc::Receiver<Value>,
    /// Records taken from the channel and not yet in the database or the spool.
    pending: Vec<Value>,
    shared: Arc<Shared>,
    /// Dropped when the writer ends, which is what [`DatabaseAudit::close`] waits for.
    _done: watch::Sender<()>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.rx.close();
        while let Ok(record) = self.rx.try_recv() {
            self.pending.push(record);
        }
        self.shared.spool(std::mem::take(&mut self.pending));
    }
}

impl Writer {
    async fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        // A spool left by an earlier process is sent at once.
        let mut retry_at = Instant::now();
        loop {
            let spooled = self.shared.spooled.load(Ordering::Relaxed) > 0;
            tokio::select! {
                biased;
                () = self.shared.close.notified() => break,
                received = self.rx.recv_many(&mut self.pending, BATCH) => {
                    if received == 0 {
                        break; // every sender is gone: the AuditLog was dropped
                    }
                }
                () = tokio::time::sleep_until(retry_at), if spooled => {}
            }
            let result = if self.shared.spooled.load(Ordering::Relaxed) > 0 {
                // Behind a non-empty spool, new records queue in it to keep their order.
                self.shared.spool(std::mem::take(&mut self.pending));
                if Instant::now() < retry_at {
                    continue;
                }
                self.send_spool().await
            } else {
                self.send_pending().await
            };
            match result {
                Ok(()) => backoff = MIN_BACKOFF,
                Err(()) => {
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.finish().await;
    }

    /// At close: one bounded attempt at the database for what is left, else the spool.
    async fn finish(&mut self) {
        self.rx.close();
        while let Ok(record) = self.rx.try_recv() {
            self.pending.push(record);
        }
        let attempt = async {
            if self.shared.spooled.load(Ordering::Relaxed) > 0 {
                self.shared.spool(std::mem::take(&mut self.pending));
                let _ = self.send_spool().await;
            } else {
                let _ = self.send_pending().await;
            }
        };
        let _ = tokio::time::timeout(CLOSE_ATTEMPT, attempt).await;
        // Whatever did not make it (Drop does the same if this task is cancelled instead).
        self.shared.spool(std::mem::take(&mut self.pending));
    }

    /// Inserts the pending records; on failure they go to the spool.
    async fn send_pending(&mut self) -> Result<(), ()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match insert(&self.db, &self.shared, &self.pending).await {
            Ok(()) => {
                self.pending.clear();
                self.shared.succeeded();
                Ok(())
            }
            Err(error) => {
                self.shared.failed(error);
                self.shared.spool(std::mem::take(&mut self.pending));
                Err(())
            }
        }
    }

    /// Sends the spool in order, batch by batch, and empties it once all is in.
    async fn send_spool(&mut self) -> Result<(), ()> {
        loop {
            let (records, offset) = match self.shared.read_spool(BATCH) {
                Ok(read) => read,
                Err(error) => {
                    tracing::error!(%error, "could not read the audit spool");
                    return Err(());
                }
            };
            if let Err(error) = insert(&self.db, &self.shared, &records).await {
                self.shared.failed(error);
                return Err(());
            }
            self.shared.succeeded();
            match self.shared.sent_up_to(offset, records.len()) {
                Ok(true) => return Ok(()),
                // Nothing readable left but the file not at its end (a line without its
                // newline): wait for the backoff rather than spinning on it.
                Ok(false) if records.is_empty() => return Err(()),
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, "could not empty the audit spool");
                    return Err(());
                }
            }
        }
    }
}

/// Inserts `records` in batches. A batch the database refuses for its content (not for being
/// unreachable) is retried row by row, and a row refused alone is logged in full and counted as
/// dropped rather than blocking the trail behind it forever.
async fn insert(db: &Database, shared: &Shared, records: &[Value]) -> Result<(), String> {
    if records.is_empty() {
        return Ok(());
    }
    let client = db.client().await.map_err(|e| e.to_string())?;
    for batch in records.chunks(BATCH) {
        match client.execute(INSERT, &[&Json(batch)]).await {
            Ok(rows) => {
                shared.written.fetch_add(rows, Ordering::Relaxed);
            }
            Err(error) if refused_for_content(&error) => {
                for record in batch {
                    match client
                        .execute(INSERT, &[&Json(std::slice::from_ref(record))])
                        .await
                    {
                        Ok(rows) => {
                            shared.written.fetch_add(rows, Ordering::Relaxed);
                        }
                        Err(error) if refused_for_content(&error) => {
                            shared.dropped.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(error = %explain(&error), %record, "the database refused an audit record; it is kept only in this log");
                        }
                        Err(error) => return Err(db.error(explain(&error)).to_string()),
                    }
                }
            }
            Err(error) => return Err(db.error(explain(&error)).to_string()),
        }
    }
    Ok(())
}

/// Data exceptions (22) and integrity violations (23): sending the same row again cannot help.
fn refused_for_content(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}

/// Opens the spool for appending and reading, 0600, and counts the records it holds. A last
/// line cut short by a crash is ended, so the next record does not join it.
fn open_spool(path: &Path) -> std::io::Result<(File, u64)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true).read(true);
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    let count = with_file_lock(&file, |mut file| {
        let len = file.metadata()?.len();
        let mut count = 0;
        let mut offset = 0;
        let mut buffer = vec![0; READ_CHUNK];
        let mut last = b'\n';
        while offset < len {
            let size = buffer.len().min((len - offset) as usize);
            file.read_exact_at(&mut buffer[..size], offset)?;
            count += buffer[..size].iter().filter(|b| **b == b'\n').count() as u64;
            last = buffer[size - 1];
            offset += size as u64;
        }
        if last != b'\n' {
            file.write_all(b"\n")?;
            count += 1;
        }
        Ok(count)
    })?;
    Ok((file, count))
}

/// Runs `f` holding an exclusive lock on the spool, so processes sharing a data directory never
/// interleave an append with another's emptying of it.
fn with_file_lock<T>(
    file: &File,
    f: impl FnOnce(&File) -> std::io::Result<T>,
) -> std::io::Result<T> {
    file.lock()?;
    let result = f(file);
    let unlocked = file.unlock();
    let value = result?;
    unlocked?;
    Ok(value)
}

/// 128 random bits as hex.
fn record_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The system's generator failing is not a reason to lose a record: fall back to the
        // standard library's randomly keyed hasher, unique enough with the time mixed in.
        let a = crate::grants::random_u64();
        let b = crate::grants::random_u64()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// PostgreSQL's text and jsonb cannot hold U+0000, which a caller's arguments may contain:
/// replaced by U+FFFD so the row is not refused.
fn without_nul(value: Value) -> Value {
    match value {
        Value::String(text) if text.contains('\0') => Value::String(text.replace('\0', "\u{fffd}")),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let key = if key.contains('\0') {
                        key.replace('\0', "\u{fffd}")
                    } else {
                        key
                    };
                    (key, without_nul(value))
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use pg_cluster::PgCluster;
    use serde_json::json;

    use super::*;
    use crate::audit::{AuditLog, AuditRecord, now_rfc3339};
    use crate::config::AuditDestination;
    use crate::identity::Caller;

    fn record(n: usize, principal: Option<&str>) -> AuditRecord {
        let mut caller = Caller::stdio(Some("test-client 1.0".into()));
        if let Some(principal) = principal {
            caller.transport = "http";
            caller.principal = Some(principal.into());
            caller.remote = Some("127.0.0.1:5555".into());
        }
        AuditRecord {
            time: now_rfc3339(),
            server: "test".into(),
            tool: format!("tool_{}", n % 3),
            arguments: json!({"n": n, "q": "caf\u{e9}"}),
            duration_ms: 1.25,
            outcome: "ok",
            error: None,
            consent: None,
            caller,
            request_id: n.to_string(),
            notes: serde_json::Map::new(),
            result_summary: Some(format!("result {n}")),
        }
    }

    async fn migrated(pg: &PgCluster, hint: &str) -> Database {
        let db = Database::new(&pg.new_database(hint).unwrap(), 4).unwrap();
        db.migrate().await.unwrap();
        db
    }

    /// The request ids of the rows, in insertion order.
    async fn request_ids(db: &Database) -> Vec<usize> {
        db.client()
            .await
            .unwrap()
            .query(
                "SELECT request_id FROM mcp_tool_executions ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<_, String>(0).parse().unwrap())
            .collect()
    }

    async fn distinct_record_ids(db: &Database) -> i64 {
        db.client()
            .await
            .unwrap()
            .query_one(
                "SELECT count(DISTINCT record_id) FROM mcp_tool_executions",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = StdInstant::now() + Duration::from_secs(15);
        while !done().await {
            assert!(StdInstant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log(db: Database, spool: &Path, max: usize) -> AuditLog {
        AuditLog::open(&AuditDestination::Off)
            .unwrap()
            .with_database(db, spool.to_owned(), max)
            .unwrap()
    }

    fn unreachable_db() -> Database {
        // Port 1 on loopback: refused at once.
        Database::new("postgres://postgres@127.0.0.1:1/nowhere", 2).unwrap()
    }

    fn spool_lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn records_arrive_as_rows_with_their_principal_and_fields() {
        let Some(pg) = PgCluster::for_tests() else {
            return;
        };
        let db = migrated(pg, "audit_rows").await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&AuditDestination::File(file.clone()))
            .unwrap()
            .with_database(db.clone(), dir.path().join("spool.jsonl"), 100)
            .unwrap();
        log.record(&record(0, Some("alice")));
        let mut failed = record(1, None);
        failed.outcome = "tool_error";
        failed.error = Some("no such company".into());
        failed.consent = Some("grant:g-1".into());
        failed.arguments = json!({"name": "nul\u{0}byte"});
        failed
            .notes
            .insert("idempotency_key".into(), json!("mcp-abc"));
        log.record(&failed);
        wait_for("2 rows", async || request_ids(&db).await.len() == 2).await;

        let client = db.client().await.unwrap();
        let rows = client
            .query(
                "SELECT record_id, server, tool, principal, caller, arguments, outcome, error,
                        result_summary, duration_ms, consent, request_id, notes,
                        abs(extract(epoch FROM now() - time)) < 60
                 FROM mcp_tool_executions ORDER BY id",
                &[],
            )
            .await
            .unwrap();
        let first = &rows[0];
        let record_id: String = first.get(0);
        assert_eq!(record_id.len(), 32);
        assert!(
            record_id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{record_id}"
        );
        assert_ne!(record_id, rows[1].get::<_, String>(0));
        assert_eq!(first.get::<_, String>(1), "test");
        assert_eq!(first.get::<_, String>(2), "tool_0");
        assert_eq!(first.get::<_, Option<String>>(3).as_deref(), Some("alice"));
        assert_eq!(
            first.get::<_, Value>(4),
            json!({"transport": "http", "principal": "alice", "remote": "127.0.0.1:5555", "client": "test-client 1.0"})
        );
        assert_eq!(first.get::<_, Value>(5), json!({"n": 0, "q": "café"}));
        assert_eq!(first.get::<_, String>(6), "ok");
        assert_eq!(first.get::<_, Option<String>>(7), None);
        assert_eq!(
            first.get::<_, Option<String>>(8).as_deref(),
            Some("result 0")
        );
        assert_eq!(first.get::<_, f64>(9), 1.25);
        assert_eq!(first.get::<_, Option<String>>(10), None);
        assert_eq!(first.get::<_, String>(11), "0");
        assert_eq!(first.get::<_, Value>(12), json!({}));
        assert!(first.get::<_, bool>(13), "time is the record's");

        let second = &rows[1];
        assert_eq!(second.get::<_, Option<String>>(3), None);
        assert_eq!(second.get::<_, Value>(4)["transport"], "stdio");
        assert_eq!(second.get::<_, String>(6), "tool_error");
        assert_eq!(
            second.get::<_, Option<String>>(7).as_deref(),
            Some("no such company")
        );
        assert_eq!(
            second.get::<_, Option<String>>(10).as_deref(),
            Some("grant:g-1")
        );
        // PostgreSQL cannot store U+0000: replaced, the row kept.
        assert_eq!(
            second.get::<_, Value>(5),
            json!({"name": "nul\u{fffd}byte"})
        );
        assert_eq!(
            second.get::<_, Value>(12),
            json!({"idempotency_key": "mcp-abc"})
        );

        // The file trail is kept as before.
        let lines = std::fs::read_to_string(&file).unwrap();
        assert_eq!(lines.lines().count(), 2);
        assert_eq!((log.spooled(), log.dropped()), (0, 0));
        let probe = probe(&log).unwrap();
        let report = crate::health::Readiness::new(vec![probe], Duration::ZERO)
            .report()
            .await;
        assert!(report.ready, "{report:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_written_while_the_database_is_away_arrive_in_order_exactly_once() {
        let Some(pg) = PgCluster::own_for_tests() else {
            return;
        };
        let db = migrated(&pg, "audit_outage").await;
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("audit-spool.jsonl");
        let log = Arc::new(log(db.clone(), &spool, 100_000));
        let running = Arc::new(AtomicBool::new(true));
        // One call finishing every millisecond throughout.
        let recorder = tokio::spawn({
            let (log, running) = (log.clone(), running.clone());
            async move {
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    log.record(&record(n, Some("bob")));
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                n
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        tokio::task::block_in_place(|| pg.stop()).unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let spooled_during = log.spooled();
        assert!(
            spooled_during > 0,
            "nothing spooled while the database was down"
        );
        let probe = probe(&log).unwrap();
        let report = crate::health::Readiness::new(vec![probe], Duration::ZERO)
            .report()
            .await;
        let metrics = crate::metrics::Metrics::new("test");
        metrics.watch_audit(&log);
        let text = metrics.render();
        assert!(
            text.contains("mcp_audit_spooled_records{server=\"test\"} ")
                && !text.contains("mcp_audit_spooled_records{server=\"test\"} 0\n")
                && text.contains("mcp_audit_dropped_records{server=\"test\"} 0\n"),
            "{text}"
        );
        assert!(
            report.checks[0].detail.contains("unreachable")
                && report.checks[0].detail.contains("records spooled"),
            "{report:?}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&spool).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        tokio::task::block_in_place(|| pg.start_again()).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        running.store(false, Ordering::Relaxed);
        let written = recorder.await.unwrap();
        wait_for("every record in the database", async || {
            log.spooled() == 0 && request_ids(&db).await.len() >= written
        })
        .await;
        let ids = request_ids(&db).await;
        assert_eq!(ids, (0..written).collect::<Vec<_>>(), "in order, each once");
        assert_eq!(distinct_record_ids(&db).await, written as i64);
        assert_eq!(log.dropped(), 0);
        assert_eq!(std::fs::metadata(&spool).unwrap().len(), 0, "spool emptied");
        eprintln!("{written} records, {spooled_during} spooled during the outage");
    }

    #[tokio::test]
    async fn a_spool_left_by_an_earlier_process_is_sent_at_start() {
        let Some(pg) = PgCluster::for_tests() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("audit-spool.jsonl");
        {
            // The earlier process: its database never answered.
            let earlier = log(unreachable_db(), &spool, 100);
            for n in 0..5 {
                earlier.record(&record(n, Some("carol")));
            }
            let state = earlier.database().unwrap();
            wait_for("5 spooled", async || state.spooled() == 5).await;
            state.close(Duration::from_secs(5)).await;
        }
        // It crashed halfway through a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&spool)
            .unwrap()
            .write_all(br#"{"record_id":"cut"#)
            .unwrap();
        let text = std::fs::read_to_string(&spool).unwrap();
        assert_eq!(text.matches('\n').count(), 5);

        let db = migrated(pg, "audit_left_spool").await;
        let log = log(db.clone(), &spool, 100);
        // The cut line counts until it is read.
        assert_eq!(log.spooled(), 6);
        log.record(&record(5, Some("carol")));
        wait_for("6 rows", async || request_ids(&db).await.len() == 6).await;
        assert_eq!(request_ids(&db).await, vec![0, 1, 2, 3, 4, 5]);
        wait_for("the spool emptied", async || log.spooled() == 0).await;
        assert_eq!(std::fs::metadata(&spool).unwrap().len(), 0);
        // The cut line could not be read: counted as lost, not sent.
        assert_eq!(log.dropped(), 1);
    }

    #[tokio::test]
    async fn the_spool_keeps_the_oldest_records_up_to_its_bound_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("audit-spool.jsonl");
        let log = log(unreachable_db(), &spool, 10);
        for n in 0..25 {
            log.record(&record(n, None));
        }
        let state = log.database().unwrap();
        wait_for("25 handled", async || {
            state.spooled() + state.dropped() == 25
        })
        .await;
        assert_eq!((log.spooled(), log.dropped()), (10, 15));
        let kept: Vec<String> = spool_lines(&spool)
            .iter()
            .map(|r| r["request_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kept, (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
        let report = crate::health::Readiness::new(vec![probe(&log).unwrap()], Duration::ZERO)
            .report()
            .await;
        assert!(!report.ready, "dropping records is not ready: {report:?}");
        assert!(
            report.checks[0].detail.contains("15 records dropped"),
            "{report:?}"
        );
    }

    #[tokio::test]
    async fn closing_writes_what_is_queued_and_later_records_go_to_the_spool() {
        let Some(pg) = PgCluster::for_tests() else {
            return;
        };
        let db = migrated(pg, "audit_close").await;
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("audit-spool.jsonl");
        let log = log(db.clone(), &spool, 1_000);
        for n in 0..300 {
            log.record(&record(n, None));
        }
        log.database().unwrap().close(Duration::from_secs(10)).await;
        assert_eq!(request_ids(&db).await, (0..300).collect::<Vec<_>>());
        log.record(&record(300, None));
        assert_eq!(log.spooled(), 1);
        assert_eq!(spool_lines(&spool)[0]["request_id"], "300");
    }

    #[tokio::test]
    async fn a_batch_sent_twice_is_stored_once_and_a_refused_row_does_not_block_the_rest() {
        let Some(pg) = PgCluster::for_tests() else {
            return;
        };
        let db = migrated(pg, "audit_idempotent").await;
        let shared = DatabaseSink::start(
            unreachable_db(),
            tempfile::tempdir().unwrap().keep().join("s"),
            10,
        )
        .unwrap()
        .state
        .shared;
        let mut records: Vec<Value> = (0..3)
            .map(|n| {
                let mut value = serde_json::to_value(record(n, None)).unwrap();
                value["record_id"] = json!(record_id());
                value
            })
            .collect();
        insert(&db, &shared, &records[..2]).await.unwrap();
        // Sent again with one more, as after an answer lost mid-batch.
        insert(&db, &shared, &records).await.unwrap();
        assert_eq!(request_ids(&db).await, vec![0, 1, 2]);
        // A row PostgreSQL refuses (a time it cannot read) is set aside; the others go in.
        records[1]["record_id"] = json!(record_id());
        records[1]["time"] = json!("not a time");
        records[1]["request_id"] = json!("7");
        records[0]["record_id"] = json!(record_id());
        records[0]["request_id"] = json!("8");
        insert(&db, &shared, &records).await.unwrap();
        assert_eq!(request_ids(&db).await, vec![0, 1, 2, 8]);
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 1);
    }

    /// How fast the writer empties a burst: 20,000 records recorded at once (most overflow the
    /// channel into the spool), all in the database exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_records_is_written_exactly_once() {
        let Some(pg) = PgCluster::for_tests() else {
            return;
        };
        let db = migrated(pg, "audit_burst").await;
        let dir = tempfile::tempdir().unwrap();
        let log = log(db.clone(), &dir.path().join("spool.jsonl"), 100_000);
        let total = 20_000;
        let began = StdInstant::now();
        for n in 0..total {
            log.record(&record(n, Some("dave")));
        }
        let recorded = began.elapsed();
        wait_for("every row", async || {
            log.spooled() == 0 && distinct_record_ids(&db).await == total as i64
        })
        .await;
        let elapsed = began.elapsed();
        let mut ids = request_ids(&db).await;
        assert_eq!(ids.len(), total);
        ids.sort();
        assert_eq!(ids, (0..total).collect::<Vec<_>>());
        eprintln!(
            "{total} records: recorded in {} ms, all rows in after {} ms ({:.0} rows/s)",
            recorded.as_millis(),
            elapsed.as_millis(),
            total as f64 / elapsed.as_secs_f64()
        );
    }
}
