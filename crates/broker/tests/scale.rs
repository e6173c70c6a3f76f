//! Scale-out: the backend seam's contract, kept by both implementations (the embedded state file
//! and Redis), then several brokers sharing one Redis: publish on one, receive on all in one
//! order; resync through another broker; Redis going away and coming back under load; a broker
//! killed while the others carry on.
//!
//! Each test starts a `redis-server` of its own (scripts/setup installs it); without one they say
//! SKIPPED, or fail under FURNITURE_REQUIRE_ALL=1 as the project's test command sets.

use std::sync::Arc;
use std::time::Duration;

use furniture_broker::backend::{record_bytes, Backend, BackendError, Embedded};
use furniture_broker::redis::Redis;
use furniture_notify::{Action, NotifyError, ProducerMessage};
use furniture_protocol::{decode_server, Notification, ServerFrame};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::*;

fn draft(action: Action, id: &str, nombre: &str) -> Notification {
    Notification {
        action,
        furniture: mesa(id, nombre),
        message: format!("{} {nombre}", action.as_str()),
        timestamp: Some(furniture_broker::hub::now()),
        seq: None,
    }
}

fn seqs(batch: &[furniture_broker::backend::Committed]) -> Vec<u64> {
    batch.iter().map(|c| c.seq).collect()
}

/// What every backend does, whatever keeps the state: numbers commits one after the other,
/// reads them back in order as the frames clients get (with `seq` as their last key), applies
/// each to the catalog within its bound, and loads back exactly that state and the newest
/// history. `b` is new and empty, with a catalog bound of 2 items.
async fn keeps_the_contract(b: Arc<dyn Backend>) {
    let empty = b.load(10).await.unwrap();
    assert_eq!((empty.seq, empty.catalog.len(), empty.history.len()), (0, 0, 0));
    let stream = b.stream().await.unwrap();
    assert_eq!(stream, empty.stream);
    assert_eq!(stream.len(), 16, "the numbering's id: {stream}");

    assert_eq!(b.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
    assert_eq!(b.commit(draft(Action::Created, "b", "Silla")).await, Ok(2));
    assert_eq!(b.commit(draft(Action::Created, "c", "Banco")).await, Ok(3), "committed, though the catalog is full");
    assert_eq!(b.commit(draft(Action::Updated, "a", "Mesa XL")).await, Ok(4));
    assert_eq!(b.commit(draft(Action::Deleted, "b", "Silla")).await, Ok(5));
    let mut no_id = draft(Action::Created, "x", "Sin id");
    no_id.furniture.0.remove("furniture_id");
    assert_eq!(b.commit(no_id).await, Ok(6));

    let all = b.read_after(0, Duration::ZERO).await.unwrap();
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5, 6]);
    for c in &all {
        assert!(c.frame.ends_with(&format!(",\"seq\":{}}}", c.seq)), "{}", c.frame);
        let ServerFrame::Notification(n) = decode_server(&c.frame) else { panic!("not a notification: {}", c.frame) };
        assert_eq!(n.seq, Some(c.seq));
    }
    assert_eq!(seqs(&b.read_after(4, Duration::ZERO).await.unwrap()), [5, 6]);
    let waited = std::time::Instant::now();
    assert!(b.read_after(6, Duration::from_millis(300)).await.unwrap().is_empty(), "nothing after the last");
    assert!(waited.elapsed() < Duration::from_secs(2), "waits at most about `wait`");

    let loaded = b.load(3).await.unwrap();
    assert_eq!(loaded.seq, 6);
    assert_eq!(loaded.stream, stream, "the same numbering");
    let items: Vec<(String, Option<String>, Option<u64>)> =
        loaded.catalog.iter().map(|e| (e.furniture.id().unwrap(), e.furniture.nombre(), e.seq)).collect();
    assert_eq!(items, [("a".to_owned(), Some("Mesa XL".to_owned()), Some(4))], "c never fitted, b was deleted");
    assert_eq!(loaded.history.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(loaded.history[0].1, all[3].frame, "history holds the frames exactly as broadcast");
}

