//! The producer client of the furniture notification broker, as the catalog's back end uses it:
//! open a WebSocket, send one change, close. Failures are values, never panics, and connecting,
//! writing and waiting for the echo are each bounded by a timeout, so a dead broker never holds
//! up the caller.
//!
//! # Layout
//!
//! - [`Notifier`]: one-shot sends, the Python producer's pattern; and [`Notifier::connect`] for a
//!   long-lived [`Publisher`] (demo and load traffic).
//! - [`demo`]: a plausible, varied stream of catalog changes in Spanish.
//! - `main.rs`: the `furniture-notify` command.

pub mod demo;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
pub use furniture_protocol::{Action, Furniture, ProducerMessage};
use furniture_protocol::{decode_server, Refusal, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The broker address when `WEBSOCKET_URL` is not set, as in the Python producer.
pub const DEFAULT_URL: &str = "ws://localhost:8765";

/// How long connecting may take by default, handshake included.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a change could not be delivered to the broker.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid broker URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach the broker at {url}: no answer within {}s", timeout.as_secs_f32())]
    Timeout { url: String, timeout: Duration },
    #[error("cannot reach the broker at {url}: {}", one_line(reason))]
    Connect { url: String, reason: String },
    /// The connection ended, or the broker stopped reading, before the change was written.
    #[error("the broker at {url} did not take the change (it was not sent): {}", one_line(reason))]
    Send { url: String, reason: String },
    /// The change was written, then the connection ended before the broker echoed it back: it
    /// may or may not have been made (a broker killed or restarted in between).
    #[error("the connection to the broker at {url} ended before it confirmed the change, which may or may not have been made: {}", one_line(reason))]
    Unconfirmed { url: String, reason: String },
    /// What answers there is not a WebSocket broker (a web server's page, a 404, a redirect,
    /// which this client does not follow): trying again cannot help; nothing was sent.
    #[error("the server at {url} is not a WebSocket broker: {}", one_line(reason))]
    NotABroker { url: String, reason: String },
    /// Our broker said no (no publish token, protected mode, storage failing); nothing was
    /// broadcast.
    #[error("the broker at {url} refused the change: {}", one_line(reason))]
    Refused { url: String, reason: String },
    /// Our broker lost its shared state store (Redis) while writing the change and cannot tell
    /// whether it was made (and broadcast): check before sending it again.
    #[error("the broker at {url} cannot tell whether the change was made: {}", one_line(reason))]
    InDoubt { url: String, reason: String },
}

/// What a broker or a server said, on one line: its control characters (line breaks, a
/// terminal's escape sequences) as spaces.
fn one_line(said: &str) -> String {
    said.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Changes a [`Publisher`] keeps while they wait for the broker's answer ([`Tally`]).
pub const TALLY_MAX: usize = 10_000;

/// How long [`Notifier::send`] waits for the broker to echo the change back (or refuse it):
/// longer than a broker on Redis takes to find out whether a change whose answer Redis lost was
/// written (10 s, then `in_doubt`). The Python broker echoes at once.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// [`Publisher::close`] waits for the broker's answer while the broker keeps sending (it echoes
/// every change to its sender), and gives up after this long without a frame from it...
pub const CLOSE_QUIET: Duration = Duration::from_secs(2);
/// ...or after this long in all.
pub const CLOSE_LIMIT: Duration = Duration::from_secs(60);

/// Sends changes to one broker.
#[derive(Clone)]
pub struct Notifier {
    url: String,
    connect_timeout: Duration,
}

/// Without the URL's secrets, as errors and logs show it.
impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("url", &self.shown_url()).field("connect_timeout", &self.connect_timeout).finish()
    }
}

/// `url` as errors and logs show it: the value of a `token` in its query and a password in it
/// replaced by `***` (a publish token is never printed).
pub fn shown_url(url: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{}", path.map(|p| format!("/{p}")).unwrap_or_default())
        }
        None => base.to_owned(),
    };
    match query {
        None => base,
        Some(query) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    // Decoded as the broker reads the key: `%74oken` is `token` too.
                    Some((key, _)) if form_urlencoded::parse(key.as_bytes()).next().is_some_and(|(k, _)| k == "token") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", pairs.join("&"))
        }
    }
}

