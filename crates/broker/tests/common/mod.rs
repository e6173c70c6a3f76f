//! Helpers shared by the broker's integration tests: a broker on port 0 in this process, viewers,
//! and reading frames with a deadline.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use furniture_broker::{run, Config};
use furniture_notify::{Furniture, Notifier};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Broker {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Broker {
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Broker {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::on(addr);
        tweak(&mut config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, config, shutdown.clone()));
        Broker { addr, shutdown, task }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn notifier(&self) -> Notifier {
        Notifier::new(self.url())
    }

    pub async fn viewer(&self) -> (Ws, Value) {
        let (mut ws, _) = connect_async(self.url()).await.unwrap();
        let welcome = next_json(&mut ws).await;
        (ws, welcome)
    }
}

/// The next text frame as JSON (protocol pings are answered by the library while reading).
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time").expect("open").expect("ok");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("every frame is JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads until the close frame and returns its code.
pub async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

pub fn mesa(id: &str, nombre: &str) -> Furniture {
    Furniture::new(id, nombre, "Mesa elegante de comedor", 75, 120, "roble", "Juan")
}

/// A plain HTTP GET on the broker's port: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await.expect("an answer in time").unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// One value from the broker's `/metrics` page (a full series name, labels included).
pub async fn metric(addr: SocketAddr, series: &str) -> f64 {
    let (status, page) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    page.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{series} is not on the metrics page:\n{page}"))
        .parse()
        .unwrap()
}

/// Polls a metric until it reads `want`, for at most `within`; returns how long that took.
pub async fn wait_metric(addr: SocketAddr, series: &str, want: f64, within: Duration) -> Duration {
    let started = std::time::Instant::now();
    loop {
        let now = metric(addr, series).await;
        if now == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{series} is {now}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `redis-server` of this test's own on a free loopback port, its data (append-only file,
/// fsync on every write) in a folder of its own, so that a restart keeps what was acknowledged.
pub struct RedisServer {
    child: Option<std::process::Child>,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// Starts one, or says why it cannot (`None`; a failure under FURNITURE_REQUIRE_ALL=1).
    pub async fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("furniture-redis-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer { child: None, port, dir };
        if let Err(why) = server.spawn().await {
            if std::env::var("FURNITURE_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("{why}");
            }
            eprintln!("SKIPPED: {why}");
            return None;
        }
        Some(server)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server cannot start: {e} (scripts/setup test installs it)"))?;
        self.child = Some(child);
        let started = std::time::Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err("redis-server did not listen within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGTERM, as an operator stops it; waits until it has exited.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let started = std::time::Instant::now();
            while !matches!(child.try_wait(), Ok(Some(_))) {
                assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not stop");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Deletes its data (while stopped): as a Redis restarted without its append-only file.
    pub fn wipe(&self) {
        assert!(self.child.is_none(), "stop it first");
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).unwrap();
    }

    /// Starts it again on the same port with the same data.
    pub async fn restart(&mut self) {
        self.spawn().await.expect("redis-server starts again");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
