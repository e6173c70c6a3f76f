//! A TCP proxy for the fault tests: put it between a client and a server, then change what the
//! network does to their bytes while they talk.
//!
//! | fault | what the peers see |
//! |---|---|
//! | [`Fault::Pass`] | a plain network |
//! | [`Fault::Delay`] | each chunk arrives that much later, in order |
//! | [`Fault::Blackhole`] | bytes vanish both ways and nothing closes: a peer that is gone without FIN or RST |
//! | [`Fault::Reset`] | every open connection is reset (RST); new ones are reset on arrival |
//! | [`Fault::Slice`] | bytes arrive a few at a time with pauses, splitting frames anywhere |
//! | [`Fault::Throttle`] | a slow link: at most so many bytes per second |
//!
//! A fault applies at once to the connections already open and to new ones, in both directions
//! ([`FaultProxy::set`]) or one ([`FaultProxy::set_to_client`], [`FaultProxy::set_to_server`]),
//! or to the open connections alone ([`FaultProxy::set_open`]: a peer that vanished while a new
//! one, or the same one reconnecting, gets through).
//! Everything is bounded: each direction holds at most [`QUEUED_CHUNKS`] chunks of at most
//! [`CHUNK`] bytes, and a slow direction slows its sender through TCP. Dropping the proxy stops
//! it and closes its connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The most bytes read at once.
pub const CHUNK: usize = 16 * 1024;
/// The most chunks read but not yet written, per direction.
pub const QUEUED_CHUNKS: usize = 64;
/// The proxy's receive buffer on each of its sockets. Left to the kernel, loopback buffers grow
/// to tens of MB and hide a slow link from the sender for a long time; a real slow link holds
/// little.
pub const SOCKET_BUFFER: u32 = 64 * 1024;

/// What the network does to the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Delay(Duration),
    Blackhole,
    Reset,
    /// Writes of at most `bytes` bytes, `pause` apart.
    Slice {
        bytes: usize,
        pause: Duration,
    },
    /// At most `bytes_per_sec` bytes per second.
    Throttle {
        bytes_per_sec: usize,
    },
}

/// One connection's faults, to the server and to the client.
type Link = (watch::Sender<Fault>, watch::Sender<Fault>);

