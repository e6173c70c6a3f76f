//! The hub: who is connected, the broadcast order, the catalog and the recent history.
//!
//! One `std::sync::Mutex` guards it all. It is held only for short sections with no `.await`
//! inside: assigning `seq`, encoding a frame once, writing it to the state file, and handing the
//! same bytes to every client's bounded queue. Holding it while enqueueing is what makes every
//! client see one global order; writing before enqueueing is what makes everything broadcast
//! survive a crash.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::Utf8Bytes;
use furniture_protocol::{
    encode_error, encode_pong, encode_sync_reply, encode_welcome, notification_text, Applied,
    Catalog, Notification, ProducerMessage, Refusal, SyncRequest, Timestamp,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::close::{CloseReason, Closer};
use crate::metrics::{Metrics, Snapshot};
use crate::store::{new_stream_id, Change, Store, StoreError};

/// The current time as the wire's timestamp.
pub fn now() -> Timestamp {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    Timestamp::from_unix_micros(micros)
}

/// A registered client's end of its queue.
pub struct Registration {
    pub id: u64,
    pub frames: mpsc::Receiver<Utf8Bytes>,
    pub closer: Closer,
    pub client_count: usize,
}

struct Client {
    queue: mpsc::Sender<Utf8Bytes>,
    closer: Closer,
}

struct State {
    clients: HashMap<u64, Client>,
    next_id: u64,
    seq: u64,
    catalog: Catalog,
    /// Encoded notifications, oldest first, with their `seq`.
    history: VecDeque<(u64, Utf8Bytes)>,
    /// The state file, unless state is kept in memory only.
    store: Option<Store>,
    /// False after a failed write, until one succeeds.
    storage_ok: bool,
}

/// Shared by every connection of one broker.
pub struct Hub {
    state: Mutex<State>,
    pub metrics: Arc<Metrics>,
    /// Id of this broker's `seq` numbering: kept in the state file, new at every start when state
    /// is kept in memory only.
    stream: String,
    queue_len: usize,
    history_len: usize,
}

impl Hub {
    /// A hub with its state read from `--data-dir` (or empty, with `--in-memory`).
    pub fn open(config: &crate::Config, metrics: Arc<Metrics>) -> Result<Arc<Hub>, StoreError> {
        let mut catalog = Catalog::with_max_items(config.max_catalog_items);
        let (store, stream, seq, history) = if config.in_memory {
            (None, new_stream_id(), 0, VecDeque::new())
        } else {
            let (store, loaded) = Store::open(&config.data_dir, config.history)?;
            catalog.replace(loaded.catalog);
            let history = loaded.history.into_iter().map(|(s, f)| (s, Utf8Bytes::from(f))).collect();
            (Some(store), loaded.stream, loaded.seq, history)
        };
        Ok(Arc::new(Hub {
            state: Mutex::new(State {
                clients: HashMap::new(),
                next_id: 1,
                seq,
                catalog,
                history,
                store,
                storage_ok: true,
            }),
            metrics,
            stream,
            queue_len: config.client_queue.max(1) as usize,
            history_len: config.history,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than stopping every broadcast would, so keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of open connections.
    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Adds a client and queues its welcome, counting it, before anything else it will receive.
    /// (The connection caps are enforced when the TCP connection is accepted, see
    /// [`crate::admission::Limits`].)
    pub fn register(&self, shutdown: &CancellationToken) -> Registration {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        let (tx, rx) = mpsc::channel(self.queue_len);
        let closer = Closer::new(shutdown);
        st.clients.insert(id, Client { queue: tx.clone(), closer: closer.clone() });
        let client_count = st.clients.len();
        // The queue is new and empty, so the welcome always fits.
        let _ = tx.try_send(encode_welcome(client_count, now(), Some(&self.stream)).into());
        Registration { id, frames: rx, closer, client_count }
    }

    /// Removes a client; returns how many remain.
    pub fn unregister(&self, id: u64) -> usize {
        let mut st = self.lock();
        st.clients.remove(&id);
        st.clients.len()
    }

    /// Broadcasts a producer's change to every client, the sender included, in one global order,
    /// after writing it to the state file. Returns the notification's `seq` and what it did to the
    /// catalog, or [`Refusal::Storage`] when it could not be written (then nothing changed and
    /// nobody received it). `received` is when its frame was read, for the latency histogram.
    pub fn publish(&self, msg: ProducerMessage, received: Instant) -> Result<(u64, Applied), Refusal> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let seq = st.seq + 1;
        let notification = Notification {
            action: msg.action,
            message: notification_text(msg.action, &msg.furniture),
            furniture: msg.furniture,
            timestamp: Some(now()),
            seq: Some(seq),
        };
        let id = notification.furniture.id();
        let previous = id.as_deref().and_then(|id| st.catalog.get(id).cloned());
        let applied = st.catalog.apply(&notification);
        let frame: Utf8Bytes = notification.encode().into();
        if let Some(store) = st.store.as_mut() {
            let change = match &applied {
                Applied::Inserted(id) | Applied::Updated(id) => match st.catalog.get(id) {
                    Some(entry) => Change::Put(id, entry),
                    None => Change::None,
                },
                Applied::Removed(id) => Change::Remove(id),
                Applied::Skipped(_) => Change::None,
            };
            if let Err(e) = store.record(seq, frame.as_str(), change) {
                if let Some(id) = id {
                    st.catalog.restore(&id, previous);
                }
                self.metrics.storage_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if st.storage_ok {
                    tracing::error!(path = %store.path().display(), error = %e, "cannot write the state file: publishes are refused until it works again");
                }
                st.storage_ok = false;
                return Err(Refusal::Storage);
            }
            if !st.storage_ok {
                tracing::info!("the state file is written again");
            }
            st.storage_ok = true;
        }
        st.seq = seq;
        if self.history_len > 0 {
            if st.history.len() >= self.history_len {
                st.history.pop_front();
            }
            st.history.push_back((seq, frame.clone()));
        }
        let mut slow = Vec::new();
        for (id, client) in &st.clients {
            if client.queue.try_send(frame.clone()).is_err() {
                slow.push(*id);
            }
        }
        for id in slow {
            if let Some(client) = st.clients.remove(&id) {
                client.closer.close(CloseReason::TooSlow);
            }
        }
        drop(guard);
        self.metrics.broadcast_latency.observe(received.elapsed());
        Ok((seq, applied))
    }

    /// Tells one client why its frame was refused.
    pub fn refuse(&self, id: u64, refusal: Refusal) {
        self.metrics.publish_refused(refusal);
        let mut st = self.lock();
        Self::send_locked(&mut st, id, encode_error(refusal, now()).into());
    }

    /// Queues a pong for one client.
    pub fn pong(&self, id: u64) {
        let mut st = self.lock();
        Self::send_locked(&mut st, id, encode_pong(now()).into());
    }

    /// Queues the catalog and the notifications after `since` for one client (extension).
    /// The reply is queued under the same lock that orders broadcasts, so every notification
    /// after the reply's `seq` reaches the client after it.
    pub fn sync(&self, id: u64, req: SyncRequest) {
        let mut st = self.lock();
        let frame = {
            let oldest = st.history.front().map(|(s, _)| *s);
            let (complete, missed): (bool, Vec<&str>) = match req.since {
                None => (true, Vec::new()),
                Some(since) if since >= st.seq => (true, Vec::new()),
                Some(since) => {
                    let complete = oldest.is_some_and(|o| o <= since + 1);
                    let missed = st.history.iter().filter(|(s, _)| *s > since).map(|(_, f)| f.as_str()).collect();
                    (complete, missed)
                }
            };
            let catalog = st.catalog.iter().map(|(_, e)| e);
            encode_sync_reply(st.seq, complete, catalog, missed)
        };
        Self::send_locked(&mut st, id, frame.into());
    }

    fn send_locked(st: &mut State, id: u64, frame: Utf8Bytes) {
        let full = match st.clients.get(&id) {
            Some(client) => client.queue.try_send(frame).is_err(),
            None => false,
        };
        if full {
            if let Some(client) = st.clients.remove(&id) {
                client.closer.close(CloseReason::TooSlow);
            }
        }
    }

    /// The last `seq` broadcast.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// The id of this broker's `seq` numbering.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// False after a failed write to the state file, until one succeeds.
    pub fn storage_ok(&self) -> bool {
        self.lock().storage_ok
    }

    /// Gauges for `/metrics`.
    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let mut snap = Snapshot {
            connections: st.clients.len(),
            seq: st.seq,
            catalog_items: st.catalog.len(),
            history_len: st.history.len(),
            storage_ok: st.storage_ok,
            ..Snapshot::default()
        };
        for client in st.clients.values() {
            let depth = client.queue.max_capacity() - client.queue.capacity();
            snap.queued_frames += depth;
            snap.max_queue_depth = snap.max_queue_depth.max(depth);
        }
        snap
    }

    /// Folds the state file's write-ahead log into it; called once every client is gone.
    pub fn flush(&self) {
        let st = self.lock();
        if let Some(store) = &st.store {
            if let Err(e) = store.checkpoint() {
                tracing::warn!(path = %store.path().display(), error = %e, "could not fold the write-ahead log into the state file (it is replayed at the next start)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use furniture_protocol::{Action, Furniture};

    fn change(id: &str, nombre: &str) -> ProducerMessage {
        ProducerMessage { action: Action::Created, furniture: Furniture::new(id, nombre, "", 75, 120, "roble", "ana") }
    }

    /// A write that fails (here: the file may not grow) refuses the publish and changes nothing:
    /// no seq, no catalog item, no history, nothing queued; the next write that works recovers.
    #[test]
    fn a_failed_state_write_refuses_the_publish_and_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("furniture-hub-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut config = crate::Config::on("127.0.0.1:0".parse().unwrap());
        config.in_memory = false;
        config.data_dir = dir.clone();
        let hub = Hub::open(&config, Arc::new(Metrics::default())).unwrap();
        let shutdown = CancellationToken::new();
        let mut viewer = hub.register(&shutdown);
        assert!(viewer.frames.try_recv().is_ok(), "welcome");
        assert_eq!(hub.publish(change("a", "Mesa"), Instant::now()).map(|r| r.0), Ok(1));
        assert!(viewer.frames.try_recv().is_ok());
        let limit = |pages: &str| {
            let st = hub.lock();
            st.store.as_ref().unwrap().conn_for_tests().execute_batch(&format!("PRAGMA max_page_count = {pages};")).unwrap();
        };
        limit("1"); // the file may not grow any more: every write that needs a new page fails
        let big = "x".repeat(64 * 1024);
        assert_eq!(hub.publish(change("b", &big), Instant::now()), Err(Refusal::Storage));
        assert_eq!(hub.publish(change("a", &big), Instant::now()), Err(Refusal::Storage), "an update too");
        assert!(viewer.frames.try_recv().is_err(), "nothing reached anyone");
        assert_eq!(hub.seq(), 1);
        assert!(!hub.storage_ok());
        {
            let st = hub.lock();
            assert!(st.catalog.get("b").is_none());
            assert_eq!(st.catalog.get("a").unwrap().furniture.nombre().as_deref(), Some("Mesa"), "the update was undone");
            assert_eq!(st.history.len(), 1);
        }
        assert_eq!(hub.metrics.storage_errors.load(std::sync::atomic::Ordering::Relaxed), 2);
        limit("1073741823");
        assert_eq!(hub.publish(change("b", "Silla"), Instant::now()).map(|r| r.0), Ok(2), "seq 2, not 4: refused ones took none");
        assert!(hub.storage_ok());
        drop(hub);
        let (_, loaded) = Store::open(&dir, 10).unwrap();
        assert_eq!((loaded.seq, loaded.catalog.len(), loaded.history.len()), (2, 2, 2));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
