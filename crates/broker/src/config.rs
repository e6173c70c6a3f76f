//! The broker's settings: every flag has an environment fallback and a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one broker, as flags or environment variables.
/// The longest time a flag in seconds takes (a day): beyond it, deadlines computed from now
/// would overflow the clock's range.
const MAX_SECS: u64 = 86_400;
/// The most frames queued for one client that may be asked for (tokio's queues hold at most
/// `usize::MAX >> 3`; past that every connection would fail as it opens).
const MAX_CLIENT_QUEUE: u64 = 1_000_000;
/// The most connections that may be allowed at once (the count of publishes in flight, 64 per
/// connection, must not overflow).
const MAX_CONNECTIONS: u64 = 10_000_000;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "furniture-broker",
    version,
    about = "WebSocket broker for the furniture catalog's notifications.",
    long_about = "WebSocket broker for the furniture catalog's notifications: a drop-in for the \
                  Python broker (same port, same frames) that numbers every notification, keeps \
                  the catalog and recent history in a state file for dashboards that reconnect, \
                  and serves the built dashboard, /healthz and /metrics on the same port, so one \
                  address is all a screen needs.\n\n\
                  Safe by default: viewers are read-only, and without --publish-token only this \
                  machine (loopback) may publish.\n\n\
                  Every flag can also be set through the environment variable shown with it. \
                  RUST_LOG sets the log level (default: info)."
)]
pub struct Config {
    /// Address to listen on for WebSocket clients and HTTP.
    #[arg(long, hide_env_values = true, env = "BROKER_LISTEN", default_value = "0.0.0.0:8765")]
    pub listen: SocketAddr,

    /// Folder of the built dashboard (trunk's `dist`), served over plain HTTP on the same port.
    #[arg(long, hide_env_values = true, env = "BROKER_DASHBOARD_DIR", default_value = "dist")]
    pub dashboard_dir: PathBuf,

    /// Notifications kept (in memory and in the state file) for clients that reconnect and ask
    /// what they missed.
    #[arg(long, hide_env_values = true, env = "BROKER_HISTORY", help_heading = "State", default_value_t = 1000)]
    pub history: usize,

    /// Bytes of notifications kept for clients that reconnect, at most, beside --history's
    /// count: the oldest go first. A client that missed more resyncs in full.
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_HISTORY_BYTES", help_heading = "State", default_value_t = 8 << 20)]
    pub max_history_bytes: usize,

    /// Items the broker's catalog holds at most; a create beyond it is broadcast but not kept
    /// (counted in /metrics, logged at most once a minute).
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_CATALOG_ITEMS", help_heading = "State", default_value_t = 100_000)]
    pub max_catalog_items: usize,

    /// Bytes of records the broker's catalog holds at most (each record counted as its JSON);
    /// a create or update that would take it past them is broadcast but not kept, the item
    /// updated so keeping its last record (counted in /metrics, logged at most once a minute).
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_CATALOG_BYTES", help_heading = "State", default_value_t = 64 << 20)]
    pub max_catalog_bytes: usize,

    /// Folder of the broker's state (catalog, history, `seq`), an SQLite file written before
    /// every broadcast; created when missing.
    #[arg(long, hide_env_values = true, env = "BROKER_DATA_DIR", help_heading = "State", default_value = "furniture-broker-data")]
    pub data_dir: PathBuf,

    /// Keep state in memory only: nothing is written, and a restart starts a new `seq` numbering.
    #[arg(long, hide_env_values = true, env = "BROKER_IN_MEMORY", help_heading = "State", value_parser = clap::builder::BoolishValueParser::new())]
    pub in_memory: bool,

    /// Share state and fan-out with other brokers through Redis at this URL
    /// (`redis://[:password@]host:port[/db]`): `seq`, the catalog and the history live there, and
    /// a producer on any broker reaches the viewers of all. --data-dir and --in-memory are then
    /// unused. [default: none: the embedded state file]
    #[arg(long, env = "BROKER_REDIS_URL", help_heading = "State", hide_env_values = true)]
    pub redis: Option<String>,

    /// Token a connection must present to publish, as `?token=` in its URL or an
    /// `Authorization: Bearer` header; connections without it are read-only viewers.
    /// [default: none, and then only loopback addresses may publish]
    #[arg(long, env = "BROKER_PUBLISH_TOKEN", help_heading = "Access", hide_env_values = true)]
    pub publish_token: Option<Secret>,