#[tokio::test]
async fn the_embedded_backend_keeps_the_contract() {
    let dir = std::env::temp_dir().join(format!("furniture-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    keeps_the_contract(Arc::new(Embedded::open(Some(&dir), 10, usize::MAX, 2, usize::MAX, 16).unwrap())).await;
    // Opened again, the file holds the same state.
    let again = Embedded::open(Some(&dir), 10, usize::MAX, 2, usize::MAX, 16).unwrap();
    let loaded = again.load(10).await.unwrap();
    assert_eq!((loaded.seq, loaded.catalog.len(), loaded.history.len()), (6, 1, 6));
    drop(again);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_redis_backend_keeps_the_contract() {
    let Some(redis) = RedisServer::start().await else { return };
    keeps_the_contract(Arc::new(Redis::connect(&redis.url(), 10, 2, usize::MAX).await.unwrap())).await;
    // A second connection (another broker) sees the same state.
    let other = Redis::connect(&redis.url(), 10, 2, usize::MAX).await.unwrap();
    let loaded = other.load(10).await.unwrap();
    assert_eq!((loaded.seq, loaded.catalog.len(), loaded.history.len()), (6, 1, 6));
}

/// What every backend does at `--max-catalog-bytes`: a create or an update whose record would
/// take the catalog past its bytes is committed (and read back, to be broadcast) but not kept,
/// an item updated so keeping its last record; a deletion makes room again. Exactly at the
/// bound fits. `b` is new and empty, its catalog bound to [`catalog_bytes_bound`] bytes.
async fn keeps_the_catalog_within_its_bytes(b: Arc<dyn Backend>) {
    let size = |nombre: &str| record_bytes(&mesa("a", nombre));
    assert!(b.load(10).await.unwrap().catalog.is_empty());
    assert_eq!(b.commit(draft(Action::Created, "a", "Mesa")).await, Ok(1));
    assert_eq!(b.commit(draft(Action::Created, "b", "Silla")).await, Ok(2));
    // "c" would need one byte more than is left.
    assert_eq!(b.commit(draft(Action::Created, "c", "Banco")).await, Ok(3), "committed though it does not fit");
    assert_eq!(b.commit(draft(Action::Updated, "a", "Mesa alta")).await, Ok(4), "committed though it does not fit");
    assert_eq!(b.commit(draft(Action::Updated, "b", "Sillon")).await, Ok(5), "one byte more: exactly at the bound");
    assert_eq!(b.commit(draft(Action::Deleted, "b", "Sillon")).await, Ok(6));
    assert_eq!(b.commit(draft(Action::Created, "c", "Banco")).await, Ok(7), "room again");
    assert_eq!(seqs(&b.read_after(0, Duration::ZERO).await.unwrap()), [1, 2, 3, 4, 5, 6, 7], "every change is read back");
    let loaded = b.load(10).await.unwrap();
    let mut items: Vec<(String, Option<String>)> = loaded.catalog.iter().map(|e| (e.furniture.id().unwrap(), e.furniture.nombre())).collect();
    items.sort();
    assert_eq!(items, [("a".to_owned(), Some("Mesa".to_owned())), ("c".to_owned(), Some("Banco".to_owned()))]);
    assert!(size("Mesa") + size("Banco") <= catalog_bytes_bound());
}

/// The bytes [`keeps_the_catalog_within_its_bytes`] bounds its catalog to: "Mesa" and "Silla" and
/// one byte, so that "Banco" (a byte longer than "Mesa") does not fit beside them, nor "Mesa
/// alta" for "Mesa", and "Sillon" for "Silla" exactly does.
fn catalog_bytes_bound() -> usize {
    record_bytes(&mesa("a", "Mesa")) + record_bytes(&mesa("b", "Silla")) + 1
}

#[tokio::test]
async fn the_embedded_backend_keeps_the_catalog_within_its_bytes() {
    let dir = std::env::temp_dir().join(format!("furniture-bytes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    keeps_the_catalog_within_its_bytes(Arc::new(Embedded::open(Some(&dir), 10, usize::MAX, 100, catalog_bytes_bound(), 16).unwrap())).await;
    // Opened again, the room is counted from the file: "b" does not fit beside "a" and "c".
    let again = Embedded::open(Some(&dir), 10, usize::MAX, 100, catalog_bytes_bound(), 16).unwrap();
    again.load(10).await.unwrap();
    assert_eq!(again.commit(draft(Action::Created, "b", "Silla")).await, Ok(8));
    drop(again);
    let again = Embedded::open(Some(&dir), 10, usize::MAX, 100, catalog_bytes_bound(), 16).unwrap();
    assert_eq!(again.load(10).await.unwrap().catalog.len(), 2, "b was not kept");
    drop(again);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_redis_backend_keeps_the_catalog_within_its_bytes() {
    let Some(redis) = RedisServer::start().await else { return };
    keeps_the_catalog_within_its_bytes(Arc::new(Redis::connect(&redis.url(), 10, 100, catalog_bytes_bound()).await.unwrap())).await;
    // A catalog written before its sizes were kept counts each item once as its frame's length.
    let mut con = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL").arg("furniture:catalog_sizes").arg("furniture:catalog_bytes").query_async(&mut con).await.unwrap();
    let b = Redis::connect(&redis.url(), 10, 100, usize::MAX).await.unwrap();
    assert_eq!(b.commit(draft(Action::Created, "d", "Mesa")).await, Ok(8));
    let frames: Vec<String> = redis::cmd("HVALS").arg("furniture:catalog").query_async(&mut con).await.unwrap();
    let counted: u64 = redis::cmd("GET").arg("furniture:catalog_bytes").query_async(&mut con).await.unwrap();
    let (a_c, d) = (frames.iter().filter(|f| !f.contains(r#""furniture_id":"d""#)).map(String::len).sum::<usize>(), record_bytes(&mesa("d", "Mesa")));
    assert_eq!(counted as usize, a_c + d);
    // An item taken out of the catalog by hand: its size goes at the next commit.
    let _: () = redis::cmd("HDEL").arg("furniture:catalog").arg("d").query_async(&mut con).await.unwrap();
    assert_eq!(b.commit(draft(Action::Deleted, "x", "Mesa")).await, Ok(9));
    let counted: u64 = redis::cmd("GET").arg("furniture:catalog_bytes").query_async(&mut con).await.unwrap();
    let sized: Vec<String> = redis::cmd("HKEYS").arg("furniture:catalog_sizes").query_async(&mut con).await.unwrap();
    assert_eq!((counted as usize, sized.len()), (a_c, 2));
}

/// The bounds of what is kept for reading back: past them, a reader is told it has a gap (and
/// the hub then loads the state again) instead of silently skipping notifications.
#[tokio::test]
async fn reading_back_past_what_is_kept_is_a_gap() {
    // Embedded: at most `in_flight` commits wait to be read back.
    let embedded = Embedded::open(None, 10, usize::MAX, 100, usize::MAX, 2).unwrap();
    for i in 0..2 {
        embedded.commit(draft(Action::Created, &format!("e{i}"), "Mesa")).await.unwrap();
    }
    assert_eq!(seqs(&embedded.read_after(0, Duration::ZERO).await.unwrap()), [1, 2], "at the bound: all there");
    for i in 2..5 {
        embedded.commit(draft(Action::Created, &format!("e{i}"), "Mesa")).await.unwrap();
    }
    assert!(matches!(embedded.read_after(2, Duration::ZERO).await, Err(BackendError::Gap(_))), "3 was dropped for 5");

    // Redis: the log is capped (MAXLEN ~, which trims whole nodes of 100 entries).
    let Some(redis) = RedisServer::start().await else { return };
    let b = Redis::connect(&redis.url(), 10, 1000, usize::MAX).await.unwrap().with_log_len(10);
    for i in 0..300 {
        b.commit(draft(Action::Created, &format!("r{i}"), "Mesa")).await.unwrap();
    }
    assert!(matches!(b.read_after(0, Duration::ZERO).await, Err(BackendError::Gap(_))));
    assert!(matches!(b.read_after(0, Duration::from_millis(100)).await, Err(BackendError::Gap(_))), "the follower's read too");
    assert_eq!(seqs(&b.read_after(298, Duration::ZERO).await.unwrap()), [299, 300], "the newest are kept");
}

/// Commits waiting together go to Redis in one script call each batch, and a batch holds at most
/// `MAX_BATCH` of them; every one gets its own `seq`, in the order they were asked for.
#[tokio::test]
async fn waiting_commits_go_to_redis_in_batches_of_at_most_max_batch() {
    use furniture_broker::redis::MAX_BATCH;
    let Some(redis) = RedisServer::start().await else { return };
    let b = Redis::connect(&redis.url(), 10, 1000, usize::MAX).await.unwrap();
    b.commit(draft(Action::Created, "warm", "Mesa")).await.unwrap(); // the script is loaded
    let mut con = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let mut script_calls = async || -> u64 {
        let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut con).await.unwrap();
        let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:")).expect("the script was called");
        line.split([':', ',']).find_map(|kv| kv.strip_prefix("calls=")).unwrap().parse().unwrap()
    };
    let before = script_calls().await;
    let n = 2 * MAX_BATCH + 44;
    // All asked for before the committing task runs (this test's runtime has one thread).
    let commits: Vec<_> = (0..n).map(|i| b.commit(draft(Action::Created, &format!("b{i}"), "Mesa"))).collect();
    let got: Vec<u64> = futures_util::future::join_all(commits).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, (2..=n as u64 + 1).collect::<Vec<_>>());
    assert_eq!(script_calls().await - before, 3, "{MAX_BATCH}, {MAX_BATCH} and 44");
}

/// A Redis behind a fault proxy, and a backend on it with one commit done (so the script is
/// loaded and the connection open).
async fn behind_a_proxy(redis: &RedisServer) -> (furniture_faultproxy::FaultProxy, Redis) {
    let proxy = furniture_faultproxy::FaultProxy::start(([127, 0, 0, 1], redis.port).into()).await.unwrap();
    let b = Redis::connect(&format!("redis://{}", proxy.addr), 10, 1000, usize::MAX).await.unwrap();
    assert_eq!(b.commit(draft(Action::Created, "warm", "Mesa")).await, Ok(1));
    (proxy, b)
}

/// A commit that Redis carried out but whose answer was lost is found out (on a new connection)
/// and confirmed with its `seq`, once: not refused while it is broadcast.
#[tokio::test]
async fn a_commit_whose_answer_is_lost_is_confirmed_once() {
    let Some(redis) = RedisServer::start().await else { return };
    let (proxy, b) = behind_a_proxy(&redis).await;
    proxy.set_to_client(furniture_faultproxy::Fault::Blackhole);
    let committing = tokio::spawn(async move {
        let got = b.commit(draft(Action::Created, "lost-answer", "Mesa")).await;
        (got, b)
    });
    // The response timeout (2 s) passes; the first question goes unanswered too; then answers flow.
    tokio::time::sleep(furniture_broker::redis::RESPONSE_TIMEOUT + Duration::from_millis(500)).await;
    proxy.set_to_client(furniture_faultproxy::Fault::Pass);
    let (got, b) = committing.await.unwrap();
    assert_eq!(got, Ok(2), "carried out: confirmed with its seq");
    let log = b.read_after(0, Duration::ZERO).await.unwrap();
    assert_eq!(seqs(&log), [1, 2], "once");
    assert_eq!(b.commit(draft(Action::Created, "next", "Mesa")).await, Ok(3));
}

/// A commit whose request is held up past the response timeout is fenced off by the broker's
/// question before it reaches Redis: refused, and when the held-up request arrives it does
/// nothing. A refusal means nothing was broadcast.
#[tokio::test]
async fn a_late_commit_is_fenced_off_and_its_refusal_holds() {
    let Some(redis) = RedisServer::start().await else { return };
    let (proxy, b) = behind_a_proxy(&redis).await;
    // The open connection's bytes arrive 4 s late; a new connection's at once.
    proxy.set_open(furniture_faultproxy::Fault::Delay(Duration::from_secs(4)));
    let got = b.commit(draft(Action::Created, "late", "Mesa")).await;
    assert!(matches!(got, Err(BackendError::Unreachable(_))), "refused: {got:?}");
    tokio::time::sleep(Duration::from_secs(3)).await; // the late request has reached Redis
    assert_eq!(seqs(&b.read_after(0, Duration::ZERO).await.unwrap()), [1], "the late request did nothing");
    assert_eq!(b.commit(draft(Action::Created, "next", "Mesa")).await, Ok(2), "and took no seq");
}

/// When Redis says nothing for longer than `RESOLVE_WITHIN` after a commit was sent, the answer
/// is `in_doubt`, not a refusal, and it comes at that bound, not before; the broker then goes on.
#[tokio::test]
async fn a_commit_unresolved_within_its_bound_is_in_doubt() {
    use furniture_broker::redis::RESOLVE_WITHIN;
    let Some(redis) = RedisServer::start().await else { return };
    let (proxy, b) = behind_a_proxy(&redis).await;
    proxy.set(furniture_faultproxy::Fault::Blackhole);
    let started = tokio::time::Instant::now();
    let got = b.commit(draft(Action::Created, "unknown", "Mesa")).await;
    assert!(matches!(got, Err(BackendError::InDoubt(_))), "{got:?}");
    assert!(started.elapsed() >= RESOLVE_WITHIN, "asked for the whole {RESOLVE_WITHIN:?}, gave up after {:?}", started.elapsed());
    proxy.set(furniture_faultproxy::Fault::Pass);
    // The black-holed request never reached Redis: the next change takes seq 2.
    assert_eq!(b.commit(draft(Action::Created, "next", "Mesa")).await, Ok(2));
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_at_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = Redis::connect(&format!("redis://:s3cret@127.0.0.1:{port}"), 10, 10, usize::MAX).await.err().expect("nothing listens there");
    assert!(matches!(err, BackendError::Unreachable(_)));
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")) && !text.contains("s3cret"), "{text}");
}

async fn on_redis(redis: &RedisServer) -> Broker {
    let url = redis.url();
    Broker::start(move |c| c.redis = Some(url)).await
}

/// Reads `n` notifications; returns their frames as JSON.
async fn notifications(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let v = next_json(ws).await;
        if v["type"] == "furniture_notification" {
            out.push(v);
        }
    }
    out
}

/// Three brokers, two viewers on each, and a producer on each publishing at the same time: every
/// viewer gets every change once, with `seq` 1, 2, 3... and the very same frames in the very same
/// order, and each producer's changes in the order it sent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_brokers_give_every_viewer_every_change_in_one_order() {
    let Some(redis) = RedisServer::start().await else { return };
    let brokers = [on_redis(&redis).await, on_redis(&redis).await, on_redis(&redis).await];
    let mut viewers = Vec::new();
    for b in &brokers {
        for _ in 0..2 {
            viewers.push(b.viewer().await.0);
        }
    }
    let per_producer = 40;
    let sends = brokers.iter().enumerate().map(|(i, b)| {
        let notifier = b.notifier();
        async move {
            let mut p = notifier.connect().await.unwrap();
            for k in 0..per_producer {
                let furniture = mesa(&format!("p{i}-{k}"), "Mesa");
                p.send(&ProducerMessage { action: Action::Created, furniture }).await.unwrap();
            }
            p.close().await;
        }
    });
    futures_util::future::join_all(sends).await;
    let total = 3 * per_producer;
    let mut first: Option<Vec<Value>> = None;
    for ws in &mut viewers {
        let got = notifications(ws, total).await;
        let s: Vec<u64> = got.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
        assert_eq!(s, (1..=total as u64).collect::<Vec<_>>());
        for i in 0..3 {
            let ks: Vec<u64> = got
                .iter()
                .filter_map(|v| v["furniture"]["furniture_id"].as_str()?.strip_prefix(&format!("p{i}-"))?.parse().ok())
                .collect();
            assert_eq!(ks, (0..per_producer as u64).collect::<Vec<_>>(), "producer {i}'s order");
        }
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(&got, f, "the same frames in the same order on every broker"),
        }
    }
    // The same numbering everywhere.
    let streams: Vec<Value> = futures_util::future::join_all(brokers.iter().map(|b| async { b.viewer().await.1["stream"].clone() })).await;
    assert!(streams.iter().all(|s| s == &streams[0] && s.is_string()), "{streams:?}");
}

async fn sync(ws: &mut Ws, since: Option<u64>) -> Value {
    let ask = match since {
        Some(s) => json!({"type": "sync", "since": s}),
        None => json!({"type": "sync"}),
    };
    ws.send(Message::text(ask.to_string())).await.unwrap();
    loop {
        let v = next_json(ws).await;
        if v["type"] == "sync" {
            return v;
        }
    }
}

fn catalog_ids(reply: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        reply["catalog"].as_array().unwrap().iter().map(|e| e["furniture"]["furniture_id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

/// A dashboard that saw changes through one broker and comes back through another gets exactly
/// what it missed and the same catalog; a broker started later serves the whole catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_resyncs_through_another_broker_and_a_late_broker_serves_the_catalog() {
    let Some(redis) = RedisServer::start().await else { return };
    let a = on_redis(&redis).await;
    let b = on_redis(&redis).await;
    let (mut on_a, welcome_a) = a.viewer().await;
    for i in 0..5 {
        a.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("m{i}"), "Mesa") }).await.unwrap();
    }
    let seen = notifications(&mut on_a, 5).await;
    let last = seen[4]["seq"].as_u64().unwrap();
    drop(on_a);
    a.notifier().send(&ProducerMessage { action: Action::Deleted, furniture: mesa("m0", "Mesa") }).await.unwrap();
    b.notifier().send(&ProducerMessage { action: Action::Updated, furniture: mesa("m1", "Mesa XL") }).await.unwrap();

    let (mut on_b, welcome_b) = b.viewer().await;
    assert_eq!(welcome_a["stream"], welcome_b["stream"]);
    let reply = sync(&mut on_b, Some(last)).await;
    assert_eq!(reply["seq"], 7);
    assert_eq!(reply["complete"], true);
    let missed: Vec<(Value, Value)> =
        reply["missed"].as_array().unwrap().iter().map(|n| (n["seq"].clone(), n["action"].clone())).collect();
    assert_eq!(missed, [(json!(6), json!("deleted")), (json!(7), json!("updated"))]);
    assert_eq!(catalog_ids(&reply), ["m1", "m2", "m3", "m4"]);

    let late = on_redis(&redis).await;
    let (mut on_late, _) = late.viewer().await;
    let full = sync(&mut on_late, None).await;
    assert_eq!(full["seq"], 7);
    assert_eq!(full["catalog"], reply["catalog"], "the same catalog, entry for entry");
}

/// Redis stopped under two brokers while a producer keeps publishing through both: viewers stay
/// connected, publishes are refused at once with the `storage` error (nothing buffered),
/// `/healthz` and `/metrics` say so. Redis back (same data): both brokers recover on their own,
/// and every viewer ends with each acknowledged change exactly once, in order. (A publish whose
/// commit reached Redis just before it went away, but whose answer did not come back, is refused
/// yet committed: it may arrive too, once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_under_load_loses_and_duplicates_nothing() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let a = on_redis(&redis).await;
    let b = on_redis(&redis).await;
    let (mut on_a, _) = a.viewer().await;
    let (mut on_b, _) = b.viewer().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let notifiers = [a.notifier(), b.notifier()];
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut acknowledged, mut refused, mut in_doubt) = (Vec::new(), Vec::new(), Vec::new());
            let mut k = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = format!("c{k}");
                let msg = ProducerMessage { action: Action::Created, furniture: mesa(&id, "Mesa") };
                match notifiers[k % 2].send(&msg).await {
                    Ok(()) => acknowledged.push(id),
                    Err(NotifyError::Refused { .. }) => refused.push(id),
                    Err(NotifyError::InDoubt { .. }) => in_doubt.push(id),
                    Err(e) => panic!("the brokers stay up: {e}"),
                }
                k += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (acknowledged, refused, in_doubt)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.stop().await;
    for broker in [&a, &b] {
        wait_metric(broker.addr, "furniture_broker_storage_up", 0.0, Duration::from_secs(10)).await;
        assert_eq!(http_get(broker.addr, "/healthz").await.0, 503);
    }
    // Down long enough for refusals: a broker's first commit after Redis went away may spend up
    // to RESOLVE_WITHIN finding out whether it was written (then `in_doubt`, one per broker at
    // most), and the producer waits for it.
    let refusals = async || {
        let mut n = 0.0;
        for broker in [&a, &b] {
            for reason in ["storage", "in_doubt"] {
                n += metric(broker.addr, &format!("furniture_broker_publishes_refused_total{{reason=\"{reason}\"}}")).await;
            }
        }
        n
    };
    let deadline = tokio::time::Instant::now() + furniture_broker::redis::RESOLVE_WITHIN * 2;
    while refusals().await < 7.0 {
        assert!(tokio::time::Instant::now() < deadline, "no refusals while Redis is down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    redis.restart().await;
    for broker in [&a, &b] {
        wait_metric(broker.addr, "furniture_broker_storage_up", 1.0, Duration::from_secs(15)).await;
        assert_eq!(http_get(broker.addr, "/healthz").await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acknowledged, refused, in_doubt) = producer.await.unwrap();
    assert!(acknowledged.len() >= 20 && refused.len() >= 5, "{} acknowledged, {} refused", acknowledged.len(), refused.len());
    let refused_total = metric(a.addr, "furniture_broker_publishes_refused_total{reason=\"storage\"}").await
        + metric(b.addr, "furniture_broker_publishes_refused_total{reason=\"storage\"}").await;
    assert_eq!(refused_total, refused.len() as f64);
    let in_doubt_total = metric(a.addr, "furniture_broker_publishes_refused_total{reason=\"in_doubt\"}").await
        + metric(b.addr, "furniture_broker_publishes_refused_total{reason=\"in_doubt\"}").await;
    assert_eq!(in_doubt_total, in_doubt.len() as f64);
    for ws in [&mut on_a, &mut on_b] {
        let mut got: Vec<Value> = Vec::new();
        let has_all = |got: &[Value]| acknowledged.iter().all(|id| got.iter().any(|v| v["furniture"]["furniture_id"] == id.as_str()));
        while !has_all(&got) {
            got.extend(notifications(ws, 1).await);
        }
        // Nothing more: no duplicate arrives later.
        while let Ok(v) = tokio::time::timeout(Duration::from_millis(700), next_json(ws)).await {
            got.push(v);
        }
        assert_eq!(got.iter().map(|v| v["seq"].as_u64().unwrap()).collect::<Vec<_>>(), (1..=got.len() as u64).collect::<Vec<_>>());
        let ids: Vec<&str> = got.iter().map(|v| v["furniture"]["furniture_id"].as_str().unwrap()).collect();
        let extra: Vec<&&str> = ids.iter().filter(|id| !acknowledged.iter().any(|a| a == **id)).collect();
        // A refusal means nothing was broadcast; only a change the broker could not tell about
        // (its answer from Redis lost, and Redis not back within 10 s) may have been.
        assert!(extra.iter().all(|id| in_doubt.iter().any(|r| r == **id)), "refused yet broadcast: {extra:?} ({refused:?} refused)");
        let ordered: Vec<u64> = ids.iter().map(|id| id[1..].parse().unwrap()).collect();
        assert!(ordered.windows(2).all(|w| w[0] < w[1]), "in the order sent: {ordered:?}");
    }
}

/// One connection publishing 1,000 changes back to back, without waiting, to a broker on Redis
/// (more than it commits at once, and more than one batch to Redis): a viewer of another broker
/// gets all of them, numbered 1 to 1,000 in the order they were sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_publishing_flat_out_keeps_its_order() {
    use furniture_broker::connection::MAX_PUBLISHES_IN_FLIGHT;
    use furniture_broker::redis::MAX_BATCH;
    let Some(redis) = RedisServer::start().await else { return };
    let url = redis.url();
    let a = Broker::start(move |c| {
        c.redis = Some(url);
        c.max_messages_per_sec = 0;
    })
    .await;
    let b = on_redis(&redis).await;
    let (mut viewer, _) = b.viewer().await;
    let (mut producer, _) = a.viewer().await;
    const COUNT: usize = 1_000;
    const { assert!(COUNT > MAX_PUBLISHES_IN_FLIGHT && COUNT > MAX_BATCH) };
    let count = COUNT;
    for i in 0..count {
        let msg = ProducerMessage { action: Action::Created, furniture: mesa(&format!("p{i}"), "Mesa") };
        producer.feed(Message::text(msg.encode())).await.unwrap();
    }
    producer.flush().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(30), notifications(&mut viewer, count)).await.expect("all delivered in time");
    let seqs: Vec<u64> = got.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=count as u64).collect::<Vec<_>>());
    let ids: Vec<String> = got.iter().map(|v| v["furniture"]["furniture_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, (0..count).map(|i| format!("p{i}")).collect::<Vec<_>>(), "in the order sent");
}

/// Redis restarted without its data: the numbering starts over. Every broker notices, loads the
/// empty state, and closes its clients with 1012; they come back to a new `stream` id and an
/// empty catalog, and publishing goes on from seq 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_its_data_makes_the_brokers_start_over_and_say_so() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let a = on_redis(&redis).await;
    let (mut viewer, welcome) = a.viewer().await;
    for i in 0..3 {
        a.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("w{i}"), "Mesa") }).await.unwrap();
    }
    assert_eq!(notifications(&mut viewer, 3).await[2]["seq"], 3);
    redis.stop().await;
    redis.wipe();
    redis.restart().await;
    let code = tokio::time::timeout(Duration::from_secs(15), close_code(&mut viewer)).await.expect("closed in time");
    assert_eq!(code.map(u16::from), Some(1012));
    let (mut again, welcome_again) = a.viewer().await;
    assert_ne!(welcome_again["stream"], welcome["stream"], "a new numbering");
    let reply = sync(&mut again, Some(3)).await;
    assert_eq!((reply["seq"].clone(), reply["catalog"].clone()), (json!(0), json!([])));
    a.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("w9", "Mesa") }).await.unwrap();
    assert_eq!(notifications(&mut again, 1).await[0]["seq"], 1);
    assert_eq!(metric(a.addr, "furniture_broker_state_reloads_total").await, 1.0);
}

