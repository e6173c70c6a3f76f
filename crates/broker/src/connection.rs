//! One WebSocket connection: a writer that drains the client's queue and keeps it alive with
//! protocol pings, and a reader that hands each frame to its handler. When either ends, both end
//! and the client leaves the hub.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use furniture_protocol::{decode_client, encode_batch, ClientFrame, SyncRequest};
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::admission::{Publishing, RateLimit};
use crate::close::{CloseReason, Closer};
use crate::hub::{Hub, Registration};
use crate::metrics::{Inbound, Metrics};
use crate::Config;

/// Most frames written before one flush, so a backlog goes out in few system calls.
const MAX_BATCH: usize = 256;
/// A `batch` frame (to clients that asked for them) stops growing past this many bytes.
pub const BATCH_FRAME_BYTES: usize = 256 * 1024;
// A part of a sync reply fills a batch on its own, so it leaves as a message of its own (a
// browser decodes each in a task of its own).
const _: () = assert!(furniture_protocol::SYNC_PART_BYTES >= BATCH_FRAME_BYTES);

/// Longest the broker keeps reading after sending a close frame, waiting for the peer's answer.
/// Dropping a socket with the peer's data still unread resets the connection, which can cost the
/// peer the close frame (and its code) it has not read yet.
pub const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// Publishes of one connection committing at once, at most, when commits wait on a state file
/// or on Redis (each is numbered in the order it was read; the reader goes on while they
/// commit). With state in memory only, a commit is done before the next frame is read.
pub const MAX_PUBLISHES_IN_FLIGHT: usize = 64;

/// Serves one upgraded socket until it closes.
pub async fn serve(
    socket: WebSocket,
    peer: SocketAddr,
    hub: Arc<Hub>,
    reg: Registration,
    publishing: Publishing,
    config: Arc<Config>,
) {
    let Registration { id, frames, closer, client_count } = reg;
    let publisher = publishing == Publishing::Allowed;
    info!(client = id, %peer, clients = client_count, publisher, "client connected");
    let (sink, stream) = socket.split();
    let awaiting_pong = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicBool::new(false));
    // The writer is a task of its own: a task is polled as a whole whenever anything it waits
    // on wakes it, and the reader, polled for every frame written, costs a read attempt each time.
    let mut writer = AbortOnDrop(tokio::spawn(write_loop(
        sink,
        frames,
        closer.clone(),
        awaiting_pong.clone(),
        batches.clone(),
        config.clone(),
        hub.metrics.clone(),
    )));
    let peer_ctx = Peer::new(
        id,
        publishing,
        RateLimit::new(config.max_messages_per_sec, config.message_burst),
        RateLimit::per_minute(config.max_syncs_per_minute, SYNC_BURST),
        batches,
    );
    // Publishes committing, oldest first: owned here so that they are seen through even when
    // the connection ends first (the hub hands out what a publish committed when it completes).
    let mut publishing = FuturesOrdered::new();
    let mut reader = Box::pin(read_loop(stream, peer_ctx, &hub, &closer, &awaiting_pong, &mut publishing));
    let sent_close = tokio::select! {
        reason = &mut writer.0 => match reason {
            Ok(Some(reason)) => {
                hub.metrics.closed(reason);
                info!(client = id, %peer, code = reason.code(), reason = reason.text(), "closed by the broker");
                true
            }
            Ok(None) | Err(_) => false,
        },
        () = &mut reader => false,
    };
    // Ended by the reader: the writer stops here, before leaving the hub ends its queue (which
    // it would take for a shutdown, and say so to the peer).
    writer.0.abort();
    let remaining = hub.unregister(id);
    info!(client = id, %peer, clients = remaining, "client disconnected");
    if sent_close {
        // The closing handshake: the reader, which acts on nothing once closing, runs until the
        // peer's close reply ends the stream.
        let _ = tokio::time::timeout(CLOSE_LINGER, &mut reader).await;
    }
    drop(reader);
    while publishing.next().await.is_some() {}
}

