//! Interop with a different WebSocket stack: peers written with Python's `websockets` library
//! (tests/interop/peers.py) against our broker, and our notifier against a broker written with
//! it, following PROTOCOL.md. Skipped with a message when Python's `websockets` is missing,
//! unless FURNITURE_REQUIRE_ALL=1 (set by the project's test command), which makes that a failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use furniture_broker::{run, Config};
use furniture_notify::{Action, Furniture, Notifier, ProducerMessage};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/interop/peers.py");

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import websockets.asyncio.server"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("FURNITURE_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("Python 3 with `websockets` >= 13 is required (pip install websockets)");
        }
        eprintln!("SKIPPED: Python 3 with `websockets` >= 13 is not installed");
    }
    ok
}

/// A child process killed when the test ends, however it ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_peer(args: &[&str]) -> (Peer, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new("python3")
        .arg(PEERS)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Peer(child), rx)
}

fn next_line(rx: &std::sync::mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(20)).expect("the Python peer printed a line in time")
}

async fn start_broker() -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(run(listener, Config::on(addr), shutdown.clone()));
    (format!("ws://{addr}"), shutdown)
}

/// Python producer → our broker → Python consumer: the consumer gets the welcome and the three
/// notifications with the Python broker's exact texts, plus our `seq`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_producer_and_consumer_work_with_our_broker() {
    if !python_ready() {
        return;
    }
    let (url, shutdown) = start_broker().await;
    let (_consumer, lines) = spawn_peer(&["consume", &url, "3"]);
    let welcome: Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(welcome["type"], "connection");
    assert_eq!(welcome["client_count"], 1);
    let status = tokio::task::spawn_blocking({
        let url = url.clone();
        move || Command::new("python3").arg(PEERS).args(["produce", &url]).status().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    let texts = [
        "🪑 Nuevo mueble creado: Mesa de Roble - roble (120x75cm)",
        "🔄 Mueble actualizado: Mesa de Roble XL - 150x80cm",
        "🗑️ Mueble eliminado: Mesa de Roble XL",
    ];
    for (i, text) in texts.iter().enumerate() {
        let n: Value = serde_json::from_str(&next_line(&lines)).unwrap();
        assert_eq!(n["message"], *text);
        assert_eq!(n["seq"], i as u64 + 1);
        assert_eq!(n["furniture"]["furniture_id"], "673a2f1b8e4d2a1c3b5e6f7a");
    }
    shutdown.cancel();
}

/// Our notifier → a broker written with Python's `websockets` → Python consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_notifier_works_with_a_python_broker() {
    if !python_ready() {
        return;
    }
    let (_broker, broker_lines) = spawn_peer(&["broker"]);
    let port = next_line(&broker_lines).strip_prefix("listening ").unwrap().to_owned();
    let url = format!("ws://127.0.0.1:{port}");
    let (_consumer, lines) = spawn_peer(&["consume", &url, "1"]);
    let welcome: Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(welcome["type"], "connection");
    let furniture = Furniture::new("n-1", "Estantería Ñ", "Cinco baldas", 180, 100, "haya", "ana");
    Notifier::new(url).send(&ProducerMessage { action: Action::Created, furniture: furniture.clone() }).await.unwrap();
    let n: Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(n["action"], "created");
    assert_eq!(n["furniture"], Value::Object(furniture.0));
    assert_eq!(n["message"], "🪑 Nuevo mueble creado: Estantería Ñ - haya (100x180cm)");
}
