//! The broker's settings: every flag has an environment fallback and a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one broker, as flags or environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "furniture-broker",
    version,
    about = "WebSocket broker for the furniture catalog's notifications.",
    long_about = "WebSocket broker for the furniture catalog's notifications: a drop-in for the \
                  Python broker (same port, same frames) that numbers every notification, keeps \
                  the catalog and recent history for dashboards that reconnect, and serves the \
                  built dashboard on the same port, so one address is all a screen needs.\n\n\
                  Every flag can also be set through the environment variable shown with it. \
                  RUST_LOG sets the log level (default: info)."
)]
pub struct Config {
    /// Address to listen on for WebSocket clients and HTTP.
    #[arg(long, env = "BROKER_LISTEN", default_value = "0.0.0.0:8765")]
    pub listen: SocketAddr,

    /// Folder of the built dashboard (trunk's `dist`), served over plain HTTP on the same port.
    #[arg(long, env = "BROKER_DASHBOARD_DIR", default_value = "dist")]
    pub dashboard_dir: PathBuf,

    /// Largest frame or message accepted from a client, in bytes; larger ones close with 1009.
    #[arg(long, env = "BROKER_MAX_FRAME_BYTES", default_value_t = 1 << 20)]
    pub max_frame_bytes: usize,

    /// Seconds between WebSocket protocol pings to each client.
    #[arg(long, env = "BROKER_PING_INTERVAL_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval_secs: u64,

    /// Seconds a client has to answer a protocol ping before it is closed with 1011.
    #[arg(long, env = "BROKER_PING_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_timeout_secs: u64,

    /// Frames queued for one client before it is cut off as too slow (close 1008).
    #[arg(long, env = "BROKER_CLIENT_QUEUE", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub client_queue: u64,

    /// Open WebSocket connections allowed at once; more are refused with HTTP 503.
    #[arg(long, env = "BROKER_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Notifications kept in memory for clients that reconnect and ask what they missed.
    #[arg(long, env = "BROKER_HISTORY", default_value_t = 1000)]
    pub history: usize,

    /// Items the broker's catalog holds at most; creates beyond it are not added (and logged).
    #[arg(long, env = "BROKER_MAX_CATALOG_ITEMS", default_value_t = 100_000)]
    pub max_catalog_items: usize,
}

impl Config {
    /// The defaults, listening on `listen`; for tests and embedding.
    pub fn on(listen: SocketAddr) -> Config {
        use clap::Parser;
        let mut c = Config::parse_from(["furniture-broker"]);
        c.listen = listen;
        c
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }

    pub fn ping_timeout(&self) -> Duration {
        Duration::from_secs(self.ping_timeout_secs)
    }
}
