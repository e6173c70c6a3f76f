//! The furniture notification broker: a drop-in for the Python broker that numbers every
//! notification, keeps the catalog and recent history for dashboards that reconnect, bounds every
//! queue, and serves the built dashboard on the same port.
//!
//! # Layout
//!
//! - [`config`]: flags and environment variables, with their defaults.
//! - [`hub`]: connected clients, the global broadcast order, catalog and history.
//! - [`connection`]: one socket's reader and writer, keepalive pings, close codes.
//! - [`close`]: every reason the broker closes a connection and its code.
//! - [`http`]: the single port: WebSocket upgrades and the dashboard's files.
//! - [`run`]: the accept loop with graceful shutdown; `main.rs` only parses flags and signals.

pub mod close;
pub mod config;
pub mod connection;
pub mod http;
pub mod hub;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use close::CloseReason;
pub use config::Config;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for clients to take their close frames.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Serves `listener` until `shutdown` is cancelled; then closes every client with 1001 and
/// returns once they are gone (or after [`SHUTDOWN_GRACE`]).
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> std::io::Result<()> {
    let config = Arc::new(config);
    let hub = hub::Hub::new(&config);
    let tasks = TaskTracker::new();
    let state = http::AppState { hub, config, shutdown: shutdown.clone(), tasks: tasks.clone() };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let result = serve.await;
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await.is_err() {
        tracing::warn!(left = tasks.len(), "shutdown grace elapsed with clients still closing");
    }
    result
}
