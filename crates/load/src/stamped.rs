//! A TCP stream that remembers when the kernel received what was read from it last
//! (`SO_TIMESTAMPNS`), so that a viewer's latency can be taken at its socket as well as when this
//! tool, sharing the machine with the broker, got round to reading it.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// A [`TcpStream`] whose reads may also collect the kernel's receive time.
pub struct Stamped {
    inner: TcpStream,
    stamped: bool,
    received_ns: Option<u64>,
}

impl Stamped {
    /// A stream read plainly, with no receive times (they cost a `recvmsg` and its control
    /// message per read).
    pub fn plain(inner: TcpStream) -> Stamped {
        Stamped { inner, stamped: false, received_ns: None }
    }

    /// Asks the kernel to stamp what `inner` receives.
    pub fn new(inner: TcpStream) -> io::Result<Stamped> {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor and an option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                inner.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Stamped { inner, stamped: true, received_ns: None })
    }

    /// When the kernel received the newest bytes of the last read, in nanoseconds since the epoch
    /// (the clock of `SystemTime`). `None` before the first read, on a plain stream, and for bytes
    /// that came unstamped: Linux turns receive times on for the whole machine a moment after
    /// the first socket asks for them.
    pub fn received_ns(&self) -> Option<u64> {
        self.received_ns
    }
}

/// One `recvmsg` into `buf`: the bytes read and the receive time of the newest of them.
fn recv_stamped(fd: libc::c_int, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    // Room for one control message holding a `timespec`, aligned for `cmsghdr`.
    let mut control = [MaybeUninit::<u64>::uninit(); 8];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: all-zero is a valid `msghdr`; its pointers are set to live buffers below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    // SAFETY: `msg` points at `buf` and `control`, both alive and as long as declared.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the kernel filled `msg_controllen` bytes of `control` with control messages, which
    // the CMSG_* helpers walk within those bounds.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

impl AsyncRead for Stamped {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.stamped {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            let fd = this.inner.as_raw_fd();
            let unfilled = buf.initialize_unfilled();
            match this.inner.try_io(Interest::READABLE, || recv_stamped(fd, unfilled)) {
                Ok((n, stamp)) => {
                    buf.advance(n);
                    if n > 0 {
                        // Never an older read's time: bytes read without one have none.
                        this.received_ns = stamp;
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Stamped {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn now_ns() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
    }

    #[tokio::test]
    async fn a_read_carries_the_time_the_kernel_received_the_bytes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let mut reader = Stamped::new(client.unwrap()).unwrap();
        let (mut writer, _) = accepted.unwrap();
        assert_eq!(reader.received_ns(), None);
        let mut buf = [0u8; 16];
        // Until the kernel stamps what arrives (it turns stamps on a moment after being asked).
        for _ in 0..100 {
            writer.write_all(b"warm").await.unwrap();
            reader.read_exact(&mut buf[..4]).await.unwrap();
            if reader.received_ns().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(reader.received_ns().is_some(), "no receive time within 2 s");

        let before = now_ns();
        writer.write_all(b"first").await.unwrap();
        // Read well after the bytes arrived: the stamp is their arrival, not the read.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let n = reader.read(&mut buf).await.unwrap();
        let read_at = now_ns();
        assert_eq!(&buf[..n], b"first");
        let stamp = reader.received_ns().expect("a receive time");
        assert!(stamp >= before, "stamped {stamp}, sent at {before}");
        assert!(read_at - stamp >= 150_000_000, "stamped {} ms before the read", (read_at - stamp) / 1_000_000);

        // A later read moves the stamp on.
        writer.write_all(b"second").await.unwrap();
        let n = reader.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
        assert!(reader.received_ns().unwrap() > stamp);
    }

    #[tokio::test]
    async fn a_plain_stream_reads_the_same_bytes_without_stamps() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let mut reader = Stamped::plain(client.unwrap());
        let (mut writer, _) = accepted.unwrap();
        writer.write_all(b"plain").await.unwrap();
        let mut buf = [0u8; 16];
        let n = reader.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"plain");
        assert_eq!(reader.received_ns(), None);
    }
}