/// A task that ends with its handle (when the connection's task is dropped, at shutdown).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes queued frames (several per flush when they pile up) and protocol pings; closes the
/// socket when asked. Returns the close reason it sent, or `None` when the socket failed.
async fn write_loop<S>(
    mut sink: S,
    mut frames: mpsc::Receiver<Utf8Bytes>,
    closer: Closer,
    awaiting_pong: Arc<AtomicBool>,
    batches: Arc<AtomicBool>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
) -> Option<CloseReason>
where
    S: Sink<Message> + Unpin,
{
    let mut pings = interval_at(Instant::now() + config.ping_interval(), config.ping_interval());
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(std::time::Duration::MAX / 4);
    tokio::pin!(deadline);
    let mut ping_pending = false;
    // Made once: each `closed()` made anew registers with the token's tree under its lock.
    let closed = closer.closed();
    tokio::pin!(closed);
    let reason = loop {
        tokio::select! {
            biased;
            reason = &mut closed => break reason,
            () = &mut deadline, if ping_pending => {
                if awaiting_pong.load(Ordering::Acquire) {
                    break CloseReason::PingTimeout;
                }
                ping_pending = false;
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break CloseReason::Shutdown };
                // A peer that stops reading leaves this write pending; a close asked for meanwhile
                // (its queue filled, the broker shuts down, its pong is overdue) still wins. A
                // ping that falls due meanwhile is owed: its pong's deadline runs from now, so a
                // peer that stopped reading (or vanished) mid-write is cut off as one that does
                // not answer, within the ping interval and timeout. Nothing the peer sends
                // meanwhile answers a ping it has not been sent: only the write's end does.
                let mut ping_owed = false;
                let written = {
                    let write = write_batch(&mut sink, frame, &mut frames, batches.load(Ordering::Relaxed));
                    tokio::pin!(write);
                    loop {
                        tokio::select! {
                            biased;
                            reason = &mut closed => break Err(reason),
                            // (A guard is read once per `select!`: the pong is looked for here.)
                            () = &mut deadline, if ping_pending => {
                                if ping_owed || awaiting_pong.load(Ordering::Acquire) {
                                    break Err(CloseReason::PingTimeout);
                                }
                                ping_pending = false;
                            }
                            written = &mut write => break Ok(written),
                            _ = pings.tick(), if !ping_owed && (!ping_pending || !awaiting_pong.load(Ordering::Acquire)) => {
                                awaiting_pong.store(true, Ordering::Release);
                                (ping_pending, ping_owed) = (true, true);
                                deadline.as_mut().reset(Instant::now() + config.ping_timeout());
                            }
                        }
                    }
                };
                match written {
                    Err(reason) => break reason,
                    Ok(Some(batch)) => {
                        metrics.frames_out.fetch_add(batch as u64, Ordering::Relaxed);
                    }
                    Ok(None) => return None,
                }
                if ping_owed {
                    match ping(&mut sink, closed.as_mut(), deadline.as_mut()).await {
                        Ok(()) => {}
                        Err(Some(reason)) => break reason,
                        Err(None) => return None,
                    }
                }
            }
            _ = pings.tick() => {
                if ping_pending && !awaiting_pong.load(Ordering::Acquire) {
                    ping_pending = false;
                }
                if !ping_pending {
                    awaiting_pong.store(true, Ordering::Release);
                    ping_pending = true;
                    deadline.as_mut().reset(Instant::now() + config.ping_timeout());
                    match ping(&mut sink, closed.as_mut(), deadline.as_mut()).await {
                        Ok(()) => {}
                        Err(Some(reason)) => break reason,
                        Err(None) => return None,
                    }
                }
            }
        }
        if ping_pending && !awaiting_pong.load(Ordering::Acquire) {
            ping_pending = false;
        }
    };
    // Behind frames a stalled peer has not read, the close frame may not get out in time; the
    // peer then sees the connection end without it.
    let frame = CloseFrame { code: reason.code(), reason: reason.text().into() };
    let _ = tokio::time::timeout(CLOSE_LINGER, sink.send(Message::Close(Some(frame)))).await;
    Some(reason)
}

/// Sends a protocol ping, unless a close is asked for (`Err(Some(reason))`) or the pong's
/// `deadline` passes (`Err(Some(PingTimeout))`) first; `Err(None)` when the socket failed.
async fn ping<S>(sink: &mut S, closed: Pin<&mut impl Future<Output = CloseReason>>, deadline: Pin<&mut tokio::time::Sleep>) -> Result<(), Option<CloseReason>>
where
    S: Sink<Message> + Unpin,
{
    tokio::select! {
        biased;
        reason = closed => Err(Some(reason)),
        () = deadline => Err(Some(CloseReason::PingTimeout)),
        sent = sink.send(Message::Ping(Default::default())) => sent.map_err(|_| None),
    }
}

