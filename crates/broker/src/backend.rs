//! The seam between a broker and its state: one small trait, [`Backend`], with two
//! implementations.
//!
//! - [`Embedded`] (the default): the state file of [`crate::store`] in this process. One broker,
//!   nothing else to run.
//! - [`crate::redis::Redis`] (`--redis URL`): several brokers share one Redis. `seq` is allocated
//!   there, the catalog and the history live there, and every broker reads the one global order
//!   from there.
//!
//! Either way a notification is *committed* (numbered and stored, with its catalog change, all or
//! nothing) before any client is handed it, and every broker hands committed notifications to
//! its clients in `seq` order, each once: the hub reads them back with [`Backend::read_after`].

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use furniture_protocol::{Action, CatalogEntry, Furniture, Notification};

use crate::store::{new_stream_id, Change, Loaded, Store, StoreError};
#[cfg(test)]
use crate::store::CHECKPOINT_FRAMES;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A notification as broadcast: its `seq` and its frame, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub seq: u64,
    pub frame: String,
    /// Its record's [`record_bytes`] when the committer counted them already (the state file's
    /// does; a shared backend's reader counts them again).
    pub record_bytes: Option<usize>,
}

/// Why the state could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Writing failed; nothing was committed.
    #[error("{0}")]
    Write(String),
    /// The state cannot be reached (Redis down); nothing was committed.
    #[error("{0}")]
    Unreachable(String),
    /// Redis stopped answering after the commit was sent and did not come back in time to say
    /// whether it was carried out: it may have been.
    #[error("{0}")]
    InDoubt(String),
    /// The notifications after the asked `seq` are no longer all kept, or the numbering started
    /// over: the reader must load the state again.
    #[error("{0}")]
    Gap(String),
    /// The broker is stopping and its state is closed: nothing was committed, and nothing is
    /// wrong with the state.
    #[error("{0}")]
    Stopping(String),
}

/// Where a broker's notifications are numbered, kept and ordered.
pub trait Backend: Send + Sync + 'static {
    /// `"embedded"` or `"redis"`, for logs and `/healthz`.
    fn kind(&self) -> &'static str;

    /// True when other brokers commit too: the hub then follows the backend
    /// ([`crate::hub::Hub::follow`]) and hands out every commit from there, its own included.
    fn shared(&self) -> bool {
        false
    }

    /// True when a commit waits on something outside the broker's threads (a disk, Redis): a
    /// connection then reads on while up to [`crate::connection::MAX_PUBLISHES_IN_FLIGHT`] of
    /// its publishes commit, so that commits in a row share transactions and round trips.
    fn pipelined(&self) -> bool {
        self.shared()
    }

    /// The state as it stands: the numbering's id, the last `seq`, the catalog, and the last
    /// `history` notifications.
    fn load(&self, history: usize) -> BoxFuture<'_, Result<Loaded, BackendError>>;

    /// Numbers `draft` (its `seq` is ignored) after everything committed before it, and keeps it
    /// with its catalog change, all or nothing. Returns its `seq`. The commit takes its place in
    /// the order when `commit` is called, not when the future is first polled: a caller may start
    /// several and await them afterwards.
    fn commit(&self, draft: Notification) -> BoxFuture<'_, Result<u64, BackendError>>;

    /// The notifications committed after `after`, by any broker, oldest first (at most a
    /// thousand). When there are none, waits at most `wait` for one.
    fn read_after(&self, after: u64, wait: Duration) -> BoxFuture<'_, Result<Vec<Committed>, BackendError>>;

    /// The id of the numbering now (it changes when the numbering starts over).
    fn stream(&self) -> BoxFuture<'_, Result<String, BackendError>>;

    /// The id of the numbering now, and its last `seq` where other brokers may have moved it
    /// (a shared backend's), to tell a numbering that went back under the same id.
    fn numbering(&self) -> BoxFuture<'_, Result<(String, Option<u64>), BackendError>> {
        Box::pin(async move { self.stream().await.map(|s| (s, None)) })
    }

    /// Makes everything durable before a graceful exit.
    fn flush(&self) {}
}

/// What a committed change does to the catalog, decided where `seq` is allocated so that every
/// broker agrees: `Some(true)` puts the item (created and updated, when it `fits`: see
/// [`Room::fits`]), `Some(false)` removes it (deleted), `None` leaves the catalog alone (a record
/// without `furniture_id`, or a change that does not fit: a new item, or an update's record, that
/// would take the catalog past one of its bounds; an item updated so keeps its last record).
pub fn catalog_change(action: Action, has_id: bool, fits: bool) -> Option<bool> {
    match action {
        _ if !has_id => None,
        Action::Deleted => Some(false),
        Action::Created | Action::Updated if fits => Some(true),
        _ => None,
    }
}