/// Redis flushed, or put back from an older copy, while it keeps running and every connection to
/// it stays up: the brokers notice by the numbering (a new id, or a last `seq` behind theirs)
/// within a read or two, load the state again and close their clients with 1012.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flushed_or_put_back_under_the_brokers_is_noticed() {
    let Some(redis) = RedisServer::start().await else { return };
    let a = on_redis(&redis).await;
    let mut con = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys = ["furniture:seq", "furniture:stream", "furniture:log", "furniture:catalog"];
    for (round, change) in ["FLUSHALL", "put back"].into_iter().enumerate() {
        let (mut viewer, welcome) = a.viewer().await;
        let publish = |i: usize| {
            let (notifier, change) = (a.notifier(), ProducerMessage { action: Action::Created, furniture: mesa(&format!("p{round}{i}"), "Mesa") });
            async move { notifier.send(&change).await }
        };
        for i in 0..3 {
            publish(i).await.unwrap();
        }
        let copied_at = notifications(&mut viewer, 3).await[2]["seq"].as_u64().unwrap();
        let mut copy = Vec::new();
        for key in keys {
            let dumped: Option<Vec<u8>> = redis::cmd("DUMP").arg(key).query_async(&mut con).await.unwrap();
            copy.push((key, dumped.expect("the key exists")));
        }
        if change == "FLUSHALL" {
            let () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
        } else {
            for i in 3..5 {
                publish(i).await.unwrap();
            }
            notifications(&mut viewer, 2).await;
            for (key, dumped) in &copy {
                let () = redis::cmd("RESTORE").arg(*key).arg(0).arg(dumped.as_slice()).arg("REPLACE").query_async(&mut con).await.unwrap();
            }
        }
        let code = tokio::time::timeout(Duration::from_secs(15), close_code(&mut viewer)).await.unwrap_or_else(|_| panic!("{change}: closed in time"));
        assert_eq!(code.map(u16::from), Some(1012), "{change}");
        assert_eq!(metric(a.addr, "furniture_broker_state_reloads_total").await, round as f64 + 1.0);
        let (mut again, welcome_again) = a.viewer().await;
        let reply = sync(&mut again, None).await;
        if change == "FLUSHALL" {
            assert_ne!(welcome_again["stream"], welcome["stream"], "a new numbering");
            assert_eq!((reply["seq"].clone(), reply["catalog"].clone()), (json!(0), json!([])));
        } else {
            assert_eq!(welcome_again["stream"], welcome["stream"]);
            assert_eq!(reply["seq"], copied_at, "the numbering as the copy has it");
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert_eq!(metric(a.addr, "furniture_broker_state_reloads_total").await, 2.0, "once");
        }
    }
}

