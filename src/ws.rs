//! The connection loop: connect, read frames, keep the socket honest with application pings,
//! and reconnect forever with jittered exponential backoff.

use std::rc::Rc;

use futures_channel::mpsc::UnboundedReceiver;
use futures_util::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};

use crate::browser::{now_ms, online, page_visible};
use crate::state::connection::{wait_after_probe, Backoff, ConnState};

/// How long a ping sent while the browser reports no network waits for its answer.
const OFFLINE_PONG_DEADLINE_MS: f64 = 2_000.0;

/// What the loop reports.
pub enum WsEvent {
    /// The connection state changed.
    State(ConnState),
    /// A text frame arrived.
    Frame(String),
    /// An application ping went out.
    PingSent,
    /// The socket closed: its close code and reason, when the browser gave them.
    Closed { code: Option<u16>, reason: String },
}

/// What the page tells the connection loop.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Probe {
    /// Check the connection at once: the page was shown, the network came back, the machine woke.
    Check,
    /// The page is being left (`pagehide`): close the socket, so that the broker does not count a
    /// page kept in the back-forward cache as a screen; the `Check` of its return connects again,
    /// at once.
    Leave,
}

/// Settings of the connection loop.
#[derive(Clone, Debug)]
pub struct ConnectionOptions {
    /// Send `{"type":"ping"}` after this long without any frame (default 15 s).
    pub ping_after_ms: f64,
    /// And at least this often while frames keep coming (default 60 s), so that the round-trip
    /// time and the client count that our broker puts in its pongs stay current.
    pub ping_every_ms: f64,
    /// Reconnect when nothing arrives this long after a ping (default 10 s).
    pub pong_deadline_ms: f64,
    /// Give up on a connection attempt that has not opened after this long (default 10 s).
    pub connect_timeout_ms: f64,
    /// Reconnect backoff (see [`Backoff`] for its defaults).
    pub backoff: Backoff,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions { ping_after_ms: 15_000.0, ping_every_ms: 60_000.0, pong_deadline_ms: 10_000.0, connect_timeout_ms: 10_000.0, backoff: Backoff::default() }
    }
}

/// The handler gets every event and may answer a frame with one frame to send back.
pub type Handler = Rc<dyn Fn(WsEvent) -> Option<String>>;

/// Starts the loop; it runs for the life of the page. Each [`Probe::Check`] on `probes` (the page
/// became visible, the network came back, the machine woke up) checks the connection at once: a
/// live one gets a ping, a waiting reconnect happens within 2 s ([`wait_after_probe`]: screens
/// that hear it together do not all reconnect together). [`Probe::Leave`] closes the socket.
pub fn connect_forever(url: String, options: ConnectionOptions, handler: Handler, probes: UnboundedReceiver<Probe>) {
    let mut probes = probes.fuse();
    leptos::task::spawn_local(async move {
        let mut backoff = options.backoff.clone();
        handler(WsEvent::State(ConnState::Connecting));
        loop {
            let lasted = match WebSocket::open(&url) {
                Ok(ws) => session(ws, &options, &handler, &mut probes).await,
                Err(e) => {
                    leptos::logging::warn!("cannot open {url}: {e}");
                    Some(0.0)
                }
            };
            let Some(lasted) = lasted else {
                // The page was left: nothing to try, and no backoff to grow, until it is shown
                // again (back from the back-forward cache), and then at once.
                handler(WsEvent::State(ConnState::Connecting));
                shown_again(&mut probes).await;
                continue;
            };
            backoff.connection_ended(lasted);
            let (attempt, delay) = backoff.next_delay(js_sys::Math::random());
            // A probe brings the attempt nearer (never later); the countdown on screen follows.
            let mut next_try_ms = now_ms() + delay;
            let mut show = true;
            loop {
                if show {
                    handler(WsEvent::State(if online() {
                        ConnState::Reconnecting { attempt, next_try_ms }
                    } else {
                        ConnState::Offline { attempt, next_try_ms }
                    }));
                }
                let left = next_try_ms - now_ms();
                select! {
                    () = TimeoutFuture::new(left.max(0.0) as u32).fuse() => break,
                    probe = probes.next() => if probe == Some(Probe::Check) {
                        let left = next_try_ms - now_ms();
                        let wait = wait_after_probe(left, js_sys::Math::random());
                        show = wait < left;
                        next_try_ms = now_ms() + wait;
                    } else {
                        // Left while waiting: the next try when the page is shown again.
                        shown_again(&mut probes).await;
                        break;
                    }
                }
            }
        }
    });
}

