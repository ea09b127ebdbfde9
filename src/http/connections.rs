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

/// client is the address a connection counts against: an IPv4 address (IPv4-mapped IPv6
/// ones included) as it is, an IPv6 address by its /64.
fn client(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(
                v6.to_bits() & !((1u128 << 64) - 1),
            )),
        },
    }
}

impl Admission {
    pub(crate) fn new(limits: &Limits, metrics: Arc<Metrics>) -> Admission {
        Admission {
            total: Arc::new(Semaphore::new(
                limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
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
    /// or refuses it when that address is at its cap. IPv6 addresses count by their /64,
    /// the block one subscriber usually holds.
    pub(crate) fn admit(&self, permit: OwnedSemaphorePermit, address: IpAddr) -> Option<Held> {
        let address = client(address);
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
        // Read what the client already sent, so that closing does not reset the connection
        // (a close with unread data sends RST, and the client may lose the answer).
        let mut drain = [0u8; 4096];
        while matches!(stream.try_read(&mut drain), Ok(n) if n > 0) {}
        let _ = stream.try_write(answer.as_bytes());
    }
}

/// TimedStream is a client connection whose writes fail with `TimedOut` once one has made
/// no progress for the write timeout: a reader that stopped reading is disconnected, and
/// what was waiting for it is freed.
pub(crate) struct TimedStream {
    stream: TcpStream,
    timeout: Duration,
    /// Running from the first write that had to wait, until [`MIN_PROGRESS`] bytes have
    /// gone out since.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Bytes written since `stalled` started.
    progress: usize,
}

/// MIN_PROGRESS is how much a client must read within the write timeout: one that reads a
/// byte now and then (to keep its connection, and the response memory it holds) is closed
/// as if it read nothing.
const MIN_PROGRESS: usize = 16 * 1024;

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
            progress: 0,
        }
    }

    /// written maps a write's poll: once a write has had to wait, the client must read
    /// [`MIN_PROGRESS`] bytes within the write timeout, or the write fails with `TimedOut`.
    fn written(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &poll {
            self.progress += n;
            if self.progress >= MIN_PROGRESS {
                self.stalled = None;
                self.progress = 0;
            }
        }
        match poll {
            Poll::Pending => self.stall(cx).map(Err),
            ready => ready,
        }
    }

    /// flushed maps a flush's or shutdown's poll as [`TimedStream::written`] does a write's.
    fn flushed(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        match poll {
            Poll::Pending => self.stall(cx).map(Err),
            ready => ready,
        }
    }

    /// stall starts the stall timer if it is not running, and is ready with the error once
    /// it runs out.
    fn stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        // Closed with a reset, not a FIN after the unsent data: the kernel drops what the
        // client never read at once, instead of trickling it out at the client's pace.
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client read less than {MIN_PROGRESS} bytes in {} s",
                timeout.as_secs_f64()
            ),
        ))
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
        self.written(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.written(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_flush(cx);
        self.flushed(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.flushed(cx, poll)
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

    /// reserve takes `bytes` of the budget for a body about to be built (a page of entries,
    /// by an estimate of its size), so that many requests at once cannot build more than the
    /// budget before any is refused.
    pub(crate) fn reserve(&self, bytes: usize) -> Result<Reservation, OverBudget> {
        let over = OverBudget { total: self.total };
        let n = u32::try_from(bytes).map_err(|_| OverBudget { total: self.total })?;
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| over)?;
        Ok(Reservation {
            permit,
            budget: self.clone(),
        })
    }

    /// hold returns `body` holding its bytes of the budget until hyper has taken them, or
    /// [`OverBudget`] when they do not fit now. Small bodies, and bodies a handler already
    /// budgeted ([`Reserved`]), pass as they are.
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

/// Reservation is part of the budget taken for a body being built.
pub(crate) struct Reservation {
    permit: OwnedSemaphorePermit,
    budget: ResponseBudget,
}

/// Reserved marks a response whose body a handler budgeted itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reserved;

impl Reservation {
    /// body makes the built `bytes` a body that holds exactly its size of the budget: what
    /// the estimate took beyond it is given back, and what it took too little is taken now,
    /// if the budget has it.
    pub(crate) fn body(mut self, bytes: Bytes) -> Result<Body, OverBudget> {
        let (needed, held) = (bytes.len(), self.permit.num_permits());
        if needed > held {
            let more = u32::try_from(needed - held)
                .ok()
                .and_then(|n| self.budget.bytes.clone().try_acquire_many_owned(n).ok())
                .ok_or(OverBudget {
                    total: self.budget.total,
                })?;
            self.permit.merge(more);
        } else {
            drop(self.permit.split(held - needed));
        }
        Ok(Body::new(Budgeted {
            rest: bytes,
            _permit: self.permit,
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
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client(a), client(b));
        assert_ne!(client(a), client(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client(v4), v4);
    }

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

    #[tokio::test]
    async fn a_reservation_is_adjusted_to_the_body_built() {
        let budget = ResponseBudget::new(100_000);
        let reserved = budget.reserve(50_000).unwrap();
        assert_eq!(budget.bytes.available_permits(), 50_000);
        assert!(budget.reserve(60_000).is_err());
        // Smaller than estimated: the rest is given back at once.
        let body = reserved.body(Bytes::from(vec![b'x'; 20_000])).unwrap();
        assert_eq!(budget.bytes.available_permits(), 80_000);
        // Larger: taken if the budget has it, refused if not.
        let grown = budget
            .reserve(10_000)
            .unwrap()
            .body(Bytes::from(vec![b'y'; 70_000]));
        assert!(grown.is_ok());
        assert_eq!(budget.bytes.available_permits(), 10_000);
        assert!(
            budget
                .reserve(5_000)
                .unwrap()
                .body(Bytes::from(vec![b'z'; 20_000]))
                .is_err()
        );
        assert_eq!(budget.bytes.available_permits(), 10_000);
        drop((body, grown));
        assert_eq!(budget.bytes.available_permits(), 100_000);
    }
}