/// A URL from the environment's value, [`DEFAULT_URL`] without one.
fn url_or_default(value: Option<std::ffi::OsString>) -> String {
    value.map_or_else(|| DEFAULT_URL.to_owned(), |v| v.to_string_lossy().into_owned())
}

/// What [`shown_url`] hides in `url`: each `token`'s value, as written and decoded, and a
/// password.
fn secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    for pair in query.split('&') {
        if let (Some((key, value)), Some((_, decoded))) = (pair.split_once('='), form_urlencoded::parse(pair.as_bytes()).next()) {
            if form_urlencoded::parse(key.as_bytes()).next().is_some_and(|(k, _)| k == "token") {
                out.extend([value.to_owned(), decoded.into_owned()]);
            }
        }
    }
    let authority = base.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
    if let Some((_, password)) = authority.rsplit_once('@').and_then(|(userinfo, _)| userinfo.split_once(':')) {
        out.push(password.to_owned());
    }
    out.retain(|s| !s.is_empty());
    out
}

impl Notifier {
    /// A notifier for `url` (`ws://`; path and query are passed through untouched).
    pub fn new(url: impl Into<String>) -> Notifier {
        Notifier { url: url.into(), connect_timeout: DEFAULT_CONNECT_TIMEOUT }
    }

    /// The broker from `WEBSOCKET_URL`, or [`DEFAULT_URL`] when it is not set (one that is not
    /// UTF-8 is an invalid URL when used, not the default: another broker).
    pub fn from_env() -> Notifier {
        Notifier::new(url_or_default(std::env::var_os("WEBSOCKET_URL")))
    }

