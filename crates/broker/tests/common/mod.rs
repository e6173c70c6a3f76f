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
