//! The furniture notification broker: a drop-in for the Python broker that numbers every
//! notification, keeps the catalog and recent history in a state file for dashboards that
//! reconnect, lets only trusted connections publish, bounds every queue and cap, and serves the
//! built dashboard, its health and its metrics on the same port.
//!
//! # Layout
//!
//! - [`config`]: flags and environment variables, with their defaults.
//! - [`backend`]: the seam between a broker and its state, with the embedded implementation.
//! - [`store`]: the state file (SQLite): `seq`, catalog, history, written before each broadcast.
//! - [`redis`]: the shared state of several brokers in Redis (`--redis`).
//! - [`hub`]: connected clients, the global broadcast order, this broker's copy of the catalog
//!   and history.
//! - [`admission`]: connection caps, `Origin` allow-list, publish token and protected mode,
//!   message rate.
//! - [`connection`]: one socket's reader and writer, keepalive pings, close codes.
//! - [`close`]: every reason the broker closes a connection and its code.
//! - [`http`]: the single port: WebSocket upgrades, `/healthz`, `/metrics`, the dashboard.
//! - [`metrics`]: counters and the broadcast latency histogram, in Prometheus text format.
//! - [`Broker`]: the accept loop with graceful shutdown; `main.rs` only parses flags and signals.

pub mod admission;
pub mod backend;
pub mod close;
pub mod config;
pub mod connection;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod redis;
pub mod stall;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
pub use close::CloseReason;
pub use config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::admission::Limits;
use crate::metrics::{ConnRefusal, Metrics};
pub use crate::store::StoreError;

/// How long shutdown waits for clients to take their close frames.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Refused connections answered at once (each is held up to 1.5 s for the request and the
/// answer); beyond them, a refused connection is closed without an answer, so that a flood of
/// connections past the caps cannot hold the broker's file descriptors.
pub const MAX_REFUSING: usize = 256;

/// A broker whose state is open, ready to serve a listener.
pub struct Broker {
    config: Arc<Config>,
    hub: Arc<hub::Hub>,
}

impl Broker {
    /// Opens the state (Redis with `--redis`, else `--data-dir`, unless `--in-memory`).
    pub async fn open(config: Config) -> Result<Broker, StoreError> {
        let hub = hub::Hub::open(&config, Arc::new(Metrics::default())).await?;
        Ok(Broker { config: Arc::new(config), hub })
    }

    /// The last `seq` broadcast (as read from the state file, before serving).
    pub fn seq(&self) -> u64 {
        self.hub.seq()
    }

    /// Serves `listener` until `shutdown` is cancelled; then stops accepting, closes every client
    /// with 1001, waits for them (at most [`SHUTDOWN_GRACE`]) and flushes the state file.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
        let Broker { config, hub } = self;
        let tasks = TaskTracker::new();
        let limits = Limits::new(config.max_connections, config.max_connections_per_ip);
        let refusing = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING));
        let state = http::AppState { hub: hub.clone(), config: config.clone(), shutdown: shutdown.clone(), tasks: tasks.clone() };
        let router = http::router(state.clone());
        if hub.shared() {
            tasks.spawn(hub.clone().follow(shutdown.clone()));
        }
        loop {
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let slot = match limits.acquire(peer.ip()) {
                Ok(slot) => slot,
                Err(why) => {
                    let response = http::refusal(&state, peer, why);
                    if let Ok(answering) = refusing.clone().try_acquire_owned() {
                        tasks.spawn(async move {
                            refuse_raw(stream, response.status()).await;
                            drop(answering);
                        });
                    }
                    continue;
                }
            };
            let router = router.clone();
            let shutdown = shutdown.clone();
            let hub = hub.clone();
            let timeout = config.handshake_timeout();
            tasks.spawn(async move {
                // Set at the first request: a connection kept alive after an answer, closed when
                // idle for the same timeout, is neither refused nor slow (a scraper of /metrics, a
                // browser that loaded the page).
                let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let seen = served.clone();
                // An answer the client stops reading ends the connection after the same timeout;
                // not a WebSocket's, once its upgrade is granted (a refused one, answered as any
                // request, is kept alive as HTTP: its next answers stay guarded).
                let websocket = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let stream = stall::WriteStall::new(stream, timeout, websocket.clone());
                let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    seen.store(true, std::sync::atomic::Ordering::Relaxed);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req.extensions_mut().insert(slot.clone());
                    let answer = tower::ServiceExt::oneshot(router.clone(), req);
                    let websocket = websocket.clone();
                    async move {
                        let answer = answer.await;
                        if let Ok(response) = &answer {
                            websocket.store(response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS, std::sync::atomic::Ordering::Relaxed);
                        }
                        answer
                    }
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(timeout);
                let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
                tokio::pin!(conn);
                let result = tokio::select! {
                    r = conn.as_mut() => r,
                    () = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await.unwrap_or(Ok(()))
                    }
                };
                if let Err(e) = result {
                    if e.is_timeout() && served.load(std::sync::atomic::Ordering::Relaxed) {
                        debug!(%peer, "kept-alive HTTP connection closed: idle for the handshake timeout");
                    } else if e.is_timeout() {
                        hub.metrics.refused(ConnRefusal::HandshakeTimeout);
                        match hub.metrics.refusals_logged.take() {
                            Some(0) => info!(%peer, "connection dropped: no complete request within the handshake timeout"),
                            Some(unlogged) => info!(
                                %peer, unlogged,
                                "connection dropped: no complete request within the handshake timeout (and {unlogged} refused or dropped since the last such line, counted in /metrics, not logged)"
                            ),
                            None => {}
                        }
                    } else {
                        debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                }
            });
        }
        drop(listener);
        tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await.is_err() {
            warn!(left = tasks.len(), "shutdown grace elapsed with clients still closing");
        }
        hub.flush();
        Ok(())
    }
}

/// Answers a connection refused before its request was read: reads the request (briefly, so the
/// client is not reset before it sees the answer), writes the status, closes.
async fn refuse_raw(mut stream: TcpStream, status: axum::http::StatusCode) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        let mut seen = Vec::new();
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() > 16 * 1024 {
                break;
            }
        }
    })
    .await;
    let reason = status.canonical_reason().unwrap_or("Refused");
    let body = format!("{}\n", reason.to_ascii_lowercase());
    let response = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        status.as_u16(),
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Opens the state and serves `listener` until `shutdown` is cancelled (see [`Broker::serve`]).
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> std::io::Result<()> {
    let broker = Broker::open(config).await.map_err(std::io::Error::other)?;
    broker.serve(listener, shutdown).await
}