    /// Sets the connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Notifier {
        self.connect_timeout = timeout;
        self
    }

    /// The broker's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The broker's URL without its secrets ([`shown_url`]), for messages.
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }

    /// Sends one change on a connection opened for it, then closes it: what the Python producer
    /// does after every create, update or delete.
    ///
    /// Brokers send every notification to its sender too, so this waits (at most
    /// [`CONFIRM_TIMEOUT`]) for the change to come back, which confirms it was broadcast, or for
    /// this project's broker to refuse it ([`NotifyError::Refused`]). A broker that says neither
    /// in time (stopped, or behind a connection that went dead), or a connection that ends
    /// first, is [`NotifyError::Unconfirmed`]: the change may or may not have been made.
    pub async fn send(&self, msg: &ProducerMessage) -> Result<(), NotifyError> {
        let mut ws = self.open().await?;
        match tokio::time::timeout(CONFIRM_TIMEOUT, ws.send(Message::text(msg.encode()))).await {
            Ok(sent) => sent.map_err(|e| self.send_error(e))?,
            Err(_) => return Err(self.send_error_text(format!("it took nothing for {} s", CONFIRM_TIMEOUT.as_secs()))),
        }
        let outcome = tokio::time::timeout(CONFIRM_TIMEOUT, async {
            while let Some(Ok(frame)) = ws.next().await {
                match frame {
                    Message::Text(text) => match decode_server(&text) {
                        ServerFrame::Error { message, refusal: Some(Refusal::InDoubt), .. } => {
                            return Err(NotifyError::InDoubt { url: self.shown_url(), reason: message })
                        }
                        ServerFrame::Error { message, .. } => {
                            return Err(NotifyError::Refused { url: self.shown_url(), reason: message })
                        }
                        ServerFrame::Notification(n) if n.action == msg.action && n.furniture == msg.furniture => {
                            return Ok(())
                        }
                        _ => {}
                    },
                    // Too big: both brokers close so before reading the frame, which then is
                    // certainly not made.
                    Message::Close(Some(f)) if f.code == tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Size => {
                        return Err(NotifyError::Refused { url: self.shown_url(), reason: format!("the change is too big for it (close 1009: {})", f.reason) })
                    }
                    Message::Close(Some(f)) => {
                        return Err(self.unconfirmed(format!("close {} ({})", u16::from(f.code), f.reason)))
                    }
                    Message::Close(None) => return Err(self.unconfirmed("closed without a code".to_owned())),
                    _ => {}
                }
            }
            Err(self.unconfirmed("the connection ended".to_owned()))
        })
        .await
        .unwrap_or_else(|_| Err(self.unconfirmed(format!("no echo within {} s", CONFIRM_TIMEOUT.as_secs()))));
        // A polite close.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
        outcome
    }

    /// Opens a long-lived connection for many changes.
    pub async fn connect(&self) -> Result<Publisher, NotifyError> {
        let ws = self.open().await?;
        let (sink, mut stream) = ws.split();
        // The broker sends every notification to the sender too; read them so it never sees us
        // as a slow consumer, and keep the first refusal to report it at the next send.
        let refused = std::sync::Arc::new(std::sync::Mutex::new(None::<FirstRefusal>));
        let seen = refused.clone();
        let frames = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = frames.clone();
        let tally = Tally::default();
        let answered = tally.clone();
        let drain = tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Message::Text(text) = frame {
                    if text.starts_with(r#"{"type":"error""#) {
                        if let ServerFrame::Error { message, refusal, .. } = decode_server(&text) {
                            // It answers the oldest change not answered yet (brokers answer in order).
                            answered.state().waiting.pop_front();
                            seen.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert((refusal, message));
                        }
                    } else if !answered.state().waiting.is_empty() {
                        if let ServerFrame::Notification(n) = decode_server(&text) {
                            let waiting = &mut answered.state().waiting;
                            if waiting.front().is_some_and(|(action, furniture)| *action == n.action && *furniture == n.furniture) {
                                waiting.pop_front();
                            }
                        }
                    }
                }
            }
        });
        Ok(Publisher { url: self.shown_url(), sink, drain, refused, frames, tally })
    }

    async fn open(&self) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, NotifyError> {
        if self.url.starts_with("wss://") {
            return Err(NotifyError::InvalidUrl {
                url: self.shown_url(),
                reason: "wss:// (TLS) is not supported by this notifier: use ws://".to_owned(),
            });
        }
        if !self.url.starts_with("ws://") {
            return Err(NotifyError::InvalidUrl { url: self.shown_url(), reason: "it must start with ws://".to_owned() });
        }
        // Checked here: a port beyond 65535 would otherwise be dropped, and port 80 tried.
        let invalid = |reason: &str| Err(NotifyError::InvalidUrl { url: self.shown_url(), reason: reason.to_owned() });
        let uri = match self.url.parse::<tokio_tungstenite::tungstenite::http::Uri>() {
            Ok(uri) => uri,
            Err(_) if self.url.contains(char::is_whitespace) => return invalid("it is not a URL: it has a space in it"),
            Err(_) if self.url.len() == "ws://".len() => return invalid("it names no host"),
            Err(e) => return invalid(&format!("it is not a URL ({e})")),
        };
        if uri.host().is_none_or(str::is_empty) {
            return invalid("it names no host");
        }
        let authority = uri.authority().map_or("", |a| a.as_str());
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let port = if host_port.ends_with(']') { None } else { host_port.rsplit_once(':').map(|(_, p)| p) };
        if port.is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_err()) {
            return invalid("its port is not a number from 0 to 65535");
        }
        // Nagle's algorithm off: a change is written at once. With it on, the pong answering the
        // broker's ping (every 20 s) held the changes written after it until the broker's delayed
        // acknowledgement came, 40 ms later on Linux; they then arrived together (BENCHMARKS.md).
        let url = with_root_path(&self.url);
        let connecting = tokio_tungstenite::connect_async_with_config(url.as_ref(), None, true);
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Err(_) => Err(NotifyError::Timeout { url: self.shown_url(), timeout: self.connect_timeout }),
            Ok(Err(e)) => Err(self.connect_error(e)),
            Ok(Ok((ws, _response))) => Ok(ws),
        }
    }

    fn connect_error(&self, e: tokio_tungstenite::tungstenite::Error) -> NotifyError {
        use tokio_tungstenite::tungstenite::Error as E;
        match e {
            E::Url(reason) => NotifyError::InvalidUrl { url: self.shown_url(), reason: reason.to_string() },
            // This project's broker refuses a wrong token (401) and an origin off its list (403)
            // for good, saying why in the body; any other answer but those that pass (too many
            // connections, 429; a timeout, 408; a broker stopping or a proxy without its broker,
            // 5xx) is not a broker's: a web server's page, a 404, a redirect (which the Python
            // producer follows and this client does not).
            E::Http(response) => {
                // A body may echo the request (a redirect's "Moved to /ws/?token=…"): the URL's
                // secrets are hidden in it as in the URL.
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                let body = secrets(&self.url).iter().fold(body.into_owned(), |b, secret| b.replace(secret.as_str(), "***"));
                let said: String = one_line(&body).chars().take(200).collect();
                let reason = format!("the server answered HTTP {} instead of a WebSocket{}{}", response.status(), if said.trim().is_empty() { "" } else { ": " }, said.trim());
                let url = self.shown_url();
                match response.status().as_u16() {
                    401 | 403 => NotifyError::Refused { url, reason },
                    408 | 429 | 500.. => NotifyError::Connect { url, reason },
                    _ => NotifyError::NotABroker { url, reason },
                }
            }
            // Closed without a word (a broker too busy or stopping refuses so).
            E::Protocol(tokio_tungstenite::tungstenite::error::ProtocolError::HandshakeIncomplete) => {
                NotifyError::Connect { url: self.shown_url(), reason: "the server closed the connection before answering (too busy, or stopping?)".to_owned() }
            }
            // It answered, but not as a WebSocket server does (a web server, another service).
            E::Protocol(p) => NotifyError::NotABroker { url: self.shown_url(), reason: format!("the server there does not speak WebSocket ({p})") },
            other => NotifyError::Connect { url: self.shown_url(), reason: other.to_string() },
        }
    }

    fn send_error(&self, e: tokio_tungstenite::tungstenite::Error) -> NotifyError {
        self.send_error_text(e.to_string())
    }

    fn send_error_text(&self, reason: String) -> NotifyError {
        NotifyError::Send { url: self.shown_url(), reason }
    }

    fn unconfirmed(&self, reason: String) -> NotifyError {
        NotifyError::Unconfirmed { url: self.shown_url(), reason }
    }
}

