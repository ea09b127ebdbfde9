//! What one client, or many, may hold of the server: connections, descriptors, and the
//! memory of responses waiting for slow readers. An outside attack held 1,100 idle
//! connections from one address until the server ran out of descriptors, and 3,000 clients
//! that asked for pages and never read took it from 58 MB to 1.2 GB resident.
//!
//! - [`Admission`] caps connections in all ([`Limits::max_connections`]) and per client
//!   address ([`Limits::max_connections_per_address`]). At the cap the server stops
//!   accepting, so further connections wait in the kernel's listen queue, which costs
//!   neither a descriptor nor a task; one address over its own cap is answered `429` and
//!   closed at once.
//! - [`descriptor_limit`] raises the process's descriptor limit to its hard limit at start,
//!   and [`connection_cap`] keeps the connection cap below it, with room for the store.
//! - [`TimedStream`] closes a connection whose response makes no progress for
//!   [`Limits::write_timeout`] (a reader that stopped reading), and bounds the kernel's send
//!   buffer per connection ([`Limits::send_buffer`]).
//! - [`ResponseBudget`] bounds the bytes of large response bodies not yet handed to a
//!   connection, over all connections ([`Limits::response_bytes`]); past it, a large read
//!   answers `503 busy`. Each connection holds at most one response at a time (HTTP/1.1),
//!   and hyper buffers at most [`WRITE_BUFFER`] of it.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http::Limits;
use crate::metrics::Metrics;

/// WRITE_BUFFER is the most hyper buffers of a response per connection, beyond the kernel's
/// send buffer.
pub const WRITE_BUFFER: usize = 64 * 1024;

/// CHUNK is the size of the pieces a large body is handed to hyper in, so that it stays in
/// the budget until hyper has taken nearly all of it.
const CHUNK: usize = 16 * 1024;

/// DESCRIPTORS_KEPT is how many descriptors [`connection_cap`] leaves for everything but
/// connections (the store's files, the checkpoint copy, the listener, the runtime), at
/// least.
const DESCRIPTORS_KEPT: u64 = 256;

/// Descriptors is the process's descriptor limit, as found and as raised at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptors {
    /// The soft limit found at start.
    pub was: u64,
    /// The soft limit now.
    pub now: u64,
}

/// descriptor_limit raises the soft limit on open descriptors to the hard limit, and says
/// what it was and is.
pub fn descriptor_limit() -> io::Result<Descriptors> {
    let (was, _) = rlimit::Resource::NOFILE.get()?;
    let now = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok(Descriptors { was, now })
}

/// connection_cap is the most connections the server may hold with `descriptors` open
/// descriptors allowed: `wanted`, but at most the limit less what the rest of the service
/// needs (a quarter of the limit, and at least [`DESCRIPTORS_KEPT`]).
pub fn connection_cap(wanted: usize, descriptors: u64) -> usize {
    let kept = (descriptors / 4).max(DESCRIPTORS_KEPT);
    let room = descriptors.saturating_sub(kept).max(1);
    wanted
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1)
}

/// Admission decides which connections the server takes.
pub(crate) struct Admission {
    /// One permit per connection the server may hold.
    total: Arc<Semaphore>,
    /// Open connections by client address.
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The per-address cap.
    per_address: usize,
    /// Where open and refused connections are counted.
    metrics: Arc<Metrics>,
}

/// Held is what one open connection holds; dropping it gives it back.
pub(crate) struct Held {
    _permit: OwnedSemaphorePermit,
    address: IpAddr,
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    metrics: Arc<Metrics>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
        self.metrics.connections.dec();
    }
}

impl Admission {
    pub(crate) fn new(limits: &Limits, metrics: Arc<Metrics>) -> Admission {
        Admission {
            total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            by_address: Arc::default(),
            per_address: limits.max_connections_per_address.max(1),
            metrics,
        }
    }

