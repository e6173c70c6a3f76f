//! The broker's state on disk: one SQLite file holding the `seq` numbering, the catalog and the
//! recent history.
//!
//! Every notification is written (one transaction, WAL journal) before any client is handed it,
//! so after a crash, even SIGKILL, everything that was broadcast is in the file and `seq` goes on
//! from where it was. A commit reaches the disk itself only at the next checkpoint
//! (`synchronous=NORMAL`), so the machine stopping under the broker (a power cut) can take the
//! last ones with it: the file records which boot of the machine has it open, and a broker that
//! finds it left open by an earlier boot starts a new numbering, so that no `seq` a client saw is
//! given to another change. The file is opened in exclusive mode: a second broker pointed at the
//! same folder is refused instead of sharing it.
//!
//! Nothing here loses data silently: a file that cannot be read stops the broker with
//! [`StoreError`], whose text says what to do.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use furniture_protocol::{CatalogEntry, Furniture, Timestamp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};

/// The file's name inside `--data-dir`.
pub const FILE_NAME: &str = "state.sqlite3";

/// The layout this broker writes; a file with another one is refused.
const SCHEMA_VERSION: &str = "1";

/// What the file held when it was opened.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Id of the `seq` numbering (new when the file was created).
    pub stream: String,
    /// The last `seq` broadcast.
    pub seq: u64,
    pub catalog: Vec<CatalogEntry>,
    /// Encoded notifications, oldest first.
    pub history: Vec<(u64, String)>,
}

/// Why the state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {}: {source}", .dir.display())]
    Folder { dir: PathBuf, source: std::io::Error },
    #[error(
        "the state file {} is in use by another broker (each broker needs its own --data-dir)",
        .path.display()
    )]
    Locked { path: PathBuf },
    #[error(
        "the state file {} cannot be read: {detail}. Nothing was changed. To start over with an \
         empty catalog and a new seq numbering (dashboards resync on their own), move the folder \
         aside and start again: mv {} {}.broken",
        .path.display(), .dir.display(), .dir.display()
    )]
    Unreadable { path: PathBuf, dir: PathBuf, detail: String },
    #[error(
        "the state file {} is not this broker's: {detail}. Nothing was changed. Give the broker a \
         --data-dir of its own",
        .path.display()
    )]
    Foreign { path: PathBuf, detail: String },
    #[error(
        "the state file {} (or its folder) cannot be written by this user. Nothing was changed. \
         Give it back to the user the broker runs as (chown), or run the broker as its owner",
        .path.display()
    )]
    ReadOnly { path: PathBuf },
    #[error(
        "cannot write to the state file {}: {detail}. Make room on the disk (or fix what the \
         error names) and start again: the catalog in it is kept",
        .path.display()
    )]
    Unwritable { path: PathBuf, detail: String },
    #[error("cannot start the thread that writes the state file: {source}")]
    Writer { source: std::io::Error },
    #[error("cannot use Redis at {url}: {detail}. Start Redis or fix --redis (BROKER_REDIS_URL)")]
    Redis { url: String, detail: String },
}

/// The open state file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    history_len: usize,
    /// Bytes of the history's frames read back at most (the newest first).
    history_bytes: usize,
    /// Frames in the write-ahead log after the last commit, as its hook counts them.
    wal_frames: Arc<AtomicUsize>,
    /// Closed at a graceful stop ([`Store::close`]): nothing more is written.
    closed: bool,
}

/// Frames (pages) in the write-ahead log beyond which it is due to be folded into the file:
/// SQLite's own default, about 4 MB.
pub const CHECKPOINT_FRAMES: usize = 1000;

/// A change to write with its notification.
pub enum Change<'a> {
    /// The item was added or replaced.
    Put(&'a str, &'a CatalogEntry),
    /// The item was removed.
    Remove(&'a str),
    /// The catalog did not change.
    None,
}

impl Store {
    /// Opens (or creates) `dir/state.sqlite3` and reads everything back. `history_len` is how
    /// many notifications to keep.
    pub fn open(dir: &Path, history_len: usize) -> Result<(Store, Loaded), StoreError> {
        Store::open_within(dir, history_len, usize::MAX)
    }

