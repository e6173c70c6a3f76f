//! 1,000 viewers reconnecting after a broker restart, each with the dashboard's own backoff
//! (`state::connection::Backoff`, full jitter): every one gets back, and they come back spread
//! out, not in lockstep.

#![cfg(not(target_arch = "wasm32"))]

use std::net::SocketAddr;
use std::time::Duration;

use furniture_broker::{run, Config};
use furniture_dashboard::state::connection::Backoff;
use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const VIEWERS: usize = 1_000;
/// How long the broker stays down between stop and start.
const DOWN: Duration = Duration::from_millis(500);

fn start_broker(listener: tokio::net::TcpListener) -> (CancellationToken, tokio::task::JoinHandle<std::io::Result<()>>) {
    let mut config = Config::on(listener.local_addr().unwrap());
    config.max_connections_per_ip = 2 * VIEWERS;
    config.max_connections = 2 * VIEWERS;
    let shutdown = CancellationToken::new();
    (shutdown.clone(), tokio::spawn(run(listener, config, shutdown)))
}

/// A small deterministic generator per viewer (xorshift64*), in [0, 1).
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A viewer: connects, reads until the broker goes away, then reconnects as the dashboard does
/// (a jittered delay before every attempt) and, once back, returns when it tried the attempt
/// that brought it back, and which attempt that was.
async fn viewer(addr: SocketAddr, seed: u64, connected: tokio::sync::mpsc::Sender<()>) -> (Instant, u32) {
    let url = format!("ws://{addr}");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("the first connection");
    let _ = connected.send(()).await;
    while let Some(Ok(_)) = ws.next().await {}
    let mut backoff = Backoff::default();
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    loop {
        let (attempt, delay_ms) = backoff.next_delay(random.next());
        tokio::time::sleep(Duration::from_secs_f64(delay_ms / 1000.0)).await;
        // When it tried (what the jitter spreads), not when the welcome came (which a busy
        // machine bunches up).
        let at = Instant::now();
        if let Ok(Ok((mut ws, _))) = tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(&url)).await {
            // Back once the welcome arrives.
            if let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                // Stay connected until the test ends, as a dashboard would.
                tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
                return (at, attempt);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_viewers_come_back_after_a_restart_spread_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, broker) = start_broker(listener);

    let (connected_tx, mut connected) = tokio::sync::mpsc::channel(VIEWERS);
    let viewers: Vec<_> = (0..VIEWERS as u64).map(|i| tokio::spawn(viewer(addr, i + 1, connected_tx.clone()))).collect();
    for _ in 0..VIEWERS {
        tokio::time::timeout(Duration::from_secs(60), connected.recv()).await.expect("every viewer connects").unwrap();
    }

    // Stop (every viewer gets 1001), stay down, start again on the same port.
    shutdown.cancel();
    let stopped = Instant::now();
    broker.await.unwrap().unwrap();
    let stop_took = stopped.elapsed();
    tokio::time::sleep_until(stopped + DOWN).await;
    let listener = tokio::net::TcpListener::bind(addr).await.expect("the port again");
    let restarted = Instant::now();
    let (shutdown, broker) = start_broker(listener);

    let mut back_ms = Vec::with_capacity(VIEWERS);
    let mut attempts = Vec::with_capacity(VIEWERS);
    for v in viewers {
        // Attempts 1 to 4 wait at most 1 + 2 + 4 + 8 s; the bound leaves room for a busy machine.
        let (at, attempt) = tokio::time::timeout(Duration::from_secs(60), v).await.expect("every viewer gets back").unwrap();
        back_ms.push(at.saturating_duration_since(restarted).as_secs_f64() * 1000.0);
        attempts.push(attempt);
    }
    back_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| back_ms[((back_ms.len() - 1) as f64 * p) as usize];
    // The busiest 100 ms after the restart, as a share of all viewers.
    let mut busiest = 0;
    for (i, &t) in back_ms.iter().enumerate() {
        let within = back_ms[i..].iter().take_while(|&&u| u < t + 100.0).count();
        busiest = busiest.max(within);
    }
    let first_try = attempts.iter().filter(|&&a| a == 1).count();
    eprintln!(
        "{VIEWERS} viewers back after a {} ms outage (stopping took {} ms): p10 {:.0} ms, p50 {:.0} ms, p90 {:.0} ms, last {:.0} ms after the restart; \
         busiest 100 ms: {busiest} viewers; {first_try} back at the first attempt",
        restarted.duration_since(stopped).as_millis(),
        stop_took.as_millis(),
        pct(0.1),
        pct(0.5),
        pct(0.9),
        pct(1.0),
    );
    // Lockstep would put them all in one instant; full jitter spreads them over seconds.
    assert!(busiest <= VIEWERS / 4, "{busiest} of {VIEWERS} viewers came back within the same 100 ms");
    assert!(pct(0.9) - pct(0.1) >= 500.0, "the middle 80 % came back within {:.0} ms", pct(0.9) - pct(0.1));
    shutdown.cancel();
    let _ = broker.await;
}