/// The bytes a record takes in the catalog, as the catalog's bound in bytes counts them: its JSON
/// encoding's length. Computed from the record itself, so that the state file, Redis and every
/// broker's copy of the catalog count the same.
pub fn record_bytes(furniture: &Furniture) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, &furniture.0);
    count.0
}

/// The catalog's bounds (`--max-catalog-items`, `--max-catalog-bytes`) and what it holds against
/// them: each item's [`record_bytes`] and their sum.
#[derive(Debug, Clone, Default)]
pub struct Room {
    sizes: HashMap<String, usize>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl Room {
    /// The room of a catalog holding `items` (ids and records).
    pub fn new<'a>(max_items: usize, max_bytes: usize, items: impl IntoIterator<Item = (String, &'a Furniture)>) -> Room {
        let mut room = Room { sizes: HashMap::new(), bytes: 0, max_items, max_bytes };
        for (id, furniture) in items {
            room.put(id, record_bytes(furniture));
        }
        room
    }

    /// Whether item `id` with a record of `size` bytes may be put: an item already there when
    /// its new record keeps the catalog within its bytes, a new one when the catalog has room
    /// for one more item and for its bytes.
    pub fn fits(&self, id: &str, size: usize) -> bool {
        match self.sizes.get(id) {
            Some(&old) => self.bytes - old + size <= self.max_bytes,
            None => self.sizes.len() < self.max_items && self.bytes.saturating_add(size) <= self.max_bytes,
        }
    }

    /// Puts item `id` with a record of `size` bytes (in place of its last one); gives back the
    /// size it had.
    pub fn put(&mut self, id: String, size: usize) -> Option<usize> {
        self.bytes += size;
        let old = self.sizes.insert(id, size);
        self.bytes -= old.unwrap_or(0);
        old
    }

    /// Takes item `id` out; gives back the size it had.
    pub fn remove(&mut self, id: &str) -> Option<usize> {
        let old = self.sizes.remove(id);
        self.bytes -= old.unwrap_or(0);
        old
    }

    /// Puts back what [`Room::put`] or [`Room::remove`] gave back.
    pub fn undo(&mut self, id: &str, old: Option<usize>) {
        match old {
            Some(size) => {
                self.put(id.to_owned(), size);
            }
            None => {
                self.remove(id);
            }
        }
    }

    /// Bytes of the records held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The state file of one broker, or its memory only (`--in-memory`).
///
/// With a state file, commits are written in the order `commit` was called. One that comes
/// alone (nothing waiting, no write for `QUIET`, 2 ms) is written at once by its caller, a
/// transaction of its own that touches only the page cache (`synchronous=NORMAL`); the others go
/// to a thread of their own, which writes whatever waits when it comes back for more (at most
/// [`MAX_BATCH`]) as one transaction and answers each waiting publish once its transaction is in
/// the file. A transaction costs mostly its commit, so publishes arriving together share one.
/// What syncs the disk is the writer thread's: folding the write-ahead log into the file (after
/// its answers) and the first write after that (or after opening), which starts the log again
/// from its beginning. Only a graceful stop (`flush`) folds the log on a runtime thread. Nothing queues without bound: a connection has
/// at most [`crate::connection::MAX_PUBLISHES_IN_FLIGHT`] publishes committing before it waits
/// for the oldest.
pub struct Embedded {
    inner: Arc<Mutex<Inner>>,
    recent: Arc<Mutex<Recent>>,
    /// The state file's writer; `None` in memory, where a commit is done at once.
    writer: Option<Writer>,
}

/// Commits written as one transaction, at most.
pub const MAX_BATCH: usize = 256;

/// Work for the writer thread.
enum Job {
    /// A commit, and where its answer goes.
    Commit(Notification, tokio::sync::oneshot::Sender<Result<u64, BackendError>>),
    /// The write-ahead log is due to be folded into the file (after a commit written at once).
    Checkpoint,
}

