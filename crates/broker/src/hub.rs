//! The hub: who is connected, the broadcast order, and this broker's copy of the catalog and the
//! recent history.
//!
//! A publish is first committed to the [`Backend`] (numbered and stored, all or nothing), then
//! read back from it and handed to every client: reading back in `seq` order, one reader at a
//! time, is what gives every client one global order, also across brokers sharing Redis;
//! committing first is what makes everything broadcast survive a crash.
//!
//! One `std::sync::Mutex` guards the clients and the copy. It is held only for short sections with
//! no `.await` inside: handing the same bytes to every client's bounded queue, or taking what a
//! `sync` reply needs from the copy (its encoding is done without the lock, while what is handed
//! to that client waits to follow the reply, so that the reply and the notifications around it
//! stay in order).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::Utf8Bytes;
use furniture_protocol::{
    catalog::Applied,
    Action,
    decode_server, encode_error, encode_pong, encode_welcome, notification_text, Catalog, Notification, ProducerMessage, Refusal,
    ServerFrame, SyncCatalog, SyncRequest, Timestamp, SYNC_PART_BYTES,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backend::{record_bytes, Backend, BackendError, BoxFuture, Committed, Embedded, Room};
use crate::close::{CloseReason, Closer};
use crate::metrics::{Metrics, Snapshot};
use crate::store::StoreError;

/// How long one read of a shared backend waits for new notifications before it asks again.
pub const FOLLOW_WAIT: Duration = Duration::from_secs(2);

/// How long `/metrics` shows the queues' gauges it counted before it counts them again.
pub const QUEUE_GAUGES_EVERY: Duration = Duration::from_secs(1);

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
    /// Frames ever queued for it.
    queued: u64,
    /// `queued` once its last `sync` reply was queued: the reply has left the queue when as many
    /// frames have.
    sync_through: u64,
    /// While its `sync` reply is encoded (outside the lock), what is handed to it waits here,
    /// to follow the reply: as many frames as the room in its queue, less one for the reply.
    /// Nothing else enters the queue meanwhile (its room only grows), so the reply (as one frame
    /// at worst) and everything held always fit when it is queued.
    held: Option<Vec<Utf8Bytes>>,
    /// It has sent a change: a producer, not a screen (see [`Hub::pong`]).
    producer: bool,
}

impl Client {
    fn send(&mut self, frame: Utf8Bytes) -> bool {
        if let Some(held) = &mut self.held {
            if held.len() + 1 >= self.queue.capacity() {
                return false;
            }
            held.push(frame);
            return true;
        }
        let sent = self.queue.try_send(frame).is_ok();
        self.queued += u64::from(sent);
        sent
    }

    /// Frames its writer has taken from the queue (the queue is first in, first out).
    fn taken(&self) -> u64 {
        self.queued - (self.queue.max_capacity() - self.queue.capacity()) as u64
    }
}

/// A `sync` reply taken from the state, to be encoded and queued ([`Hub::sync`]).
struct SyncStarted {
    part_bytes: usize,
    seq: u64,
    complete: bool,
    missed: Vec<Utf8Bytes>,
    /// The catalog as an earlier reply at this `seq` encoded it, or else its entries.
    shared: Option<Arc<SharedCatalog>>,
    entries: Option<Vec<furniture_protocol::CatalogEntry>>,
}

/// A catalog encoded for `sync` replies in parts of `part_bytes` at `seq` ([`SyncCatalog`]).
struct SharedCatalog {
    seq: u64,
    parts: Vec<Utf8Bytes>,
    rest: String,
}

struct State {
    clients: HashMap<u64, Client>,
    /// How many of `clients` are producers.
    producers: usize,
    next_id: u64,
    /// The last `seq` handed to the clients.
    seq: u64,
    /// Id of the `seq` numbering (see PROTOCOL: `stream`).
    stream: String,
    catalog: Catalog,
    /// What `catalog` holds against its bounds: a change is kept as the backend kept it.
    room: Room,
    history: History,
    /// The catalog as the last `sync` reply encoded it, whole and in parts, shared by the replies
    /// at the same `seq` (dropped when the next notification is handed out): a client asking
    /// again and again costs the encoding once.
    sync_catalogs: [Option<Arc<SharedCatalog>>; 2],
    /// False after a failed write or read of the state, until one succeeds.
    storage_ok: bool,
    /// The frames queued for all clients and for the fullest one, as `/metrics` last counted
    /// them, and when.
    queue_gauges: Option<(Instant, usize, usize)>,
    /// Changes left out of the full catalog, for the log.
    left_out: Throttled,
}

impl State {
    /// Takes a client out, counting it out of the producers if it was one.
    fn remove(&mut self, id: u64) -> Option<Client> {
        let client = self.clients.remove(&id)?;
        self.producers -= usize::from(client.producer);
        Some(client)
    }
}

/// The ids and records of `catalog`, to count them against its bounds.
fn catalog_records(catalog: &Catalog) -> impl Iterator<Item = (String, &furniture_protocol::Furniture)> {
    catalog.iter().map(|(id, e)| (id.clone(), &*e.furniture))
}

/// Encoded notifications, oldest first, with their `seq`, kept for `sync`: at most `max_len` of
/// them (`--history`) and `max_bytes` of frames (`--max-history-bytes`), the oldest going first.
/// They are always the last ones handed out, without a gap: a frame larger than the whole bound
/// leaves it empty, and the next one starts it again.
struct History {
    frames: VecDeque<(u64, Utf8Bytes)>,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
}

impl History {
    fn new(max_len: usize, max_bytes: usize, loaded: Vec<(u64, String)>) -> History {
        let mut history = History { frames: VecDeque::new(), bytes: 0, max_len, max_bytes };
        for (seq, frame) in loaded {
            history.push(seq, Utf8Bytes::from(frame));
        }
        history
    }