/// Writes `first` and whatever else is queued (up to [`MAX_BATCH`] frames) with one flush; to a
/// client that asked for `batches`, several frames go as one `batch` frame (up to about
/// [`BATCH_FRAME_BYTES`]). Returns how many frames were written, or `None` when the socket failed.
async fn write_batch<S>(sink: &mut S, first: Utf8Bytes, frames: &mut mpsc::Receiver<Utf8Bytes>, batches: bool) -> Option<usize>
where
    S: Sink<Message> + Unpin,
{
    if batches {
        let mut taken = vec![first];
        let mut bytes = taken[0].len();
        while taken.len() < MAX_BATCH && bytes < BATCH_FRAME_BYTES {
            match frames.try_recv() {
                Ok(frame) => {
                    bytes += frame.len();
                    taken.push(frame);
                }
                Err(_) => break,
            }
        }
        let count = taken.len();
        let message = match taken.pop() {
            Some(only) if count == 1 => only,
            Some(last) => encode_batch(taken.iter().map(|f| f.as_str()).chain([last.as_str()])).into(),
            None => return Some(0),
        };
        sink.send(Message::Text(message)).await.ok()?;
        return Some(count);
    }
    sink.feed(Message::Text(first)).await.ok()?;
    let mut batch = 1;
    while batch < MAX_BATCH {
        match frames.try_recv() {
            Ok(frame) => {
                sink.feed(Message::Text(frame)).await.ok()?;
                batch += 1;
            }
            Err(_) => break,
        }
    }
    sink.flush().await.ok()?;
    Some(batch)
}

/// What the reader knows about its client.
struct Peer {
    id: u64,
    publishing: Publishing,
    /// `None`: no rate limit.
    rate: Option<RateLimit>,
    /// Its `sync` requests' limit (`--max-syncs-per-minute`, [`SYNC_BURST`]); `None`: none.
    syncs: Option<RateLimit>,
    /// Set when the client asks (in `sync`) for frames that pile up to come as one `batch` frame.
    batches: Arc<AtomicBool>,
    /// Set when the client has sent a `sync`: it knows this broker's extensions, and its pongs
    /// carry the client count.
    extended: AtomicBool,
    /// Set once a `sync` of its was ignored (and logged).
    sync_ignored: AtomicBool,
    /// Set at its first change ([`Hub::producing`]).
    producer: AtomicBool,
    /// Lines logged about its ignored and refused frames ([`LOGGED_PER_CLIENT`]); shared with
    /// its publishes still committing, which may be refused too.
    logged: Arc<AtomicU64>,
}

/// Whether another line about client `id`'s ignored or refused frames may be logged, `logged`
/// counting them.
fn may_log(logged: &AtomicU64, id: u64) -> bool {
    let n = logged.fetch_add(1, Ordering::Relaxed);
    if n == LOGGED_PER_CLIENT {
        warn!(client = id, "more ignored frames or refused publishes from this client: counted in /metrics, not logged");
    }
    n < LOGGED_PER_CLIENT
}

/// `sync` requests a connection may make at once before `--max-syncs-per-minute` paces them: a
/// dashboard asks once per connection.
pub const SYNC_BURST: u32 = 4;

/// Lines logged about one client's ignored frames and refused publishes: the first this many
/// (enough to see what is wrong), then one saying the rest are only counted (`/metrics`), so that
/// a client sending nothing but those cannot flood the log.
pub const LOGGED_PER_CLIENT: u64 = 20;

impl Peer {
    fn new(id: u64, publishing: Publishing, rate: Option<RateLimit>, syncs: Option<RateLimit>, batches: Arc<AtomicBool>) -> Peer {
        Peer { id, publishing, rate, syncs, batches, extended: AtomicBool::new(false), sync_ignored: AtomicBool::new(false), producer: AtomicBool::new(false), logged: Arc::new(AtomicU64::new(0)) }
    }

    /// Whether another line about this client's ignored or refused frames may be logged.
    fn may_log(&self) -> bool {
        may_log(&self.logged, self.id)
    }
}

