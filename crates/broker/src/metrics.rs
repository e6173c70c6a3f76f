//! Counters and one histogram, served at `/metrics` in the Prometheus text format (version 0.0.4).
//!
//! Counting is a relaxed atomic add on the hot path; gauges that describe the hub (connections,
//! queue depths, catalog size) are read from it when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use furniture_protocol::Refusal;

use crate::close::CloseReason;

/// Why a connection was refused before it became a WebSocket client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnRefusal {
    /// `--max-connections` reached: HTTP 503.
    MaxConnections,
    /// `--max-connections-per-ip` reached: HTTP 429.
    PerIp,
    /// `Origin` not in `--allowed-origins`: HTTP 403.
    Origin,
    /// A publish token was presented and it is wrong: HTTP 401.
    BadToken,
    /// The request did not arrive within `--handshake-timeout-secs`: connection dropped.
    HandshakeTimeout,
    /// The broker is stopping: HTTP 503.
    ShuttingDown,
}

impl ConnRefusal {
    pub const ALL: [ConnRefusal; 6] = [
        ConnRefusal::MaxConnections,
        ConnRefusal::PerIp,
        ConnRefusal::Origin,
        ConnRefusal::BadToken,
        ConnRefusal::HandshakeTimeout,
        ConnRefusal::ShuttingDown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ConnRefusal::MaxConnections => "max_connections",
            ConnRefusal::PerIp => "max_connections_per_ip",
            ConnRefusal::Origin => "origin",
            ConnRefusal::BadToken => "bad_token",
            ConnRefusal::HandshakeTimeout => "handshake_timeout",
            ConnRefusal::ShuttingDown => "shutting_down",
        }
    }
}

/// Kinds of inbound frames, as counted.
#[derive(Debug, Clone, Copy)]
pub enum Inbound {
    Publish,
    Ping,
    Sync,
    Ignored,
}

const INBOUND: [(Inbound, &str); 4] =
    [(Inbound::Publish, "publish"), (Inbound::Ping, "ping"), (Inbound::Sync, "sync"), (Inbound::Ignored, "ignored")];

const REFUSALS: [Refusal; 4] = [Refusal::TokenRequired, Refusal::ProtectedMode, Refusal::Storage, Refusal::InDoubt];

const CLOSES: [CloseReason; 7] = [
    CloseReason::Shutdown,
    CloseReason::TooBig,
    CloseReason::InvalidUtf8,
    CloseReason::ProtocolError,
    CloseReason::PingTimeout,
    CloseReason::TooSlow,
    CloseReason::Restarting,
];

/// Upper bounds of the broadcast latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

/// A fixed-bucket histogram of durations.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_nanos.load(Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Lines of one kind logged per second at most; the rest are only counted (in `/metrics`), and the
/// next line logged says how many went unlogged. Refused connections come as fast as anyone can
/// open them, and a log written at that pace would hold up the broker.
pub const LOGGED_PER_SECOND: u32 = 10;

/// Decides whether a line of one kind may be logged now ([`LOGGED_PER_SECOND`]).
#[derive(Default)]
pub struct LogBudget {
    /// The second (since the budget's first use) being counted, lines logged in it, and lines
    /// not logged since the last one that was.
    state: std::sync::Mutex<(u64, u32, u64)>,
    started: std::sync::OnceLock<std::time::Instant>,
}

impl LogBudget {
    /// `Some(n)` when a line may be logged now, `n` the lines not logged since the last one.
    pub fn take(&self) -> Option<u64> {
        self.take_at(self.started.get_or_init(std::time::Instant::now).elapsed().as_secs())
    }

    /// [`LogBudget::take`] in the `second`th second since the first use.
    fn take_at(&self, second: u64) -> Option<u64> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (at, logged, unlogged) = &mut *st;
        if *at != second {
            (*at, *logged) = (second, 0);
        }
        if *logged < LOGGED_PER_SECOND {
            *logged += 1;
            Some(std::mem::take(unlogged))
        } else {
            *unlogged += 1;
            None
        }
    }
}