    /// [`Store::open`], reading back only the newest notifications whose frames fit in
    /// `history_bytes` (the file keeps `history_len` of them whatever their bytes): a start
    /// holds no more of them than the broker will keep.
    pub fn open_within(dir: &Path, history_len: usize, history_bytes: usize) -> Result<(Store, Loaded), StoreError> {
        Store::open_in_boot(dir, history_len, history_bytes, current_boot().as_deref())
    }

    /// [`Store::open_within`] in the boot of the machine `boot` (`None`: unknown, not recorded).
    fn open_in_boot(dir: &Path, history_len: usize, history_bytes: usize, boot: Option<&str>) -> Result<(Store, Loaded), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder { dir: dir.to_owned(), source })?;
        let path = dir.join(FILE_NAME);
        let unreadable = |detail: String| StoreError::Unreadable { path: path.clone(), dir: dir.to_owned(), detail };
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| unreadable(e.to_string()))?;
        // A second broker on the same file is told at once, not after a wait.
        let _ = conn.busy_timeout(std::time::Duration::ZERO);
        // SQLite opens a file it may not write read-only, without a word.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::ReadOnly { path });
        }
        // Exclusive locking keeps other processes out for as long as this broker runs.
        if let Err(e) = conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;") {
            return Err(classify(e, &path, unreadable));
        }
        // Nothing is written to a file that is not this broker's (another program's database, or
        // a later layout): new and empty, or holding this layout's version.
        match layout(&conn) {
            Ok(Ok(())) => {}
            Ok(Err(detail)) => return Err(StoreError::Foreign { path, detail }),
            Err(e) => return Err(classify(e, &path, unreadable)),
        }
        // WAL with synchronous=NORMAL makes a commit survive the process being killed (not a
        // power cut).
        if let Err(e) = conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;") {
            return Err(classify(e, &path, unreadable));
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| classify(e, &path, unreadable))?;
        if check != "ok" {
            return Err(unreadable(format!("integrity check failed ({check})")));
        }
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS catalog (
                 furniture_id TEXT PRIMARY KEY, furniture TEXT NOT NULL,
                 seq INTEGER NOT NULL, timestamp TEXT);
             CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL);
             COMMIT;",
        )
        .map_err(|e| classify(e, &path, unreadable))?;
        // SQLite would fold the log into the file inside whichever commit takes it past
        // CHECKPOINT_FRAMES, syncing the disk meanwhile; the hook counts frames instead (and
        // turns that off), and the broker's writer thread checkpoints when it is due.
        let wal_frames = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&wal_frames);
        let hooked = conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: std::ffi::c_int| {
            counted.store(usize::try_from(frames).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }));
        hooked.map_err(|e| unreadable(e.to_string()))?;
        let mut store = Store { conn, path: path.clone(), history_len, history_bytes, wal_frames, closed: false };
        let loaded = store.load().map_err(|e| classify(e, &store.path, unreadable))?;
        let mut loaded = match loaded {
            Ok(l) => l,
            Err(detail) => return Err(unreadable(detail)),
        };
        if let Some(boot) = boot {
            let unwritable = |detail: String| StoreError::Unwritable { path: path.clone(), detail };
            store.mark_open(&mut loaded, boot).map_err(|e| classify(e, &path, unwritable))?;
        }
        Ok((store, loaded))
    }

    /// Records that the file is open in this boot of the machine, on the disk before anything is
    /// broadcast. A file still marked open by an earlier boot was open when its machine stopped
    /// and may have lost its last commits, whose `seq`s would then be given to other changes: a
    /// new numbering instead (a new `stream`, without the old numbering's history; the catalog
    /// and the count stay).
    fn mark_open(&mut self, loaded: &mut Loaded, boot: &str) -> rusqlite::Result<()> {
        let before = meta(&self.conn, "open_in_boot")?;
        let tx = self.conn.transaction()?;
        if before.as_deref().is_some_and(|b| b != boot) {
            let stream = new_stream_id();
            tracing::warn!(
                path = %self.path.display(), seq = loaded.seq, old_stream = %loaded.stream, new_stream = %stream,
                "the machine stopped while a broker had the state file open (a power cut?): its last changes may be lost, so a new seq numbering starts (dashboards resync; the catalog stays, the history of the old numbering goes)"
            );
            tx.execute("UPDATE meta SET value = ?1 WHERE key = 'stream'", [&stream])?;
            tx.execute("DELETE FROM history", [])?;
            loaded.stream = stream;
            loaded.history.clear();
        }
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('open_in_boot', ?1)", [boot])?;
        tx.commit()?;
        self.fold_all()
    }

    /// Folds all of the write-ahead log into the file and empties it: the next commit starts
    /// it afresh (and is the writer thread's, [`Store::log_starts_afresh`]).
    fn fold_all(&self) -> rusqlite::Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        self.wal_frames.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Reads the meta rows, the catalog and the history; creates the meta rows of a new file.
    /// The outer error is SQLite's; the inner one a row this broker cannot understand.
    fn load(&mut self) -> rusqlite::Result<Result<Loaded, String>> {
        match meta(&self.conn, "schema")? {
            None => {
                let tx = self.conn.transaction()?;
                tx.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
                tx.execute("INSERT INTO meta (key, value) VALUES ('stream', ?1)", [new_stream_id()])?;
                tx.execute("INSERT INTO meta (key, value) VALUES ('seq', '0')", [])?;
                tx.commit()?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => return Ok(Err(format!("it has layout version {v:?}; this broker reads version {SCHEMA_VERSION}"))),
        }
        let stream = meta(&self.conn, "stream")?.unwrap_or_default();
        let Ok(seq) = meta(&self.conn, "seq")?.unwrap_or_default().parse::<u64>() else {
            return Ok(Err("its seq is not a number".to_owned()));
        };
        let mut catalog = Vec::new();
        let mut rows = self.conn.prepare("SELECT furniture_id, furniture, seq, timestamp FROM catalog")?;
        let mut it = rows.query([])?;
        while let Some(row) = it.next()? {
            let id: String = row.get(0)?;
            let text: String = row.get(1)?;
            let Ok(map) = serde_json::from_str::<Map<String, Value>>(&text) else {
                return Ok(Err(format!("the catalog row of {id:?} is not a JSON object")));
            };
            let item_seq: i64 = row.get(2)?;
            let timestamp: Option<String> = row.get(3)?;
            catalog.push(CatalogEntry {
                furniture: std::sync::Arc::new(Furniture(map)),
                seq: Some(item_seq as u64),
                timestamp: timestamp.as_deref().and_then(Timestamp::parse),
            });
        }
        drop(it);
        drop(rows);
        // The newest first, as many as --history asks for now (it may have been lowered since)
        // and as fit in the bytes kept.
        let (mut history, mut bytes) = (Vec::new(), 0usize);
        let mut rows = self.conn.prepare("SELECT seq, frame FROM history ORDER BY seq DESC")?;
        let mut it = rows.query([])?;
        while let Some(row) = it.next()? {
            let len = row.get_ref(1)?.as_str().map_or(0, str::len);
            if history.len() == self.history_len || bytes.saturating_add(len) > self.history_bytes {
                break;
            }
            bytes += len;
            let s: i64 = row.get(0)?;
            history.push((s as u64, row.get::<_, String>(1)?));
        }
        drop(it);
        drop(rows);
        history.reverse();
        Ok(Ok(Loaded { stream, seq, catalog, history }))
    }

    /// Reads everything back again, keeping the last `history` notifications.
    pub fn reload(&mut self, history: usize) -> Result<Loaded, String> {
        self.history_len = history;
        match self.load() {
            Ok(Ok(loaded)) => Ok(loaded),
            Ok(Err(detail)) => Err(format!("the state file {} cannot be read: {detail}", self.path.display())),
            Err(e) => Err(format!("the state file {} cannot be read: {e}", self.path.display())),
        }
    }

    /// Writes broadcasts (each its `seq`, its frame for the history and its catalog change), in
    /// `seq` order, as one transaction: all or nothing. A
    /// transaction's cost is mostly its commit (the pages it changed appended to the write-ahead
    /// log), so broadcasts written together cost little more than one.
    pub fn record_all(&mut self, broadcasts: &[(u64, &str, Change<'_>)]) -> rusqlite::Result<()> {
        let Some(&(last, _, _)) = broadcasts.last() else {
            return Ok(());
        };
        let tx = self.conn.transaction()?;
        for (seq, frame, change) in broadcasts {
            let seq = *seq;
            if self.history_len > 0 {
                tx.prepare_cached("INSERT OR REPLACE INTO history (seq, frame) VALUES (?1, ?2)")?
                    .execute(params![seq as i64, frame])?;
            }
            match change {
                Change::Put(id, entry) => {
                    let furniture = serde_json::to_string(&entry.furniture.0).unwrap_or_else(|_| "{}".to_owned());
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO catalog (furniture_id, furniture, seq, timestamp) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        id,
                        furniture,
                        entry.seq.unwrap_or(seq) as i64,
                        entry.timestamp.map(|t| t.to_string())
                    ])?;
                }
                Change::Remove(id) => {
                    tx.prepare_cached("DELETE FROM catalog WHERE furniture_id = ?1")?.execute([id])?;
                }
                Change::None => {}
            }
        }
        tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'seq'")?.execute([last.to_string()])?;
        if self.history_len > 0 {
            let oldest_kept = last.saturating_sub(self.history_len as u64 - 1);
            tx.prepare_cached("DELETE FROM history WHERE seq < ?1")?.execute([oldest_kept as i64])?;
        }
        tx.commit()
    }

    /// Whether the write-ahead log has grown past [`CHECKPOINT_FRAMES`] since the last
    /// [`Store::checkpoint_passive`].
    pub fn checkpoint_due(&self) -> bool {
        self.wal_frames.load(Ordering::Relaxed) >= CHECKPOINT_FRAMES
    }

    /// Whether the next commit writes the write-ahead log from its start: nothing was committed
    /// since the file was opened or the log last folded (a failed commit writes nothing).
    pub fn log_starts_afresh(&self) -> bool {
        self.wal_frames.load(Ordering::Relaxed) == 0
    }

    /// Folds what it can of the write-ahead log into the file (a passive checkpoint: the log is
    /// written over from its start by the next commit once all of it is folded).
    pub fn checkpoint_passive(&self) -> rusqlite::Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?;
        self.wal_frames.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// At a graceful stop: marks the file closed and folds the write-ahead log into it, so
    /// that the folder holds one self-contained file, all of it on the disk. Nothing is written
    /// after it ([`Store::is_closed`]): a change written then would not be covered by the mark.
    pub fn close(&mut self) -> rusqlite::Result<()> {
        self.closed = true;
        self.conn.execute("DELETE FROM meta WHERE key = 'open_in_boot'", [])?;
        self.fold_all()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[doc(hidden)]
    pub fn connection_for_tests(&self) -> &Connection {
        &self.conn
    }
}

fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()
}