    /// Without a token, let every address publish, not only loopback ones (unsafe on a shared
    /// network; the broker warns at start-up).
    #[arg(long, hide_env_values = true, env = "BROKER_ALLOW_REMOTE_PUBLISH", help_heading = "Access", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_remote_publish: bool,

    /// Browser origins allowed to connect, comma-separated (for example
    /// `https://wall.example.com`); the dashboard this broker serves is allowed when opened by IP
    /// address, localhost or the machine's name as `hostname` gives it (also short and with
    /// `.local`); list any other name it is opened by, since a name could be pointed at this
    /// address by someone else's page. Clients that send no `Origin` (scripts, producers) are not
    /// affected. Others are refused with HTTP 403.
    /// [default: any origin]
    #[arg(long, hide_env_values = true, env = "BROKER_ALLOWED_ORIGINS", help_heading = "Access", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Largest frame or message accepted from a client, in bytes (at least 1024: below that no
    /// change of the catalog would fit); larger ones close with 1009.
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_FRAME_BYTES", help_heading = "Limits", default_value_t = 1 << 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..))]
    pub max_frame_bytes: usize,

    /// Seconds between WebSocket protocol pings to each client (1 to 86400).
    #[arg(long, hide_env_values = true, env = "BROKER_PING_INTERVAL_SECS", help_heading = "Limits", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub ping_interval_secs: u64,

    /// Seconds a client has to answer a protocol ping before it is closed with 1011 (1 to 86400).
    #[arg(long, hide_env_values = true, env = "BROKER_PING_TIMEOUT_SECS", help_heading = "Limits", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub ping_timeout_secs: u64,

    /// Frames queued for one client before it is cut off as too slow (close 1008), 1 to
    /// 1,000,000.
    #[arg(long, hide_env_values = true, env = "BROKER_CLIENT_QUEUE", help_heading = "Limits", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=MAX_CLIENT_QUEUE))]
    pub client_queue: u64,

    /// Open connections (WebSocket and HTTP) allowed at once, 1 to 10,000,000; more are refused
    /// with HTTP 503.
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_CONNECTIONS", help_heading = "Limits", default_value_t = 20_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONNECTIONS))]
    pub max_connections: usize,

    /// Open TCP connections allowed from one IP address (HTTP and WebSocket); more are refused
    /// with HTTP 429. The global addresses of one IPv6 /64 network count as one. 0 means no limit.
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_CONNECTIONS_PER_IP", help_heading = "Limits", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Frames one connection may send per second, on average; beyond it the broker reads that
    /// connection more slowly (nothing is dropped). 0 means no limit.
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_MESSAGES_PER_SEC", help_heading = "Limits", default_value_t = 1000)]
    pub max_messages_per_sec: u32,

    /// `sync` requests one connection may make per minute, on average, after its first 4;
    /// beyond it the broker answers its next one, and reads anything after it, only when its
    /// turn comes (a dashboard asks once per connection). Each reply copies or queues the whole
    /// catalog: without a limit, a client asking again and again slows everyone's
    /// notifications. 0 means no limit.
    #[arg(long, hide_env_values = true, env = "BROKER_MAX_SYNCS_PER_MINUTE", help_heading = "Limits", default_value_t = 30)]
    pub max_syncs_per_minute: u32,

    /// Frames one connection may send at once above its rate before it is slowed down.
    #[arg(long, hide_env_values = true, env = "BROKER_MESSAGE_BURST", help_heading = "Limits", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub message_burst: u32,

    /// Seconds a new TCP connection has to send its complete HTTP request (the WebSocket
    /// handshake); slower ones are dropped (1 to 86400). An HTTP connection kept alive after an
    /// answer is closed when idle as long, and one whose client reads nothing of an answer for as
    /// long.
    #[arg(long, hide_env_values = true, env = "BROKER_HANDSHAKE_TIMEOUT_SECS", help_heading = "Limits", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub handshake_timeout_secs: u64,

    /// Log line format on standard error: `text` or `json` (one object per line).
    #[arg(long, hide_env_values = true, env = "BROKER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// A secret value: compared in constant time, never shown by `Debug` or in logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// True when `presented` equals the secret. The time taken depends only on the lengths.
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Secret, String> {
        if s.is_empty() {
            return Err("the publish token cannot be empty (an empty BROKER_PUBLISH_TOKEN counts: unset it for no token)".to_owned());
        }
        Ok(Secret(s.to_owned()))
    }
}