/// Every counter of one broker.
#[derive(Default)]
pub struct Metrics {
    /// Which refused connections are logged (see [`LogBudget`]).
    pub refusals_logged: LogBudget,
    pub connections_accepted: AtomicU64,
    refused: [AtomicU64; ConnRefusal::ALL.len()],
    inbound: [AtomicU64; INBOUND.len()],
    pub frames_out: AtomicU64,
    publishes_refused: [AtomicU64; REFUSALS.len()],
    closes: [AtomicU64; CLOSES.len()],
    pub throttled: AtomicU64,
    /// `sync` requests answered later, the connection above `--max-syncs-per-minute`.
    pub syncs_paced: AtomicU64,
    pub storage_errors: AtomicU64,
    pub reloads: AtomicU64,
    /// Creates broadcast but not kept: the catalog held `--max-catalog-items`, or the item would
    /// have taken it past `--max-catalog-bytes`.
    pub left_out: AtomicU64,
    /// Updates broadcast but not kept: the new record would have taken the catalog past
    /// `--max-catalog-bytes`.
    pub left_out_updates: AtomicU64,
    pub broadcast_latency: Histogram,
}

/// What the hub looks like at the moment of a scrape.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub connections: usize,
    pub queued_frames: usize,
    pub max_queue_depth: usize,
    pub seq: u64,
    pub catalog_items: usize,
    pub catalog_bytes: usize,
    pub history_len: usize,
    pub history_bytes: usize,
    pub storage_ok: bool,
}

impl Metrics {
    pub fn refused(&self, why: ConnRefusal) {
        let i = ConnRefusal::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.refused[i].fetch_add(1, Relaxed);
    }

    pub fn inbound(&self, kind: Inbound) {
        self.inbound[kind as usize].fetch_add(1, Relaxed);
    }

    pub fn publish_refused(&self, why: Refusal) {
        let i = REFUSALS.iter().position(|r| *r == why).unwrap_or(0);
        self.publishes_refused[i].fetch_add(1, Relaxed);
    }

    pub fn closed(&self, why: CloseReason) {
        let i = CLOSES.iter().position(|r| *r == why).unwrap_or(0);
        self.closes[i].fetch_add(1, Relaxed);
    }