struct Writer {
    queue: std::sync::mpsc::Sender<Job>,
    /// Jobs sent to the writer and not yet done.
    queued: Arc<AtomicUsize>,
    /// Set while the writer works on what it took (the fold after the answers included).
    busy: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// How long the state file must have had no write for a commit to be written at once by the
/// connection asking, rather than by the writer thread: a publish that comes alone is then
/// broadcast without two hops between threads, each of which can wait milliseconds for a core
/// when the machine is busy; publishes that come close together still share transactions.
const QUIET: Duration = Duration::from_millis(2);

struct Inner {
    store: Option<Store>,
    stream: String,
    seq: u64,
    /// What the catalog holds against its bounds, to decide whether a change fits.
    room: Room,
    /// What was loaded at open, handed to the first `load`.
    loaded: Option<Loaded>,
    /// Transactions written to the state file.
    transactions: u64,
    /// When the writer thread last took work, or a commit was last made at once.
    last_write: Option<Instant>,
    /// Whether the last fold of the write-ahead log failed (said once, not at every commit).
    fold_failing: bool,
}

/// Committed and not yet delivered by the hub, which reads right after each commit, so this
/// holds at most the commits in flight (`max`). Behind a lock of its own: the hub reads it while
/// the writer thread may be folding the log into the file under the state's.
struct Recent {
    list: VecDeque<Committed>,
    max: usize,
}

/// A draft numbered and placed, ready to be written.
struct Numbered {
    seq: u64,
    frame: String,
    /// Its record's [`record_bytes`].
    size: usize,
    /// What it does to the catalog ([`catalog_change`]).
    change: Owned,
}

/// A [`Change`] that owns its parts.
enum Owned {
    Put(String, CatalogEntry),
    Remove(String),
    None,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Numbers `drafts` after everything committed, in order, and keeps them with their catalog
/// changes: all of them or, when the file cannot be written, none (the state is then as before).
fn commit_all(st: &mut Inner, recent: &Mutex<Recent>, drafts: Vec<Notification>) -> Result<Vec<u64>, BackendError> {
    // Each draft's fit in the catalog is decided over the changes of the drafts before it, made
    // to the room as they go and undone, last first, if the file cannot be written.
    let mut undo: Vec<(String, Option<usize>)> = Vec::new();
    let mut numbered = Vec::with_capacity(drafts.len());
    for (seq, mut draft) in (st.seq + 1..).zip(drafts) {
        draft.seq = Some(seq);
        let frame = draft.encode();
        let id = draft.furniture.id();
        let size = record_bytes(&draft.furniture);
        let fits = id.as_deref().is_some_and(|id| st.room.fits(id, size));
        let change = match (catalog_change(draft.action, id.is_some(), fits), id) {
            (Some(true), Some(id)) => {
                undo.push((id.clone(), st.room.put(id.clone(), size)));
                Owned::Put(id, CatalogEntry { furniture: std::sync::Arc::new(draft.furniture), seq: Some(seq), timestamp: draft.timestamp })
            }
            (Some(false), Some(id)) => {
                undo.push((id.clone(), st.room.remove(&id)));
                Owned::Remove(id)
            }
            _ => Owned::None,
        };
        numbered.push(Numbered { seq, frame, size, change });
    }
    let undone = |st: &mut Inner, undo: Vec<(String, Option<usize>)>| {
        for (id, old) in undo.into_iter().rev() {
            st.room.undo(&id, old);
        }
    };
    if let Some(store) = st.store.as_mut() {
        if store.is_closed() {
            let why = format!("the state file {} is closed: the broker is stopping", store.path().display());
            undone(st, undo);
            return Err(BackendError::Stopping(why));
        }
        let rows: Vec<(u64, &str, Change<'_>)> = numbered
            .iter()
            .map(|n| {
                let change = match &n.change {
                    Owned::Put(id, entry) => Change::Put(id, entry),
                    Owned::Remove(id) => Change::Remove(id),
                    Owned::None => Change::None,
                };
                (n.seq, n.frame.as_str(), change)
            })
            .collect();
        let written = store.record_all(&rows).map_err(|e| BackendError::Write(format!("cannot write the state file {}: {e}", store.path().display())));
        drop(rows);
        if let Err(e) = written {
            undone(st, undo);
            return Err(e);
        }
        st.transactions += 1;
    }
    let mut seqs = Vec::with_capacity(numbered.len());
    let mut recent = lock(recent);
    for n in numbered {
        st.seq = n.seq;
        seqs.push(n.seq);
        if recent.list.len() >= recent.max {
            recent.list.pop_front();
        }
        recent.list.push_back(Committed { seq: n.seq, frame: n.frame, record_bytes: Some(n.size) });
    }
    Ok(seqs)
}

/// The writer's loop: takes what waits, writes it as one transaction, answers each, then folds
/// the write-ahead log into the file when that is due, until the broker's [`Embedded`] goes.
fn write_loop(
    inner: Arc<Mutex<Inner>>,
    recent: Arc<Mutex<Recent>>,
    queue: std::sync::mpsc::Receiver<Job>,
    queued: Arc<AtomicUsize>,
    busy: Arc<std::sync::atomic::AtomicBool>,
) {
    while let Ok(first) = queue.recv() {
        busy.store(true, Ordering::SeqCst);
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let taken = jobs.len();
        let (mut drafts, mut answers) = (Vec::with_capacity(taken), Vec::with_capacity(taken));
        for job in jobs {
            if let Job::Commit(draft, answer) = job {
                drafts.push(draft);
                answers.push(answer);
            }
        }
        // The lock is let go before anyone is answered.
        let result = {
            let mut st = lock(&inner);
            let result = if drafts.is_empty() { Ok(Vec::new()) } else { commit_all(&mut st, &recent, drafts) };
            st.last_write = Some(Instant::now());
            queued.fetch_sub(taken, Ordering::SeqCst);
            result
        };
        match result {
            Ok(seqs) => {
                for (answer, seq) in answers.into_iter().zip(seqs) {
                    let _ = answer.send(Ok(seq));
                }
            }
            Err(e) => {
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
        }
        // After the answers: no publish waits for the disk to sync. A commit asked for meanwhile
        // finds the lock taken and queues here.
        let mut st = lock(&inner);
        let Inner { store, fold_failing, .. } = &mut *st;
        if let Some(store) = store.as_ref().filter(|s| s.checkpoint_due()) {
            match store.checkpoint_passive() {
                Err(e) if !*fold_failing => {
                    *fold_failing = true;
                    tracing::warn!(path = %store.path().display(), error = %e, "could not fold the write-ahead log into the state file (tried again after each batch of commits until it can)");
                }
                Err(_) => {}
                Ok(()) if *fold_failing => {
                    *fold_failing = false;
                    tracing::info!(path = %store.path().display(), "the write-ahead log is folded into the state file again");
                }
                Ok(()) => {}
            }
        }
        drop(st);
        busy.store(false, Ordering::SeqCst);
    }
}

impl Embedded {
    /// Opens `dir` (or nothing, when `dir` is `None`: state in memory, a new numbering).
    /// `history` is how many notifications the file keeps, `history_bytes` how many bytes of
    /// them are read back at most, `max_items` and `max_bytes` the catalog's bounds, `in_flight`
    /// the most commits that can wait to be read back (those of every connection).
    pub fn open(
        dir: Option<&std::path::Path>,
        history: usize,
        history_bytes: usize,
        max_items: usize,
        max_bytes: usize,
        in_flight: usize,
    ) -> Result<Embedded, StoreError> {
        let (store, loaded) = match dir {
            Some(dir) => {
                let (store, loaded) = Store::open_within(dir, history, history_bytes)?;
                (Some(store), loaded)
            }
            None => (None, Loaded { stream: new_stream_id(), ..Loaded::default() }),
        };
        let room = Room::new(max_items, max_bytes, loaded.catalog.iter().filter_map(|e| Some((e.furniture.id()?, &*e.furniture))));
        let on_disk = store.is_some();
        let inner = Arc::new(Mutex::new(Inner {
            store,
            stream: loaded.stream.clone(),
            seq: loaded.seq,
            room,
            loaded: Some(loaded),
            transactions: 0,
            last_write: None,
            fold_failing: false,
        }));
        let recent = Arc::new(Mutex::new(Recent { list: VecDeque::new(), max: in_flight.max(1) }));
        let writer = if on_disk {
            let (queue, pending) = std::sync::mpsc::channel();
            let queued = Arc::new(AtomicUsize::new(0));
            let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (shared, read_back, counted) = (Arc::clone(&inner), Arc::clone(&recent), Arc::clone(&queued));
            let thread = std::thread::Builder::new()
                .name("state-writer".into())
                .spawn({
                    let busy = busy.clone();
                    move || write_loop(shared, read_back, pending, counted, busy)
                })
                .map_err(|source| StoreError::Writer { source })?;
            Some(Writer { queue, queued, busy, thread })
        } else {
            None
        };
        Ok(Embedded { inner, recent, writer })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Runs `f` on the state file's connection (tests make writes fail with it).
    #[doc(hidden)]
    pub fn with_connection_for_tests<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> R) -> Option<R> {
        self.lock().store.as_ref().map(|s| f(s.connection_for_tests()))
    }

    /// Transactions written to the state file since it was opened.
    #[doc(hidden)]
    pub fn transactions_for_tests(&self) -> u64 {
        self.lock().transactions
    }

    /// Waits until the writer thread has nothing to do (and holds no lock).
    #[doc(hidden)]
    pub async fn writer_idle_for_tests(&self) {
        if let Some(w) = &self.writer {
            while w.busy.load(Ordering::SeqCst) || w.queued.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

impl Drop for Embedded {
    /// Waits for the writer to finish what it was given, so that the file is let go (another
    /// broker may open the folder once this one is gone).
    fn drop(&mut self) {
        if let Some(Writer { queue, thread, .. }) = self.writer.take() {
            drop(queue);
            let _ = thread.join();
        }
        // Dropped without a graceful stop (the listener could not be bound, say): everything
        // written is in the file, which is then closed, not left looking like a power cut.
        self.flush();
    }
}

impl Backend for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    /// With a state file, yes (its writer then batches a connection's commits in a row too); in
    /// memory a commit is done at once.
    fn pipelined(&self) -> bool {
        self.writer.is_some()
    }

    fn load(&self, history: usize) -> BoxFuture<'_, Result<Loaded, BackendError>> {
        let mut st = self.lock();
        let result = match st.loaded.take() {
            Some(mut loaded) => {
                let cut = loaded.history.len().saturating_sub(history);
                loaded.history.drain(..cut);
                Ok(loaded)
            }
            None => match st.store.as_mut() {
                Some(store) => store.reload(history).map_err(BackendError::Write),
                // In memory, the hub's own copy is all there is: only the first load has one.
                None => Err(BackendError::Gap("state kept in memory cannot be read again".into())),
            },
        };
        Box::pin(std::future::ready(result))
    }

    fn commit(&self, draft: Notification) -> BoxFuture<'_, Result<u64, BackendError>> {
        let Some(writer) = &self.writer else {
            let seq = commit_all(&mut self.lock(), &self.recent, vec![draft]).map(|seqs| seqs[0]);
            return Box::pin(std::future::ready(seq));
        };
        // Alone and after a quiet spell, written here. Nothing sent to the writer is waiting (it
        // decrements `queued` under the lock once those are written), so the order holds.
        if writer.queued.load(Ordering::SeqCst) == 0 {
            let st = match self.inner.try_lock() {
                Ok(st) => Some(st),
                Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            };
            if let Some(mut st) = st {
                let quiet = st.last_write.is_none_or(|t| t.elapsed() >= QUIET);
                // The first write after opening or a fold starts the log afresh, and SQLite then
                // syncs its header to disk: that one is the writer thread's.
                let afresh = st.store.as_ref().is_some_and(Store::log_starts_afresh);
                if writer.queued.load(Ordering::SeqCst) == 0 && quiet && !afresh {
                    let seq = commit_all(&mut st, &self.recent, vec![draft]).map(|seqs| seqs[0]);
                    st.last_write = Some(Instant::now());
                    if st.store.as_ref().is_some_and(Store::checkpoint_due) {
                        writer.queued.fetch_add(1, Ordering::SeqCst);
                        if writer.queue.send(Job::Checkpoint).is_err() {
                            writer.queued.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    return Box::pin(std::future::ready(seq));
                }
            }
        }
        // Its place in the order is its place in the writer's queue, taken here.
        let (answer, answered) = tokio::sync::oneshot::channel();
        writer.queued.fetch_add(1, Ordering::SeqCst);
        if writer.queue.send(Job::Commit(draft, answer)).is_err() {
            writer.queued.fetch_sub(1, Ordering::SeqCst);
            return Box::pin(std::future::ready(Err(BackendError::Write("the state file's writer has stopped".into()))));
        }
        Box::pin(async move {
            answered
                .await
                .unwrap_or_else(|_| Err(BackendError::Write("the state file's writer stopped before writing this notification".into())))
        })
    }

    fn read_after(&self, after: u64, _wait: Duration) -> BoxFuture<'_, Result<Vec<Committed>, BackendError>> {
        let mut recent = lock(&self.recent);
        // The hub reads after what it has delivered: anything up to `after` is done with.
        while recent.list.front().is_some_and(|c| c.seq <= after) {
            recent.list.pop_front();
        }
        let result = match recent.list.front() {
            Some(first) if first.seq > after + 1 => {
                Err(BackendError::Gap(format!("notifications {}..{} were not read back in time", after + 1, first.seq)))
            }
            _ => Ok(recent.list.iter().filter(|c| c.seq > after).take(1000).cloned().collect()),
        };
        // Only this broker commits here, so there is never anything to wait for.
        Box::pin(std::future::ready(result))
    }

    fn stream(&self) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(std::future::ready(Ok(self.lock().stream.clone())))
    }

    fn flush(&self) {
        let mut st = self.lock();
        if let Some(store) = st.store.as_mut().filter(|s| !s.is_closed()) {
            if let Err(e) = store.close() {
                tracing::warn!(path = %store.path().display(), error = %e, "could not fold the write-ahead log into the state file (it is replayed at the next start)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use furniture_protocol::Furniture;

    fn draft(action: Action, id: &str, nombre: &str) -> Notification {
        Notification { action, message: String::new(), furniture: Furniture::new(id, nombre, "", 75, 120, "roble", "ana"), timestamp: None, seq: None }
    }

    /// The room fits items up to both bounds, exactly at them included; an item's new record
    /// counts in place of its last; what `put` and `remove` give back undoes them.
    #[test]
    fn the_room_fits_up_to_its_bounds_and_undoes() {
        let f = |id: &str| Furniture::new(id, "Mesa", "", 75, 120, "roble", "ana");
        let s = record_bytes(&f("a"));
        assert_eq!(s, serde_json::to_string(&f("a").0).unwrap().len(), "a record's bytes are its JSON's");
        let mut room = Room::new(2, 2 * s, [("a".to_owned(), &f("a"))]);
        assert!(room.fits("b", s), "exactly at the bound");
        assert!(!room.fits("b", s + 1));
        assert!(room.fits("a", 2 * s) && !room.fits("a", 2 * s + 1), "a record counts in place of its last");
        let old = room.put("b".into(), s);
        assert!(!room.fits("c", 0), "no third item, whatever its bytes");
        room.undo("b", old);
        assert_eq!(room.bytes(), s);
        let old = room.put("a".into(), 5);
        assert_eq!((old, room.bytes()), (Some(s), 5));
        room.undo("a", old);
        let old = room.remove("a");
        assert_eq!(room.bytes(), 0);
        room.undo("a", old);
        assert_eq!(room.bytes(), s);
        assert!(room.fits("b", s) && !room.fits("b", s + 1));
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("furniture-backend-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// The `seq`s the hub reads back.
    async fn read_back(backend: &Embedded) -> Vec<u64> {
        backend.read_after(0, Duration::ZERO).await.unwrap().iter().map(|c| c.seq).collect()
    }

    /// The last `seq` in the file in `dir` and the ids of its catalog, sorted.
    fn in_file(dir: &std::path::Path) -> (u64, Vec<String>) {
        let (_, loaded) = Store::open(dir, 100).unwrap();
        let mut ids: Vec<String> = loaded.catalog.iter().filter_map(|e| e.furniture.id()).collect();
        ids.sort();
        (loaded.seq, ids)
    }

    /// Commits that wait together are written together, at most `MAX_BATCH` to a transaction,
    /// numbered in the order `commit` was called, and every one is in the file.
    #[tokio::test]
    async fn waiting_commits_share_transactions_of_at_most_max_batch_in_call_order() {
        let dir = temp_dir("batch");
        let backend = Embedded::open(Some(&dir), 1000, usize::MAX, 10_000, usize::MAX, 1000).unwrap();
        let n = 2 * MAX_BATCH + 88;
        // The writer cannot write while the state is held, so every commit waits in its queue.
        let commits = backend
            .with_connection_for_tests(|_| (0..n).map(|i| backend.commit(draft(Action::Created, &i.to_string(), "Mesa"))).collect::<Vec<_>>())
            .unwrap();
        let mut seqs = Vec::new();
        for c in commits {
            seqs.push(c.await.unwrap());
        }
        assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>(), "numbered in call order");
        let t = backend.transactions_for_tests();
        // The writer may have taken the first before the state was held: then it wrote that one
        // alone, and the rest in full batches.
        assert!((3..=4).contains(&t), "{n} commits in {t} transactions");
        let delivered = backend.read_after(0, Duration::ZERO).await.unwrap();
        assert_eq!(delivered.len(), n, "all handed to the hub");
        drop(backend);
        let (_, loaded) = Store::open(&dir, 1000).unwrap();
        assert_eq!((loaded.seq, loaded.catalog.len(), loaded.history.len()), (n as u64, n, n));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Once the state file is closed at a graceful stop, a commit that still comes (a producer
    /// past the stop's grace) is refused and written nowhere: the file's mark of being open is
    /// gone, and a change written after it would not be covered by it.
    #[tokio::test]
    async fn a_commit_after_the_stop_is_refused() {
        let dir = temp_dir("closed");
        let backend = Embedded::open(Some(&dir), 100, usize::MAX, 100, usize::MAX, 100).unwrap();
        assert_eq!(backend.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
        backend.flush();
        match backend.commit(draft(Action::Created, "b", "Silla")).await {
            Err(BackendError::Stopping(why)) => assert!(why.contains("is closed: the broker is stopping"), "{why}"),
            other => panic!("{other:?}"),
        }
        drop(backend);
        assert_eq!(in_file(&dir), (1, vec!["a".to_owned()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A backend dropped without a graceful stop (the broker could not bind its port, say)
    /// closes its file: a later boot does not take it for one left open by a power cut.
    #[tokio::test]
    async fn a_backend_dropped_without_a_stop_leaves_its_file_closed() {
        let dir = temp_dir("dropped");
        let marks = |c: &rusqlite::Connection| -> i64 {
            c.query_row("SELECT count(*) FROM meta WHERE key = 'open_in_boot'", [], |r| r.get(0)).unwrap()
        };
        let backend = Embedded::open(Some(&dir), 100, usize::MAX, 100, usize::MAX, 100).unwrap();
        assert_eq!(backend.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
        assert_eq!(backend.with_connection_for_tests(marks), Some(1), "marked open while open");
        drop(backend);
        let file = rusqlite::Connection::open(dir.join(crate::store::FILE_NAME)).unwrap();
        assert_eq!(marks(&file), 0, "closed when dropped");
        drop(file);
        assert_eq!(in_file(&dir), (1, vec!["a".to_owned()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A commit that comes alone, after a quiet spell, is written by its caller: it is in the
    /// file when `commit` returns, without a wait for the writer thread.
    #[tokio::test]
    async fn a_lone_commit_is_written_before_commit_returns() {
        use futures_util::FutureExt;
        let dir = temp_dir("alone");
        let backend = Embedded::open(Some(&dir), 100, usize::MAX, 100, usize::MAX, 100).unwrap();
        // The first write after opening goes to the writer thread (it starts the log afresh).
        assert_eq!(backend.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
        backend.writer_idle_for_tests().await;
        tokio::time::sleep(QUIET * 2).await;
        assert_eq!(backend.commit(draft(Action::Updated, "a", "Mesa alta")).now_or_never(), Some(Ok(2)), "written at once");
        assert_eq!(backend.transactions_for_tests(), 2);
        assert_eq!(read_back(&backend).await, [1, 2], "read back by the hub");
        drop(backend);
        let (_, loaded) = Store::open(&dir, 100).unwrap();
        assert_eq!(loaded.seq, 2);
        assert_eq!(loaded.catalog[0].furniture.0["nombre"], "Mesa alta");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The write-ahead log is folded into the file as it passes [`CHECKPOINT_FRAMES`], after
    /// commits written at once and after the writer thread's: it never grows far beyond that,
    /// and every commit is in the file, in order.
    #[tokio::test]
    async fn the_write_ahead_log_stays_near_its_bound() {
        let dir = temp_dir("wal");
        let backend = Embedded::open(Some(&dir), 10_000, usize::MAX, 10_000, usize::MAX, 1000).unwrap();
        // Several pages a commit (the history's frame and the catalog's record overflow a page).
        let big = "x".repeat(6000);
        let n = 600u64;
        for i in 0..n {
            if i % 2 == 0 {
                // Alone: written at once; the next, close behind, goes to the writer thread.
                tokio::time::sleep(QUIET + Duration::from_millis(1)).await;
            }
            assert_eq!(backend.commit(draft(Action::Created, &i.to_string(), &big)).await, Ok(i + 1));
        }
        // Each frame is a page and its 24-byte header; 600 commits wrote well over 2,000.
        let wal = std::fs::metadata(dir.join(format!("{}-wal", crate::store::FILE_NAME))).unwrap().len();
        let bound = (CHECKPOINT_FRAMES as u64 + 200) * (4096 + 24);
        assert!(wal <= bound, "write-ahead log of {wal} bytes, over {bound}");
        drop(backend);
        let (_, loaded) = Store::open(&dir, 10_000).unwrap();
        assert_eq!((loaded.seq, loaded.catalog.len(), loaded.history.len()), (n, n as usize, n as usize));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A commit written at once that cannot be written changes nothing either, and the next
    /// one takes its number.
    #[tokio::test]
    async fn a_lone_commit_that_fails_changes_nothing() {
        use futures_util::FutureExt;
        let dir = temp_dir("lone-failed");
        let backend = Embedded::open(Some(&dir), 100, usize::MAX, 100, usize::MAX, 100).unwrap();
        // The first write after opening goes to the writer thread (it starts the log afresh).
        assert_eq!(backend.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
        backend.with_connection_for_tests(|c| c.execute_batch("PRAGMA max_page_count = 1;").unwrap());
        backend.writer_idle_for_tests().await;
        tokio::time::sleep(QUIET * 2).await;
        let big = "x".repeat(64 * 1024);
        let failed = backend.commit(draft(Action::Created, "b", &big)).now_or_never().expect("written at once");
        assert!(matches!(failed, Err(BackendError::Write(_))), "{failed:?}");
        backend.with_connection_for_tests(|c| c.execute_batch("PRAGMA max_page_count = 1073741823;").unwrap());
        tokio::time::sleep(QUIET * 2).await;
        assert_eq!(backend.commit(draft(Action::Created, "c", "Silla")).now_or_never(), Some(Ok(2)));
        assert_eq!(read_back(&backend).await, [1, 2]);
        drop(backend);
        assert_eq!(in_file(&dir), (2, vec!["a".to_owned(), "c".to_owned()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Within one transaction, whether a new item fits in the catalog is decided over the
    /// changes before it, as it is one commit at a time.
    #[tokio::test]
    async fn the_catalog_bound_holds_within_a_transaction() {
        let dir = temp_dir("bound");
        let backend = Embedded::open(Some(&dir), 100, usize::MAX, 2, usize::MAX, 100).unwrap();
        let steps = [
            (Action::Created, "a"),
            (Action::Created, "b"),
            (Action::Created, "c"), // full: not added
            (Action::Updated, "a"), // there: replaced
            (Action::Deleted, "a"),
            (Action::Created, "d"), // room again
            (Action::Updated, "e"), // full again: not added
        ];
        let commits = backend
            .with_connection_for_tests(|_| steps.iter().map(|(action, id)| backend.commit(draft(*action, id, id))).collect::<Vec<_>>())
            .unwrap();
        for c in commits {
            c.await.unwrap();
        }
        assert_eq!(backend.commit(draft(Action::Created, "f", "f")).await, Ok(8), "every change numbered");
        drop(backend);
        let (_, loaded) = Store::open(&dir, 100).unwrap();
        let mut ids: Vec<String> = loaded.catalog.iter().filter_map(|e| e.furniture.id()).collect();
        ids.sort();
        assert_eq!(ids, ["b", "d"]);
        assert_eq!(loaded.history.len(), 8, "the ones that did not fit are still notifications");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A transaction that cannot be written refuses every commit in it and changes nothing: the
    /// next commit takes the next `seq` after the last one written, and the catalog's room is
    /// as it was (the items refused take none of its 3 places).
    #[tokio::test]
    async fn a_failed_transaction_refuses_all_of_its_commits() {
        let dir = temp_dir("failed");
        let backend = Embedded::open(Some(&dir), 100, usize::MAX, 3, usize::MAX, 100).unwrap();
        assert_eq!(backend.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
        let big = "x".repeat(64 * 1024);
        let commits = backend
            .with_connection_for_tests(|c| {
                c.execute_batch("PRAGMA max_page_count = 1;").unwrap();
                ["b", "c", "d"].map(|id| backend.commit(draft(Action::Created, id, &big)))
            })
            .unwrap();
        for c in commits {
            assert!(matches!(c.await, Err(BackendError::Write(_))));
        }
        backend.with_connection_for_tests(|c| c.execute_batch("PRAGMA max_page_count = 1073741823;").unwrap());
        assert_eq!(backend.commit(draft(Action::Created, "e", "Silla")).await, Ok(2));
        assert_eq!(backend.commit(draft(Action::Created, "f", "Banco")).await, Ok(3));
        assert_eq!(read_back(&backend).await, [1, 2, 3]);
        drop(backend);
        assert_eq!(in_file(&dir), (3, vec!["a".to_owned(), "e".to_owned(), "f".to_owned()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