    /// room waits until the server may hold one more connection.
    pub(crate) async fn room(&self) -> OwnedSemaphorePermit {
        self.total
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// admit takes a connection from `address` with the `permit` [`Admission::room`] gave,
    /// or refuses it when that address is at its cap.
    pub(crate) fn admit(&self, permit: OwnedSemaphorePermit, address: IpAddr) -> Option<Held> {
        let mut counts = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(address).or_insert(0);
        if *count >= self.per_address {
            self.metrics
                .connections_refused
                .get_or_create(&[("code", "per_address")])
                .inc();
            return None;
        }
        *count += 1;
        self.metrics.connections.inc();
        Some(Held {
            _permit: permit,
            address,
            by_address: self.by_address.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// refuse answers a connection over its address's cap with `429` if its socket takes
    /// the answer at once, and closes it: it never waits on the client.
    pub(crate) fn refuse(&self, stream: TcpStream, per_address: usize) {
        let body = format!(
            "{{\"error\":\"too_many_connections\",\"message\":\"this address already has {per_address} open connections, the most one address may hold; close some or retry later\"}}"
        );
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
             retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.try_write(answer.as_bytes());
    }
}

/// TimedStream is a client connection whose writes fail with `TimedOut` once one has made
/// no progress for the write timeout: a reader that stopped reading is disconnected, and
/// what was waiting for it is freed.
pub(crate) struct TimedStream {
    stream: TcpStream,
    timeout: Duration,
    /// Set while a write waits for room in the socket.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TimedStream {
    /// new wraps an accepted connection, with a send buffer of `send_buffer` bytes (0: the
    /// kernel's default).
    pub(crate) fn new(stream: TcpStream, limits: &Limits) -> TimedStream {
        // Receipts are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        if limits.send_buffer > 0 {
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(limits.send_buffer);
        }
        TimedStream {
            stream,
            timeout: limits.write_timeout,
            stalled: None,
        }
    }

    /// progress maps a write's poll: progress clears the stall timer; no progress starts it,
    /// and fails the write once it runs out.
    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(stalled.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client read nothing for {} s", timeout.as_secs_f64()),
                )))
            }
        }
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.progress(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.progress(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_flush(cx);
        self.progress(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.progress(cx, poll)
    }
}

/// ResponseBudget bounds the bytes of large response bodies that are built but not yet
/// handed to their connections.
#[derive(Clone)]
pub(crate) struct ResponseBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// SMALL is the largest body that needs no budget: receipts, proofs and errors.
const SMALL: u64 = 64 * 1024;

/// BudgetError says that a body did not fit the budget.
#[derive(Debug)]
pub(crate) struct OverBudget {
    /// The budget, in bytes.
    pub(crate) total: usize,
}

impl ResponseBudget {
    pub(crate) fn new(total: usize) -> ResponseBudget {
        // A semaphore holds at most usize::MAX >> 3 permits.
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        ResponseBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// hold returns `body` holding its bytes of the budget until hyper has taken them, or
    /// [`OverBudget`] when they do not fit now. Small bodies pass as they are.
    pub(crate) async fn hold(&self, body: Body) -> Result<Body, OverBudget> {
        match body.size_hint().exact() {
            Some(n) if n > SMALL => {}
            _ => return Ok(body),
        }
        let over = OverBudget { total: self.total };
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| OverBudget { total: self.total })?;
        let Ok(n) = u32::try_from(bytes.len()) else {
            return Err(over);
        };
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| over)?;
        Ok(Body::new(Budgeted {
            rest: bytes,
            _permit: permit,
        }))
    }
}

/// Budgeted is a body that holds its bytes of the [`ResponseBudget`] until the last piece
/// is taken, handing it over in [`CHUNK`]s so that hyper, which buffers at most
/// [`WRITE_BUFFER`], takes the last only when the rest is nearly written.
struct Budgeted {
    rest: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for Budgeted {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.rest.len().min(CHUNK);
        Poll::Ready(Some(Ok(Frame::data(self.rest.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_room_for_the_store() {
        // The attack's server: 1,024 descriptors.
        assert_eq!(connection_cap(4096, 1024), 768);
        assert_eq!(connection_cap(100, 1024), 100);
        assert_eq!(connection_cap(4096, 20_000), 4096);
        assert_eq!(connection_cap(4096, 300), 44);
        assert_eq!(connection_cap(4096, 10), 1);
    }

    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_limit() {
        let found = descriptor_limit().unwrap();
        assert!(found.now >= found.was);
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert_eq!(soft, found.now);
        assert_eq!(soft, hard);
    }

    #[tokio::test]
    async fn the_budget_holds_large_bodies_until_they_are_taken() {
        let budget = ResponseBudget::new(300 * 1024);
        let small = budget.hold(Body::from(vec![b'x'; 1000])).await.unwrap();
        assert_eq!(budget.bytes.available_permits(), 300 * 1024);
        let large = budget
            .hold(Body::from(vec![b'x'; 200 * 1024]))
            .await
            .unwrap();
        assert_eq!(budget.bytes.available_permits(), 100 * 1024);
        // Another large one does not fit until the first is gone.
        assert!(
            budget
                .hold(Body::from(vec![b'y'; 200 * 1024]))
                .await
                .is_err()
        );
        let bytes = axum::body::to_bytes(large, usize::MAX).await.unwrap();
        assert_eq!(bytes.len(), 200 * 1024);
        assert_eq!(budget.bytes.available_permits(), 300 * 1024);
        assert!(
            budget
                .hold(Body::from(vec![b'y'; 200 * 1024]))
                .await
                .is_ok()
        );
        drop(small);
    }
}