/// Reads frames until the client closes, the socket fails, or a limit is broken. Above its
/// message rate, a client is read more slowly (TCP then slows the sender); nothing is dropped.
async fn read_loop<'a, S>(
    mut stream: S,
    mut peer: Peer,
    hub: &'a Hub,
    closer: &Closer,
    awaiting_pong: &AtomicBool,
    publishing: &mut FuturesOrdered<BoxFuture<'a, ()>>,
) where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let id = peer.id;
    let (mut throttle_logged, mut binary_logged, mut sync_paced_logged) = (false, false, false);
    let pipelined = hub.pipelined();
    // `publishing` holds the publishes committing, oldest first (when not `pipelined`, only the
    // one being awaited).
    loop {
        let item = if publishing.len() >= MAX_PUBLISHES_IN_FLIGHT {
            publishing.next().await;
            continue;
        } else if publishing.is_empty() {
            stream.next().await
        } else {
            tokio::select! {
                biased;
                _ = publishing.next() => continue,
                item = stream.next() => item,
            }
        };
        let Some(item) = item else { break };
        let text = match item {
            Ok(Message::Text(text)) => text,
            // Like Python's json.loads, a binary frame holding UTF-8 JSON is read as text.
            Ok(Message::Binary(bytes)) => match Utf8Bytes::try_from(bytes) {
                Ok(text) => text,
                Err(_) => {
                    // Counted, logged once, and paced like any other frame.
                    hub.metrics.inbound(Inbound::Ignored);
                    if !binary_logged {
                        binary_logged = true;
                        warn!(client = id, "binary frame that is not UTF-8 ignored (and any more from this client)");
                    }
                    awaiting_pong.store(false, Ordering::Release);
                    pace(&mut peer, hub, Instant::now(), &mut throttle_logged, publishing).await;
                    continue;
                }
            },
            // Paced like any other frame: tungstenite answers each ping with a pong.
            Ok(Message::Pong(_) | Message::Ping(_)) => {
                awaiting_pong.store(false, Ordering::Release);
                pace(&mut peer, hub, Instant::now(), &mut throttle_logged, publishing).await;
                continue;
            }
            // Reading once more sends tungstenite's queued close reply (a clean close for the
            // peer), then the stream ends.
            Ok(Message::Close(_)) => continue,
            Err(e) => {
                if let Some(reason) = close_reason_for(&e) {
                    warn!(client = id, error = %e, "closing: {}", reason.text());
                    closer.close(reason);
                    // The writer sends the close frame; `serve` keeps the socket (unread) for
                    // `CLOSE_LINGER` so the peer can read it, then ends us.
                    std::future::pending::<()>().await;
                }
                debug!(client = id, error = %e, "socket error");
                break;
            }
        };
        // Any frame from the peer proves it is alive.
        awaiting_pong.store(false, Ordering::Release);
        if closer.is_closing() {
            continue;
        }
        let received = Instant::now();
        match start(&text, &peer, hub, received) {
            Started::Done => {}
            Started::Sync(req) => {
                if let Some(wait) = peer.syncs.as_mut().and_then(|r| r.take(received.into_std())) {
                    hub.metrics.syncs_paced.fetch_add(1, Ordering::Relaxed);
                    if !std::mem::replace(&mut sync_paced_logged, true) {
                        warn!(client = id, "client asking for the catalog above --max-syncs-per-minute: answering it, and reading it, more slowly");
                    }
                    wait_seeing_through(wait, publishing).await;
                    if closer.is_closing() {
                        continue;
                    }
                }
                answer_sync(req, &peer, hub);
            }
            Started::Publishing(publish) if pipelined => publishing.push_back(publish),
            // Awaited in place, but held by `serve`: should the writer end the connection
            // meanwhile, the publish is still seen through (a change with its seq is handed out).
            Started::Publishing(publish) => {
                publishing.push_back(publish);
                publishing.next().await;
            }
        }
        pace(&mut peer, hub, received, &mut throttle_logged, publishing).await;
    }
    // Those still committing get their answers (an error frame, the log line); `serve` sees
    // through any left when the writer ends the connection first.
    while publishing.next().await.is_some() {}
}