impl Config {
    /// The defaults, listening on `listen`, with state in memory only; for tests and embedding.
    /// (Built from the flags' defaults, not the environment.)
    pub fn on(listen: SocketAddr) -> Config {
        use clap::{CommandFactory, FromArgMatches};
        let cmd = Config::command().mut_args(|a| a.env(None::<&str>));
        let matches = cmd.get_matches_from(["furniture-broker"]);
        let mut c = Config::from_arg_matches(&matches).expect("the defaults parse");
        c.listen = listen;
        c.in_memory = true;
        c
    }

    /// Settings that each parse but do not go together: why, for the operator.
    pub fn check(&self) -> Result<(), String> {
        // A connection whose `sync` waits its turn is not read meanwhile, its pong included.
        if self.max_syncs_per_minute > 0 && 60 / u64::from(self.max_syncs_per_minute) >= self.ping_timeout_secs {
            return Err(format!(
                "--max-syncs-per-minute {} makes a client that asks too often wait {} s for its turn, unread, which is past --ping-timeout-secs {}: its pong would go unread and it would be closed (1011); raise one of them",
                self.max_syncs_per_minute,
                60 / u64::from(self.max_syncs_per_minute),
                self.ping_timeout_secs
            ));
        }
        Ok(())
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }

    pub fn ping_timeout(&self) -> Duration {
        Duration::from_secs(self.ping_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn times_in_seconds_are_bounded_to_a_day() {
        for flag in ["--ping-interval-secs", "--ping-timeout-secs", "--handshake-timeout-secs"] {
            assert!(Config::try_parse_from(["broker", flag, "86400"]).is_ok(), "{flag} at its bound");
            let err = Config::try_parse_from(["broker", flag, "86401"]).expect_err("past the bound").to_string();
            assert!(err.contains("86401") && err.contains("1..=86400"), "{flag}: {err}");
            assert!(Config::try_parse_from(["broker", flag, "18446744073709551615"]).is_err(), "{flag}: the largest u64");
        }
    }

    /// A sync's turn longer than the ping's timeout would close the client it paces: refused
    /// at start, with both flags named.
    #[test]
    fn a_syncs_turn_must_come_within_the_pings_timeout() {
        let check = |args: &[&str]| Config::try_parse_from([&["broker"], args].concat()).unwrap().check();
        assert_eq!(check(&[]), Ok(()), "the defaults: 2 s within 20 s");
        assert_eq!(check(&["--max-syncs-per-minute", "4"]), Ok(()), "15 s within 20 s");
        let err = check(&["--max-syncs-per-minute", "3"]).unwrap_err();
        assert!(err.contains("--max-syncs-per-minute 3") && err.contains("20 s") && err.contains("--ping-timeout-secs 20"), "{err}");
        assert!(check(&["--ping-timeout-secs", "2"]).is_err(), "2 s is not within 2 s");
        assert_eq!(check(&["--ping-timeout-secs", "2", "--max-syncs-per-minute", "0"]), Ok(()), "no limit, no turn");
    }

    /// A limit that would make the broker useless (every connection refused, every publish
    /// closed) is refused at start; 0 means "no limit" only where the help says so.
    #[test]
    fn limits_that_would_refuse_everything_are_refused() {
        for (flag, low, ok) in [("--max-connections", "0", "1"), ("--max-frame-bytes", "1023", "1024")] {
            assert!(Config::try_parse_from(["broker", flag, low]).is_err(), "{flag} {low}");
            assert!(Config::try_parse_from(["broker", flag, ok]).is_ok(), "{flag} {ok}");
        }
        // Past what the broker can hold (a queue tokio refuses to make, a count that overflows),
        // refused at start rather than failing each connection as it opens.
        for (flag, high, ok) in [("--client-queue", "1000001", "1000000"), ("--max-connections", "10000001", "10000000")] {
            let err = Config::try_parse_from(["broker", flag, high]).expect_err("past the bound").to_string();
            assert!(err.contains(high) && err.contains(&format!("1..={ok}")), "{flag}: {err}");
            assert!(Config::try_parse_from(["broker", flag, ok]).is_ok(), "{flag} {ok}");
        }
        let c = Config::try_parse_from(["broker", "--max-connections-per-ip", "0", "--max-messages-per-sec", "0"]).unwrap();
        assert_eq!((c.max_connections_per_ip, c.max_messages_per_sec), (0, 0), "no limit");
        // An empty token (an empty variable, most often) is refused, and the error says where
        // an empty one comes from.
        let err = Config::try_parse_from(["broker", "--publish-token", ""]).expect_err("an empty token").to_string();
        assert!(err.contains("an empty BROKER_PUBLISH_TOKEN counts: unset it"), "{err}");
    }
}
