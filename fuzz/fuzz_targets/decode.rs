//! Inbound decoding: any bytes, as a client frame (what the broker reads) and as a server frame
//! (what the dashboard reads). Never a panic; an accepted publish re-encodes to a frame that
//! decodes to the same message, and an accepted notification likewise.
#![no_main]

use furniture_protocol::{decode_client, decode_server, ClientFrame, ServerFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let ClientFrame::Publish(msg) = decode_client(&text) {
        let ClientFrame::Publish(again) = decode_client(&msg.encode()) else { panic!("a re-encoded publish is refused") };
        assert_eq!(again, msg);
    }
    if let ServerFrame::Notification(n) = decode_server(&text) {
        assert_eq!(decode_server(&n.encode()), ServerFrame::Notification(n));
    }
});
