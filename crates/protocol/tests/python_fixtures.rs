//! Pins decoding and the exact message texts against frames recorded from the Python broker.

use furniture_protocol::{
    decode_client, decode_server, notification_text, ClientFrame, ServerFrame, Timestamp,
};
use serde_json::Value;

struct Case {
    input: Option<String>,
    to: Option<String>,
    output: Option<String>,
}

fn cases() -> Vec<Case> {
    include_str!("fixtures/python-broker.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("fixture line is JSON");
            let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
            Case { input: s("input"), to: s("to"), output: s("output") }
        })
        .collect()
}

/// Every producer input the Python broker rebroadcast gives the same action, record and message
/// text from our decoder and text builder.
#[test]
fn rebroadcast_inputs_give_the_recorded_notification() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.to.as_deref() == Some("every client")) {
        let input = case.input.as_deref().unwrap();
        let ClientFrame::Publish(msg) = decode_client(input) else { panic!("not a publish: {input}") };
        let output = case.output.as_deref().unwrap();
        let ServerFrame::Notification(n) = decode_server(output) else { panic!("not a notification: {output}") };
        assert_eq!(n.action, msg.action, "{input}");
        assert_eq!(n.furniture, msg.furniture, "{input}");
        assert_eq!(notification_text(msg.action, &msg.furniture), n.message, "{input}");
        assert_eq!(n.seq, None);
        checked += 1;
    }
    assert_eq!(checked, 8, "the fixture file has eight rebroadcasts");
}

/// Inputs the Python broker answered with nothing are ignored by our decoder too.
#[test]
fn silent_inputs_are_ignored() {
    let silent: Vec<_> = cases().into_iter().filter(|c| c.to.is_none()).collect();
    assert_eq!(silent.len(), 4);
    for case in silent {
        let input = case.input.unwrap();
        assert!(matches!(decode_client(&input), ClientFrame::Ignored(_)), "{input}");
    }
}

/// The welcome and pong decode, and every recorded timestamp parses and prints back unchanged.
#[test]
fn welcome_pong_and_timestamps() {
    let cases = cases();
    let welcome = cases.iter().find(|c| c.input.is_none()).unwrap();
    assert_eq!(
        decode_server(welcome.output.as_deref().unwrap()),
        ServerFrame::Welcome {
            message: furniture_protocol::WELCOME_TEXT.to_owned(),
            client_count: Some(1),
            timestamp: Timestamp::parse("2026-11-28T00:12:03.905143Z"),
            stream: None,
        }
    );
    let ping = cases.iter().find(|c| c.input.as_deref() == Some(r#"{"type": "ping"}"#)).unwrap();
    assert_eq!(decode_client(ping.input.as_deref().unwrap()), ClientFrame::Ping);
    assert!(matches!(decode_server(ping.output.as_deref().unwrap()), ServerFrame::Pong { timestamp: Some(_), client_count: None }));
    for out in cases.iter().filter_map(|c| c.output.as_deref()) {
        let v: Value = serde_json::from_str(out).unwrap();
        let ts = v["timestamp"].as_str().unwrap();
        assert_eq!(Timestamp::parse(ts).map(|t| t.to_string()).as_deref(), Some(ts));
    }
}

/// The `\u`-escaped emoji and accents of the Python broker's ASCII output decode to the real
/// characters, and hostile markup stays plain text in the record.
#[test]
fn escaped_text_decodes_to_characters() {
    let cases = cases();
    let deleted = cases
        .iter()
        .filter_map(|c| c.output.as_deref())
        .find(|o| o.contains("Silla <b>"))
        .unwrap();
    let ServerFrame::Notification(n) = decode_server(deleted) else { panic!() };
    assert_eq!(n.furniture.nombre().as_deref(), Some("Silla <b>Ñandú</b> 🪑"));
    assert_eq!(n.message, "🗑️ Mueble eliminado: Silla <b>Ñandú</b> 🪑");
    assert_eq!(n.furniture.altura(), None, "\"alta\" is not a size");
    assert_eq!(n.furniture.id(), None);
}

/// The example frames of PROTOCOL.md (with a real record in place of `...record...`) decode.
#[test]
fn protocol_examples_decode() {
    let record = r#"{"furniture_id": "673a2f1b8e4d2a1c3b5e6f7a", "nombre": "Mesa de Roble", "descripcion": "Mesa elegante de comedor", "altura": 75, "ancho": 120, "material": "roble", "autor_username": "Juan"}"#;
    let producer = format!(r#"{{"type": "furniture_created", "furniture": {record}}}"#);
    assert!(matches!(decode_client(&producer), ClientFrame::Publish(_)));
    let welcome = r#"{"type": "connection", "message": "Conectado al servidor de notificaciones de muebles",
 "timestamp": "2024-01-15T14:30:00.123456Z", "client_count": 3}"#;
    assert!(matches!(decode_server(welcome), ServerFrame::Welcome { client_count: Some(3), .. }));
    let note = format!(
        r#"{{"type": "furniture_notification", "action": "created", "furniture": {record},
 "message": "🪑 Nuevo mueble creado: Mesa de Roble - roble (120x75cm)",
 "timestamp": "2024-01-15T14:30:00.123456Z"}}"#
    );
    let ServerFrame::Notification(n) = decode_server(&note) else { panic!() };
    assert_eq!(notification_text(n.action, &n.furniture), n.message);
    assert_eq!(decode_client(r#"{"type": "ping"}"#), ClientFrame::Ping);
    assert!(matches!(decode_server(r#"{"type": "pong", "timestamp": "2024-01-15T14:30:00Z"}"#), ServerFrame::Pong { timestamp: Some(_), client_count: None }));
}
