//! `furniture-load` run as a person runs it, against this project's broker: what it reports
//! must add up.

use std::process::Command;

use furniture_broker::{run, Config};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

async fn start_broker() -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::on(addr);
    config.max_messages_per_sec = 0;
    let shutdown = CancellationToken::new();
    tokio::spawn(run(listener, config, shutdown.clone()));
    (format!("ws://{addr}"), shutdown)
}

/// Runs the tool with `args` and returns the JSON it wrote. One run at a time: each counts
/// what it gets done in its seconds, on two cores that another run flat out would take.
async fn load(url: &str, args: &[&str]) -> Value {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    // A directory per run: the tests run at once in one process.
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("furniture-load-test-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join(format!("{}.json", args[0]));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_furniture-load"));
    cmd.args(["--url", url, "--broker-pid", &std::process::id().to_string(), "--json"]).arg(&json).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "furniture-load {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_every_delivery_and_times_them_at_the_read_and_at_the_socket() {
    let (url, shutdown) = start_broker().await;
    let r = load(&url, &["fanout", "--viewers", "15", "--rate", "40", "--duration", "1"]).await;
    shutdown.cancel();

    assert_eq!(r["ok"], true, "{r:#}");
    let sent = r["sent"].as_u64().unwrap();
    assert!(sent >= 30, "sent {sent} in a second at 40/s");
    assert_eq!(r["deliveries"], sent * 15);
    assert_eq!(r["delivered_fraction"], 1.0);
    assert_eq!(r["out_of_order"], 0);
    // Every delivery is timed as read; those to viewers 0, 7 and 14 also at their sockets, but
    // for any that came before Linux had turned receive times on.
    assert_eq!(r["latency"]["samples"], sent * 15);
    let stamped = r["latency_socket"]["samples"].as_u64().unwrap();
    assert!(stamped <= sent * 3 && stamped >= sent * 3 * 9 / 10, "{stamped} stamped of {}", sent * 3);
    for p in ["p50_ms", "max_ms"] {
        let (socket, read) = (r["latency_socket"][p].as_f64().unwrap(), r["latency"][p].as_f64().unwrap());
        assert!((0.0..1000.0).contains(&socket), "{p} at the socket: {socket} ms");
        assert!((0.0..1000.0).contains(&read), "{p} as read: {read} ms");
    }
    assert!(r["broker"]["cpu_percent_of_one_core"].as_f64().is_some(), "{r:#}");
}

/// Several producers flat out: each keeps its own window of unechoed messages, so together
/// they go as fast as the broker delivers and every viewer gets every message, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_flat_out_each_wait_for_their_own_echoes() {
    let (url, shutdown) = start_broker().await;
    let r = load(&url, &["fanout", "--viewers", "4", "--producers", "3", "--rate", "0", "--duration", "1"]).await;
    shutdown.cancel();

    assert_eq!(r["ok"], true, "{r:#}");
    let sent = r["sent"].as_u64().unwrap();
    assert!(sent > 256 * 3, "sent {sent}");
    assert_eq!(r["deliveries"], sent * 4);
    assert_eq!(r["order_checked"], sent * 4);
    assert_eq!(r["viewers_cut_off"], 0);
}

/// A catalog put in first, fetched again and again by a syncer and once by every viewer: the
/// replies are counted as catalogs sent, and the run still counts exactly its own deliveries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs_fetched_meanwhile_are_not_counted_as_deliveries() {
    let (url, shutdown) = start_broker().await;
    let r = load(&url, &["fanout", "--viewers", "5", "--rate", "40", "--duration", "1", "--prefill", "300", "--payload", "600", "--syncers", "1", "--viewers-sync"]).await;
    shutdown.cancel();

    assert_eq!(r["ok"], true, "{r:#}");
    let sent = r["sent"].as_u64().unwrap();
    assert_eq!(r["deliveries"], sent * 5, "{r:#}");
    assert_eq!(r["catalog_prefilled"], 300);
    assert!(r["syncs_answered"].as_u64().unwrap() >= 1, "{r:#}");
}

/// A broker that refuses the producer (its token missing) is reported as such, not as a run
/// that delivered nothing for no reason; a process or a file that cannot be used, and a broker
/// nobody can reach, are said before any run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_what_cannot_work_are_said() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::on(addr);
    config.publish_token = Some("s3cret".parse().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(run(listener, config, shutdown.clone()));
    let tool = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_furniture-load")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let url = format!("ws://{addr}");
    let (code, said) = tool(&["--url", &url, "fanout", "--viewers", "1", "--rate", "20", "--duration", "1"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("the broker refused 20 publish(es), the first with token_required"), "{said}");
    assert!(!said.contains("s3cret"), "{said}");
    shutdown.cancel();

    let closed = format!("ws://127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let (code, said) = tool(&["--url", &closed, "fanout", "--viewers", "1", "--duration", "30"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("no producer could connect"), "{said}");
    assert!(!said.contains("sending"), "no run without a producer: {said}");
    for (args, says) in [
        (&["--broker-pid", "4294967295", "fanout"][..], "no such process"),
        (&["--json", "/nonexistent-folder/x.json", "fanout"][..], "cannot write it"),
        (&["fanout", "--producers", "0"][..], "--producers"),
    ] {
        let (code, said) = tool(&[&["--url", &closed][..], args].concat());
        assert_eq!(code, Some(2), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
    }
}
