//! One port for everything: a WebSocket upgrade on any path goes to the broker; `/healthz` and
//! `/metrics` are for operators; any other GET is served from the built dashboard.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Extension, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;
use tracing::{debug, warn};

use crate::admission::{self, Slot};
use crate::hub::Hub;
use crate::metrics::ConnRefusal;
use crate::{connection, Config};

/// The marker the broker adds to the dashboard's page, telling it to connect back to the same
/// origin.
pub const SAME_ORIGIN_META: &str = r#"<meta name="furniture-broker" content="same-origin">"#;

/// Bytes each connection reads at a time (see `upgrade`).
pub const READ_BUFFER_BYTES: usize = 4096;

#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub config: Arc<Config>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

pub fn router(state: AppState) -> Router {
    Router::new().fallback(entry).with_state(state)
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn entry(State(app): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    if is_websocket_upgrade(req.headers()) {
        return upgrade(app, peer, req).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    match req.uri().path() {
        "/" | "/index.html" => index(&app.config).await,
        "/healthz" => health(&app.hub),
        "/metrics" => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            app.hub.metrics.render(&app.hub.snapshot()),
        )
            .into_response(),
        _ => {
            // The release build's files gzip'd beside them (scripts/minify-dist): a browser that
            // accepts gzip gets those, a third of the size, with nothing compressed per request.
            let files = ServeDir::new(&app.config.dashboard_dir).precompressed_gzip();
            match tower::ServiceExt::oneshot(files, req).await {
                Ok(res) => res.into_response(),
                Err(never) => match never {},
            }
        }
    }
}

/// Ready when the state file is writable (it was opened before the listener started).
fn health(hub: &Hub) -> Response {
    if hub.storage_ok() {
        "ok\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "storage failing: the state file cannot be written\n").into_response()
    }
}

/// Characters of a client's header shown in a log line; the rest is left out.
const LOGGED_HEADER_CHARS: usize = 200;

/// The HTTP answer to a refused upgrade, logged and counted.
pub fn refusal(app: &AppState, peer: SocketAddr, why: ConnRefusal) -> Response {
    refusal_because(app, peer, why, "")
}

/// [`refusal`], its log line (if the budget of lines allows one now) followed by `detail`.
fn refusal_because(app: &AppState, peer: SocketAddr, why: ConnRefusal, detail: &str) -> Response {
    app.hub.metrics.refused(why);
    let (status, text) = refusal_status(why);
    match app.hub.metrics.refusals_logged.take() {
        Some(0) => warn!(%peer, reason = why.label(), status = status.as_u16(), "connection refused: {text}{detail}"),
        Some(unlogged) => warn!(
            %peer, reason = why.label(), status = status.as_u16(), unlogged,
            "connection refused: {text}{detail} (and {unlogged} since the last such line, counted in /metrics, not logged)"
        ),
        None => {}
    }
    (status, format!("{text}\n")).into_response()
}

/// Status and text of each refusal.
pub fn refusal_status(why: ConnRefusal) -> (StatusCode, &'static str) {
    match why {
        ConnRefusal::MaxConnections => (StatusCode::SERVICE_UNAVAILABLE, "too many connections"),
        ConnRefusal::PerIp => (StatusCode::TOO_MANY_REQUESTS, "too many connections from this address"),
        ConnRefusal::Origin => (StatusCode::FORBIDDEN, "origin not allowed"),
        ConnRefusal::BadToken => (StatusCode::UNAUTHORIZED, "wrong publish token"),
        ConnRefusal::HandshakeTimeout => (StatusCode::REQUEST_TIMEOUT, "handshake too slow"),
        ConnRefusal::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

async fn upgrade(app: AppState, peer: SocketAddr, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if app.shutdown.is_cancelled() {
        return refusal(&app, peer, ConnRefusal::ShuttingDown);
    }
    if !admission::origin_allowed(&app.config, &parts.headers) {
        // The client's own text, cut short: the line stays one line of bounded length.
        let shown = |name| parts.headers.get(name).map(|v: &axum::http::HeaderValue| {
            let v = String::from_utf8_lossy(v.as_bytes());
            let cut = v.char_indices().nth(LOGGED_HEADER_CHARS).map_or(v.len(), |(at, _)| at);
            format!("{:?}{}", &v[..cut], if cut < v.len() { "…" } else { "" })
        });
        let (origin, host) = (shown(header::ORIGIN), shown(header::HOST));
        let why = format!(
            " (origin {} not on --allowed-origins, host {}; the dashboard this broker serves is let in by itself when opened by IP address, localhost or this machine's name: list any other name it is opened by)",
            origin.as_deref().unwrap_or("-"),
            host.as_deref().unwrap_or("-")
        );
        return refusal_because(&app, peer, ConnRefusal::Origin, &why);
    }
    let publishing = match admission::publishing(&app.config, peer.ip(), &parts.headers, &parts.uri) {
        Ok(p) => p,
        Err(why) => return refusal(&app, peer, why),
    };
    let slot: Option<Arc<Slot>> = Extension::<Arc<Slot>>::from_request_parts(&mut parts, &()).await.ok().map(|e| e.0);
    let reg = app.hub.register(&app.shutdown);
    let hub = app.hub.clone();
    let config = app.config.clone();
    let tasks = app.tasks.clone();
    let id = reg.id;
    let failed_hub = app.hub.clone();
    limits(ws, &app.config)
        .on_failed_upgrade(move |e| {
            failed_hub.unregister(id);
            warn!(%peer, error = %e, "WebSocket upgrade failed");
        })
        .on_upgrade(move |socket| {
            // Counted once the upgrade is done: a client gone before its 101 is not a connection.
            hub.metrics.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tasks.track_future(async move {
                connection::serve(socket, peer, hub, reg, publishing, config).await;
                // The connection's place under the caps is given back only now.
                drop(slot);
            })
        })
}

/// The WebSocket limits every connection gets: frames and messages up to `--max-frame-bytes`
/// (above, close 1009 before the announced size is allocated) and a small read buffer.
pub fn limits(ws: WebSocketUpgrade, config: &Config) -> WebSocketUpgrade {
    ws.max_message_size(config.max_frame_bytes)
        // Small per-connection read buffer: clients send little, and tungstenite zeroes the
        // whole buffer on every read (128 KiB by default), which cost more CPU than the rest of
        // the broker together and 128 KiB of memory per connection.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(config.max_frame_bytes)
}

async fn index(config: &Config) -> Response {
    let path = config.dashboard_dir.join("index.html");
    match tokio::fs::read_to_string(&path).await {
        Ok(page) => {
            let page = match page.find("</head>") {
                Some(at) => format!("{}{SAME_ORIGIN_META}\n{}", &page[..at], &page[at..]),
                None => format!("{SAME_ORIGIN_META}\n{page}"),
            };
            ([(header::CACHE_CONTROL, "no-cache")], Html(page)).into_response()
        }
        Err(e) => {
            // Said once at the start (main.rs); a line per request would let anyone fill the log.
            debug!(path = %path.display(), error = %e, "dashboard not found");
            (
                StatusCode::NOT_FOUND,
                Html(format!(
                    "<!doctype html><meta charset=utf-8><title>Dashboard not built</title>\
                     <p>This broker serves the dashboard from <code>{}</code>, which has no \
                     <code>index.html</code>. Build it with <code>trunk build --release</code> at \
                     the project's root, or point <code>--dashboard-dir</code> at a built one. \
                     WebSocket clients are served as usual.</p>",
                    html_escape(&config.dashboard_dir.display().to_string())
                )),
            )
                .into_response()
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