/// Above its message rate, waits before the client's next frame is read (logged once). Its
/// publishes committing meanwhile are seen through: a change it sent is handed out once
/// committed, not when the wait ends (with no other publisher, nothing else would).
async fn pace(peer: &mut Peer, hub: &Hub, received: Instant, logged: &mut bool, publishing: &mut FuturesOrdered<BoxFuture<'_, ()>>) {
    if let Some(wait) = peer.rate.as_mut().and_then(|r| r.take(received.into_std())) {
        hub.metrics.throttled.fetch_add(1, Ordering::Relaxed);
        if !*logged {
            *logged = true;
            warn!(client = peer.id, "client above its message rate: reading it more slowly");
        }
        wait_seeing_through(wait, publishing).await;
    }
}

/// Waits `wait`, seeing the client's publishes committing meanwhile through.
async fn wait_seeing_through(wait: std::time::Duration, publishing: &mut FuturesOrdered<BoxFuture<'_, ()>>) {
    let waited = tokio::time::sleep(wait);
    tokio::pin!(waited);
    loop {
        tokio::select! {
            biased;
            () = &mut waited => break,
            Some(()) = publishing.next(), if !publishing.is_empty() => {}
        }
    }
}

/// Handles one text frame from client `id` as its connection does (without the rate limit,
/// which paces the reading, not the handling); for the fuzz target. With state in memory only the
/// future is ready at its first poll.
pub async fn handle_text(text: &str, id: u64, publishing: Publishing, hub: &Hub) {
    let peer = Peer::new(id, publishing, None, None, Arc::new(AtomicBool::new(false)));
    match start(text, &peer, hub, Instant::now()) {
        Started::Publishing(publish) => publish.await,
        Started::Sync(req) => answer_sync(req, &peer, hub),
        Started::Done => {}
    }
}

/// What became of a frame: handled, or a publish that has taken its place in the order and is
/// committing (awaiting it logs the outcome and sends a refusal to the publisher).
enum Started<'a> {
    Done,
    Publishing(BoxFuture<'a, ()>),
    /// A `sync` to answer in its turn ([`Peer::syncs`]).
    Sync(SyncRequest),
}

/// One handler per kind of client frame.
fn start<'a>(text: &str, peer: &Peer, hub: &'a Hub, received: Instant) -> Started<'a> {
    let id = peer.id;
    match decode_client(text) {
        ClientFrame::Publish(msg) => {
            hub.metrics.inbound(Inbound::Publish);
            if !peer.producer.swap(true, Ordering::Relaxed) {
                hub.producing(id);
            }
            let action = msg.action;
            if let Publishing::Refused(refusal) = peer.publishing {
                if peer.may_log() {
                    warn!(client = id, action = action.as_str(), reason = refusal.reason(), "publish refused");
                }
                hub.refuse(id, refusal);
                return Started::Done;
            }
            let committing = hub.publish(msg, received.into_std());
            let logged = Arc::clone(&peer.logged);
            Started::Publishing(Box::pin(async move {
                match committing.await {
                    Ok(seq) => info!(client = id, seq, action = action.as_str(), "broadcast"),
                    Err(refusal) => {
                        if may_log(&logged, id) {
                            warn!(client = id, action = action.as_str(), reason = refusal.reason(), "publish refused");
                        }
                        hub.refuse(id, refusal);
                    }
                }
            }))
        }
        ClientFrame::Ping => {
            hub.metrics.inbound(Inbound::Ping);
            hub.pong(id, peer.extended.load(Ordering::Relaxed));
            Started::Done
        }
        ClientFrame::Sync(req) => {
            debug!(client = id, since = ?req.since, batch = req.batch, "sync");
            if req.batch {
                peer.batches.store(true, Ordering::Relaxed);
            }
            peer.extended.store(true, Ordering::Relaxed);
            Started::Sync(req)
        }
        ClientFrame::Ignored(reason) => {
            hub.metrics.inbound(Inbound::Ignored);
            if peer.may_log() {
                warn!(client = id, reason = reason.label(), detail = ?reason.to_string(), bytes = text.len(), "frame ignored");
            }
            Started::Done
        }
    }
}

/// Answers a `sync` (or ignores it, while the reply to the last one has not all left the
/// client's queue).
fn answer_sync(req: SyncRequest, peer: &Peer, hub: &Hub) {
    if hub.sync(peer.id, req) {
        hub.metrics.inbound(Inbound::Sync);
    } else {
        hub.metrics.inbound(Inbound::Ignored);
        if !peer.sync_ignored.swap(true, Ordering::Relaxed) {
            warn!(client = peer.id, "sync ignored: the reply to its last one has not all left its send queue (and any more like it)");
        }
    }
}

