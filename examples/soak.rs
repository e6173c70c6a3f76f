//! The soak: the real broker (release binary, its state on disk), several viewers, a producer at
//! a steady rate and a headless wall-screen dashboard, run for a long time with a fault every few
//! minutes, sampling memory and counts, ending with a pass/fail summary. `scripts/soak` builds
//! what it needs and runs it; `--help` lists the options.
//!
//! What it proves, at the end of the run:
//! - every change the producer was told was broadcast is in the broker's catalog, and the
//!   dashboard's catalog equals it;
//! - every viewer holds every `seq` from the first to the last (live, or replayed by `sync` after
//!   a reconnect), none out of order on a connection, the numbering never restarted;
//! - the dashboard shows no gap marker, the broker holds no dead connection, graceful stops exit
//!   0;
//! - nothing grew past its bound: the feed within its cap, the page's DOM, wasm memory and JS heap
//!   level off (each measured after a forced garbage collection), and the broker's RSS too.

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    soak::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod soak {
    use std::collections::{BTreeMap, BTreeSet};
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use futures_util::{SinkExt, StreamExt};
    use furniture_faultproxy::{Fault, FaultProxy};
    use furniture_dashboard::state::catalog_view::CARD_PAGE;
    use furniture_notify::{Action, Furniture, ProducerMessage};
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;

    use super::support::{Browser, BrokerProcess, Dashboard};

    fn usage() -> String {
        format!(
            "\
Runs the broker, viewers, a producer and a headless wall-screen dashboard for a long time with
periodic faults, then prints a pass/fail summary (exit status 0 on pass, 1 on fail, 2 on a usage or
set-up error). Results go to target/soak/ (samples.jsonl, summary.json, broker.log).

Options:
  --minutes M       how long to run (default 60)
  --rate R          changes per second from the producer (default 20)
  --viewers V       viewers besides the dashboard, half through the fault proxy (default 8)
  --items N         distinct catalog items the changes touch (default and at most {CARD_PAGE},
                    the cards the dashboard draws before \"show more\")
  --fault-every S   seconds between faults (default 120)
  --sample-every S  seconds between samples (default 15)

Faults, in turn: proxy blackhole (15 s), broker SIGKILL and restart, page offline (10 s), proxy
reset, broker SIGTERM and restart, page frozen (10 s), proxy throttled to 2 KB/s (15 s)."
        )
    }

    struct Options {
        minutes: f64,
        rate: f64,
        viewers: usize,
        items: usize,
        fault_every: Duration,
        sample_every: Duration,
    }

    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            minutes: 60.0,
            rate: 20.0,
            viewers: 8,
            items: CARD_PAGE,
            fault_every: Duration::from_secs(120),
            sample_every: Duration::from_secs(15),
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Err(String::new());
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = |min: f64, max: f64| -> Result<f64, String> {
                match value.parse::<f64>() {
                    Ok(v) if v >= min && v <= max => Ok(v),
                    _ => Err(format!("{flag} {value}: expected a number from {min} to {max}")),
                }
            };
            match flag.as_str() {
                "--minutes" => o.minutes = number(0.5, 10_000.0)?,
                "--rate" => o.rate = number(0.1, 1000.0)?,
                "--viewers" => o.viewers = number(0.0, 200.0)? as usize,
                "--items" => o.items = number(1.0, CARD_PAGE as f64)? as usize,
                "--fault-every" => o.fault_every = Duration::from_secs_f64(number(5.0, 86_400.0)?),
                "--sample-every" => o.sample_every = Duration::from_secs_f64(number(1.0, 3_600.0)?),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(o)
    }

    pub fn main() -> ExitCode {
        let options = match parse(std::env::args().skip(1)) {
            Ok(o) => o,
            Err(e) if e.is_empty() => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("soak: {e}\n\n{}", usage());
                return ExitCode::from(2);
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        match runtime.block_on(run(options)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("soak: {e}");
                ExitCode::from(2)
            }
        }
    }

    fn out_dir() -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| super::support::root().join("target"));
        target.join("soak")
    }

    /// What one viewer has seen, read by the sampler and the final checks.
    #[derive(Default)]
    struct ViewerState {
        /// Every `seq` received, live or replayed (a few bytes each: at 20 changes a second, an
        /// hour is 72,000 of them).
        seqs: BTreeSet<u64>,
        stream: Option<String>,
        stream_changes: u64,
        out_of_order: u64,
        incomplete_syncs: u64,
        connections: u64,
        synced: bool,
    }

    /// A viewer: connects, asks `sync` for what it missed since its last `seq`, records every
    /// notification, pings when the line is quiet and reconnects when nothing comes back.
    async fn viewer(url: String, state: Arc<Mutex<ViewerState>>, stop: Arc<AtomicBool>) {
        let mut backoff = Duration::from_millis(100);
        while !stop.load(Ordering::Relaxed) {
            let ws = match tokio::time::timeout(Duration::from_secs(3), tokio_tungstenite::connect_async(url.as_str())).await {
                Ok(Ok((ws, _))) => ws,
                _ => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            state.lock().unwrap().connections += 1;
            let (mut tx, mut rx) = ws.split();
            // Live notifications that arrive before the sync reply wait for it.
            let mut pending: Vec<u64> = Vec::new();
            let mut synced = false;
            let mut last_live = 0u64;
            let mut quiet = 0;
            while !stop.load(Ordering::Relaxed) {
                let frame = match tokio::time::timeout(Duration::from_secs(4), rx.next()).await {
                    Err(_) => {
                        quiet += 1;
                        if quiet >= 3 || tx.send(Message::text(r#"{"type":"ping"}"#)).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => break,
                    Ok(Some(Ok(_))) => continue,
                };
                quiet = 0;
                let Ok(v) = serde_json::from_str::<Value>(&frame) else { continue };
                match v["type"].as_str() {
                    Some("connection") => {
                        let stream = v["stream"].as_str().map(str::to_owned);
                        let since = {
                            let mut s = state.lock().unwrap();
                            if s.stream.is_some() && s.stream != stream {
                                s.stream_changes += 1;
                            }
                            s.stream = stream;
                            s.seqs.last().copied()
                        };
                        let ask = match since {
                            Some(seq) => json!({"type": "sync", "since": seq}),
                            None => json!({"type": "sync"}),
                        };
                        if tx.send(Message::text(ask.to_string())).await.is_err() {
                            break;
                        }
                    }
                    Some("furniture_notification") => {
                        let Some(seq) = v["seq"].as_u64() else { continue };
                        let mut s = state.lock().unwrap();
                        if seq <= last_live {
                            s.out_of_order += 1;
                        }
                        last_live = seq;
                        if synced {
                            s.seqs.insert(seq);
                        } else {
                            pending.push(seq);
                        }
                    }
                    Some("sync") => {
                        let mut s = state.lock().unwrap();
                        if v["complete"] == json!(false) {
                            s.incomplete_syncs += 1;
                        }
                        for missed in v["missed"].as_array().into_iter().flatten() {
                            if let Some(seq) = missed["seq"].as_u64() {
                                s.seqs.insert(seq);
                            }
                        }
                        s.seqs.extend(pending.drain(..));
                        s.synced = true;
                        synced = true;
                    }
                    _ => {}
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), tx.close()).await;
        }
    }

    /// Sends one change on a connection of its own, as the catalog's back end does, and waits for
    /// it to come back broadcast: its `seq`, or why not.
    async fn publish(url: &str, msg: &ProducerMessage) -> Result<u64, String> {
        let (mut ws, _) = tokio::time::timeout(Duration::from_secs(3), tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| format!("connect: {e}"))?;
        ws.send(Message::text(msg.encode())).await.map_err(|e| format!("send: {e}"))?;
        let id = msg.furniture.0.get("furniture_id").cloned().unwrap_or(Value::Null);
        let nombre = msg.furniture.0.get("nombre").cloned().unwrap_or(Value::Null);
        let confirmed = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(frame) = ws.next().await {
                let text = match frame {
                    Ok(Message::Text(text)) => text,
                    Ok(_) => continue,
                    Err(e) => return Err(format!("read: {e}")),
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                if v["type"] == "error" {
                    return Err(format!("refused: {}", v["message"]));
                }
                if v["type"] == "furniture_notification"
                    && v["action"] == msg.action.as_str()
                    && v["furniture"]["furniture_id"] == id
                    && v["furniture"]["nombre"] == nombre
                {
                    return v["seq"].as_u64().ok_or_else(|| "a notification without seq".to_owned());
                }
            }
            Err("closed before the change came back".to_owned())
        })
        .await
        .map_err(|_| "no confirmation within 5 s".to_owned())?;
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        confirmed
    }

    #[derive(Default)]
    struct ProducerState {
        /// What the producer was told is broadcast: id → name, deleted items absent.
        model: BTreeMap<String, String>,
        acknowledged: u64,
        retries: u64,
        last_error: Option<String>,
        last_id: Option<String>,
    }

    const NAMES: [&str; 8] =
        ["Mesa de comedor", "Silla Windsor", "Estantería", "Cómoda", "Aparador", "Banco", "Vitrina", "Escritorio"];
    const MATERIALS: [&str; 6] = ["roble", "pino", "haya", "nogal", "cerezo", "teca"];

    /// A steady stream of changes over `items` items; each one retried until the broker confirms
    /// it (broadcasting the same change twice leaves the catalog the same).
    async fn producer(url: String, rate: f64, items: usize, state: Arc<Mutex<ProducerState>>, stop: Arc<AtomicBool>) {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            n += 1;
            let r = next();
            let id = format!("soak-{}", r % items as u64);
            let exists = state.lock().unwrap().model.contains_key(&id);
            let action = match (exists, (r >> 32) % 5) {
                (false, _) => Action::Created,
                (true, 0) => Action::Deleted,
                (true, _) => Action::Updated,
            };
            let nombre = format!("{} {n}", NAMES[(r >> 8) as usize % NAMES.len()]);
            let material = MATERIALS[(r >> 16) as usize % MATERIALS.len()];
            let furniture = Furniture::new(&id, &nombre, "Prueba de resistencia", 40 + (r >> 24) as i64 % 160, 120, material, "soak");
            let msg = ProducerMessage { action, furniture };
            let started = Instant::now();
            loop {
                match publish(&url, &msg).await {
                    Ok(_) => break,
                    Err(e) => {
                        let mut s = state.lock().unwrap();
                        s.retries += 1;
                        s.last_error = Some(e);
                    }
                }
                if started.elapsed() > Duration::from_secs(120) {
                    // The broker has been away for two minutes: the run has failed anyway; the
                    // final checks will say the catalogs differ.
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let mut s = state.lock().unwrap();
            s.acknowledged += 1;
            s.last_id = Some(id.clone());
            match action {
                Action::Deleted => s.model.remove(&id),
                _ => s.model.insert(id, nombre),
            };
        }
    }

    /// The broker's own catalog and last `seq`, from a `sync` on a fresh connection.
    async fn broker_catalog(addr: SocketAddr) -> Result<(BTreeMap<String, String>, u64), String> {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await.map_err(|e| e.to_string())?;
        ws.send(Message::text(r#"{"type":"sync"}"#)).await.map_err(|e| e.to_string())?;
        let reply = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(frame)) = ws.next().await {
                if let Message::Text(text) = frame {
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        if v["type"] == "sync" {
                            return Some(v);
                        }
                    }
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or("no sync reply")?;
        let _ = ws.close(None).await;
        let catalog = reply["catalog"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let f = &e["furniture"];
                (f["furniture_id"].as_str().unwrap_or("?").to_owned(), f["nombre"].as_str().unwrap_or("?").to_owned())
            })
            .collect();
        Ok((catalog, reply["seq"].as_u64().unwrap_or(0)))
    }

    /// One metric's value from the broker's `/metrics`.
    async fn metrics(addr: SocketAddr) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        let Ok(Ok(mut tcp)) = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await else {
            return out;
        };
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let mut body = String::new();
        let read = async {
            tcp.write_all(request.as_bytes()).await?;
            tcp.read_to_string(&mut body).await
        };
        if tokio::time::timeout(Duration::from_secs(5), read).await.is_err() {
            return out;
        }
        for line in body.lines() {
            if let Some((name, value)) = line.split_once(' ') {
                if let (Some(name), Ok(value)) = (name.strip_prefix("furniture_broker_"), value.parse::<f64>()) {
                    out.insert(name.to_owned(), value);
                }
            }
        }
        out
    }

    fn rss_bytes(pid: u32) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse::<f64>().ok()?;
        Some(kb * 1024.0)
    }

    /// Runs in the page before its scripts: keeps the wasm instance to read its memory.
    const PRELOAD: &str = "addEventListener('TrunkApplicationStarted', e => { window.__soakWasm = e.detail && e.detail.wasm; });";

    const PAGE_SAMPLE: &str = "const w = window.__soakWasm; return {
        state: document.querySelector('[data-testid=connection-status]')?.dataset.state ?? null,
        wasm: w && w.memory ? w.memory.buffer.byteLength : null,
        js: performance.memory ? performance.memory.usedJSHeapSize : null,
        nodes: document.getElementsByTagName('*').length,
        feed: document.querySelectorAll('[data-testid=feed-item]').length,
        gaps: document.querySelectorAll('[data-testid=feed-item][data-action=gap]').length,
        cards: document.querySelectorAll('[data-testid=catalog-item]:not([data-deleted])').length,
        toasts: document.querySelectorAll('[data-testid=toast]').length,
        newest: document.querySelector('[data-testid=feed-item]')?.dataset.furnitureId ?? null };";

    const PAGE_CATALOG: &str = "return [...document.querySelectorAll('[data-testid=catalog-item]:not([data-deleted])')]
        .map(c => [c.dataset.furnitureId, c.querySelector('.card-name')?.textContent ?? '']);";

    async fn page_value(page: &Dashboard, script: &str) -> Value {
        tokio::time::timeout(Duration::from_secs(10), page.eval(script)).await.unwrap_or(Value::Null)
    }

    async fn page_catalog(page: &Dashboard) -> BTreeMap<String, String> {
        page_value(page, PAGE_CATALOG)
            .await
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p[0].as_str().unwrap_or("?").to_owned(), p[1].as_str().unwrap_or("?").to_owned()))
            .collect()
    }

    /// Everything the system and the page hold, once.
    async fn sample(
        started: Instant,
        broker: &BrokerProcess,
        page: &Dashboard,
        viewers: &[Arc<Mutex<ViewerState>>],
        producer: &Mutex<ProducerState>,
        faults: usize,
    ) -> Value {
        // Collected first, so that the heap figures are what is alive, not what is garbage.
        let _ = tokio::time::timeout(Duration::from_secs(10), page.cdp("HeapProfiler.collectGarbage", json!({}))).await;
        let m = metrics(broker.addr).await;
        let p = page_value(page, PAGE_SAMPLE).await;
        let (acknowledged, retries, model_items) = {
            let s = producer.lock().unwrap();
            (s.acknowledged, s.retries, s.model.len())
        };
        let viewer_seqs: Vec<usize> = viewers.iter().map(|v| v.lock().unwrap().seqs.len()).collect();
        json!({
            "t_s": started.elapsed().as_secs(),
            "broker": {"rss": rss_bytes(broker.pid()), "connections": m.get("connections"),
                       "queued_frames": m.get("queued_frames"), "max_queue_depth": m.get("max_queue_depth"),
                       "slow_consumer_disconnects": m.get("slow_consumer_disconnects_total")},
            "page": p,
            "producer": {"acknowledged": acknowledged, "retries": retries, "items": model_items},
            "viewer_seqs": viewer_seqs,
            "faults": faults,
        })
    }

    fn mb(bytes: f64) -> String {
        format!("{:.1} MB", bytes / 1_048_576.0)
    }

    fn progress(s: &Value) {
        let t = s["t_s"].as_u64().unwrap_or(0);
        let min_seqs = s["viewer_seqs"].as_array().and_then(|a| a.iter().filter_map(Value::as_u64).min()).unwrap_or(0);
        println!(
            "[{:02}:{:02}] acked {:>6}  retries {:>3}  viewers ≥ {:>6} seqs  page {} {} cards, feed {}, wasm {}, heap {}, {} nodes  broker {} {} conns  faults {}",
            t / 60,
            t % 60,
            s["producer"]["acknowledged"],
            s["producer"]["retries"],
            min_seqs,
            s["page"]["state"].as_str().unwrap_or("?"),
            s["page"]["cards"],
            s["page"]["feed"],
            s["page"]["wasm"].as_f64().map(mb).unwrap_or("?".into()),
            s["page"]["js"].as_f64().map(mb).unwrap_or("?".into()),
            s["page"]["nodes"],
            s["broker"]["rss"].as_f64().map(mb).unwrap_or("?".into()),
            s["broker"]["connections"],
            s["faults"],
        );
    }

    const FAULTS: [&str; 7] =
        ["proxy-blackhole", "broker-kill", "page-offline", "proxy-reset", "broker-restart", "page-frozen", "proxy-throttle"];

    struct System {
        bin: PathBuf,
        addr: SocketAddr,
        data: PathBuf,
        log: PathBuf,
        broker: Option<BrokerProcess>,
        proxy: FaultProxy,
    }

    impl System {
        async fn start_broker(&mut self) {
            self.broker = Some(BrokerProcess::start_with(&self.bin, self.addr, &self.data, &[], Some(&self.log)).await);
        }
        fn broker(&self) -> &BrokerProcess {
            self.broker.as_ref().expect("the broker runs between faults")
        }
    }

    /// Runs one fault to its end; returns what went wrong, if anything.
    async fn fault(kind: &str, sys: &mut System, page: &Dashboard) -> Option<String> {
        let network = |offline: bool| json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1});
        match kind {
            "proxy-blackhole" => {
                sys.proxy.set_open(Fault::Blackhole);
                tokio::time::sleep(Duration::from_secs(15)).await;
            }
            "broker-kill" => {
                sys.broker.take().expect("a broker").kill();
                tokio::time::sleep(Duration::from_secs(2)).await;
                sys.start_broker().await;
            }
            "page-offline" => {
                page.cdp("Network.emulateNetworkConditions", network(true)).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
                page.cdp("Network.emulateNetworkConditions", network(false)).await;
            }
            "proxy-reset" => sys.proxy.set_open(Fault::Reset),
            "broker-restart" => {
                let began = Instant::now();
                let status = sys.broker.take().expect("a broker").terminate().await;
                let took = began.elapsed();
                tokio::time::sleep(Duration::from_secs(1)).await;
                sys.start_broker().await;
                match status {
                    Some(s) if s.success() && took <= Duration::from_secs(5) => {}
                    Some(s) => return Some(format!("graceful stop: {s} after {took:?}")),
                    None => return Some("graceful stop: still running after SIGTERM".into()),
                }
            }
            "page-frozen" => {
                page.cdp("Page.setWebLifecycleState", json!({"state": "frozen"})).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
                page.cdp("Page.setWebLifecycleState", json!({"state": "active"})).await;
            }
            "proxy-throttle" => {
                sys.proxy.set_open(Fault::Throttle { bytes_per_sec: 2_000 });
                tokio::time::sleep(Duration::from_secs(15)).await;
                sys.proxy.set_open(Fault::Pass);
            }
            other => return Some(format!("unknown fault {other}")),
        }
        None
    }

    /// The largest value in the part of `series` (time, value) from `from` to `to` (fractions of
    /// the run).
    fn max_between(series: &[(f64, f64)], from: f64, to: f64) -> Option<f64> {
        let end = series.last()?.0;
        series.iter().filter(|(t, _)| *t >= from * end && *t <= to * end).map(|(_, v)| *v).reduce(f64::max)
    }

    /// A level-off check: the last quarter's peak against the second quarter's (after warm-up),
    /// allowing `ratio` and `slack`.
    fn levels_off(name: &str, series: &[(f64, f64)], ratio: f64, slack: f64, unit: fn(f64) -> String) -> (bool, String) {
        match (max_between(series, 0.25, 0.5), max_between(series, 0.75, 1.0)) {
            (Some(early), Some(late)) => {
                let bound = early * ratio + slack;
                (late <= bound, format!("{name}: peak {} in the second quarter, {} in the last (bound {})", unit(early), unit(late), unit(bound)))
            }
            _ => (false, format!("{name}: not measured")),
        }
    }

    async fn run(o: Options) -> Result<bool, String> {
        let bin = BrokerProcess::binary().ok_or("no broker binary (scripts/soak builds it)")?;
        let browser = Browser::start().await.ok_or("no ChromeDriver or no dist/ (scripts/soak builds the dashboard)")?;
        let out = out_dir();
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let proxy = FaultProxy::start(addr).await.map_err(|e| format!("fault proxy: {e}"))?;
        let mut sys = System { bin, addr, data: out.join("data"), log: out.join("broker.log"), broker: None, proxy };
        sys.start_broker().await;
        println!(
            "soak: {} min, {} changes/s over {} items, {} viewers, a fault every {:?}; broker on {addr}, proxy on {}; results in {}",
            o.minutes, o.rate, o.items, o.viewers, o.fault_every, sys.proxy.addr, out.display()
        );

        let stop = Arc::new(AtomicBool::new(false));
        let viewers: Vec<Arc<Mutex<ViewerState>>> = (0..o.viewers).map(|_| Arc::default()).collect();
        let mut tasks = Vec::new();
        for (i, state) in viewers.iter().enumerate() {
            let url = if i % 2 == 0 { format!("ws://{addr}") } else { format!("ws://{}", sys.proxy.addr) };
            tasks.push(tokio::spawn(viewer(url, state.clone(), stop.clone())));
        }
        let page_url = format!("http://{addr}/?kiosk&linger=5&ws=ws://{}/", sys.proxy.addr);
        let page = Dashboard::open_with(&browser, &page_url, Some(PRELOAD)).await;
        page.cdp("Network.enable", json!({})).await;
        page.cdp("Page.enable", json!({})).await;
        let ready = Instant::now();
        while !(viewers.iter().all(|v| v.lock().unwrap().synced)
            && page_value(&page, "return document.querySelector('[data-testid=connection-status]')?.dataset.state").await == "live")
        {
            if ready.elapsed() > Duration::from_secs(30) {
                return Err("the viewers and the page did not connect within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let producer_state = Arc::new(Mutex::new(ProducerState::default()));
        let producer_stop = Arc::new(AtomicBool::new(false));
        let producer_task =
            tokio::spawn(producer(format!("ws://{addr}"), o.rate, o.items, producer_state.clone(), producer_stop.clone()));

        let started = Instant::now();
        let end = started + Duration::from_secs_f64(o.minutes * 60.0);
        let mut samples_file = std::fs::File::create(out.join("samples.jsonl")).map_err(|e| e.to_string())?;
        let mut samples: Vec<Value> = Vec::new();
        let mut fault_log: Vec<Value> = Vec::new();
        let mut next_sample = started;
        let mut next_fault = started + o.fault_every;
        while Instant::now() < end {
            let now = Instant::now();
            if now >= next_sample {
                let s = sample(started, sys.broker(), &page, &viewers, &producer_state, fault_log.len()).await;
                progress(&s);
                use std::io::Write;
                let _ = writeln!(samples_file, "{s}");
                samples.push(s);
                next_sample += o.sample_every;
            }
            if now >= next_fault && now + Duration::from_secs(30) < end {
                let kind = FAULTS[fault_log.len() % FAULTS.len()];
                let at = started.elapsed().as_secs();
                let problem = fault(kind, &mut sys, &page).await;
                println!("         fault {kind} at {}:{:02}{}", at / 60, at % 60, problem.as_deref().map(|p| format!(": {p}")).unwrap_or_default());
                fault_log.push(json!({"at_s": at, "kind": kind, "problem": problem}));
                next_fault = Instant::now() + o.fault_every;
            }
            let wake = next_sample.min(next_fault).min(end);
            tokio::time::sleep(wake.saturating_duration_since(Instant::now()).min(Duration::from_secs(1))).await;
        }

        // The end: no more changes, every fault undone; then everyone must agree.
        producer_stop.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(150), producer_task).await;
        sys.proxy.set(Fault::Pass);
        println!("soak: the producer stopped; waiting for everyone to agree (at most 120 s)");
        let (model, acknowledged, retries, last_id) = {
            let s = producer_state.lock().unwrap();
            (s.model.clone(), s.acknowledged, s.retries, s.last_id.clone())
        };
        let settle = Instant::now();
        let (broker_view, final_seq, page_view, missing, connections) = loop {
            let (catalog, seq) = broker_catalog(addr).await.unwrap_or_default();
            let page_view = page_catalog(&page).await;
            let missing: Vec<usize> = viewers
                .iter()
                .map(|v| {
                    let v = v.lock().unwrap();
                    (1..=seq).filter(|s| !v.seqs.contains(s)).count()
                })
                .collect();
            let connections = metrics(addr).await.get("connections").copied().unwrap_or(-1.0);
            let agreed = catalog == model && page_view == model && missing.iter().all(|m| *m == 0);
            // The page and the viewers; the sync connection above has closed by now or is closing.
            let tidy = connections <= (o.viewers + 1) as f64;
            if (agreed && tidy) || settle.elapsed() > Duration::from_secs(120) {
                break (catalog, seq, page_view, missing, connections);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let settled_in = settle.elapsed();
        let last = sample(started, sys.broker(), &page, &viewers, &producer_state, fault_log.len()).await;
        progress(&last);
        samples.push(last.clone());
        stop.store(true, Ordering::Relaxed);

        // The checks.
        let mut checks: Vec<(bool, String)> = Vec::new();
        let diff = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
            let mut d: Vec<String> = Vec::new();
            for (k, v) in a {
                match b.get(k) {
                    None => d.push(format!("{k} only in the first")),
                    Some(w) if w != v => d.push(format!("{k}: {v:?} vs {w:?}")),
                    _ => {}
                }
            }
            d.extend(b.keys().filter(|k| !a.contains_key(*k)).map(|k| format!("{k} only in the second")));
            d.truncate(5);
            d.join("; ")
        };
        checks.push((
            broker_view == model,
            format!(
                "broker catalog equals every acknowledged change ({} items after {acknowledged} changes, {retries} retries while the broker was away) {}",
                model.len(),
                diff(&model, &broker_view)
            ),
        ));
        checks.push((page_view == model, format!("dashboard catalog equals the broker's ({} cards) {}", page_view.len(), diff(&model, &page_view))));
        checks.push((
            final_seq >= acknowledged,
            format!("seq went on across restarts without reuse: last seq {final_seq} for {acknowledged} acknowledged changes"),
        ));
        let (stream_changes, out_of_order, incomplete, reconnects) = viewers.iter().fold((0, 0, 0, 0), |acc, v| {
            let v = v.lock().unwrap();
            (acc.0 + v.stream_changes, acc.1 + v.out_of_order, acc.2 + v.incomplete_syncs, acc.3 + v.connections)
        });
        checks.push((
            missing.iter().all(|m| *m == 0) && out_of_order == 0 && incomplete == 0 && stream_changes == 0,
            format!(
                "every viewer has every notification 1..={final_seq}: missing per viewer {missing:?}, out of order {out_of_order}, incomplete syncs {incomplete}, numbering restarted {stream_changes}, connections made {reconnects}"
            ),
        ));
        let page_now = &last["page"];
        checks.push((
            page_now["state"] == "live" && page_now["gaps"] == 0 && page_now["newest"].as_str() == last_id.as_deref(),
            format!(
                "dashboard live, no gap marker, newest feed item the last change: state {}, gap markers {}, newest {} (last change {})",
                page_now["state"], page_now["gaps"], page_now["newest"], last_id.as_deref().unwrap_or("none")
            ),
        ));
        checks.push((connections <= (o.viewers + 1) as f64, format!("no dead connection held: {connections} open for {} viewers and the page", o.viewers)));
        let fault_problems: Vec<&Value> = fault_log.iter().filter(|f| !f["problem"].is_null()).collect();
        checks.push((fault_problems.is_empty(), format!("{} faults survived; problems: {fault_problems:?}", fault_log.len())));
        let series = |f: &dyn Fn(&Value) -> Option<f64>| -> Vec<(f64, f64)> {
            samples.iter().filter_map(|s| Some((s["t_s"].as_f64()?, f(s)?))).collect()
        };
        let max_feed = series(&|s| s["page"]["feed"].as_f64()).iter().map(|p| p.1).fold(0.0, f64::max);
        let max_toasts = series(&|s| s["page"]["toasts"].as_f64()).iter().map(|p| p.1).fold(0.0, f64::max);
        checks.push((max_feed <= 500.0 && max_toasts <= 8.0, format!("feed within its cap of 500 (peak {max_feed}), toasts within bounds (peak {max_toasts})")));
        let count = |v: f64| format!("{v:.0}");
        checks.push(levels_off("page DOM nodes", &series(&|s| s["page"]["nodes"].as_f64()), 1.1, 300.0, count));
        checks.push(levels_off("page wasm memory", &series(&|s| s["page"]["wasm"].as_f64()), 1.1, 2.0 * 1_048_576.0, mb));
        checks.push(levels_off("page JS heap", &series(&|s| s["page"]["js"].as_f64()), 1.25, 2.0 * 1_048_576.0, mb));
        checks.push(levels_off("broker RSS", &series(&|s| s["broker"]["rss"].as_f64()), 1.25, 8.0 * 1_048_576.0, mb));

        let passed = checks.iter().all(|c| c.0);
        println!("\nsoak: {} after {:.1} min (everyone agreed {settled_in:.1?} after the producer stopped)", if passed { "PASS" } else { "FAIL" }, started.elapsed().as_secs_f64() / 60.0);
        for (ok, what) in &checks {
            println!("  {} {what}", if *ok { "pass" } else { "FAIL" });
        }
        let summary = json!({
            "passed": passed,
            "minutes": o.minutes, "rate": o.rate, "viewers": o.viewers, "items": o.items,
            "fault_every_s": o.fault_every.as_secs_f64(),
            "checks": checks.iter().map(|(ok, what)| json!({"passed": ok, "check": what})).collect::<Vec<_>>(),
            "faults": fault_log,
            "settled_s": settled_in.as_secs_f64(),
        });
        let _ = std::fs::write(out.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap());
        page.close().await;
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        if let Some(b) = sys.broker.take() {
            let _ = b.terminate().await;
        }
        Ok(passed)
    }
}