    /// The whole page.
    pub fn render(&self, hub: &Snapshot) -> String {
        let mut out = String::with_capacity(4096);
        let p = "furniture_broker";
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} gauge\n{p}_{name} {value}");
        };
        gauge("connections", "Open WebSocket connections.", hub.connections as u64);
        gauge("queued_frames", "Frames waiting in all clients' send queues.", hub.queued_frames as u64);
        gauge("max_queue_depth", "Frames waiting in the fullest client send queue.", hub.max_queue_depth as u64);
        gauge("seq", "The last seq broadcast.", hub.seq);
        gauge("catalog_items", "Items in the broker's catalog.", hub.catalog_items as u64);
        gauge("catalog_bytes", "Bytes of the records in the broker's catalog, as --max-catalog-bytes counts them (their JSON).", hub.catalog_bytes as u64);
        gauge("history_notifications", "Notifications kept for clients that resync.", hub.history_len as u64);
        gauge("history_bytes", "Bytes of the notifications kept for clients that resync (at most --max-history-bytes).", hub.history_bytes as u64);
        gauge("storage_up", "1 when the last write or read of the state (file or Redis) succeeded, or state is in memory.", hub.storage_ok as u64);
        let mut counter = |name: &str, help: &str, rows: &[(Option<(&str, &str)>, u64)]| {
            let _ = writeln!(out, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} counter");
            for (label, value) in rows {
                match label {
                    Some((k, v)) => {
                        let _ = writeln!(out, "{p}_{name}{{{k}=\"{v}\"}} {value}");
                    }
                    None => {
                        let _ = writeln!(out, "{p}_{name} {value}");
                    }
                }
            }
        };
        let one = |a: &AtomicU64| vec![(None, a.load(Relaxed))];
        counter("connections_total", "WebSocket connections accepted (their upgrade done).", &one(&self.connections_accepted));
        let rows: Vec<_> = ConnRefusal::ALL
            .iter()
            .zip(&self.refused)
            .map(|(r, n)| (Some(("reason", r.label())), n.load(Relaxed)))
            .collect();
        counter("connections_refused_total", "Connections refused before they became clients, by reason.", &rows);
        let rows: Vec<_> =
            INBOUND.iter().zip(&self.inbound).map(|((_, l), n)| (Some(("kind", *l)), n.load(Relaxed))).collect();
        counter("messages_in_total", "Frames received from clients, by kind.", &rows);
        counter("messages_out_total", "Frames written to clients.", &one(&self.frames_out));
        let rows: Vec<_> = REFUSALS
            .iter()
            .zip(&self.publishes_refused)
            .map(|(r, n)| (Some(("reason", r.reason())), n.load(Relaxed)))
            .collect();
        counter("publishes_refused_total", "Publishes refused and not broadcast, by reason.", &rows);
        let codes: Vec<String> = CLOSES.iter().map(|c| c.code().to_string()).collect();
        let rows: Vec<_> =
            codes.iter().zip(&self.closes).map(|(c, n)| (Some(("code", c.as_str())), n.load(Relaxed))).collect();
        counter("closes_total", "Connections closed by the broker, by close code.", &rows);
        let slow = self.closes[CLOSES.iter().position(|c| *c == CloseReason::TooSlow).unwrap_or(0)].load(Relaxed);
        counter("slow_consumer_disconnects_total", "Clients cut off because their send queue was full.", &[(None, slow)]);
        counter("throttled_total", "Times a connection was slowed down for sending above its message rate.", &one(&self.throttled));
        counter("syncs_paced_total", "Sync requests answered later, their connection above --max-syncs-per-minute.", &one(&self.syncs_paced));
        counter("storage_errors_total", "Failed writes or reads of the state (the state file, or Redis).", &one(&self.storage_errors));
        counter("state_reloads_total", "Times the state was loaded again and every client asked to resync (1012).", &one(&self.reloads));
        counter("catalog_full_creates_total", "Creates broadcast but not kept in the catalog, which held --max-catalog-items or would have gone past --max-catalog-bytes.", &one(&self.left_out));
        counter("catalog_full_updates_total", "Updates broadcast but not kept in the catalog (the item keeps its last record), which would have gone past --max-catalog-bytes.", &one(&self.left_out_updates));
        self.broadcast_latency.render(
            &mut out,
            &format!("{p}_broadcast_seconds"),
            "Time from a publish frame read to its notification queued for every client (state written).",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    /// At most [`LOGGED_PER_SECOND`] lines a second; the first of the next second says how many
    /// were not logged.
    #[test]
    fn a_log_budget_lets_ten_lines_a_second_through_and_counts_the_rest() {
        let budget = LogBudget::default();
        let first: Vec<Option<u64>> = (0..25).map(|_| budget.take_at(7)).collect();
        assert_eq!(first.iter().filter(|t| **t == Some(0)).count(), 10, "{first:?}");
        assert_eq!(first.iter().filter(|t| t.is_none()).count(), 15, "{first:?}");
        assert_eq!(budget.take_at(8), Some(15), "the next second's first line says how many went unlogged");
        assert_eq!(budget.take_at(8), Some(0));
    }

    use super::*;

    #[test]
    fn the_page_is_prometheus_text_with_every_family_typed_once() {
        let m = Metrics::default();
        m.refused(ConnRefusal::PerIp);
        m.inbound(Inbound::Sync);
        m.publish_refused(Refusal::ProtectedMode);
        m.closed(CloseReason::TooSlow);
        m.broadcast_latency.observe(Duration::from_micros(70));
        m.broadcast_latency.observe(Duration::from_secs(1));
        let page = m.render(&Snapshot { connections: 3, storage_ok: true, ..Default::default() });
        assert!(page.contains("furniture_broker_connections 3\n"));
        assert!(page.contains("furniture_broker_connections_refused_total{reason=\"max_connections_per_ip\"} 1\n"));
        assert!(page.contains("furniture_broker_messages_in_total{kind=\"sync\"} 1\n"));
        assert!(page.contains("furniture_broker_publishes_refused_total{reason=\"protected_mode\"} 1\n"));
        assert!(page.contains("furniture_broker_closes_total{code=\"1008\"} 1\n"));
        assert!(page.contains("furniture_broker_slow_consumer_disconnects_total 1\n"));
        assert!(page.contains("furniture_broker_broadcast_seconds_bucket{le=\"0.00005\"} 0\n"));
        assert!(page.contains("furniture_broker_broadcast_seconds_bucket{le=\"0.0001\"} 1\n"));
        assert!(page.contains("furniture_broker_broadcast_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(page.contains("furniture_broker_broadcast_seconds_count 2\n"));
        let mut types = std::collections::HashSet::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert!(types.insert(rest.split(' ').next().unwrap().to_owned()), "typed twice: {line}");
            } else if !line.starts_with("# HELP ") {
                let (name, value) = line.rsplit_once(' ').unwrap();
                assert!(name.starts_with("furniture_broker_"), "{line}");
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
    }
}
