//! Why a connection is being closed, and the one-shot signal that asks its writer to do it.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// Every reason the broker closes a connection, with its WebSocket close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The broker is shutting down: 1001 (going away).
    Shutdown,
    /// A frame or message above the size limit: 1009 (message too big).
    TooBig,
    /// A text frame that is not UTF-8: 1007 (invalid payload).
    InvalidUtf8,
    /// A WebSocket protocol violation: 1002.
    ProtocolError,
    /// No answer to a protocol ping in time: 1011, as the Python broker does.
    PingTimeout,
    /// The client's send queue was full: 1008 (policy), it could not keep up.
    TooSlow,
    /// The broker loaded its state again (it missed notifications it can no longer get, or the
    /// shared numbering started over): 1012 (service restart); reconnect and resync.
    Restarting,
}

impl CloseReason {
    pub fn code(self) -> u16 {
        match self {
            CloseReason::Shutdown => 1001,
            CloseReason::TooBig => 1009,
            CloseReason::InvalidUtf8 => 1007,
            CloseReason::ProtocolError => 1002,
            CloseReason::PingTimeout => 1011,
            CloseReason::TooSlow => 1008,
            CloseReason::Restarting => 1012,
        }
    }

    /// The close frame's reason text (short, ASCII).
    pub fn text(self) -> &'static str {
        match self {
            CloseReason::Shutdown => "broker shutting down",
            CloseReason::TooBig => "message too big",
            CloseReason::InvalidUtf8 => "invalid UTF-8",
            CloseReason::ProtocolError => "protocol error",
            CloseReason::PingTimeout => "keepalive ping timeout",
            CloseReason::TooSlow => "too slow: send queue full",
            CloseReason::Restarting => "state reloaded: reconnect and resync",
        }
    }
}

/// Asks a connection's writer to close with a reason; the first reason given wins. Cancelled too
/// when the broker shuts down, with [`CloseReason::Shutdown`].
#[derive(Clone)]
pub struct Closer {
    token: CancellationToken,
    reason: Arc<Mutex<Option<CloseReason>>>,
}

impl Closer {
    /// A closer that also fires when `shutdown` is cancelled.
    pub fn new(shutdown: &CancellationToken) -> Closer {
        Closer { token: shutdown.child_token(), reason: Arc::new(Mutex::new(None)) }
    }

    pub fn close(&self, reason: CloseReason) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert(reason);
        self.token.cancel();
    }

    /// Whether a close has been asked for.
    pub fn is_closing(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Waits until a close is asked for.
    pub async fn closed(&self) -> CloseReason {
        self.token.cancelled().await;
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).unwrap_or(CloseReason::Shutdown)
    }
}