/// A running proxy; see the module documentation.
pub struct FaultProxy {
    pub addr: SocketAddr,
    /// The faults new connections start with.
    to_server: watch::Sender<Fault>,
    to_client: watch::Sender<Fault>,
    /// Each open connection's own faults, to the server and to the client.
    links: Arc<Mutex<Vec<Link>>>,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(SOCKET_BUFFER)?;
        socket.bind("127.0.0.1:0".parse().expect("a literal address"))?;
        let listener = socket.listen(128)?;
        let addr = listener.local_addr()?;
        let (to_server, _) = watch::channel(Fault::Pass);
        let (to_client, _) = watch::channel(Fault::Pass);
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let links: Arc<Mutex<Vec<Link>>> = Arc::default();
        let (up, down) = (to_server.clone(), to_client.clone());
        let (acc, opn, lnk) = (accepted.clone(), open.clone(), links.clone());
        let accept_task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                acc.fetch_add(1, Ordering::Relaxed);
                let (link_up, up) = watch::channel(*up.borrow());
                let (link_down, down) = watch::channel(*down.borrow());
                {
                    let mut links = lnk.lock().unwrap_or_else(|p| p.into_inner());
                    // Forget the connections that have ended (their receivers are gone).
                    links.retain(|(u, d)| !u.is_closed() || !d.is_closed());
                    links.push((link_up, link_down));
                }
                let opn = opn.clone();
                tokio::spawn(async move {
                    if *up.borrow() == Fault::Reset || *down.borrow() == Fault::Reset {
                        reset(&client);
                        return;
                    }
                    let Ok(server) = connect(upstream).await else { return };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    opn.fetch_add(1, Ordering::Relaxed);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, up), pipe(sr, cw, down));
                    opn.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
        Ok(FaultProxy { addr, to_server, to_client, links, accepted, open, accept_task })
    }

    /// The fault for both directions, now and for new connections.
    pub fn set(&self, fault: Fault) {
        self.set_to_server(fault);
        self.set_to_client(fault);
    }

    /// The fault for bytes from the server to the client.
    pub fn set_to_client(&self, fault: Fault) {
        self.to_client.send_replace(fault);
        self.each_link(|(_, down)| down.send_replace(fault));
    }

    /// The fault for bytes from the client to the server.
    pub fn set_to_server(&self, fault: Fault) {
        self.to_server.send_replace(fault);
        self.each_link(|(up, _)| up.send_replace(fault));
    }

    /// The fault for both directions of the connections open now; new ones are not affected.
    pub fn set_open(&self, fault: Fault) {
        self.each_link(|(up, down)| {
            up.send_replace(fault);
            down.send_replace(fault)
        });
    }

    fn each_link(&self, mut f: impl FnMut(&Link) -> Fault) {
        for link in self.links.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f(link);
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections forwarding now (a black-holed one still counts: it is open).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        // The connections see their watch channels close and end.
        self.links.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// A connection to `upstream` with the proxy's small receive buffer.
async fn connect(upstream: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if upstream.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    socket.connect(upstream).await
}

/// Closes with RST rather than FIN.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// One direction: a reader stage that takes chunks off `from` (or swallows them in a black hole)
/// and a writer stage that hands them to `to` as the fault says.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, fault: watch::Receiver<Fault>) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUED_CHUNKS);
    let mut read_fault = fault.clone();
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = tokio::select! {
                r = from.read(&mut buf) => r.unwrap_or(0),
                changed = read_fault.changed() => {
                    if changed.is_err() || *read_fault.borrow() == Fault::Reset { return }
                    continue;
                }
            };
            let now = *read_fault.borrow();
            if n == 0 {
                if now == Fault::Blackhole {
                    // A vanished peer never says goodbye: hold on until the fault changes.
                    if read_fault.changed().await.is_err() {
                        return;
                    }
                }
                return; // dropping `tx` ends the writer after what is queued
            }
            match now {
                Fault::Blackhole => continue,
                Fault::Reset => return,
                _ => {}
            }
            if tx.send((Instant::now(), buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let mut write_fault = fault;
    let writer = async move {
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                changed = write_fault.changed() => {
                    if changed.is_err() || *write_fault.borrow() == Fault::Reset {
                        reset(to.as_ref());
                        return;
                    }
                    continue;
                }
            };
            let Some((read_at, bytes)) = next else {
                if *write_fault.borrow() == Fault::Reset {
                    reset(to.as_ref());
                } else {
                    let _ = to.shutdown().await;
                }
                return;
            };
            let now = *write_fault.borrow();
            let sent = match now {
                Fault::Pass => to.write_all(&bytes).await,
                Fault::Delay(d) => {
                    tokio::time::sleep_until(read_at + d).await;
                    to.write_all(&bytes).await
                }
                Fault::Blackhole => Ok(()),
                Fault::Reset => {
                    reset(to.as_ref());
                    return;
                }
                Fault::Slice { bytes: size, pause } => paced(&mut to, &bytes, size.max(1), pause).await,
                Fault::Throttle { bytes_per_sec } => {
                    let tick = Duration::from_millis(50);
                    paced(&mut to, &bytes, (bytes_per_sec / 20).max(1), tick).await
                }
            };
            if sent.is_err() {
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}

/// Writes `bytes` in pieces of `size`, flushing each and pausing between them.
async fn paced(to: &mut OwnedWriteHalf, bytes: &[u8], size: usize, pause: Duration) -> std::io::Result<()> {
    for piece in bytes.chunks(size) {
        to.write_all(piece).await?;
        to.flush().await?;
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// An echo server on a free port.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    /// Whether `word` (4 bytes) comes back within 5 s (a slow machine's time).
    async fn echoes(s: &mut TcpStream) -> bool {
        echoes_within(s, b"hola", 5_000).await
    }

    /// Whether nothing of `word` comes back within 300 ms.
    async fn swallows(s: &mut TcpStream, word: &[u8; 4]) -> bool {
        !echoes_within(s, word, 300).await
    }

    async fn echoes_within(s: &mut TcpStream, word: &[u8; 4], ms: u64) -> bool {
        s.write_all(word).await.unwrap();
        let mut buf = [0u8; 4];
        matches!(tokio::time::timeout(Duration::from_millis(ms), s.read_exact(&mut buf)).await, Ok(Ok(4))) && &buf == word
    }

    #[tokio::test]
    async fn set_open_blackholes_the_open_connections_and_lets_new_ones_through() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut before = TcpStream::connect(proxy.addr).await.unwrap();
        assert!(echoes(&mut before).await, "a plain network at first");
        proxy.set_open(Fault::Blackhole);
        let mut after = TcpStream::connect(proxy.addr).await.unwrap();
        assert!(echoes(&mut after).await, "a new connection passes");
        assert!(swallows(&mut before, b"uno!").await, "the open one swallows its bytes");
        assert_eq!(proxy.open(), 2, "and is not closed");
        assert_eq!(proxy.accepted(), 2);
    }

    #[tokio::test]
    async fn set_applies_to_open_and_new_connections_until_lifted() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut before = TcpStream::connect(proxy.addr).await.unwrap();
        proxy.set(Fault::Blackhole);
        let mut after = TcpStream::connect(proxy.addr).await.unwrap();
        assert!(swallows(&mut before, b"uno!").await);
        assert!(swallows(&mut after, b"uno!").await);
        proxy.set(Fault::Pass);
        let mut healed = TcpStream::connect(proxy.addr).await.unwrap();
        assert!(echoes(&mut healed).await, "a plain network again");
        // What was sent meanwhile was swallowed, not held up: the next word is the first back.
        assert!(echoes_within(&mut after, b"dos!", 5_000).await, "an open connection passes again, without what it sent before");
    }
}