/// Three broker processes on one Redis; one is killed with SIGKILL. The others keep serving and
/// take changes; a viewer of the killed one reconnects to another and gets exactly what it
/// missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_leaves_the_others_serving() {
    let Some(redis) = RedisServer::start().await else { return };
    let mut procs = Vec::new();
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_furniture-broker"))
            .args(["--listen", &addr.to_string(), "--redis", &redis.url(), "--dashboard-dir", "/nonexistent"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "broker {addr} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        procs.push((child, addr));
    }
    let addrs: Vec<std::net::SocketAddr> = procs.iter().map(|p| p.1).collect();
    let url = |i: usize| format!("ws://{}", addrs[i]);
    let mut viewers = Vec::new();
    for i in 0..3 {
        viewers.push(tokio_tungstenite::connect_async(url(i)).await.unwrap().0);
    }
    let notifier = |i: usize| furniture_notify::Notifier::new(url(i));
    for k in 0..3 {
        notifier(0).send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("k{k}"), "Mesa") }).await.unwrap();
    }
    for ws in &mut viewers {
        assert_eq!(notifications(ws, 3).await[2]["seq"], 3);
    }
    procs[1].0.kill().unwrap();
    procs[1].0.wait().unwrap();
    for k in 3..6 {
        notifier(2).send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("k{k}"), "Mesa") }).await.unwrap();
    }
    for i in [0, 2] {
        let got = notifications(&mut viewers[i], 3).await;
        assert_eq!(got.iter().map(|v| v["seq"].as_u64().unwrap()).collect::<Vec<_>>(), [4, 5, 6]);
    }
    let (mut moved, _) = tokio_tungstenite::connect_async(url(2)).await.unwrap();
    let reply = sync(&mut moved, Some(3)).await;
    let missed: Vec<u64> = reply["missed"].as_array().unwrap().iter().map(|n| n["seq"].as_u64().unwrap()).collect();
    assert_eq!(missed, [4, 5, 6]);
    assert_eq!(catalog_ids(&reply).len(), 6);
    for (mut child, _) in procs {
        let _ = child.kill();
        let _ = child.wait();
    }
}