/// Waits for the page to be shown again after it was left (the next [`Probe::Check`]).
async fn shown_again(probes: &mut futures_util::stream::Fuse<UnboundedReceiver<Probe>>) {
    while let Some(probe) = probes.next().await {
        if probe == Probe::Check {
            return;
        }
    }
}

/// One connection, until it closes or goes silent: how long it was live, in ms; `None` when the
/// page was left and closed it.
async fn session(
    ws: WebSocket,
    options: &ConnectionOptions,
    handler: &Handler,
    probes: &mut futures_util::stream::Fuse<UnboundedReceiver<Probe>>,
) -> Option<f64> {
    let (mut tx, rx) = ws.split();
    let mut rx = rx.fuse();
    let mut ticks = IntervalStream::new(1_000).fuse();
    let mut live_since: Option<f64> = None;
    let started = now_ms();
    let mut last_rx = started;
    let mut ping_sent: Option<f64> = None;
    // The deadline of the ping out: shorter when the browser reported no network as it went.
    let mut pong_deadline = options.pong_deadline_ms;
    let mut last_ping = started;
    let mut last_tick = started;
    loop {
        let mut probe_now = false;
        select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let now = now_ms();
                    if live_since.is_none() {
                        live_since = Some(now);
                        handler(WsEvent::State(ConnState::Live));
                        // A first ping at once: round-trip time and the server clock's offset.
                        probe_now = true;
                    }
                    last_rx = now;
                    ping_sent = None;
                    if let Some(reply) = handler(WsEvent::Frame(text)) {
                        if tx.send(Message::Text(reply)).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Bytes(_))) => {}
                Some(Err(gloo_net::websocket::WebSocketError::ConnectionClose(ev))) => {
                    handler(WsEvent::Closed { code: Some(ev.code), reason: ev.reason });
                    break;
                }
                Some(Err(_)) | None => break,
            },
            probe = probes.next() => {
                if probe == Some(Probe::Leave) {
                    // 1000: a page may close with no other code below 3000 (1001 throws).
                    if let Ok(ws) = tx.reunite(rx.into_inner()) {
                        let _ = ws.close(Some(1000), Some("page left"));
                    }
                    return None;
                }
                probe_now = true;
            }
            _ = ticks.next() => {
                let now = now_ms();
                // A tick long overdue means the machine slept: check the socket at once (a hidden
                // page, whose timers the browser slows down, is checked when shown instead).
                if now - last_tick > 5_000.0 && page_visible() {
                    probe_now = true;
                }
                last_tick = now;
                if live_since.is_none() && now - started > options.connect_timeout_ms {
                    leptos::logging::warn!("no answer in {} ms: trying again", options.connect_timeout_ms as u64);
                    break;
                }
                match ping_sent {
                    Some(sent) if now - sent > pong_deadline => {
                        leptos::logging::warn!("no answer to ping in {} ms: reconnecting", pong_deadline as u64);
                        break;
                    }
                    // Pings only while someone may look; a hidden page is checked when shown.
                    None if live_since.is_some()
                        && (now - last_rx > options.ping_after_ms || now - last_ping > options.ping_every_ms)
                        && page_visible() =>
                    {
                        probe_now = true;
                    }
                    _ => {}
                }
            }
        }
        if probe_now && live_since.is_some() && ping_sent.is_none() {
            // With no network reported, the answer decides, and soon: a broker on this machine
            // still answers (browsers report no network when only loopback is up).
            pong_deadline = if online() { options.pong_deadline_ms } else { options.pong_deadline_ms.min(OFFLINE_PONG_DEADLINE_MS) };
            ping_sent = Some(now_ms());
            last_ping = now_ms();
            handler(WsEvent::PingSent);
            if tx.send(Message::Text(r#"{"type":"ping"}"#.to_owned())).await.is_err() {
                break;
            }
        }
    }
    Some(live_since.map_or(0.0, |since| now_ms() - since))
}
