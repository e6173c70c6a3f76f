//! The hub: who is connected, the broadcast order, the catalog and the recent history.
//!
//! One `std::sync::Mutex` guards it all. It is held only for short sections with no `.await`
//! inside: assigning `seq`, encoding a frame once, and handing the same bytes to every client's
//! bounded queue. Holding it while enqueueing is what makes every client see one global order.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::Utf8Bytes;
use furniture_protocol::{
    encode_pong, encode_sync_reply, encode_welcome, notification_text, Applied, Catalog,
    Notification, ProducerMessage, SyncRequest, Timestamp,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::close::{CloseReason, Closer};

/// The current time as the wire's timestamp.
pub fn now() -> Timestamp {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    Timestamp::from_unix_micros(micros)
}

/// A random 16-hex-digit id.
fn new_stream_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now().unix_micros() as u128);
    format!("{:016x}", h.finish())
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
}

/// Shared by every connection of one broker.
pub struct Hub {
    state: Mutex<State>,
    /// Id of this broker's `seq` numbering (it starts over with every start while state is kept
    /// in memory only).
    stream: String,
    queue_len: usize,
    history_len: usize,
    max_connections: usize,
}

/// Why a connection could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    TooManyConnections,
}

impl Hub {
    pub fn new(config: &crate::Config) -> Arc<Hub> {
        Arc::new(Hub {
            state: Mutex::new(State {
                clients: HashMap::new(),
                next_id: 1,
                seq: 0,
                catalog: Catalog::with_max_items(config.max_catalog_items),
                history: VecDeque::new(),
            }),
            stream: new_stream_id(),
            queue_len: config.client_queue.max(1) as usize,
            history_len: config.history,
            max_connections: config.max_connections,
        })
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
    pub fn register(&self, shutdown: &CancellationToken) -> Result<Registration, Refused> {
        let mut st = self.lock();
        if st.clients.len() >= self.max_connections {
            return Err(Refused::TooManyConnections);
        }
        let id = st.next_id;
        st.next_id += 1;
        let (tx, rx) = mpsc::channel(self.queue_len);
        let closer = Closer::new(shutdown);
        st.clients.insert(id, Client { queue: tx.clone(), closer: closer.clone() });
        let client_count = st.clients.len();
        // The queue is new and empty, so the welcome always fits.
        let _ = tx.try_send(encode_welcome(client_count, now(), Some(&self.stream)).into());
        Ok(Registration { id, frames: rx, closer, client_count })
    }

    /// Removes a client; returns how many remain.
    pub fn unregister(&self, id: u64) -> usize {
        let mut st = self.lock();
        st.clients.remove(&id);
        st.clients.len()
    }

    /// Broadcasts a producer's change to every client, the sender included, in one global order.
    /// Returns the notification's `seq` and what it did to the catalog.
    pub fn publish(&self, msg: ProducerMessage) -> (u64, Applied) {
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        let notification = Notification {
            action: msg.action,
            message: notification_text(msg.action, &msg.furniture),
            furniture: msg.furniture,
            timestamp: Some(now()),
            seq: Some(seq),
        };
        let applied = st.catalog.apply(&notification);
        let frame: Utf8Bytes = notification.encode().into();
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
        (seq, applied)
    }

    /// Queues a pong for one client.
    pub fn pong(&self, id: u64) {
        self.send_to(id, encode_pong(now()).into());
    }

    /// Queues the catalog and the notifications after `since` for one client (extension).
    pub fn sync(&self, id: u64, req: SyncRequest) {
        let frame = {
            let st = self.lock();
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
        self.send_to(id, frame.into());
    }

    fn send_to(&self, id: u64, frame: Utf8Bytes) {
        let mut st = self.lock();
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
}
