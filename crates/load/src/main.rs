//! `furniture-load`: drives a running broker and measures it. Every run is bounded in time and
//! count, prints a table, and can write JSON (`--json`). The broker's CPU and memory are read
//! from `/proc` (found by name, or `--broker-pid`), and this tool's own CPU is reported beside
//! them, so nobody mistakes the tool's limit for the broker's.

mod meter;
mod stamped;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use meter::{mb, percentiles, round1, Sampler};
use stamped::Stamped;

type Ws = WebSocketStream<Stamped>;

#[derive(Parser)]
#[command(name = "furniture-load", version, about = "Load generator and meter for the furniture notification broker")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// The broker to drive (a publish token in it is never printed).
    #[arg(long, global = true, env = "WEBSOCKET_URL", hide_env_values = true, default_value = "ws://127.0.0.1:8765")]
    url: String,
    /// Process id of the broker, for its CPU and memory [default: the one running
    /// `furniture-broker`, if there is exactly one].
    #[arg(long, global = true)]
    broker_pid: Option<u32>,
    /// Also write the results to this file as JSON.
    #[arg(long, global = true)]
    json: Option<std::path::PathBuf>,
    /// Spread client connections over this many source addresses 127.0.0.1, 127.0.0.2, ... (for
    /// loopback brokers; each address has its own ~28,000 ephemeral ports).
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=250))]
    sources: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Viewers and producers: per-message producer→viewer latency, delivered fraction, order,
    /// deliveries per second. Latency is taken when a viewer reads each message (`latency`)
    /// and, for one viewer in seven, when the message reached its socket (`latency_socket`, the
    /// kernel's receive time), which leaves out this tool's own delays.
    Fanout(Fanout),
    /// Idle connections held open: memory per connection and connect rate.
    Connections(Connections),
    /// A new connection for every message, as the Python producer does it: messages per second.
    PerMessage(PerMessage),
}

#[derive(Args)]
struct Fanout {
    /// Viewer connections.
    #[arg(long, default_value_t = 1000)]
    viewers: usize,
    /// Producer connections sharing the rate, at least 1.
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    producers: usize,
    /// Messages per second from all producers together; 0 sends as fast as the broker accepts.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 30.0, value_parser = seconds)]
    duration: f64,
    /// Extra bytes of description in each message.
    #[arg(long, default_value_t = 0)]
    payload: usize,
    /// Seconds to wait after sending for the viewers to receive everything.
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    drain: f64,
    /// Another broker sharing state with --url's (through Redis); repeat for more. Viewers are
    /// spread evenly over --url and these; producers stay on --url.
    #[arg(long = "viewer-url")]
    viewer_urls: Vec<String>,
    /// Another process to report CPU and memory of (another broker, redis-server); repeatable.
    #[arg(long = "also-pid")]
    also_pids: Vec<u32>,
    /// Items put in the catalog before the run (ids `fill-<n>`, each with --payload bytes of
    /// description), for the syncers to fetch.
    #[arg(long, default_value_t = 0)]
    prefill: usize,
    /// Connections that ask for the whole catalog (`sync` in parts, as the dashboard does when
    /// it connects) again as soon as each reply has arrived, for as long as the run sends (the
    /// broker answers each in its turn past its --max-syncs-per-minute).
    #[arg(long, default_value_t = 0)]
    syncers: usize,
    /// The syncers ask without parts (`{"type":"sync"}`), as a client other than the dashboard
    /// may: the whole catalog in one frame, each reply a copy of its own.
    #[arg(long)]
    syncers_whole: bool,
    /// Every viewer asks for the whole catalog once as the sending starts, as dashboards do
    /// when they all come back after a restart (the replies are not counted as deliveries).
    #[arg(long)]
    viewers_sync: bool,
}

#[derive(Args)]
struct Connections {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds to hold them open once all are connected (at least half a second).
    #[arg(long, default_value_t = 3.0, value_parser = seconds)]
    hold: f64,
}

