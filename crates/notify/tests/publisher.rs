//! The publisher's close against a broker that never answers it.

use std::time::{Duration, Instant};

use furniture_notify::{Notifier, CLOSE_QUIET, CONFIRM_TIMEOUT};
use furniture_protocol::{Action, Furniture, ProducerMessage};

/// A broker that takes the connection and then neither reads nor writes: `close` gives up after
/// `CLOSE_QUIET` without a frame, not at `CLOSE_LIMIT`, and not at once; with a change of its
/// unanswered, it waits `CONFIRM_TIMEOUT` for the answer first, as a one-shot send would.
#[tokio::test]
async fn close_gives_up_on_a_silent_broker_after_its_quiet_bound() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tokio_tungstenite::accept_async(tcp).await.unwrap());
        }
    });
    let publisher = Notifier::new(url.clone()).connect().await.unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), publisher.close()).await.expect("close returns long before CLOSE_LIMIT");
    let took = started.elapsed();
    assert!(took >= CLOSE_QUIET, "it waited for an answer ({took:?})");

    let mut publisher = Notifier::new(url).connect().await.unwrap();
    let change = ProducerMessage { action: Action::Created, furniture: Furniture::new("1", "Mesa", "", 75, 120, "roble", "ana") };
    publisher.send(&change).await.unwrap();
    let tally = publisher.tally();
    let started = Instant::now();
    tokio::time::timeout(CONFIRM_TIMEOUT + Duration::from_secs(15), publisher.close()).await.expect("close returns long before CLOSE_LIMIT");
    let took = started.elapsed();
    assert!(took >= CONFIRM_TIMEOUT + CLOSE_QUIET, "it waited for the change's answer, then the close's ({took:?})");
    assert_eq!(tally.unanswered(), 1);
    server.abort();
}

/// A broker whose answer comes late (a broker on Redis may take 10 s to say whether a change was
/// written): closing waits for it, and the change is not left as perhaps not made.
#[tokio::test]
async fn close_waits_for_a_late_answer() {
    use futures_util::{SinkExt, StreamExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let Some(Ok(change)) = ws.next().await else { return };
        let v: serde_json::Value = serde_json::from_str(change.to_text().unwrap()).unwrap();
        tokio::time::sleep(CLOSE_QUIET + Duration::from_secs(1)).await;
        let echo = serde_json::json!({"type": "furniture_notification", "action": "created", "furniture": v["furniture"], "message": "x", "timestamp": "2026-12-06T10:00:00"});
        ws.send(tokio_tungstenite::tungstenite::Message::text(echo.to_string())).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let mut publisher = Notifier::new(url).connect().await.unwrap();
    let change = ProducerMessage { action: Action::Created, furniture: Furniture::new("1", "Mesa", "", 75, 120, "roble", "ana") };
    publisher.send(&change).await.unwrap();
    let tally = publisher.tally();
    assert_eq!(publisher.close().await.map(|e| e.to_string()), None);
    assert_eq!(tally.unanswered(), 0, "the late answer was waited for");
}

/// A broker that reads the change and then drops the connection before echoing it (killed or
/// restarted in between): the change is not reported as sent, and the error says it may or may
/// not have been made. The publish token in the URL appears in no error.
#[tokio::test]
async fn a_connection_that_ends_before_the_echo_is_not_reported_as_sent() {
    use futures_util::StreamExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/?token=S3CRET", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _ = ws.next().await; // the change, then gone without a word
    });
    let change = ProducerMessage { action: Action::Created, furniture: Furniture::new("1", "Mesa", "", 75, 120, "roble", "ana") };
    let err = Notifier::new(url).send(&change).await.expect_err("not confirmed, not sent");
    assert!(matches!(err, furniture_notify::NotifyError::Unconfirmed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("may or may not have been made") && text.contains("token=***"), "{text}");
    assert!(!text.contains("S3CRET") && !format!("{err:?}").contains("S3CRET"), "{text}");
}

/// Every error a notifier gives, and its own debug form, show the URL without its secrets.
#[tokio::test]
async fn no_error_shows_the_publish_token() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let change = ProducerMessage { action: Action::Deleted, furniture: Furniture::new("1", "Mesa", "", 75, 120, "roble", "ana") };
    for url in [format!("ws://127.0.0.1:{port}/p?a=1&token=S3CRET&b=2"), "wss://u:S3CRET@example.invalid/?token=S3CRET".to_owned(), "http://x/?token=S3CRET".to_owned()] {
        let notifier = Notifier::new(url.clone());
        let err = notifier.send(&change).await.expect_err("nothing listens there");
        for shown in [err.to_string(), format!("{err:?}"), format!("{notifier:?}"), notifier.shown_url()] {
            assert!(!shown.contains("S3CRET"), "{url}: {shown}");
        }
    }
    assert_eq!(furniture_notify::shown_url("ws://h:1/p?a=1&token=x&b=2"), "ws://h:1/p?a=1&token=***&b=2");
    assert_eq!(furniture_notify::shown_url("ws://user:pw@h/?token="), "ws://user:***@h/?token=***");
    assert_eq!(furniture_notify::shown_url("ws://localhost:8765"), "ws://localhost:8765");
    // Keys as the broker reads them, escapes decoded.
    assert_eq!(furniture_notify::shown_url("ws://h/?%74oken=S3CRET"), "ws://h/?%74oken=***");
    assert_eq!(furniture_notify::shown_url("ws://h/?tok%65n=S3CRET&tokens=1"), "ws://h/?tok%65n=***&tokens=1");
}

/// A broker that takes the connection and then stops reading: a change too big for the
/// socket's buffers is given up with a clear error after `CONFIRM_TIMEOUT`, by a publisher and
/// by a one-shot send, instead of holding the caller for ever.
#[tokio::test]
async fn a_broker_that_stops_reading_does_not_hold_the_sender_for_ever() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tokio_tungstenite::accept_async(tcp).await.unwrap());
        }
    });
    let big = ProducerMessage { action: Action::Created, furniture: Furniture::new("1", &"x".repeat(32 << 20), "", 75, 120, "roble", "ana") };
    let mut publisher = Notifier::new(url.clone()).connect().await.unwrap();
    let sent = tokio::time::timeout(Duration::from_secs(120), publisher.send(&big)).await.expect("the publisher gave up");
    assert!(matches!(&sent, Err(furniture_notify::NotifyError::Send { reason, .. }) if reason.contains("took nothing")), "{sent:?}");
    let once = tokio::time::timeout(Duration::from_secs(120), Notifier::new(url).send(&big)).await.expect("the one-shot send gave up");
    assert!(matches!(&once, Err(furniture_notify::NotifyError::Send { reason, .. }) if reason.contains("took nothing")), "{once:?}");
}
