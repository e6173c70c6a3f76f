//! Helpers shared by the browser test binaries (`tests/web.rs`, `tests/retention.rs`).

#![allow(dead_code)]

use furniture_dashboard::app::Live;
use furniture_dashboard::ws::WsEvent;
use furniture_protocol::{Action, Furniture, Notification};
use wasm_bindgen::JsCast;

/// A fresh element in the page to mount a component into.
pub fn host() -> web_sys::HtmlElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let el = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&el).unwrap();
    el.unchecked_into()
}

/// A notification of `action` on item `id` named `nombre`, numbered `seq`.
pub fn note(action: Action, id: &str, nombre: &str, seq: u64) -> Notification {
    Notification {
        action,
        furniture: Furniture::new(id, nombre, "", 75, 120, "roble", "ana"),
        message: format!("mensaje de {nombre}"),
        timestamp: None,
        seq: Some(seq),
    }
}

/// Plays `count` notification frames from `first_seq` into the page, as the socket would, over
/// 500 ids (created, updated and deleted in turn), 50 per animation frame.
pub async fn play(live: Live, first_seq: u64, count: u64) {
    for seq in first_seq..first_seq + count {
        let id = format!("m{}", seq % 500);
        let action = [Action::Created, Action::Updated, Action::Updated, Action::Deleted][(seq / 500 % 4) as usize];
        let n = note(action, &id, &format!("Mesa {seq}"), seq);
        live.on_event(WsEvent::Frame(n.encode()));
        if seq % 50 == 0 {
            gloo_timers::future::TimeoutFuture::new(20).await;
        }
    }
    gloo_timers::future::TimeoutFuture::new(50).await;
}