/// The URL as the Python producer's `websockets` asks for it: a query without a path before it
/// (`ws://broker:8765?token=…`) asks for `/?token=…`, not `?token=…`, which HTTP servers (this
/// project's broker among them) refuse with 400.
fn with_root_path(url: &str) -> std::borrow::Cow<'_, str> {
    let rest = url.strip_prefix("ws://").unwrap_or(url);
    match rest.find(['/', '?', '#']) {
        Some(i) if rest.as_bytes()[i] == b'?' => format!("ws://{}/{}", &rest[..i], &rest[i..]).into(),
        _ => url.into(),
    }
}

/// The first error frame a publisher's broker sent: its kind, when it gave one, and its message.
type FirstRefusal = (Option<Refusal>, String);

/// The changes a [`Publisher`] sent that its broker has not answered yet, by echoing them back
/// (brokers send every notification to its sender too) or refusing them; shared with the task
/// that reads the broker's frames, and readable after the publisher is closed. At most
/// [`TALLY_MAX`] wait: past it the oldest is let go, and counted as not answered (a broker that
/// echoes nothing cannot make it grow for ever, nor its changes pass for answered).
#[derive(Clone, Default)]
pub struct Tally(std::sync::Arc<std::sync::Mutex<TallyState>>);

/// The changes waiting for an answer, oldest first, and how many were let go unanswered.
#[derive(Default)]
struct TallyState {
    waiting: std::collections::VecDeque<(Action, Furniture)>,
    let_go: usize,
}

impl Tally {
    fn state(&self) -> std::sync::MutexGuard<'_, TallyState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes sent and not answered: on a connection that has ended, they may or may not have
    /// been made.
    pub fn unanswered(&self) -> usize {
        let state = self.state();
        state.waiting.len() + state.let_go
    }

    /// A change is sent (counted before it is written: its echo may come back at once).
    fn sent(&self, msg: &ProducerMessage) {
        let mut state = self.state();
        if state.waiting.len() >= TALLY_MAX {
            state.waiting.pop_front();
            state.let_go += 1;
        }
        state.waiting.push_back((msg.action, msg.furniture.clone()));
    }
}

type Sink = futures_util::stream::SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// A long-lived connection to a broker for sending many changes.
pub struct Publisher {
    url: String,
    sink: Sink,
    drain: tokio::task::JoinHandle<()>,
    refused: std::sync::Arc<std::sync::Mutex<Option<FirstRefusal>>>,
    /// Frames received from the broker so far.
    frames: std::sync::Arc<std::sync::atomic::AtomicU64>,
    tally: Tally,
}

