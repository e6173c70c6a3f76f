//! One WebSocket connection: a writer that drains the client's queue and keeps it alive with
//! protocol pings, and a reader that hands each frame to its handler. When either ends, both end
//! and the client leaves the hub.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use furniture_protocol::{decode_client, ClientFrame};
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::close::{CloseReason, Closer};
use crate::hub::{Hub, Registration};
use crate::Config;

/// Most frames written before one flush, so a backlog goes out in few system calls.
const MAX_BATCH: usize = 256;

/// Serves one upgraded socket until it closes.
pub async fn serve(socket: WebSocket, peer: SocketAddr, hub: Arc<Hub>, reg: Registration, config: Arc<Config>) {
    let Registration { id, frames, closer, client_count } = reg;
    info!(client = id, %peer, clients = client_count, "client connected");
    let (sink, stream) = socket.split();
    let awaiting_pong = Arc::new(AtomicBool::new(false));
    let writer = write_loop(sink, frames, closer.clone(), awaiting_pong.clone(), &config);
    let reader = read_loop(stream, id, &hub, &closer, &awaiting_pong);
    tokio::select! {
        reason = writer => {
            if let Some(reason) = reason {
                info!(client = id, %peer, code = reason.code(), reason = reason.text(), "closed by the broker");
            }
        }
        () = reader => {}
    }
    let remaining = hub.unregister(id);
    info!(client = id, %peer, clients = remaining, "client disconnected");
}

/// Writes queued frames (several per flush when they pile up) and protocol pings; closes the
/// socket when asked. Returns the close reason it sent, or `None` when the socket failed.
async fn write_loop<S>(
    mut sink: S,
    mut frames: mpsc::Receiver<Utf8Bytes>,
    closer: Closer,
    awaiting_pong: Arc<AtomicBool>,
    config: &Config,
) -> Option<CloseReason>
where
    S: Sink<Message> + Unpin,
{
    let mut pings = interval_at(Instant::now() + config.ping_interval(), config.ping_interval());
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(std::time::Duration::MAX / 4);
    tokio::pin!(deadline);
    let mut ping_pending = false;
    let reason = loop {
        tokio::select! {
            biased;
            reason = closer.closed() => break reason,
            () = &mut deadline, if ping_pending => {
                if awaiting_pong.load(Ordering::Acquire) {
                    break CloseReason::PingTimeout;
                }
                ping_pending = false;
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break CloseReason::Shutdown };
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return None;
                }
                let mut batch = 1;
                while batch < MAX_BATCH {
                    match frames.try_recv() {
                        Ok(frame) => {
                            if sink.feed(Message::Text(frame)).await.is_err() {
                                return None;
                            }
                            batch += 1;
                        }
                        Err(_) => break,
                    }
                }
                if sink.flush().await.is_err() {
                    return None;
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
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        return None;
                    }
                }
            }
        }
        if ping_pending && !awaiting_pong.load(Ordering::Acquire) {
            ping_pending = false;
        }
    };
    let frame = CloseFrame { code: reason.code(), reason: reason.text().into() };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sink.send(Message::Close(Some(frame)))).await;
    Some(reason)
}

/// Reads frames until the client closes, the socket fails, or a limit is broken.
async fn read_loop<S>(mut stream: S, id: u64, hub: &Hub, closer: &Closer, awaiting_pong: &AtomicBool)
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    while let Some(item) = stream.next().await {
        let text = match item {
            Ok(Message::Text(text)) => text,
            // Like Python's json.loads, a binary frame holding UTF-8 JSON is read as text.
            Ok(Message::Binary(bytes)) => match Utf8Bytes::try_from(bytes) {
                Ok(text) => text,
                Err(_) => {
                    warn!(client = id, "binary frame that is not UTF-8 ignored");
                    continue;
                }
            },
            Ok(Message::Pong(_)) => {
                awaiting_pong.store(false, Ordering::Release);
                continue;
            }
            Ok(Message::Ping(_)) => continue,
            Ok(Message::Close(_)) => break,
            Err(e) => {
                if let Some(reason) = close_reason_for(&e) {
                    warn!(client = id, error = %e, "closing: {}", reason.text());
                    closer.close(reason);
                    // Let the writer send the close frame; the select in `serve` ends us then.
                    std::future::pending::<()>().await;
                }
                debug!(client = id, error = %e, "socket error");
                break;
            }
        };
        // Any frame from the peer proves it is alive.
        awaiting_pong.store(false, Ordering::Release);
        handle(&text, id, hub);
    }
}

/// One handler per kind of client frame.
fn handle(text: &str, id: u64, hub: &Hub) {
    match decode_client(text) {
        ClientFrame::Publish(msg) => {
            let action = msg.action;
            let (seq, applied) = hub.publish(msg);
            info!(client = id, seq, action = action.as_str(), catalog = ?applied, "broadcast");
        }
        ClientFrame::Ping => hub.pong(id),
        ClientFrame::Sync(req) => {
            debug!(client = id, since = ?req.since, "sync");
            hub.sync(id, req);
        }
        ClientFrame::Ignored(reason) => {
            warn!(client = id, reason = reason.label(), detail = %reason, bytes = text.len(), "frame ignored");
        }
    }
}

fn close_reason_for(e: &axum::Error) -> Option<CloseReason> {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<tungstenite::Error>() {
            return match t {
                tungstenite::Error::Capacity(_) => Some(CloseReason::TooBig),
                tungstenite::Error::Utf8(_) => Some(CloseReason::InvalidUtf8),
                tungstenite::Error::Protocol(_) => Some(CloseReason::ProtocolError),
                _ => None,
            };
        }
        source = err.source();
    }
    None
}