    fn push(&mut self, seq: u64, frame: Utf8Bytes) {
        self.bytes += frame.len();
        self.frames.push_back((seq, frame));
        while self.frames.len() > self.max_len || self.bytes > self.max_bytes {
            match self.frames.pop_front() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The `seq` of the oldest kept.
    fn oldest(&self) -> Option<u64> {
        self.frames.front().map(|(s, _)| *s)
    }

    /// The frames kept after `since`.
    fn after(&self, since: u64) -> Vec<Utf8Bytes> {
        self.frames.iter().filter(|(s, _)| *s > since).map(|(_, f)| f.clone()).collect()
    }
}

/// How often, at most, a create left out of the full catalog is logged (each is counted).
const LEFT_OUT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Events logged at most once per [`LEFT_OUT_LOG_EVERY`]: the first at once, later ones counted
/// into the next line.
#[derive(Default)]
struct Throttled {
    /// Events since the last line.
    count: u64,
    /// When the last line was logged.
    logged: Option<Instant>,
}

impl Throttled {
    /// One more event at `now`: the number to log, with this one, when a line is due.
    fn event(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        if self.logged.is_some_and(|at| now.duration_since(at) < LEFT_OUT_LOG_EVERY) {
            return None;
        }
        self.logged = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

/// Shared by every connection of one broker.
pub struct Hub {
    state: Mutex<State>,
    pub metrics: Arc<Metrics>,
    backend: Arc<dyn Backend>,
    /// Held while committed notifications are read back and handed out, so that they go out in
    /// `seq` order, each once.
    delivering: tokio::sync::Mutex<()>,
    queue_len: usize,
    history_len: usize,
    max_history_bytes: usize,
    /// The catalog's bounds, `--max-catalog-items` and `--max-catalog-bytes`.
    max_catalog: (usize, usize),
}

impl Hub {
    /// A hub on the state `config` names: Redis with `--redis`, else the state file in
    /// `--data-dir`, else (`--in-memory`) nothing.
    pub async fn open(config: &crate::Config, metrics: Arc<Metrics>) -> Result<Arc<Hub>, StoreError> {
        let backend: Arc<dyn Backend> = match &config.redis {
            Some(url) => Arc::new(
                crate::redis::Redis::connect(url, config.history, config.max_catalog_items, config.max_catalog_bytes)
                    .await
                    .map_err(|e| StoreError::Redis { url: crate::redis::redact(url), detail: e.to_string() })?,
            ),
            None => {
                let dir = (!config.in_memory).then_some(config.data_dir.as_path());
                Arc::new(Embedded::open(
                    dir,
                    config.history,
                    config.max_history_bytes,
                    config.max_catalog_items,
                    config.max_catalog_bytes,
                    config.max_connections.max(1) * crate::connection::MAX_PUBLISHES_IN_FLIGHT,
                )?)
            }
        };
        Hub::with_backend(config, metrics, backend).await.map_err(|e| match &config.redis {
            Some(url) => StoreError::Redis { url: crate::redis::redact(url), detail: e.to_string() },
            None => StoreError::Unreadable {
                path: config.data_dir.join(crate::store::FILE_NAME),
                dir: config.data_dir.clone(),
                detail: e.to_string(),
            },
        })
    }

    /// A hub on `backend`, with its state loaded from it.
    pub async fn with_backend(
        config: &crate::Config,
        metrics: Arc<Metrics>,
        backend: Arc<dyn Backend>,
    ) -> Result<Arc<Hub>, BackendError> {
        let loaded = backend.load(config.history).await?;
        // Bounded by `room`, as the backend's catalog is: all that was loaded is kept, as there
        // (more than the bounds when they were lowered since).
        let mut catalog = Catalog::with_max_items(usize::MAX);
        catalog.replace(loaded.catalog);
        let room = Room::new(config.max_catalog_items, config.max_catalog_bytes, catalog_records(&catalog));
        let history = History::new(config.history, config.max_history_bytes, loaded.history);
        Ok(Arc::new(Hub {
            state: Mutex::new(State {
                clients: HashMap::new(),
                producers: 0,
                next_id: 1,
                seq: loaded.seq,
                stream: loaded.stream,
                catalog,
                room,
                history,
                storage_ok: true,
                left_out: Throttled::default(),
                sync_catalogs: [None, None],
                queue_gauges: None,
            }),
            metrics,
            backend,
            delivering: tokio::sync::Mutex::new(()),
            queue_len: config.client_queue.max(1) as usize,
            history_len: config.history,
            max_history_bytes: config.max_history_bytes,
            max_catalog: (config.max_catalog_items, config.max_catalog_bytes),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than stopping every broadcast would, so keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when other brokers share the state (Redis): [`Hub::follow`] must run.
    pub fn shared(&self) -> bool {
        self.backend.shared()
    }

    /// True when connections read on while their publishes commit ([`Backend::pipelined`]).
    pub fn pipelined(&self) -> bool {
        self.backend.pipelined()
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
        let mut client = Client { queue: tx, closer: closer.clone(), queued: 0, sync_through: 0, held: None, producer: false };
        // The queue is new and empty, so the welcome always fits.
        client.send(encode_welcome(st.clients.len() + 1, now(), Some(&st.stream)).into());
        st.clients.insert(id, client);
        let client_count = st.clients.len();
        Registration { id, frames: rx, closer, client_count }
    }

    /// Removes a client; returns how many remain.
    pub fn unregister(&self, id: u64) -> usize {
        let mut st = self.lock();
        st.remove(id);
        st.clients.len()
    }

    /// Counts a client as a producer from its first change on: the client count in pongs is of
    /// the others, the screens.
    pub fn producing(&self, id: u64) {
        let mut st = self.lock();
        if let Some(client) = st.clients.get_mut(&id) {
            if !std::mem::replace(&mut client.producer, true) {
                st.producers += 1;
            }
        }
    }

    /// Commits a producer's change, then hands it (and anything committed before it) to every
    /// client, the sender included, in one global order. Returns its `seq`, or
    /// [`Refusal::Storage`] when it could not be committed (then nothing changed and nobody
    /// received it). `received` is when its frame was read, for the latency histogram. Its place in
    /// the order is taken when `publish` is called, so a connection may start several publishes
    /// and await them afterwards.
    pub fn publish(&self, msg: ProducerMessage, received: Instant) -> impl Future<Output = Result<u64, Refusal>> + Send + '_ {
        let draft = Notification {
            action: msg.action,
            message: notification_text(msg.action, &msg.furniture),
            furniture: msg.furniture,
            timestamp: Some(now()),
            seq: None,
        };
        // Its place in the order is taken here, before the first await.
        let committing = self.backend.commit(draft);
        self.published(committing, received)
    }

    async fn published(&self, committing: BoxFuture<'_, Result<u64, BackendError>>, received: Instant) -> Result<u64, Refusal> {
        let seq = match committing.await {
            Ok(seq) => seq,
            // Refused while the broker stops: its producer is told so, nobody is alerted.
            Err(BackendError::Stopping(why)) => {
                tracing::debug!(%why, "publish refused");
                return Err(Refusal::Storage);
            }
            Err(e) => {
                self.storage_failed(&e);
                return Err(if matches!(e, BackendError::InDoubt(_)) { Refusal::InDoubt } else { Refusal::Storage });
            }
        };
        self.storage_works();
        // A shared backend's follower reads every broker's commits in order and hands them out
        // as they come; here only this broker commits, so hand out at once.
        if !self.backend.shared() {
            self.catch_up(seq).await;
        }
        self.metrics.broadcast_latency.observe(received.elapsed());
        Ok(seq)
    }

    /// Hands out everything committed up to `until` that is not out yet.
    async fn catch_up(&self, until: u64) {
        let _turn = self.delivering.lock().await;
        while self.seq() < until {
            match self.backend.read_after(self.seq(), Duration::ZERO).await {
                Ok(batch) if batch.is_empty() => break,
                Ok(batch) => self.deliver(batch),
                Err(BackendError::Gap(why)) => {
                    self.reload(&why).await;
                    break;
                }
                // A shared backend's follower hands it out once the backend answers again.
                Err(e) => {
                    self.storage_failed(&e);
                    break;
                }
            }
        }
    }

    /// A change broadcast but left out of the catalog, which would have gone past
    /// `--max-catalog-items` or `--max-catalog-bytes`: counted, and logged, the first at once
    /// and the rest at most once a minute.
    fn left_out(&self, throttled: &mut Throttled, n: &Notification) {
        let counter = if n.action == Action::Updated { &self.metrics.left_out_updates } else { &self.metrics.left_out };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(left_out) = throttled.event(Instant::now()) {
            let id = n.furniture.id().unwrap_or_default();
            tracing::warn!(
                seq = n.seq,
                id = ?id,
                left_out,
                "the catalog is full (--max-catalog-items or --max-catalog-bytes): changes that would take it past either are broadcast but not kept (an item updated so keeps its last record)"
            );
        }
    }

    /// Applies a committed notification to the hub's copy of the catalog as the backend applied
    /// it: the same rule ([`crate::backend::catalog_change`]) on the same records and bounds.
    /// `counted` is its record's bytes when the backend counted them already.
    fn apply(&self, st: &mut State, n: &Notification, counted: Option<usize>) {
        let Some(id) = n.furniture.id() else { return };
        let size = if n.action == Action::Deleted { 0 } else { counted.unwrap_or_else(|| record_bytes(&n.furniture)) };
        if n.action != Action::Deleted && !st.room.fits(&id, size) {
            self.left_out(&mut st.left_out, n);
            return;
        }
        match st.catalog.apply(n) {
            Applied::Inserted(id) | Applied::Updated(id) => {
                st.room.put(id, size);
            }
            Applied::Removed(id) => {
                st.room.remove(&id);
            }
            Applied::Skipped(_) => {}
        }
    }

    /// Hands committed notifications to every client (those already out are skipped), keeping
    /// the copy of the catalog and history current. Called with `delivering` held.
    fn deliver(&self, batch: Vec<Committed>) {
        let mut guard = self.lock();
        let st = &mut *guard;
        for committed in batch {
            if committed.seq <= st.seq {
                continue;
            }
            match decode_server(&committed.frame) {
                ServerFrame::Notification(n) => self.apply(st, &n, committed.record_bytes),
                other => tracing::warn!(seq = committed.seq, frame = ?other, "a committed frame that is not a notification"),
            }
            let frame = Utf8Bytes::from(committed.frame);
            st.seq = committed.seq;
            st.sync_catalogs = [None, None];
            st.history.push(committed.seq, frame.clone());
            let mut slow = Vec::new();
            for (id, client) in &mut st.clients {
                if !client.send(frame.clone()) {
                    slow.push(*id);
                }
            }
            for id in slow {
                if let Some(client) = st.remove(id) {
                    client.closer.close(CloseReason::TooSlow);
                }
            }
        }
    }

    /// Loads the state again (the backend no longer holds what this broker missed, or its
    /// numbering started over) and closes every client with 1012 so that each reconnects and
    /// resyncs against it. Called with `delivering` held.
    async fn reload(&self, why: &str) -> bool {
        tracing::warn!(reason = why, "loading the state again; every client is asked to reconnect (1012)");
        match self.backend.load(self.history_len).await {
            Ok(loaded) => {
                let mut st = self.lock();
                st.catalog.replace(loaded.catalog);
                st.room = Room::new(self.max_catalog.0, self.max_catalog.1, catalog_records(&st.catalog));
                st.history = History::new(self.history_len, self.max_history_bytes, loaded.history);
                st.seq = loaded.seq;
                st.stream = loaded.stream;
                st.sync_catalogs = [None, None];
                for (_, client) in st.clients.drain() {
                    client.closer.close(CloseReason::Restarting);
                }
                st.producers = 0;
                self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.storage_failed(&e);
                false
            }
        }
    }

    /// Follows a shared backend until `shutdown`: hands out what other brokers commit, notices
    /// when the backend goes away and comes back (then checks that its numbering did not start
    /// over). Only brokers on Redis run it.
    pub async fn follow(self: Arc<Self>, shutdown: CancellationToken) {
        // After a failure, and whenever a read found nothing new, the numbering is checked: Redis
        // that lost its data (flushed, restarted empty) or was put back from an older copy says
        // so in no other way when the connection did not fail meanwhile.
        let (mut failing, mut quiet) = (false, false);
        let mut backoff = Duration::from_millis(250);
        let pause = |backoff: Duration| {
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = shutdown.cancelled() => false,
                    () = tokio::time::sleep(backoff) => true,
                }
            }
        };
        loop {
            if failing || quiet {
                let checked = tokio::select! {
                    () = shutdown.cancelled() => return,
                    n = self.backend.numbering() => n,
                };
                match checked {
                    Ok((stream, seq)) => {
                        let _turn = self.delivering.lock().await;
                        let loaded = if stream != self.stream() {
                            self.reload("the shared numbering started over (Redis lost its data)").await
                        } else if seq.is_some_and(|s| s < self.seq()) {
                            self.reload("the shared numbering went back (Redis put back from an older copy)").await
                        } else {
                            true
                        };
                        if loaded && failing {
                            self.storage_works();
                        }
                        (failing, quiet) = (!loaded, false);
                    }
                    Err(e) => {
                        self.storage_failed(&e);
                        failing = true;
                    }
                }
                if failing {
                    if !pause(backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
            let read = tokio::select! {
                () = shutdown.cancelled() => return,
                r = self.backend.read_after(self.seq(), FOLLOW_WAIT) => r,
            };
            match read {
                Ok(batch) => {
                    backoff = Duration::from_millis(250);
                    quiet = batch.is_empty();
                    if !quiet {
                        let _turn = self.delivering.lock().await;
                        self.deliver(batch);
                    }
                    self.storage_works();
                }
                Err(BackendError::Gap(why)) => {
                    let _turn = self.delivering.lock().await;
                    failing = !self.reload(&why).await;
                }
                Err(e) => {
                    self.storage_failed(&e);
                    failing = true;
                }
            }
            // A read that failed is not tried again at once, even when the numbering answers.
            if failing {
                if !pause(backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }

    fn storage_failed(&self, e: &BackendError) {
        self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        if st.storage_ok {
            tracing::error!(backend = self.backend.kind(), error = %e, "cannot reach or write the state: publishes are refused until it works again");
        }
        st.storage_ok = false;
    }

    fn storage_works(&self) {
        let mut st = self.lock();
        if !st.storage_ok {
            tracing::info!(backend = self.backend.kind(), "the state is written again");
        }
        st.storage_ok = true;
    }

    /// Tells one client why its frame was refused.
    pub fn refuse(&self, id: u64, refusal: Refusal) {
        self.metrics.publish_refused(refusal);
        let mut st = self.lock();
        Self::send_locked(&mut st, id, encode_error(refusal, now()).into());
    }

    /// Queues a pong for one client; with the number of clients connected to this broker now
    /// when the client uses the extensions (`extended`: it has sent a `sync`), producers left
    /// out: the screens that show the changes.
    pub fn pong(&self, id: u64, extended: bool) {
        let mut st = self.lock();
        let count = extended.then(|| st.clients.len() - st.producers);
        Self::send_locked(&mut st, id, encode_pong(now(), count).into());
    }

    /// Queues the catalog and the notifications after `since` for one client (extension).
    /// Every notification after the reply's `seq` reaches the client after it: what is handed
    /// to the client while its reply is encoded (outside the lock, so that nobody else waits for
    /// it) is held back and queued after it. Replies in parts at the same `seq` share one
    /// encoding of the catalog, and its bytes. One reply at a time: while the client's last
    /// reply has not all left its queue, a `sync` is ignored (false), so that a client that asks
    /// again and again without reading cannot pile up copies of the catalog.
    pub fn sync(&self, id: u64, req: SyncRequest) -> bool {
        match self.sync_start(id, req) {
            Some(started) => {
                self.sync_finish(id, started);
                true
            }
            None => false,
        }
    }

    /// Takes, under the lock, what the reply says and the catalog at its `seq` (entries that
    /// share their records: cheap beside encoding them), and starts holding back what is handed
    /// to the client; `None` when it is not to be answered.
    fn sync_start(&self, id: u64, req: SyncRequest) -> Option<SyncStarted> {
        let part_bytes = if req.parts { SYNC_PART_BYTES } else { usize::MAX };
        {
            let mut st = self.lock();
            match st.clients.get(&id) {
                Some(client) if client.held.is_none() && client.taken() >= client.sync_through => {}
                _ => return None,
            }
            let oldest = st.history.oldest();
            let (complete, missed): (bool, Vec<Utf8Bytes>) = match req.since {
                None => (true, Vec::new()),
                Some(since) if since >= st.seq => (true, Vec::new()),
                Some(since) => {
                    let complete = oldest.is_some_and(|o| o <= since + 1);
                    (complete, st.history.after(since))
                }
            };
            let shared = st.sync_catalogs[usize::from(req.parts)].clone().filter(|c| c.seq == st.seq);
            let entries = shared.is_none().then(|| st.catalog.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>());
            let seq = st.seq;
            if let Some(client) = st.clients.get_mut(&id) {
                client.held = Some(Vec::new());
            }
            Some(SyncStarted { part_bytes, seq, complete, missed, shared, entries })
        }
    }

    /// Encodes the reply (unless its catalog is shared) without the lock, then queues it, and
    /// after it what was held back. The last frame, which copies the catalog's rest (all of it
    /// for a client that asked without parts) and the history missed, is made without the lock
    /// too: under it, a client asking again and again held back everyone's notifications.
    fn sync_finish(&self, id: u64, started: SyncStarted) {
        let SyncStarted { part_bytes, seq, complete, missed, shared, entries } = started;
        let shared = match (shared, entries) {
            (Some(shared), _) => shared,
            (None, entries) => {
                let SyncCatalog { parts, rest } = SyncCatalog::encode(entries.iter().flatten(), part_bytes);
                Arc::new(SharedCatalog { seq, parts: parts.into_iter().map(Utf8Bytes::from).collect(), rest })
            }
        };
        let missed = missed.iter().map(|f| f.as_str());
        let reply = Utf8Bytes::from(SyncCatalog::reply(seq, complete, &shared.rest, missed.clone()));
        let mut st = self.lock();
        // Gone: closed meanwhile, or every client was when the state was loaded again.
        if !st.clients.contains_key(&id) {
            return;
        }
        let current = st.seq == seq;
        let slot = &mut st.sync_catalogs[usize::from(part_bytes != usize::MAX)];
        if current && slot.is_none() {
            *slot = Some(shared.clone());
        }
        let Some(client) = st.clients.get_mut(&id) else { return };
        let held = client.held.take().unwrap_or_default();
        // Parts that would not fit in the client's queue, beside what was held for it, go as
        // one frame instead (made under the lock: a queue shorter than a catalog's parts).
        let frames: Vec<Utf8Bytes> = if shared.parts.len() + 1 + held.len() <= client.queue.capacity() {
            shared.parts.iter().cloned().chain([reply]).collect()
        } else {
            let parts: Vec<&str> = shared.parts.iter().map(Utf8Bytes::as_str).collect();
            vec![SyncCatalog::reply(seq, complete, &SyncCatalog::whole(&parts, &shared.rest), missed).into()]
        };
        for frame in frames {
            Self::send_locked(&mut st, id, frame);
        }
        // The reply has left the queue once these have: what was held is not part of it.
        if let Some(client) = st.clients.get_mut(&id) {
            client.sync_through = client.queued;
        }
        for frame in held {
            Self::send_locked(&mut st, id, frame);
        }
    }

    fn send_locked(st: &mut State, id: u64, frame: Utf8Bytes) {
        let full = match st.clients.get_mut(&id) {
            Some(client) => !client.send(frame),
            None => false,
        };
        if full {
            if let Some(client) = st.remove(id) {
                client.closer.close(CloseReason::TooSlow);
            }
        }
    }

    /// The last `seq` handed to the clients.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// The id of the `seq` numbering.
    pub fn stream(&self) -> String {
        self.lock().stream.clone()
    }

    /// False after a failed write or read of the state, until one succeeds.
    pub fn storage_ok(&self) -> bool {
        self.lock().storage_ok
    }

    /// Gauges for `/metrics`.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_at(Instant::now())
    }

    /// [`Hub::snapshot`] at `now`: the queues' gauges walk every client under the lock that
    /// hands out every notification, at most once per [`QUEUE_GAUGES_EVERY`] (a flood of
    /// scrapes would otherwise hold it most of the time).
    fn snapshot_at(&self, now: Instant) -> Snapshot {
        let mut st = self.lock();
        let mut snap = Snapshot {
            connections: st.clients.len(),
            seq: st.seq,
            catalog_items: st.catalog.len(),
            catalog_bytes: st.room.bytes(),
            history_len: st.history.frames.len(),
            history_bytes: st.history.bytes,
            storage_ok: st.storage_ok,
            ..Snapshot::default()
        };
        (snap.queued_frames, snap.max_queue_depth) = match st.queue_gauges {
            Some((at, queued, deepest)) if now.saturating_duration_since(at) < QUEUE_GAUGES_EVERY => (queued, deepest),
            _ => {
                let (mut queued, mut deepest) = (0, 0);
                for client in st.clients.values() {
                    let depth = client.queue.max_capacity() - client.queue.capacity();
                    queued += depth;
                    deepest = deepest.max(depth);
                }
                st.queue_gauges = Some((now, queued, deepest));
                (queued, deepest)
            }
        };
        snap
    }

    /// Makes the state durable; called once every client is gone.
    pub fn flush(&self) {
        self.backend.flush();
    }
}

#[cfg(test)]
mod tests {
    /// The first event is logged at once; those within the minute after it only counted, into
    /// the line due at the minute.
    #[test]
    fn a_throttled_log_says_the_first_then_at_most_once_a_minute() {
        let start = std::time::Instant::now();
        let mut t = super::Throttled::default();
        let at = |ms: u64| start + std::time::Duration::from_millis(ms);
        assert_eq!(t.event(at(0)), Some(1));
        assert_eq!(t.event(at(1)), None);
        assert_eq!(t.event(at(59_999)), None);
        assert_eq!(t.event(at(60_000)), Some(3), "the two held back, and this one");
        assert_eq!(t.event(at(60_001)), None);
    }

    use super::*;
    use furniture_protocol::{Action, Furniture};
    use serde_json::{json, Value};

    /// A hub with its state in memory, whose clients' queues hold `queue` frames.
    async fn hub_with_queue(queue: u64) -> Arc<Hub> {
        let mut config = crate::Config::on("127.0.0.1:0".parse().unwrap());
        config.client_queue = queue;
        let backend = Arc::new(Embedded::open(None, 10, usize::MAX, 1000, usize::MAX, 10).unwrap());
        Hub::with_backend(&config, Arc::new(Metrics::default()), backend).await.unwrap()
    }

    fn change(id: &str, nombre: &str) -> ProducerMessage {
        ProducerMessage { action: Action::Created, furniture: Furniture::new(id, nombre, "", 75, 120, "roble", "ana") }
    }

    /// A catalog in parts goes to a client's queue as several frames, unless they would not fit
    /// in the room left in it: then as the one reply, so that asking for parts never gets a
    /// client cut off as too slow.
    #[tokio::test]
    async fn parts_that_would_not_fit_in_the_queue_go_as_one_reply() {
        for (queue, want_parts) in [(64, true), (3, false)] {
            let mut config = crate::Config::on("127.0.0.1:0".parse().unwrap());
            config.client_queue = queue;
            let backend = Arc::new(Embedded::open(None, 10, usize::MAX, 1000, usize::MAX, 10).unwrap());
            let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend).await.unwrap();
            let shutdown = CancellationToken::new();
            let mut viewer = hub.register(&shutdown);
            let name = "x".repeat(4 * 1024);
            for i in 0..300 {
                hub.publish(change(&i.to_string(), &name), Instant::now()).await.unwrap();
                while viewer.frames.try_recv().is_ok() {}
            }
            hub.sync(viewer.id, SyncRequest { since: None, batch: true, parts: true });
            let mut frames = Vec::new();
            while let Ok(f) = viewer.frames.try_recv() {
                frames.push(f);
            }
            let parts = frames.iter().filter(|f| f.starts_with(r#"{"type":"sync_part""#)).count();
            assert_eq!(frames.len(), parts + 1, "the parts, then the reply");
            assert!(frames.last().unwrap().starts_with(r#"{"type":"sync""#));
            assert_eq!(parts > 1, want_parts, "queue of {queue}: {parts} parts");
            assert!(!viewer.closer.is_closing(), "not cut off");
        }
    }

    /// One `sync` reply at a time: a client that asks again before its last reply has left its
    /// queue is ignored (it cannot pile up copies of the catalog without reading), and answered
    /// again once the reply is taken, even with notifications queued after it.
    #[tokio::test]
    async fn a_sync_is_answered_only_once_the_last_reply_has_left_the_queue() {
        let hub = hub_with_queue(4096).await;
        let shutdown = CancellationToken::new();
        let mut viewer = hub.register(&shutdown);
        let mut take = |count: usize| (0..count).map(|_| viewer.frames.try_recv().unwrap()).collect::<Vec<_>>();
        assert!(take(1)[0].contains(r#""type":"connection""#));
        hub.publish(change("a", "Mesa"), Instant::now()).await.unwrap();
        let ask = || hub.sync(viewer.id, SyncRequest { since: None, batch: true, parts: true });
        assert!(ask(), "the first");
        for _ in 0..5 {
            assert!(!ask(), "again, its reply still queued");
        }
        hub.publish(change("b", "Silla"), Instant::now()).await.unwrap();
        let frames = take(2);
        assert!(frames[0].contains(r#""type":"furniture_notification""#) && frames[1].starts_with(r#"{"type":"sync""#), "one reply, nothing for the ignored");
        assert!(ask(), "the reply taken; a notification still queued after it does not matter");
        let frames = take(2);
        assert!(frames[0].contains(r#""furniture_id":"b""#) && frames[1].starts_with(r#"{"type":"sync""#));
        assert!(viewer.frames.try_recv().is_err());
    }

    /// `/metrics` counts the frames queued for every client at most once a second (a flood of
    /// scrapes held the lock that hands out notifications for a walk over every client each);
    /// its other gauges are current.
    #[tokio::test]
    async fn the_queues_gauges_are_counted_at_most_once_a_second() {
        let hub = hub_with_queue(4096).await;
        let shutdown = CancellationToken::new();
        // Its welcome waits in its queue, unread.
        let _viewer = hub.register(&shutdown);
        let t0 = Instant::now();
        let gauges = |s: Snapshot| (s.queued_frames, s.max_queue_depth, s.seq);
        assert_eq!(gauges(hub.snapshot_at(t0)), (1, 1, 0));
        hub.publish(change("a", "Mesa"), Instant::now()).await.unwrap();
        assert_eq!(gauges(hub.snapshot_at(t0 + Duration::from_millis(999))), (1, 1, 1), "as counted within the second");
        assert_eq!(gauges(hub.snapshot_at(t0 + QUEUE_GAUGES_EVERY)), (2, 2, 1), "counted again after it");
    }

    /// What is handed out while a reply is encoded, outside the lock, waits and follows it:
    /// the reply has the catalog at its `seq`, and the client gets every later notification
    /// after it, in order, none twice.
    #[tokio::test]
    async fn notifications_handed_out_while_a_reply_is_encoded_follow_it() {
        let hub = hub_with_queue(4096).await;
        let shutdown = CancellationToken::new();
        let mut viewer = hub.register(&shutdown);
        assert!(viewer.frames.try_recv().unwrap().contains(r#""type":"connection""#));
        hub.publish(change("a", "Mesa"), Instant::now()).await.unwrap();
        assert!(viewer.frames.try_recv().is_ok());
        let started = hub.sync_start(viewer.id, SyncRequest { since: Some(0), batch: true, parts: true }).expect("answered");
        hub.publish(change("b", "Silla"), Instant::now()).await.unwrap();
        hub.publish(change("c", "Banco"), Instant::now()).await.unwrap();
        assert!(viewer.frames.try_recv().is_err(), "held while the reply is made");
        assert!(hub.sync_start(viewer.id, SyncRequest { since: None, batch: true, parts: true }).is_none(), "one reply at a time");
        hub.sync_finish(viewer.id, started);
        let frames: Vec<Value> = std::iter::from_fn(|| viewer.frames.try_recv().ok()).map(|f| serde_json::from_str(&f).unwrap()).collect();
        assert_eq!(frames.len(), 3, "{frames:?}");
        assert_eq!((&frames[0]["type"], &frames[0]["seq"]), (&json!("sync"), &json!(1)));
        assert_eq!(frames[0]["catalog"].as_array().unwrap().len(), 1, "the catalog at seq 1");
        assert_eq!(frames[0]["missed"][0]["seq"], 1);
        assert_eq!([&frames[1]["seq"], &frames[2]["seq"]], [&json!(2), &json!(3)]);
        hub.publish(change("d", "Cama"), Instant::now()).await.unwrap();
        assert!(viewer.frames.try_recv().unwrap().contains(r#""seq":4"#), "queued at once again");
    }

    /// What is held back for a client is bounded by the room in its queue, less one for the
    /// reply: up to it, the reply and all of it are queued; past it the client is cut off as too
    /// slow, and its reply is dropped with it. The room is the queue's as it is when each frame
    /// is held: a writer that takes frames meanwhile makes room for more.
    #[tokio::test]
    async fn what_is_held_back_is_bounded_by_the_queue() {
        let hub = hub_with_queue(4).await;
        let shutdown = CancellationToken::new();
        let mut viewer = hub.register(&shutdown);
        for i in 0..3 {
            hub.publish(change(&format!("before{i}"), "Mesa"), Instant::now()).await.unwrap();
        }
        let started = hub.sync_start(viewer.id, SyncRequest { since: None, batch: true, parts: true }).unwrap();
        // The queue is full (the welcome and three): its writer takes them, then three are held.
        for _ in 0..4 {
            viewer.frames.try_recv().unwrap();
        }
        for i in 0..3 {
            hub.publish(change(&i.to_string(), "Mesa"), Instant::now()).await.unwrap();
        }
        assert!(!viewer.closer.is_closing(), "room made while the reply was encoded");
        hub.sync_finish(viewer.id, started);
        assert_eq!(std::iter::from_fn(|| viewer.frames.try_recv().ok()).count(), 4, "the reply and the three held");

        for (published, cut_off) in [(3, false), (4, true)] {
            let hub = hub_with_queue(4).await;
            let shutdown = CancellationToken::new();
            let mut viewer = hub.register(&shutdown);
            assert!(viewer.frames.try_recv().unwrap().contains(r#""type":"connection""#));
            let started = hub.sync_start(viewer.id, SyncRequest { since: None, batch: true, parts: true }).unwrap();
            for i in 0..published {
                hub.publish(change(&i.to_string(), "Mesa"), Instant::now()).await.unwrap();
            }
            assert_eq!(viewer.closer.is_closing(), cut_off, "{published} held in a queue of 4");
            hub.sync_finish(viewer.id, started);
            assert_eq!(viewer.closer.is_closing(), cut_off, "{published} held, then the reply");
            if cut_off {
                assert_eq!(hub.client_count(), 0);
                continue;
            }
            let frames: Vec<_> = std::iter::from_fn(|| viewer.frames.try_recv().ok()).collect();
            assert_eq!(frames.len(), 4, "the reply and the three held");
            assert!(frames[0].starts_with(r#"{"type":"sync""#));
        }
    }

    /// The parts of a reply go as parts only when they fit in the queue beside what was held
    /// for the client meanwhile (else as the one reply, the client not cut off); and what was
    /// held is not part of the reply: once the reply is taken, the next `sync` is answered.
    #[tokio::test]
    async fn held_frames_count_in_the_fit_and_not_in_the_reply() {
        let name = "x".repeat(4 * 1024);
        let hub_with = |queue: u64| {
            let name = name.clone();
            async move {
                let hub = hub_with_queue(queue).await;
                for i in 0..300 {
                    hub.publish(change(&i.to_string(), &name), Instant::now()).await.unwrap();
                }
                hub
            }
        };
        let shutdown = CancellationToken::new();
        let is_part = |f: &Utf8Bytes| f.starts_with(r#"{"type":"sync_part""#);
        let hub = hub_with(64).await;
        let mut viewer = hub.register(&shutdown);
        while viewer.frames.try_recv().is_ok() {}
        assert!(hub.sync(viewer.id, SyncRequest { since: None, batch: true, parts: true }));
        let parts = std::iter::from_fn(|| viewer.frames.try_recv().ok()).filter(is_part).count();
        assert!(parts > 1, "{parts} parts");

        // The parts and the reply fill the queue exactly; one notification is held meanwhile.
        let hub = hub_with(parts as u64 + 1).await;
        let mut viewer = hub.register(&shutdown);
        while viewer.frames.try_recv().is_ok() {}
        let started = hub.sync_start(viewer.id, SyncRequest { since: None, batch: true, parts: true }).unwrap();
        hub.publish(change("held", "Cama"), Instant::now()).await.unwrap();
        hub.sync_finish(viewer.id, started);
        assert!(!viewer.closer.is_closing(), "not cut off");
        let reply = viewer.frames.try_recv().unwrap();
        assert!(reply.starts_with(r#"{"type":"sync""#), "one frame, not parts");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["catalog"].as_array().unwrap().len(), 300);
        assert!(hub.sync_start(viewer.id, SyncRequest { since: None, batch: true, parts: false }).is_some(), "the reply is taken; the held notification is still queued");
        assert!(viewer.frames.try_recv().unwrap().contains(r#""furniture_id":"held""#));
    }

    /// Replies without parts at the same `seq` encode the catalog once too (a client asking
    /// again and again as fast as it reads cannot keep a core busy encoding it), apart from
    /// the encoding in parts.
    #[tokio::test]
    async fn replies_without_parts_at_one_seq_encode_the_catalog_once() {
        let hub = hub_with_queue(16).await;
        let shutdown = CancellationToken::new();
        hub.publish(change("a", "Mesa"), Instant::now()).await.unwrap();
        let whole = SyncRequest { since: None, batch: false, parts: false };
        let (one, two) = (hub.register(&shutdown), hub.register(&shutdown));
        assert!(hub.sync(one.id, whole));
        let again = hub.sync_start(two.id, whole).unwrap();
        assert!(again.shared.is_some(), "the first reply's encoding");
        hub.sync_finish(two.id, again);
        let three = hub.register(&shutdown);
        assert!(hub.sync_start(three.id, SyncRequest { since: None, batch: false, parts: true }).unwrap().shared.is_none(), "in parts: its own encoding");
    }

    /// Replies in parts at the same `seq` share one encoding of the catalog, bytes and all; a
    /// notification handed out after them makes the next reply encode the catalog anew.
    #[tokio::test]
    async fn replies_at_one_seq_share_their_parts() {
        let hub = hub_with_queue(4096).await;
        let shutdown = CancellationToken::new();
        let name = "x".repeat(4 * 1024);
        for i in 0..200 {
            hub.publish(change(&i.to_string(), &name), Instant::now()).await.unwrap();
        }
        let reply = |hub: &Hub| {
            let mut viewer = hub.register(&shutdown);
            while viewer.frames.try_recv().is_ok() {}
            assert!(hub.sync(viewer.id, SyncRequest { since: None, batch: true, parts: true }));
            std::iter::from_fn(|| viewer.frames.try_recv().ok()).collect::<Vec<_>>()
        };
        let (one, two) = (reply(&hub), reply(&hub));
        assert!(one.len() > 2, "{} frames", one.len());
        assert_eq!(one, two);
        for (a, b) in one.iter().zip(&two).take(one.len() - 1) {
            assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "a part shared, not copied");
        }
        hub.publish(change("new", "Cama"), Instant::now()).await.unwrap();
        let three = reply(&hub);
        assert_ne!(three[0].as_str().as_ptr(), one[0].as_str().as_ptr());
        assert!(three.iter().any(|f| f.contains(r#""furniture_id":"new""#)), "the new item is in the new encoding");
    }

    /// A publish that comes after the state file was closed at a graceful stop is refused to
    /// its producer, without counting as a failure of the state or turning `/healthz` red.
    #[tokio::test]
    async fn a_publish_after_the_stop_is_refused_without_an_alarm() {
        let dir = std::env::temp_dir().join(format!("furniture-hub-stopped-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = crate::Config::on("127.0.0.1:0".parse().unwrap());
        let metrics = Arc::new(Metrics::default());
        let backend = Arc::new(Embedded::open(Some(&dir), 10, usize::MAX, 100, usize::MAX, 10).unwrap());
        let hub = Hub::with_backend(&config, metrics.clone(), backend).await.unwrap();
        assert_eq!(hub.publish(change("a", "Mesa"), Instant::now()).await, Ok(1));
        hub.flush();
        assert_eq!(hub.publish(change("b", "Silla"), Instant::now()).await, Err(Refusal::Storage));
        assert!(hub.storage_ok());
        assert_eq!(metrics.storage_errors.load(Ordering::Relaxed), 0);
        assert_eq!(hub.seq(), 1);
        drop(hub);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Opened with a catalog bound lower than what the state file holds (the bound lowered
    /// since), the hub keeps all of it as the state file does, and both take a new item only
    /// once deletions bring them under the bound: the copy sync replies come from stays the
    /// state file's.
    #[tokio::test]
    async fn a_catalog_above_a_lowered_bound_is_kept_alike_by_the_hub_and_the_file() {
        let dir = std::env::temp_dir().join(format!("furniture-hub-lowered-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut config = crate::Config::on("127.0.0.1:0".parse().unwrap());
        {
            let backend = Arc::new(Embedded::open(Some(&dir), 10, usize::MAX, 100, usize::MAX, 10).unwrap());
            let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend).await.unwrap();
            for id in ["a", "b", "c"] {
                hub.publish(change(id, "Mesa"), Instant::now()).await.unwrap();
            }
        }
        config.max_catalog_items = 2;
        let backend = Arc::new(Embedded::open(Some(&dir), 10, usize::MAX, 2, usize::MAX, 10).unwrap());
        let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend).await.unwrap();
        let ids = |hub: &Hub| hub.lock().catalog.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&hub), ["a", "b", "c"]);
        let mut delete = change("a", "Mesa");
        delete.action = Action::Deleted;
        hub.publish(delete, Instant::now()).await.unwrap();
        hub.publish(change("d", "Mesa"), Instant::now()).await.unwrap();
        assert_eq!(ids(&hub), ["b", "c"], "at the bound still: d is not kept");
        drop(hub);
        let (_, loaded) = crate::store::Store::open(&dir, 10).unwrap();
        let mut in_file: Vec<String> = loaded.catalog.iter().filter_map(|e| e.furniture.id()).collect();
        in_file.sort();
        assert_eq!(in_file, ["b", "c"], "the file agrees");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A write that fails (here: the file may not grow) refuses the publish and changes nothing:
    /// no seq, no catalog item, no history, nothing queued; the next write that works recovers.
    #[tokio::test]
    async fn a_failed_state_write_refuses_the_publish_and_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("furniture-hub-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = crate::Config::on("127.0.0.1:0".parse().unwrap());
        let backend = Arc::new(Embedded::open(Some(&dir), 10, usize::MAX, 100, usize::MAX, 10).unwrap());
        let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend.clone()).await.unwrap();
        let shutdown = CancellationToken::new();
        let mut viewer = hub.register(&shutdown);
        assert!(viewer.frames.try_recv().is_ok(), "welcome");
        assert_eq!(hub.publish(change("a", "Mesa"), Instant::now()).await, Ok(1));
        assert!(viewer.frames.try_recv().is_ok());
        let limit = |pages: &str| {
            backend.with_connection_for_tests(|c| c.execute_batch(&format!("PRAGMA max_page_count = {pages};")).unwrap());
        };
        limit("1"); // the file may not grow any more: every write that needs a new page fails
        let big = "x".repeat(64 * 1024);
        assert_eq!(hub.publish(change("b", &big), Instant::now()).await, Err(Refusal::Storage));
        let mut update = change("a", &big);
        update.action = Action::Updated;
        assert_eq!(hub.publish(update, Instant::now()).await, Err(Refusal::Storage), "an update too");
        assert!(viewer.frames.try_recv().is_err(), "nothing reached anyone");
        assert_eq!(hub.seq(), 1);
        assert!(!hub.storage_ok());
        {
            let st = hub.lock();
            assert!(st.catalog.get("b").is_none());
            assert_eq!(st.catalog.get("a").unwrap().furniture.nombre().as_deref(), Some("Mesa"), "the update did not apply");
            assert_eq!(st.history.frames.len(), 1);
        }
        assert_eq!(hub.metrics.storage_errors.load(std::sync::atomic::Ordering::Relaxed), 2);
        limit("1073741823");
        assert_eq!(hub.publish(change("b", "Silla"), Instant::now()).await, Ok(2), "seq 2, not 4: refused ones took none");
        assert!(viewer.frames.try_recv().is_ok());
        assert!(hub.storage_ok());
        drop(hub);
        drop(backend);
        let (_, loaded) = crate::store::Store::open(&dir, 10).unwrap();
        assert_eq!((loaded.seq, loaded.catalog.len(), loaded.history.len()), (2, 2, 2));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
