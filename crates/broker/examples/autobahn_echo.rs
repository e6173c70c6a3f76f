//! The broker's WebSocket stack as an echo server, for the Autobahn test suite's fuzzing client
//! (`scripts/autobahn`). Autobahn judges a server by what it echoes, and the broker does not
//! echo, so this serves the same upgrade with the same limits (`http::limits`, the broker's
//! defaults) and answers socket errors with the same close codes (`connection::close_reason_for`)
//! as every broker connection, while echoing each message back instead of broadcasting it.
//!
//!     autobahn_echo --listen 127.0.0.1:9001

use std::net::SocketAddr;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use furniture_broker::{connection, http, Config};

async fn echo(mut socket: WebSocket) {
    while let Some(item) = socket.recv().await {
        match item {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if socket.send(message).await.is_err() {
                    return;
                }
            }
            // tungstenite answers pings itself; after a close, reading once more sends its reply.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_)) => {}
            Err(e) => {
                if let Some(reason) = connection::close_reason_for(&e) {
                    let frame = CloseFrame { code: reason.code(), reason: reason.text().into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    // As the broker does: keep the socket a while so the peer reads the close
                    // before the unread rest of its message resets the connection.
                    tokio::time::sleep(connection::CLOSE_LINGER).await;
                }
                return;
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = match (args.next().as_deref(), args.next()) {
        (Some("--listen"), Some(addr)) => addr.parse().map_err(std::io::Error::other)?,
        (None, _) => "127.0.0.1:9001".parse().expect("a literal address"),
        _ => {
            eprintln!("usage: autobahn_echo [--listen HOST:PORT]");
            std::process::exit(2);
        }
    };
    let config = std::sync::Arc::new(Config::on(listen));
    let app = axum::Router::new().route(
        "/",
        get(move |ws: WebSocketUpgrade| {
            let config = config.clone();
            async move { http::limits(ws, &config).on_upgrade(echo) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