/// The close the broker sends for a socket error, if the error calls for one.
pub fn close_reason_for(e: &axum::Error) -> Option<CloseReason> {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<tungstenite::Error>() {
            return match t {
                tungstenite::Error::Capacity(_) => Some(CloseReason::TooBig),
                tungstenite::Error::Utf8(_) => Some(CloseReason::InvalidUtf8),
                // The peer hung up without a close frame: nobody is left to tell.
                tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => None,
                tungstenite::Error::Protocol(_) => Some(CloseReason::ProtocolError),
                _ => None,
            };
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that keeps what is written to it.
    fn recording() -> (impl Sink<Message, Error = ()> + Unpin, Arc<Mutex<Vec<Message>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = futures_util::sink::unfold(written.clone(), |written, m: Message| async move {
            written.lock().unwrap().push(m);
            Ok::<_, ()>(written)
        });
        (Box::pin(sink), written)
    }

    fn texts(written: &Mutex<Vec<Message>>) -> Vec<String> {
        written.lock().unwrap().iter().map(|m| m.to_text().unwrap().to_owned()).collect()
    }

    /// Frames that piled up go one message each, unless the client asked for batches: then as
    /// one `batch` frame holding them in order; a frame alone still goes as itself.
    #[tokio::test]
    async fn piled_up_frames_go_together_to_clients_that_asked() {
        let frames = [r#"{"type":"pong","n":1}"#, r#"{"type":"pong","n":2}"#, r#"{"type":"pong","n":3}"#];
        for batches in [false, true] {
            let (tx, mut rx) = mpsc::channel(8);
            for f in &frames[1..] {
                tx.try_send(Utf8Bytes::from(*f)).unwrap();
            }
            let (mut sink, written) = recording();
            assert_eq!(write_batch(&mut sink, frames[0].into(), &mut rx, batches).await, Some(3));
            let got = texts(&written);
            if batches {
                assert_eq!(got, vec![encode_batch(frames)]);
                assert_eq!(furniture_protocol::split_batch(&got[0]), Some(frames.to_vec()));
            } else {
                assert_eq!(got, frames.to_vec());
            }
            let (mut sink, written) = recording();
            assert_eq!(write_batch(&mut sink, frames[0].into(), &mut rx, batches).await, Some(1));
            assert_eq!(texts(&written), vec![frames[0].to_owned()]);
        }
    }

    /// A batch stops growing once it holds about `BATCH_FRAME_BYTES`; the rest waits for the next.
    #[tokio::test]
    async fn a_batch_is_bounded_in_bytes() {
        let big = format!(r#"{{"type":"pong","pad":"{}"}}"#, "x".repeat(BATCH_FRAME_BYTES / 4));
        let (tx, mut rx) = mpsc::channel(16);
        for _ in 0..9 {
            tx.try_send(Utf8Bytes::from(big.clone())).unwrap();
        }
        let (mut sink, written) = recording();
        let first = write_batch(&mut sink, big.clone().into(), &mut rx, true).await.unwrap();
        // Each frame is a little over a quarter of the bound: the fourth takes it past.
        assert_eq!(first, 4, "frames until the batch reached its bound");
        assert!(texts(&written)[0].len() < BATCH_FRAME_BYTES + big.len() + 64);
        let (mut sink, _) = recording();
        assert_eq!(write_batch(&mut sink, big.clone().into(), &mut rx, true).await, Some(4));
    }

    /// A batch also stops at `MAX_BATCH` frames, however small.
    #[tokio::test]
    async fn a_batch_is_bounded_in_frames() {
        let (tx, mut rx) = mpsc::channel(MAX_BATCH + 50);
        for n in 0..MAX_BATCH + 40 {
            tx.try_send(Utf8Bytes::from(format!(r#"{{"type":"pong","n":{n}}}"#))).unwrap();
        }
        let (mut sink, written) = recording();
        assert_eq!(write_batch(&mut sink, r#"{"type":"pong"}"#.into(), &mut rx, true).await, Some(MAX_BATCH));
        assert_eq!(furniture_protocol::split_batch(&texts(&written)[0]).map(|f| f.len()), Some(MAX_BATCH));
        let (mut sink, _) = recording();
        assert_eq!(write_batch(&mut sink, r#"{"type":"pong"}"#.into(), &mut rx, true).await, Some(42), "the rest, and the first of this call");
    }

    /// A backend (shared with other brokers or not) whose commits wait at a gate: counts the
    /// commits started, and keeps those done for `read_after`.
    struct Gated {
        shared: bool,
        /// Pipelined without being shared: as the state file is.
        pipelined: bool,
        started: std::sync::atomic::AtomicUsize,
        gate: tokio::sync::Semaphore,
        seq: std::sync::atomic::AtomicU64,
        done: std::sync::Mutex<Vec<crate::backend::Committed>>,
    }

    impl Gated {
        fn new(shared: bool) -> Gated {
            Gated { shared, pipelined: shared, started: 0.into(), gate: tokio::sync::Semaphore::new(0), seq: 0.into(), done: Default::default() }
        }

        /// As the state file: its own, and its publishes read on while they commit.
        fn pipelined_alone() -> Gated {
            Gated { pipelined: true, ..Gated::new(false) }
        }
    }

    impl crate::backend::Backend for Gated {
        fn kind(&self) -> &'static str {
            "gated"
        }
        fn shared(&self) -> bool {
            self.shared
        }
        fn pipelined(&self) -> bool {
            self.pipelined
        }
        fn load(&self, _history: usize) -> crate::backend::BoxFuture<'_, Result<crate::store::Loaded, crate::backend::BackendError>> {
            Box::pin(async { Ok(crate::store::Loaded { stream: "gated".into(), seq: 0, catalog: Vec::new(), history: Vec::new() }) })
        }
        fn commit(&self, mut draft: furniture_protocol::Notification) -> crate::backend::BoxFuture<'_, Result<u64, crate::backend::BackendError>> {
            self.started.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                self.gate.acquire().await.expect("the gate stays open").forget();
                let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
                draft.seq = Some(seq);
                self.done.lock().unwrap().push(crate::backend::Committed { seq, frame: draft.encode(), record_bytes: None });
                Ok(seq)
            })
        }
        fn read_after(&self, after: u64, wait: std::time::Duration) -> crate::backend::BoxFuture<'_, Result<Vec<crate::backend::Committed>, crate::backend::BackendError>> {
            Box::pin(async move {
                let done: Vec<_> = self.done.lock().unwrap().iter().filter(|c| c.seq > after).cloned().collect();
                if done.is_empty() {
                    tokio::time::sleep(wait).await;
                }
                Ok(done)
            })
        }
        fn stream(&self) -> crate::backend::BoxFuture<'_, Result<String, crate::backend::BackendError>> {
            Box::pin(async { Ok("gated".to_owned()) })
        }
    }

    /// With state shared through Redis, a connection has at most `MAX_PUBLISHES_IN_FLIGHT`
    /// publishes committing; past that its reader waits for the oldest, and reads on as commits
    /// finish, losing nothing.
    #[tokio::test]
    async fn publishes_in_flight_stop_at_their_bound() {
        let backend = Arc::new(Gated::new(true));
        let config = Config::on("127.0.0.1:0".parse().unwrap());
        let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend.clone()).await.unwrap();
        let sent = MAX_PUBLISHES_IN_FLIGHT + 36;
        let frames: Vec<Result<Message, axum::Error>> = (0..sent)
            .map(|n| Ok(Message::Text(format!(r#"{{"type":"furniture_created","furniture":{{"furniture_id":"f{n}","nombre":"Mesa"}}}}"#).into())))
            .collect();
        let stream = futures_util::stream::iter(frames).chain(futures_util::stream::pending());
        let peer = Peer::new(1, Publishing::Allowed, None, None, Arc::new(AtomicBool::new(false)));
        let reader = tokio::spawn(async move {
            let closer = Closer::new(&tokio_util::sync::CancellationToken::new());
            read_loop(stream, peer, &hub, &closer, &AtomicBool::new(false), &mut FuturesOrdered::new()).await;
        });
        let started = || backend.started.load(Ordering::SeqCst);
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(100));
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while started() < MAX_PUBLISHES_IN_FLIGHT {
            assert!(Instant::now() < deadline, "only {} commits started", started());
            tokio::task::yield_now().await;
        }
        settle().await;
        assert_eq!(started(), MAX_PUBLISHES_IN_FLIGHT, "no more while the bound is reached");
        backend.gate.add_permits(1);
        settle().await;
        assert_eq!(started(), MAX_PUBLISHES_IN_FLIGHT + 1, "one finished, one more read");
        backend.gate.add_permits(sent);
        while started() < sent {
            assert!(Instant::now() < deadline, "only {} of {sent} commits started", started());
            settle().await;
        }
        settle().await;
        assert_eq!(backend.seq.load(Ordering::SeqCst), sent as u64, "every publish committed");
        reader.abort();
    }

    /// A client above its message rate waits before its next frame is read, but the change it
    /// sent before the wait is handed out once committed, not when the wait ends (it was, with
    /// no other publisher to hand it out). On tokio's paused clock: the wait is a second.
    #[tokio::test(start_paused = true)]
    async fn a_paced_publishers_last_change_goes_out_during_its_wait() {
        let backend = Arc::new(Gated::pipelined_alone());
        let config = Config::on("127.0.0.1:0".parse().unwrap());
        let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend.clone()).await.unwrap();
        let frames: Vec<Result<Message, axum::Error>> = (0..2)
            .map(|n| Ok(Message::Text(format!(r#"{{"type":"furniture_created","furniture":{{"furniture_id":"f{n}","nombre":"Mesa"}}}}"#).into())))
            .collect();
        let stream = futures_util::stream::iter(frames).chain(futures_util::stream::pending());
        // One frame a second, one at once: the second waits a second before the next is read.
        let peer = Peer::new(1, Publishing::Allowed, RateLimit::new(1, 1), None, Arc::new(AtomicBool::new(false)));
        let reading = hub.clone();
        let reader = tokio::spawn(async move {
            let closer = Closer::new(&tokio_util::sync::CancellationToken::new());
            read_loop(stream, peer, &reading, &closer, &AtomicBool::new(false), &mut FuturesOrdered::new()).await;
        });
        let started = tokio::time::Instant::now();
        let tick = || tokio::time::sleep(std::time::Duration::from_millis(1));
        while backend.started.load(Ordering::SeqCst) < 2 {
            assert!(started.elapsed() < std::time::Duration::from_millis(100), "both read at once");
            tick().await;
        }
        backend.gate.add_permits(2);
        while hub.seq() < 2 {
            assert!(started.elapsed() < std::time::Duration::from_millis(500), "{} of 2 handed out half way through the wait", hub.seq());
            tick().await;
        }
        reader.abort();
    }

    /// A publish awaited in place (a backend that is not pipelined) is seen through by whoever
    /// holds the connection's publishes when the reader is dropped mid-commit, as `serve` drops
    /// it when the writer ends the connection: the change is committed and handed out.
    #[tokio::test]
    async fn a_publish_outlives_a_reader_dropped_while_it_commits() {
        let backend = Arc::new(Gated::new(false));
        let config = Config::on("127.0.0.1:0".parse().unwrap());
        let hub = Hub::with_backend(&config, Arc::new(Metrics::default()), backend.clone()).await.unwrap();
        assert!(!hub.pipelined());
        let frame = Ok(Message::Text(r#"{"type":"furniture_created","furniture":{"furniture_id":"f","nombre":"Mesa"}}"#.into()));
        let stream = futures_util::stream::iter([frame]).chain(futures_util::stream::pending());
        let peer = Peer::new(1, Publishing::Allowed, None, None, Arc::new(AtomicBool::new(false)));
        let closer = Closer::new(&tokio_util::sync::CancellationToken::new());
        let awaiting_pong = AtomicBool::new(false);
        let mut publishing = FuturesOrdered::new();
        let mut reader = Box::pin(read_loop(stream, peer, &hub, &closer, &awaiting_pong, &mut publishing));
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while backend.started.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the commit never started");
            let _ = tokio::time::timeout(std::time::Duration::from_millis(10), &mut reader).await;
        }
        drop(reader);
        backend.gate.add_permits(1);
        tokio::time::timeout(std::time::Duration::from_secs(5), async { while publishing.next().await.is_some() {} }).await.expect("the publish completes");
        assert_eq!(hub.seq(), 1, "the change committed and handed out");
    }
}