/// The id of this boot of the machine (Linux; `None` elsewhere).
fn current_boot() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned()).filter(|id| !id.is_empty())
}

/// Whether the open file is empty or this broker's layout (`Ok(Err(why))` when it is neither).
fn layout(conn: &Connection) -> rusqlite::Result<Result<(), String>> {
    let tables: Vec<String> = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    if tables.is_empty() {
        return Ok(Ok(()));
    }
    if !tables.iter().any(|t| t == "meta") {
        return Ok(Err(format!("it holds other tables ({})", tables.join(", "))));
    }
    let version: Option<String> = conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).optional()?;
    Ok(match version {
        Some(v) if v == SCHEMA_VERSION => Ok(()),
        Some(v) => Err(format!("it has layout version {v:?}; this broker reads version {SCHEMA_VERSION}")),
        // This broker's own tables with their first rows not yet written (stopped in between).
        None if tables.iter().all(|t| ["meta", "catalog", "history"].contains(&t.as_str())) => Ok(()),
        None => Err("its meta table has no layout version".to_owned()),
    })
}

fn classify(e: rusqlite::Error, path: &Path, unreadable: impl Fn(String) -> StoreError) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) {
            return StoreError::Locked { path: path.to_owned() };
        }
    }
    unreadable(e.to_string())
}

