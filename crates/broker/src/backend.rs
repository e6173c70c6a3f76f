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

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use furniture_protocol::{Action, CatalogEntry, Notification};

use crate::store::{new_stream_id, Change, Loaded, Store, StoreError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A notification as broadcast: its `seq` and its frame, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub seq: u64,
    pub frame: String,
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

    /// Makes everything durable before a graceful exit.
    fn flush(&self) {}
}

/// What a committed change does to the catalog, decided where `seq` is allocated so that every
/// broker agrees: `Some(true)` puts the item (created and updated, when it `fits`: already there,
/// or the catalog below its bound), `Some(false)` removes it (deleted), `None` leaves the catalog
/// alone (a record without `furniture_id`, or a new item in a full catalog).
pub fn catalog_change(action: Action, has_id: bool, fits: bool) -> Option<bool> {
    match action {
        _ if !has_id => None,
        Action::Deleted => Some(false),
        Action::Created | Action::Updated if fits => Some(true),
        _ => None,
    }
}

/// The state file of one broker, or its memory only (`--in-memory`).
pub struct Embedded {
    inner: Mutex<Inner>,
    max_items: usize,
}

struct Inner {
    store: Option<Store>,
    stream: String,
    seq: u64,
    /// Ids in the catalog, to decide whether a new item still fits.
    ids: HashSet<String>,
    /// Committed and not yet delivered by the hub (which reads right after each commit, so this
    /// holds at most one entry per publisher waiting for its turn).
    recent: VecDeque<Committed>,
    recent_max: usize,
    /// What was loaded at open, handed to the first `load`.
    loaded: Option<Loaded>,
}

impl Embedded {
    /// Opens `dir` (or nothing, when `dir` is `None`: state in memory, a new numbering).
    /// `history` is how many notifications the file keeps, `max_items` the catalog's bound,
    /// `in_flight` the most commits that can wait to be read back (one per connection).
    pub fn open(dir: Option<&std::path::Path>, history: usize, max_items: usize, in_flight: usize) -> Result<Embedded, StoreError> {
        let (store, loaded) = match dir {
            Some(dir) => {
                let (store, loaded) = Store::open(dir, history)?;
                (Some(store), loaded)
            }
            None => (None, Loaded { stream: new_stream_id(), ..Loaded::default() }),
        };
        let ids = loaded.catalog.iter().filter_map(|e| e.furniture.id()).collect();
        Ok(Embedded {
            inner: Mutex::new(Inner {
                store,
                stream: loaded.stream.clone(),
                seq: loaded.seq,
                ids,
                recent: VecDeque::new(),
                recent_max: in_flight.max(1),
                loaded: Some(loaded),
            }),
            max_items,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state file's connection (tests make writes fail with it).
    #[doc(hidden)]
    pub fn with_connection_for_tests<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> R) -> Option<R> {
        self.lock().store.as_ref().map(|s| f(s.connection_for_tests()))
    }

    fn commit_now(&self, mut draft: Notification) -> Result<u64, BackendError> {
        let mut st = self.lock();
        let st = &mut *st;
        let seq = st.seq + 1;
        draft.seq = Some(seq);
        let frame = draft.encode();
        let id = draft.furniture.id();
        let fits = id.as_ref().is_some_and(|id| st.ids.contains(id)) || st.ids.len() < self.max_items;
        let put = catalog_change(draft.action, id.is_some(), fits);
        if let Some(store) = st.store.as_mut() {
            let entry;
            let change = match (put, id.as_deref()) {
                (Some(true), Some(id)) => {
                    entry = CatalogEntry { furniture: std::sync::Arc::new(draft.furniture.clone()), seq: Some(seq), timestamp: draft.timestamp };
                    Change::Put(id, &entry)
                }
                (Some(false), Some(id)) => Change::Remove(id),
                _ => Change::None,
            };
            store
                .record(seq, &frame, change)
                .map_err(|e| BackendError::Write(format!("cannot write the state file {}: {e}", store.path().display())))?;
        }
        match (put, id) {
            (Some(true), Some(id)) => {
                st.ids.insert(id);
            }
            (Some(false), Some(id)) => {
                st.ids.remove(&id);
            }
            _ => {}
        }
        st.seq = seq;
        if st.recent.len() >= st.recent_max {
            st.recent.pop_front();
        }
        st.recent.push_back(Committed { seq, frame });
        Ok(seq)
    }
}

impl Backend for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
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
        Box::pin(std::future::ready(self.commit_now(draft)))
    }

    fn read_after(&self, after: u64, _wait: Duration) -> BoxFuture<'_, Result<Vec<Committed>, BackendError>> {
        let mut st = self.lock();
        // The hub reads after what it has delivered: anything up to `after` is done with.
        while st.recent.front().is_some_and(|c| c.seq <= after) {
            st.recent.pop_front();
        }
        let result = match st.recent.front() {
            Some(first) if first.seq > after + 1 => {
                Err(BackendError::Gap(format!("notifications {}..{} were not read back in time", after + 1, first.seq)))
            }
            _ => Ok(st.recent.iter().filter(|c| c.seq > after).take(1000).cloned().collect()),
        };
        // Only this broker commits here, so there is never anything to wait for.
        Box::pin(std::future::ready(result))
    }

    fn stream(&self) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(std::future::ready(Ok(self.lock().stream.clone())))
    }

    fn flush(&self) {
        let st = self.lock();
        if let Some(store) = &st.store {
            if let Err(e) = store.checkpoint() {
                tracing::warn!(path = %store.path().display(), error = %e, "could not fold the write-ahead log into the state file (it is replayed at the next start)");
            }
        }
    }
}
