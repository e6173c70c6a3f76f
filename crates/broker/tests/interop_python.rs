//! Interop with a different WebSocket stack: peers written with Python's `websockets` library
//! (tests/interop/peers.py) against our broker, and our notifier against a broker written with
//! it, following PROTOCOL.md. Skipped with a message when Python's `websockets` is missing,
//! unless FURNITURE_REQUIRE_ALL=1 (set by the project's test command), which makes that a failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use furniture_broker::{run, Config};
use furniture_notify::{Action, Furniture, Notifier, ProducerMessage};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
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
    let (addr, shutdown) = start_broker_on("127.0.0.1:0", |_| {}).await;
    (format!("ws://{addr}"), shutdown)
}

async fn start_broker_on(listen: &str, tweak: impl FnOnce(&mut Config)) -> (std::net::SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::on(addr);
    tweak(&mut config);
    let shutdown = CancellationToken::new();
    tokio::spawn(run(listener, config, shutdown.clone()));
    (addr, shutdown)
}

/// Runs the Python producer (three changes, a connection each) to `url`, inside network
/// namespace `netns` when given.
async fn python_produce(url: &str, netns: Option<&str>) {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "python3"]);
            c
        }
        None => Command::new("python3"),
    };
    cmd.arg(PEERS).args(["produce", url]);
    let status = tokio::task::spawn_blocking(move || cmd.status().unwrap()).await.unwrap();
    assert!(status.success(), "the Python producer failed: {status:?}");
}

/// The furniture ids of the next notifications a viewer receives within a short wait.
async fn ids_received(ws: &mut Ws, within: Duration) -> Vec<String> {
    let mut ids = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "furniture_notification" {
                ids.push(format!("{}:{}", v["action"].as_str().unwrap(), v["seq"]));
            }
        }
    }
    ids
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A network namespace joined to this host by a veth pair: a second host on the same machine.
/// Deleted (with its veth pair) when dropped.
struct Netns {
    name: String,
    host_ip: String,
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let id = std::process::id();
        let name = format!("furniture-{id}");
        let (host_if, ns_if) = (format!("fbh{}", id % 100_000), format!("fbn{}", id % 100_000));
        let subnet = format!("10.{}.{}", 200 + (id / 250) % 50, id % 250);
        let host_ip = format!("{subnet}.1");
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
            }
        };
        run(&["netns", "add", &name])?;
        let ns = Netns { name, host_ip };
        let ns_addr = format!("{subnet}.2/30");
        run(&["link", "add", &host_if, "type", "veth", "peer", "name", &ns_if])?;
        run(&["link", "set", &ns_if, "netns", &ns.name])?;
        run(&["addr", "add", &format!("{}/30", ns.host_ip), "dev", &host_if])?;
        run(&["link", "set", &host_if, "up"])?;
        run(&["netns", "exec", &ns.name, "ip", "addr", "add", &ns_addr, "dev", &ns_if])?;
        run(&["netns", "exec", &ns.name, "ip", "link", "set", &ns_if, "up"])?;
        run(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Protected mode seen from another host (a network namespace): without a token, the Python
/// producer there is refused and nothing reaches the viewers, while loopback still publishes;
/// `--allow-remote-publish` or the token in its URL lets it in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_refuses_other_hosts_until_opened_or_given_the_token() {
    if !python_ready() {
        return;
    }
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIPPED: cannot make a network namespace here (needs root and iproute2): {e}");
            return;
        }
    };
    let (protected, stop_a) = start_broker_on("0.0.0.0:0", |_| {}).await;
    let (opened, stop_b) = start_broker_on("0.0.0.0:0", |c| c.allow_remote_publish = true).await;
    let (tokened, stop_c) = start_broker_on("0.0.0.0:0", |c| c.publish_token = Some("abc123".parse().unwrap())).await;
    let remote = |addr: std::net::SocketAddr, query: &str| format!("ws://{}:{}/{query}", ns.host_ip, addr.port());
    let viewer = |addr: std::net::SocketAddr| async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}", addr.port())).await.unwrap();
        ws.next().await.unwrap().unwrap(); // welcome
        ws
    };

    let mut v = viewer(protected).await;
    python_produce(&remote(protected, ""), Some(&ns.name)).await;
    Notifier::new(format!("ws://127.0.0.1:{}", protected.port()))
        .send(&ProducerMessage { action: Action::Created, furniture: Furniture::new("local", "Mesa", "", 1, 1, "pino", "ana") })
        .await
        .unwrap();
    assert_eq!(ids_received(&mut v, Duration::from_millis(500)).await, vec!["created:1"], "only the loopback change");

    let mut v = viewer(opened).await;
    python_produce(&remote(opened, ""), Some(&ns.name)).await;
    assert_eq!(ids_received(&mut v, Duration::from_millis(500)).await, vec!["created:1", "updated:2", "deleted:3"]);

    let mut v = viewer(tokened).await;
    python_produce(&remote(tokened, "?token=abc123"), Some(&ns.name)).await;
    assert_eq!(ids_received(&mut v, Duration::from_millis(500)).await, vec!["created:1", "updated:2", "deleted:3"]);
    for stop in [stop_a, stop_b, stop_c] {
        stop.cancel();
    }
}

/// The Python producer presents the token unchanged in its WEBSOCKET_URL; without it, its
/// changes reach nobody; the Python consumer needs no token to watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_producer_publishes_with_the_token_in_its_url() {
    if !python_ready() {
        return;
    }
    let (addr, shutdown) = start_broker_on("127.0.0.1:0", |c| c.publish_token = Some("t-9/x".parse().unwrap())).await;
    let (_consumer, lines) = spawn_peer(&["consume", &format!("ws://{addr}"), "3"]);
    let welcome: Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(welcome["type"], "connection");
    python_produce(&format!("ws://{addr}"), None).await;
    python_produce(&format!("ws://{addr}/?token=t-9%2Fx"), None).await;
    for (i, action) in ["created", "updated", "deleted"].iter().enumerate() {
        let n: Value = serde_json::from_str(&next_line(&lines)).unwrap();
        assert_eq!((n["action"].as_str().unwrap(), n["seq"].as_u64().unwrap()), (*action, i as u64 + 1), "the refused ones took no seq");
    }
    shutdown.cancel();
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