/// A random 16-hex-digit id for a new `seq` numbering.
pub fn new_stream_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, seq: u64) -> CatalogEntry {
        let furniture: Map<String, Value> =
            serde_json::from_str(&format!(r#"{{"furniture_id":"{id}","nombre":"Mesa","altura":75}}"#)).unwrap();
        CatalogEntry { furniture: std::sync::Arc::new(Furniture(furniture)), seq: Some(seq), timestamp: Timestamp::parse("2026-11-28T10:00:00.5Z") }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("furniture-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_new_file_starts_at_seq_zero_and_keeps_its_stream_id_across_opens() {
        let dir = temp_dir("new");
        let (store, loaded) = Store::open(&dir, 10).unwrap();
        assert_eq!(loaded.seq, 0);
        assert_eq!(loaded.stream.len(), 16);
        drop(store);
        let (_, again) = Store::open(&dir, 10).unwrap();
        assert_eq!(again.stream, loaded.stream);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Opened within a number of bytes, the history read back is the newest notifications whose
    /// frames fit in them, exactly at the bound included, and still no more than its count.
    #[test]
    fn history_is_read_back_within_its_bytes_the_newest_first() {
        let dir = temp_dir("history-bytes");
        let (mut store, _) = Store::open(&dir, 10).unwrap();
        let frames = ["a".repeat(100), "b".repeat(300), "c".repeat(200), "d".repeat(100)];
        for (seq, frame) in (1..).zip(&frames) {
            store.record_all(&[(seq, frame.as_str(), Change::None)]).unwrap();
        }
        drop(store);
        let seqs = |loaded: &Loaded| loaded.history.iter().map(|(s, _)| *s).collect::<Vec<u64>>();
        let (store, loaded) = Store::open_within(&dir, 10, 300).unwrap();
        assert_eq!(seqs(&loaded), [3, 4], "200 + 100 bytes: exactly at the bound");
        assert_eq!(loaded.history[0].1, frames[2]);
        drop(store);
        let (store, loaded) = Store::open_within(&dir, 10, 299).unwrap();
        assert_eq!(seqs(&loaded), [4]);
        drop(store);
        let (store, loaded) = Store::open_within(&dir, 10, 99).unwrap();
        assert!(loaded.history.is_empty(), "not even the newest fits");
        drop(store);
        let (_, loaded) = Store::open_within(&dir, 1, 10_000).unwrap();
        assert_eq!(seqs(&loaded), [4], "and no more than its count");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_was_recorded_is_read_back_and_history_is_trimmed_to_its_bound() {
        let dir = temp_dir("roundtrip");
        let (mut store, _) = Store::open(&dir, 3).unwrap();
        let a = entry("a", 1);
        store.record_all(&[(1, "f1", Change::Put("a", &a))]).unwrap();
        let b = entry("b", 2);
        store.record_all(&[(2, "f2", Change::Put("b", &b)), (3, "f3", Change::Remove("a"))]).unwrap();
        store.record_all(&[(4, "f4", Change::None)]).unwrap();
        drop(store);
        let (_, loaded) = Store::open(&dir, 3).unwrap();
        assert_eq!(loaded.seq, 4);
        assert_eq!(loaded.catalog, vec![b]);
        let seqs: Vec<u64> = loaded.history.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![2, 3, 4], "three kept, the oldest dropped");
        assert_eq!(loaded.history[2].1, "f4");
        // A smaller --history on the next start keeps only the newest.
        let (_, smaller) = Store::open(&dir, 1).unwrap();
        assert_eq!(smaller.history.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file left open by an earlier boot of the machine (it stopped under the broker) starts
    /// a new numbering: new `stream`, no history, the catalog and the count kept. Left open in
    /// the same boot (the broker killed) or closed cleanly before the machine stopped, the
    /// numbering goes on.
    #[test]
    fn a_file_left_open_by_an_earlier_boot_starts_a_new_numbering() {
        let dir = temp_dir("boot");
        let (mut store, first) = Store::open_in_boot(&dir, 10, usize::MAX, Some("boot-1")).unwrap();
        let a = entry("a", 1);
        store.record_all(&[(1, "f1", Change::Put("a", &a)), (2, "f2", Change::None)]).unwrap();
        drop(store);

        let (store, killed) = Store::open_in_boot(&dir, 10, usize::MAX, Some("boot-1")).unwrap();
        assert_eq!((&killed.stream, killed.seq, killed.history.len()), (&first.stream, 2, 2), "killed in the same boot: the file has everything");
        drop(store);

        let (mut store, after_power_cut) = Store::open_in_boot(&dir, 10, usize::MAX, Some("boot-2")).unwrap();
        assert_ne!(after_power_cut.stream, first.stream, "a new numbering");
        assert_eq!(after_power_cut.stream.len(), 16);
        assert_eq!(after_power_cut.seq, 2, "the count goes on");
        assert_eq!(after_power_cut.catalog, vec![a.clone()]);
        assert!(after_power_cut.history.is_empty(), "the old numbering's history goes with it");
        store.record_all(&[(3, "f3", Change::None)]).unwrap();
        drop(store);

        let (mut store, again) = Store::open_in_boot(&dir, 10, usize::MAX, Some("boot-2")).unwrap();
        assert_eq!((&again.stream, again.seq), (&after_power_cut.stream, 3), "the new numbering is kept in the file");
        store.close().unwrap();
        drop(store);
        let (store, after_clean_stop) = Store::open_in_boot(&dir, 10, usize::MAX, Some("boot-3")).unwrap();
        assert_eq!(after_clean_stop.stream, after_power_cut.stream, "closed cleanly before the machine stopped");
        assert_eq!(after_clean_stop.history.len(), 1);
        drop(store);

        // Where the boot is unknown nothing is recorded, and nothing changes.
        let (store, unknown) = Store::open_in_boot(&dir, 10, usize::MAX, None).unwrap();
        assert_eq!(unknown.stream, after_power_cut.stream);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Opened, a file is marked open and its log folded, so the first commit after starts the
    /// log afresh (the writer thread's: SQLite syncs the log's header then), for a new file and
    /// for one written before alike; after it, the log is under way.
    #[test]
    fn the_first_commit_after_opening_starts_the_log_afresh() {
        let dir = temp_dir("afresh");
        for (seq, opening) in [(1, "new"), (2, "existing")] {
            let (mut store, _) = Store::open_in_boot(&dir, 10, usize::MAX, Some("boot-1")).unwrap();
            assert!(store.log_starts_afresh(), "{opening} file");
            store.record_all(&[(seq, "f", Change::None)]).unwrap();
            assert!(!store.log_starts_afresh(), "{opening} file, after a commit");
            drop(store);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_broker_on_the_same_folder_is_refused() {
        let dir = temp_dir("locked");
        let (_first, _) = Store::open(&dir, 10).unwrap();
        match Store::open(&dir, 10) {
            Err(StoreError::Locked { .. }) => {}
            other => panic!("expected Locked, got {:?}", other.map(|(_, l)| l)),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_the_way_on() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), b"this is not an SQLite file, just garbage bytes\n".repeat(100)).unwrap();
        let err = Store::open(&dir, 10).err().expect("refused");
        let text = err.to_string();
        assert!(matches!(err, StoreError::Unreadable { .. }), "{text}");
        assert!(text.contains("mv "), "says how to go on: {text}");
        assert!(text.contains(".broken"), "{text}");
        // Nothing was changed: the bytes are still there for inspection.
        assert!(std::fs::read(dir.join(FILE_NAME)).unwrap().starts_with(b"this is not an SQLite file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Another program's database, and a later layout of this broker's, are refused as they are:
    /// the file is not changed in any way (its bytes, its journal mode), and the message says
    /// why.
    #[test]
    fn a_foreign_or_newer_file_is_refused_and_left_as_it_was() {
        for (name, setup, says) in [
            ("foreign", "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);", "other tables (invoices)"),
            ("newer", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '99');", "layout version \"99\""),
        ] {
            let dir = temp_dir(name);
            std::fs::create_dir_all(&dir).unwrap();
            Connection::open(dir.join(FILE_NAME)).unwrap().execute_batch(setup).unwrap();
            let before = std::fs::read(dir.join(FILE_NAME)).unwrap();
            let err = Store::open(&dir, 10).err().expect("refused");
            let text = err.to_string();
            assert!(matches!(err, StoreError::Foreign { .. }), "{text}");
            assert!(text.contains(says) && text.contains("Nothing was changed"), "{text}");
            assert_eq!(std::fs::read(dir.join(FILE_NAME)).unwrap(), before, "{name}: the file is as it was");
            assert!(!dir.join(format!("{FILE_NAME}-wal")).exists(), "{name}: no log made for it");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