impl Publisher {
    /// Sends one change, counted until the broker answers it ([`Publisher::tally`]).
    pub async fn send(&mut self, msg: &ProducerMessage) -> Result<(), NotifyError> {
        self.refusal()?;
        self.tally.sent(msg);
        self.write(msg.encode()).await
    }

    /// The changes sent on this connection that its broker has not answered yet.
    pub fn tally(&self) -> Tally {
        self.tally.clone()
    }

    /// The broker's first refusal on this connection, as the error of the next send.
    fn refusal(&self) -> Result<(), NotifyError> {
        match self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            None => Ok(()),
            Some((Some(Refusal::InDoubt), reason)) => Err(NotifyError::InDoubt { url: self.url.clone(), reason }),
            Some((_, reason)) => Err(NotifyError::Refused { url: self.url.clone(), reason }),
        }
    }

    /// Sends any text frame (for tests and tools that need raw frames). Fails, sending nothing,
    /// once the broker has refused an earlier change on this connection: with
    /// [`NotifyError::InDoubt`] when it could not tell whether that change was made, else
    /// [`NotifyError::Refused`]; and with [`NotifyError::Send`] when the broker takes nothing
    /// for [`CONFIRM_TIMEOUT`] (it stopped reading).
    pub async fn send_text(&mut self, text: String) -> Result<(), NotifyError> {
        self.refusal()?;
        self.write(text).await
    }

    async fn write(&mut self, text: String) -> Result<(), NotifyError> {
        let url = self.url.clone();
        match tokio::time::timeout(CONFIRM_TIMEOUT, self.sink.send(Message::text(text))).await {
            Ok(sent) => sent.map_err(|e| NotifyError::Send { url, reason: e.to_string() }),
            Err(_) => Err(NotifyError::Send { url, reason: format!("it took nothing for {} s", CONFIRM_TIMEOUT.as_secs()) }),
        }
    }

    /// True once the broker has closed the connection.
    pub fn is_closed(&self) -> bool {
        self.drain.is_finished()
    }

    /// Closes the connection politely, without losing what was sent. It waits first for the
    /// answers to the changes sent, up to [`CONFIRM_TIMEOUT`] after the last answer came. The
    /// broker answers the close once it has read every change sent before it, which can take a
    /// while (a broker reads a client above its message rate more slowly); ending the
    /// connection before that could lose the changes it has not read yet (a reset discards
    /// them). So this waits for the answer as long as the broker keeps sending, up to
    /// [`CLOSE_QUIET`] without a frame from it and [`CLOSE_LIMIT`] in all. Gives back the
    /// broker's first refusal on this connection, if any came (one that came after the last send
    /// would otherwise go unreported).
    pub async fn close(mut self) -> Option<NotifyError> {
        let deadline = tokio::time::Instant::now() + CLOSE_LIMIT;
        // First the answers to the changes sent, as long as a one-shot send waits for its echo
        // ([`CONFIRM_TIMEOUT`]) since the last one came: a broker answers a close at once, and
        // an answer still on its way to this connection is not sent after that (the change was
        // made, or may have been, but would be counted as perhaps not made and sent again).
        let mut left = self.tally.unanswered();
        let mut answered = tokio::time::Instant::now();
        while left > 0 && !self.drain.is_finished() {
            let now = tokio::time::Instant::now();
            let still = self.tally.unanswered();
            if still < left {
                (left, answered) = (still, now);
            }
            if now - answered >= CONFIRM_TIMEOUT || now >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = tokio::time::timeout_at(deadline, self.sink.close()).await;
        let mut seen = self.frames.load(std::sync::atomic::Ordering::Relaxed);
        while tokio::time::timeout(CLOSE_QUIET.min(deadline - tokio::time::Instant::now()), &mut self.drain).await.is_err() {
            let now = self.frames.load(std::sync::atomic::Ordering::Relaxed);
            if now == seen || tokio::time::Instant::now() >= deadline {
                break;
            }
            seen = now;
        }
        self.drain.abort();
        let (refusal, reason) = self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let url = self.url.clone();
        Some(match refusal {
            Some(Refusal::InDoubt) => NotifyError::InDoubt { url, reason },
            _ => NotifyError::Refused { url, reason },
        })
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `WEBSOCKET_URL` unset is the default broker; set but not UTF-8, it is not taken for
    /// unset (the default, another broker), but kept to fail as the URL it is not.
    #[cfg(unix)]
    #[test]
    fn a_websocket_url_not_utf8_is_not_the_default() {
        use std::os::unix::ffi::OsStringExt;
        assert_eq!(url_or_default(None), DEFAULT_URL);
        let url = url_or_default(Some(std::ffi::OsString::from_vec(b"ws://broker\xff:8765/".to_vec())));
        assert_eq!(url, "ws://broker\u{fffd}:8765/");
        assert_eq!(url_or_default(Some("ws://b:1/".into())), "ws://b:1/");
    }

    /// What a broker says (an error frame's message, a close's reason, an HTTP body) is printed
    /// on the error's one line: a line break or a terminal's escape sequence in it cannot make
    /// another line, or rewrite the terminal.
    #[test]
    fn what_a_broker_says_is_shown_on_one_line() {
        let said = "no\r\nfurniture-notify: sent\u{1b}[2K".to_owned();
        let url = "ws://h/".to_owned();
        for e in [
            NotifyError::Refused { url: url.clone(), reason: said.clone() },
            NotifyError::InDoubt { url: url.clone(), reason: said.clone() },
            NotifyError::Unconfirmed { url: url.clone(), reason: said.clone() },
            NotifyError::Connect { url: url.clone(), reason: said.clone() },
            NotifyError::NotABroker { url: url.clone(), reason: said.clone() },
            NotifyError::Send { url, reason: said.clone() },
        ] {
            let shown = e.to_string();
            assert!(!shown.contains(char::is_control) && shown.ends_with("no  furniture-notify: sent [2K"), "{shown:?}");
        }
    }

    /// A tally keeps at most `TALLY_MAX` changes, letting the oldest go: a broker that answers
    /// nothing cannot make it grow for ever, and what it let go still counts as not answered
    /// (it counted as answered: past 10,000 a broker that echoed nothing passed for one that did).
    #[test]
    fn a_tally_holds_at_most_its_bound() {
        let tally = Tally::default();
        let change = |id: &str| ProducerMessage { action: Action::Updated, furniture: Furniture::new(id, "Mesa", "", 75, 120, "roble", "ana") };
        for i in 0..TALLY_MAX {
            tally.sent(&change(&i.to_string()));
        }
        assert_eq!(tally.unanswered(), TALLY_MAX);
        tally.sent(&change("one more"));
        assert_eq!(tally.state().waiting.len(), TALLY_MAX);
        assert_eq!(tally.state().waiting.front().and_then(|(_, f)| f.id()).as_deref(), Some("1"), "the oldest went");
        assert_eq!(tally.unanswered(), TALLY_MAX + 1, "let go, not answered");
    }

    /// A WebSocket server for one connection that reads everything and answers nothing: its
    /// URL, and its task to abort.
    async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
        use futures_util::StreamExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            while ws.next().await.is_some() {}
        });
        (url, server)
    }

    /// A publisher's changes past the tally's bound, to a server that echoes none of them, all
    /// count as unanswered: the demo then says that the broker answered none (it took the
    /// changes let go for answered, and 50 of 10,050 for delivered).
    #[tokio::test]
    async fn changes_let_go_by_the_tally_count_as_unanswered() {
        let (url, server) = silent_server().await;
        let mut publisher = Notifier::new(url).connect().await.unwrap();
        let sent = TALLY_MAX + 50;
        for i in 0..sent {
            let msg = ProducerMessage { action: Action::Created, furniture: Furniture::new(&i.to_string(), "Mesa", "", 75, 120, "roble", "ana") };
            publisher.send(&msg).await.unwrap();
        }
        assert_eq!(publisher.tally().unanswered(), sent);
        server.abort();
    }

    /// Both ways of sending (one change, or a publisher for many) write at once: Nagle's
    /// algorithm is off on their socket. With it on, a change written after the pong to the
    /// broker's ping waited for the broker's delayed acknowledgement (BENCHMARKS.md).
    #[tokio::test]
    async fn changes_are_written_without_waiting_to_fill_a_segment() {
        let (url, server) = silent_server().await;
        let ws = Notifier::new(url).open().await.expect("a WebSocket to the local listener");
        let MaybeTlsStream::Plain(tcp) = ws.get_ref() else { panic!("a plain TCP stream for ws://") };
        assert!(tcp.nodelay().unwrap(), "TCP_NODELAY set on the notifier's socket");
        server.abort();
    }
}