#[derive(Args)]
struct PerMessage {
    /// Messages, each on its own connection.
    #[arg(long, default_value_t = 20_000)]
    count: u64,
    /// Connections in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// A number of seconds from 0 to a day (a run is bounded in time).
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err("a number of seconds from 0 to 86400".to_owned()),
    }
}

/// Deliveries a run may record latencies for; beyond it they are counted, not timed.
const MAX_SAMPLES: usize = 50_000_000;

/// One client in this many (the first, the eighth, ...) also takes each message's latency at its
/// socket, from the kernel's receive time: that figure leaves out the time this tool, sharing the
/// machine with the broker, takes to get round to reading. Not every client, as the receive times
/// cost the tool CPU the broker then lacks.
const STAMP_EVERY: usize = 7;

/// Each client's WebSocket read buffer, as the broker's (`READ_BUFFER_BYTES` there).
const READ_BUFFER_BYTES: usize = 4096;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let target = match Target::resolve(&cli.common.url, cli.common.sources).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("furniture-load: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Said before the run, not after it: a process that is not there, a file that cannot be written.
    if let Some(pid) = cli.common.broker_pid.filter(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
        eprintln!("furniture-load: --broker-pid {pid}: no such process");
        return std::process::ExitCode::from(2);
    }
    if let Some(path) = &cli.common.json {
        if let Err(e) = std::fs::write(path, "") {
            eprintln!("furniture-load: --json {}: cannot write it: {e}", path.display());
            return std::process::ExitCode::from(2);
        }
    }
    let broker_pid = cli.common.broker_pid.or_else(meter::find_broker);
    if broker_pid.is_none() {
        eprintln!("furniture-load: broker process not found (give --broker-pid); its CPU and memory are not reported");
    }
    let report = match cli.command {
        Command::Fanout(a) => fanout(&target, a, broker_pid).await,
        Command::Connections(a) => connections(&target, a, broker_pid).await,
        Command::PerMessage(a) => per_message(&target, a, broker_pid).await,
    };
    print_table(&report, "");
    if let Some(path) = cli.common.json {
        if let Err(e) = std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default() + "\n") {
            eprintln!("furniture-load: cannot write {}: {e}", path.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    if report["ok"] == json!(true) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn print_table(v: &Value, prefix: &str) {
    if let Value::Object(m) = v {
        for (k, v) in m {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                Value::Object(_) => print_table(v, &key),
                other => println!("{key:<44} {other}"),
            }
        }
    }
}

/// Where the broker is, and which source addresses clients use.
struct Target {
    url: String,
    /// `url` without its secrets, for the table and the messages.
    shown: String,
    addr: SocketAddr,
    sources: u8,
}

impl Target {
    async fn resolve(url: &str, sources: u8) -> Result<Target, String> {
        let shown = furniture_notify::shown_url(url);
        let rest = url.strip_prefix("ws://").ok_or_else(|| format!("{shown}: only ws:// URLs are supported"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let addr = tokio::net::lookup_host(authority)
            .await
            .map_err(|e| format!("cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority} has no address"))?;
        Ok(Target { url: url.to_owned(), shown: shown.clone(), addr, sources })
    }

    /// Opens a WebSocket from source address number `i` (loopback brokers only).
    async fn open(&self, i: usize) -> Result<Ws, String> {
        let socket = match self.addr.ip() {
            IpAddr::V4(v4) => {
                let s = TcpSocket::new_v4().map_err(|e| e.to_string())?;
                if v4.is_loopback() && self.sources > 1 {
                    let src = Ipv4Addr::new(127, 0, 0, 1 + (i % self.sources as usize) as u8);
                    s.bind(SocketAddr::new(src.into(), 0)).map_err(|e| format!("bind {src}: {e}"))?;
                }
                s
            }
            IpAddr::V6(_) => TcpSocket::new_v6().map_err(|e| e.to_string())?,
        };
        let stream = socket.connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let stream = if i % STAMP_EVERY == 0 {
            Stamped::new(stream).map_err(|e| format!("receive timestamps: {e}"))?
        } else {
            Stamped::plain(stream)
        };
        // A small read buffer: tungstenite zeroes all of it on every read attempt (128 KiB by
        // default), and at a fixed rate every message costs two attempts.
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        let (ws, _) = tokio_tungstenite::client_async_with_config(self.url.as_str(), stream, Some(config))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        Ok(ws)
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The number given to the quoted `key` in `text` (its first or, with `last`, its last
/// occurrence), with or without spaces around the colon: the Python broker writes `": "`.
fn number_of(text: &str, key: &str, last: bool) -> Option<u64> {
    let at = if last { text.rfind(key) } else { text.find(key) }? + key.len();
    let rest = text[at..].trim_start_matches(' ').strip_prefix(':')?.trim_start_matches(' ');
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

const SEQ: &str = r#""seq""#;
const SENT_NS: &str = r#""sent_ns""#;

/// What every message of run `run` carries in its `furniture_id` (`"load-<run>-`), however the
/// broker spaces its JSON.
fn run_marker(run: u64) -> String {
    format!(r#""load-{run}-"#)
}

/// What the messages of producer `p` of run `run` carry.
fn producer_marker(run: u64, p: usize) -> String {
    format!(r#""load-{run}-{p}-"#)
}

/// Message `n` of producer `p`: an update of one of its 1000 items, stamped with its send time.
fn load_message(run: u64, p: usize, n: u64, payload: &str) -> String {
    let sent = unix_nanos();
    format!(
        r#"{{"type":"furniture_updated","furniture":{{"furniture_id":"load-{run}-{p}-{}","nombre":"Carga {n}","descripcion":"{payload}","altura":75,"ancho":120,"material":"pino","sent_ns":{sent}}}}}"#,
        n % 1000
    )
}

/// What one viewer saw of this run's messages.
#[derive(Default)]
struct Seen {
    received: u64,
    /// Deliveries that carried a seq, whose order was checked.
    order_checked: u64,
    out_of_order: u64,
    latencies_us: Vec<u32>,
    /// Send → arrival in this viewer's socket (the kernel's receive time), for the same messages;
    /// stamped clients only ([`STAMP_EVERY`]).
    arrivals_us: Vec<u32>,
    ended: Option<String>,
}

async fn view(mut ws: Ws, marker: Arc<str>, mut stop: watch::Receiver<bool>, progress: Arc<AtomicU64>, timed: Arc<AtomicU64>) -> Seen {
    let mut seen = Seen::default();
    let mut last_seq = 0;
    // Made once: a wait made anew for every message registers and unregisters with the channel.
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = &mut stopped => break,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => {
                seen.ended = Some(format!("closed by the broker: {f:?}"));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                seen.ended = Some(e.to_string());
                break;
            }
            None => {
                seen.ended = Some("connection ended".to_owned());
                break;
            }
        };
        // A catalog (`sync`, `sync_part`) holds this run's items, not its messages.
        if text.starts_with(r#"{"type":"sync"#) || !text.contains(&*marker) {
            continue;
        }
        let now = unix_nanos();
        seen.received += 1;
        progress.fetch_add(1, Ordering::Relaxed);
        // The seq is this project's broker's (the Python broker sends none: order is not checked).
        if let Some(seq) = number_of(&text, SEQ, true) {
            seen.order_checked += 1;
            if seq <= last_seq {
                seen.out_of_order += 1;
            }
            last_seq = seq;
        }
        if let Some(sent) = number_of(&text, SENT_NS, false) {
            if (timed.fetch_add(1, Ordering::Relaxed) as usize) < MAX_SAMPLES {
                let us = |at: u64| (at.saturating_sub(sent) / 1000).min(u32::MAX as u64) as u32;
                seen.latencies_us.push(us(now));
                if let Some(at) = ws.get_ref().received_ns() {
                    seen.arrivals_us.push(us(at));
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
    seen
}

/// Opens `n` connections, `concurrency` at a time; returns them in order with failures counted.
async fn open_many(target: &Target, n: usize, concurrency: usize) -> (Vec<Ws>, Vec<String>) {
    let results: Vec<Result<Ws, String>> = futures_util::stream::iter(0..n)
        .map(|i| async move {
            let mut ws = target.open(i).await?;
            // The welcome.
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => Ok(ws),
                other => Err(format!("no welcome: {other:?}")),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(ws) => ok.push(ws),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

fn first_errors(errors: &[String]) -> Value {
    json!(errors.iter().take(3).collect::<Vec<_>>())
}

async fn fanout(target: &Target, a: Fanout, broker_pid: Option<u32>) -> Value {
    let run = unix_nanos() % 1_000_000_007;
    let marker: Arc<str> = run_marker(run).into();
    let mut targets = vec![Target { url: target.url.clone(), shown: target.shown.clone(), addr: target.addr, sources: target.sources }];
    for url in &a.viewer_urls {
        match Target::resolve(url, target.sources).await {
            Ok(t) => targets.push(t),
            Err(e) => return json!({"ok": false, "scenario": "fanout", "error": e}),
        }
    }
    // Before anyone connects who would not read it.
    if a.prefill > 0 {
        eprintln!("fanout: putting {} items in the catalog", a.prefill);
        if let Err(e) = prefill(target, a.prefill, &"x".repeat(a.payload)).await {
            return json!({"ok": false, "scenario": "fanout", "error": format!("prefill: {e}")});
        }
    }
    let urls: Vec<&str> = targets.iter().map(|t| t.shown.as_str()).collect();
    eprintln!("fanout: connecting {} viewers to {} and {} producer(s) to {}", a.viewers, urls.join(", "), a.producers, target.shown);
    let mut viewers = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let share = a.viewers / targets.len() + usize::from(i < a.viewers % targets.len());
        let (ok, failed) = open_many(t, share, 256).await;
        viewers.extend(ok);
        errors.extend(failed);
    }
    let (producers, producer_errors) = open_many(target, a.producers, 16).await;
    if producers.is_empty() {
        let why = producer_errors.first().cloned().unwrap_or_default();
        return json!({"ok": false, "scenario": "fanout", "error": format!("no producer could connect to {}: {why}", target.shown)});
    }
    errors.extend(producer_errors);
    let (syncer_sockets, syncer_errors) = open_many(target, a.syncers, 16).await;
    errors.extend(syncer_errors);
    let viewer_count = viewers.len() as u64;
    let (stop_tx, stop_rx) = watch::channel(false);
    let syncs = Arc::new(AtomicU64::new(0));
    let ask = if a.syncers_whole { r#"{"type":"sync"}"# } else { r#"{"type":"sync","parts":true}"# };
    let syncers: Vec<_> = syncer_sockets.into_iter().map(|ws| tokio::spawn(syncer(ws, ask, stop_rx.clone(), syncs.clone()))).collect();
    let progress = Arc::new(AtomicU64::new(0));
    let timed = Arc::new(AtomicU64::new(0));
    if a.viewers_sync {
        for ws in &mut viewers {
            if let Err(e) = ws.send(Message::text(r#"{"type":"sync","parts":true}"#)).await {
                errors.push(format!("sync: {e}"));
            }
        }
    }
    let views: Vec<_> = viewers
        .into_iter()
        .map(|ws| tokio::spawn(view(ws, marker.clone(), stop_rx.clone(), progress.clone(), timed.clone())))
        .collect();

    let broker = broker_pid.map(|p| Sampler::start(&p.to_string()));
    let others: Vec<(u32, Sampler)> = a.also_pids.iter().map(|p| (*p, Sampler::start(&p.to_string()))).collect();
    let tool = Sampler::start("self");
    let payload = "x".repeat(a.payload);
    let per_producer = if a.rate > 0.0 { a.rate / producers.len().max(1) as f64 } else { 0.0 };
    let duration = Duration::from_secs_f64(a.duration.max(0.0));
    let counter = Arc::new(AtomicU64::new(0));
    let most_unechoed = Arc::new(AtomicU64::new(0));
    eprintln!(
        "fanout: sending {} for {:.0} s",
        if a.rate > 0.0 { format!("{} msg/s", a.rate) } else { "flat out".to_owned() },
        a.duration
    );
    let started = Instant::now();
    let sends: Vec<_> = producers
        .into_iter()
        .enumerate()
        .map(|(p, ws)| {
            let (counter, payload, most) = (counter.clone(), payload.clone(), most_unechoed.clone());
            tokio::spawn(produce(ws, run, p, per_producer, duration, counter, most, payload))
        })
        .collect();
    let mut producer_errors = Vec::new();
    for s in sends {
        if let Ok(Err(e)) = s.await {
            producer_errors.push(e);
        }
    }
    let send_secs = started.elapsed().as_secs_f64();
    let sent = counter.load(Ordering::Relaxed);
    let syncs_answered = syncs.load(Ordering::Relaxed);
    for s in &syncers {
        s.abort();
    }
    // Wait for the viewers to receive everything (bounded).
    let expected = sent * viewer_count;
    let drain_deadline = Instant::now() + Duration::from_secs_f64(a.drain.max(0.0));
    while progress.load(Ordering::Relaxed) < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered_secs = started.elapsed().as_secs_f64();
    let tool_usage = tool.finish();
    let broker_usage = broker.map(Sampler::finish);
    let others: Vec<Value> = others.into_iter().map(|(pid, s)| json!({"pid": pid, "usage": s.finish().to_json()})).collect();
    let _ = stop_tx.send(true);
    let mut received = 0;
    let mut out_of_order = 0;
    let mut order_checked = 0;
    let mut cut_off = Vec::new();
    let mut latencies = Vec::new();
    let mut arrivals = Vec::new();
    for v in views {
        if let Ok(seen) = v.await {
            received += seen.received;
            out_of_order += seen.out_of_order;
            order_checked += seen.order_checked;
            if let Some(e) = seen.ended {
                cut_off.push(e);
            }
            latencies.extend(seen.latencies_us);
            arrivals.extend(seen.arrivals_us);
        }
    }
    let delivered_fraction = if expected > 0 { received as f64 / expected as f64 } else { 0.0 };
    json!({
        "ok": errors.is_empty() && producer_errors.is_empty() && received == expected && out_of_order == 0,
        "scenario": "fanout",
        "viewers": viewer_count,
        "producers": a.producers,
        "rate_asked": if a.rate > 0.0 { json!(a.rate) } else { json!("flat out") },
        "payload_bytes": a.payload,
        "sent": sent,
        "send_seconds": round1(send_secs),
        "messages_per_second": round1(sent as f64 / send_secs.max(1e-9)),
        "deliveries_expected": expected,
        "deliveries": received,
        "delivered_fraction": (delivered_fraction * 1e6).round() / 1e6,
        "deliveries_per_second": round1(received as f64 / delivered_secs.max(1e-9)),
        "out_of_order": out_of_order,
        "order_checked": order_checked,
        "latency": percentiles(&mut latencies),
        "latency_socket": percentiles(&mut arrivals),
        "connect_errors": errors.len(),
        "first_connect_errors": first_errors(&errors),
        "producer_errors": first_errors(&producer_errors),
        "most_unechoed_per_producer": most_unechoed.load(Ordering::Relaxed),
        "viewers_cut_off": cut_off.len(),
        "catalog_prefilled": a.prefill,
        "syncers": a.syncers,
        "syncers_whole": a.syncers_whole,
        "syncs_answered": syncs_answered,
        "viewers_synced": a.viewers_sync,
        "broker": broker_usage.map_or(Value::Null, |u| u.to_json()),
        "brokers": urls,
        "others": others,
        "tool": tool_usage.to_json(),
    })
}

/// Puts `count` items in the catalog, a window of them at a time on one connection, and waits
/// for the last one's echo.
async fn prefill(target: &Target, count: usize, payload: &str) -> Result<(), String> {
    let mut ws = target.open(0).await?;
    let mut echoed = 0;
    for i in 0..count {
        let msg = format!(r#"{{"type":"furniture_created","furniture":{{"furniture_id":"fill-{i}","nombre":"Relleno {i}","descripcion":"{payload}","altura":75,"ancho":120,"material":"pino"}}}}"#);
        ws.send(Message::text(msg)).await.map_err(|e| e.to_string())?;
        while i + 1 - echoed > FLAT_OUT_WINDOW as usize || (i + 1 == count && echoed < count) {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains(r#""fill-"#) => echoed += 1,
                Ok(Some(Ok(_))) => {}
                other => return Err(format!("no echo: {other:?}")),
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// Asks for the catalog with `ask`, reads the reply to its end, and asks again, until `stop`;
/// counts the replies.
async fn syncer(mut ws: Ws, ask: &'static str, mut stop: watch::Receiver<bool>, syncs: Arc<AtomicU64>) {
    if ws.send(Message::text(ask)).await.is_err() {
        return;
    }
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = stop.changed() => return,
        };
        match msg {
            Some(Ok(Message::Text(t))) if t.starts_with(r#"{"type":"sync","#) => {
                syncs.fetch_add(1, Ordering::Relaxed);
                if ws.send(Message::text(ask)).await.is_err() {
                    return;
                }
            }
            Some(Ok(_)) => {}
            _ => return,
        }
    }
}

/// Messages a flat-out producer may have sent that the broker has not yet sent back to it.
/// Brokers fan each message out to the sender too, so the echo shows how far fan-out has got:
/// the producer goes exactly as fast as the broker delivers, and no viewer's queue (4096 by
/// default) is pushed to its limit by the tool itself.
const FLAT_OUT_WINDOW: u64 = 256;

/// Sends load messages at `rate` per second for `duration`, or with `rate` 0 as fast as the
/// broker delivers them (see [`FLAT_OUT_WINDOW`]), reading the broker's echoes so it is never cut
/// off as slow.
/// Producer `p`'s greatest number of messages sent and not yet echoed goes into `most_unechoed`.
#[allow(clippy::too_many_arguments)]
async fn produce(ws: Ws, run: u64, p: usize, rate: f64, duration: Duration, counter: Arc<AtomicU64>, most_unechoed: Arc<AtomicU64>, payload: String) -> Result<(), String> {
    let (mut sink, mut stream) = ws.split();
    // Its own messages' echoes only: another producer's say nothing of how far behind this one's are.
    let echoed = Arc::new(AtomicU64::new(0));
    // Publishes the broker refused (a token required, say): how many, and the first one's words.
    let refused = Arc::new(std::sync::Mutex::new((0u64, String::new())));
    let marker = producer_marker(run, p);
    let reader = {
        let (echoed, refused) = (echoed.clone(), refused.clone());
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m {
                    if t.contains(&marker) {
                        echoed.fetch_add(1, Ordering::Release);
                    } else if t.starts_with(r#"{"type":"error""#) {
                        let mut r = refused.lock().unwrap_or_else(|e| e.into_inner());
                        if r.0 == 0 {
                            let v: Value = serde_json::from_str(&t).unwrap_or_default();
                            r.1 = format!("{}: {}", v["reason"].as_str().unwrap_or("?"), v["message"].as_str().unwrap_or("?"));
                        }
                        r.0 += 1;
                    }
                }
            }
        })
    };
    let started = Instant::now();
    let mut sent: u64 = 0;
    let result = async {
        while started.elapsed() < duration {
            if reader.is_finished() {
                return Err("the broker closed the producer's connection".to_owned());
            }
            let due = if rate > 0.0 {
                (started.elapsed().as_secs_f64() * rate) as u64 + 1
            } else {
                echoed.load(Ordering::Acquire) + FLAT_OUT_WINDOW
            };
            if due <= sent {
                if rate > 0.0 {
                    tokio::time::sleep(Duration::from_micros(500)).await;
                } else {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            for _ in sent..due {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                sink.feed(Message::text(load_message(run, p, n, &payload))).await.map_err(|e| e.to_string())?;
            }
            sink.flush().await.map_err(|e| e.to_string())?;
            sent = due;
            most_unechoed.fetch_max(sent.saturating_sub(echoed.load(Ordering::Acquire)), Ordering::Relaxed);
        }
        Ok(())
    }
    .await;
    // A clean close: the broker reads everything sent before the close frame, then answers it
    // and the reader ends. Dropping the socket at once, with echoes still unread, resets the
    // connection, and the broker's kernel then throws away whatever it had not read yet.
    let mut reader = reader;
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    if tokio::time::timeout(Duration::from_secs(5), &mut reader).await.is_err() {
        reader.abort();
    }
    let (count, first) = refused.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if count > 0 {
        return Err(format!("the broker refused {count} publish(es), the first with {first}"));
    }
    result
}

async fn connections(target: &Target, a: Connections, broker_pid: Option<u32>) -> Value {
    let broker = broker_pid.map(|p| Sampler::start(&p.to_string()));
    let rss_before = broker.as_ref().map_or(0, Sampler::rss_now);
    let tool = Sampler::start("self");
    eprintln!("connections: opening {} from {} source address(es)", a.count, target.sources);
    let started = Instant::now();
    let (open, errors) = open_many(target, a.count, a.concurrency).await;
    let connect_secs = started.elapsed().as_secs_f64();
    // Keep them alive (answering the broker's pings) while holding.
    let (stop_tx, stop_rx) = watch::channel(false);
    let holders: Vec<_> = open
        .into_iter()
        .map(|mut ws| {
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        m = ws.next() => if !matches!(m, Some(Ok(_))) { return false },
                        _ = stop.changed() => return true,
                    }
                }
            })
        })
        .collect();
    let held = holders.len();
    tokio::time::sleep(Duration::from_secs_f64(a.hold.max(0.5))).await;
    let rss_held = broker.as_ref().map_or(0, Sampler::rss_now);
    let tool_usage = tool.finish();
    let _ = stop_tx.send(true);
    let mut still_open = 0;
    for h in holders {
        if let Ok(true) = h.await {
            still_open += 1;
        }
    }
    let broker_usage = broker.map(Sampler::finish);
    let per_conn = if held > 0 { (rss_held.saturating_sub(rss_before)) as f64 / held as f64 } else { 0.0 };
    json!({
        "ok": errors.is_empty() && still_open == a.count,
        "scenario": "connections",
        "asked": a.count,
        "connected": held,
        "still_open_after_hold": still_open,
        "connect_seconds": meter::round3(connect_secs),
        "connects_per_second": round1(held as f64 / connect_secs.max(1e-9)),
        "broker_rss_before_mb": mb(rss_before),
        "broker_rss_held_mb": mb(rss_held),
        "broker_bytes_per_connection": per_conn.round(),
        "connect_errors": errors.len(),
        "first_connect_errors": first_errors(&errors),
        "broker": broker_usage.map_or(Value::Null, |u| u.to_json()),
        "tool": tool_usage.to_json(),
    })
}

async fn per_message(target: &Target, a: PerMessage, broker_pid: Option<u32>) -> Value {
    let run = unix_nanos() % 1_000_000_007;
    let marker: Arc<str> = run_marker(run).into();
    let viewer = match target.open(0).await {
        Ok(mut ws) => {
            let _ = ws.next().await;
            ws
        }
        Err(e) => return json!({"ok": false, "scenario": "per_message", "error": e}),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let progress = Arc::new(AtomicU64::new(0));
    let timed = Arc::new(AtomicU64::new(0));
    let watcher = tokio::spawn(view(viewer, marker, stop_rx, progress.clone(), timed));
    let broker = broker_pid.map(|p| Sampler::start(&p.to_string()));
    let tool = Sampler::start("self");
    eprintln!("per-message: {} messages, a connection each, {} at a time", a.count, a.concurrency);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..a.concurrency.max(1))
        .map(|_| {
            let (next, failures) = (next.clone(), failures.clone());
            let target = Target { url: target.url.clone(), shown: target.shown.clone(), addr: target.addr, sources: target.sources };
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= a.count {
                        break;
                    }
                    // As the Python producer: open, send, close (waiting for the close handshake).
                    let one = async {
                        let mut ws = target.open(n as usize).await?;
                        ws.send(Message::text(load_message(run, 0, n, ""))).await.map_err(|e| e.to_string())?;
                        ws.close(None).await.map_err(|e| e.to_string())?;
                        while let Some(Ok(_)) = ws.next().await {}
                        Ok::<(), String>(())
                    };
                    if let Err(e) = tokio::time::timeout(Duration::from_secs(10), one).await.unwrap_or_else(|_| Err("timed out".into())) {
                        failures.lock().unwrap().push(e);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(10);
    let failed = failures.lock().unwrap().len() as u64;
    while progress.load(Ordering::Relaxed) < a.count - failed && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tool_usage = tool.finish();
    let broker_usage = broker.map(Sampler::finish);
    let _ = stop_tx.send(true);
    let mut seen = watcher.await.unwrap_or_default();
    let errors = failures.lock().unwrap().clone();
    json!({
        "ok": errors.is_empty() && seen.received == a.count && seen.out_of_order == 0,
        "scenario": "per_message",
        "messages": a.count,
        "concurrency": a.concurrency,
        "seconds": meter::round3(secs),
        "messages_per_second": round1((a.count - failed) as f64 / secs.max(1e-9)),
        "failed": failed,
        "first_failures": first_errors(&errors),
        "delivered_to_viewer": seen.received,
        "out_of_order": seen.out_of_order,
        "order_checked": seen.order_checked,
        "latency": percentiles(&mut seen.latencies_us),
        "broker": broker_usage.map_or(Value::Null, |u| u.to_json()),
        "tool": tool_usage.to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_message_is_a_producer_frame_with_its_send_time() {
        let text = load_message(7, 2, 1234, "ab");
        assert!(text.contains(&run_marker(7)) && text.contains(&producer_marker(7, 2)));
        assert!(!text.contains(&producer_marker(7, 1)) && !text.contains(&run_marker(8)));
        match furniture_protocol::decode_client(&text) {
            furniture_protocol::ClientFrame::Publish(m) => {
                assert_eq!(m.furniture.id().as_deref(), Some("load-7-2-234"));
                assert!(m.furniture.0["sent_ns"].as_u64().unwrap() > 1_700_000_000_000_000_000);
            }
            other => panic!("{other:?}"),
        }
        let n = r#"{"type":"furniture_notification","furniture":{"sent_ns":42,"seq":1},"seq":9001}"#;
        assert_eq!(number_of(n, SEQ, true), Some(9001));
        assert_eq!(number_of(n, SENT_NS, false), Some(42));
        assert_eq!(number_of(n, r#""nope""#, false), None);
    }

    /// The Python broker re-encodes with `json.dumps`, a space after every colon: its frames are
    /// counted and timed too (it sends no seq).
    #[test]
    fn a_python_brokers_frame_is_recognised() {
        let text = load_message(7, 0, 5, "");
        let record: Value = match furniture_protocol::decode_client(&text) {
            furniture_protocol::ClientFrame::Publish(m) => m.furniture.0.into(),
            other => panic!("{other:?}"),
        };
        let python = format!(r#"{{"type": "furniture_notification", "action": "updated", "furniture": {}, "message": "x", "timestamp": "2026-12-06T10:00:00"}}"#, python_spaced(&record));
        assert!(python.contains(&run_marker(7)) && python.contains(&producer_marker(7, 0)), "{python}");
        assert_eq!(number_of(&python, SENT_NS, false), record["sent_ns"].as_u64());
        assert_eq!(number_of(&python, SEQ, true), None);
    }

    /// `value` as Python's `json.dumps` writes it: `", "` and `": "` between items.
    fn python_spaced(value: &Value) -> String {
        match value {
            Value::Object(m) => {
                let items: Vec<String> = m.iter().map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), python_spaced(v))).collect();
                format!("{{{}}}", items.join(", "))
            }
            other => other.to_string(),
        }
    }
}
