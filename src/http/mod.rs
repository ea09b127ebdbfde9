//! The HTTP API (axum). Every endpoint is documented in `docs/api.md`.
//!
//! - [`router`]: the routes and the middleware every request passes.
//! - [`handlers`]: one handler per endpoint.
//! - [`dashboard`]: the oversight dashboard, `GET /`, and its assets.
//! - [`error`]: [`ApiError`], the one mapping from failures to statuses.
//! - [`connections`]: the caps on connections, descriptors and response memory.
//! - this file: [`Limits`] and the server loop, [`serve`].
//!
//! Errors are JSON `{"error": code, "message": text}`; [`ApiError`] is the one place where
//! failures become status codes. Reads are bounded by the newest durable checkpoint, so
//! nothing unflushed is ever served.
//!
//! [`serve`] runs the API with the connection timeouts a public service needs: a client
//! that sends its headers too slowly, or idles between requests, is disconnected after
//! [`Limits::idle_timeout`], and a request that takes longer than
//! [`Limits::request_timeout`] (a slow body, say) gets 408. A response that makes no progress
//! for [`Limits::write_timeout`] (a reader that stopped reading) closes its connection, and
//! [`connections`] caps what all clients, and each address, may hold.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use huella_core::commitment::MAX_VALUE_BYTES;

pub mod connections;
pub mod dashboard;
pub mod error;
pub mod handlers;
pub mod router;

pub use error::ApiError;
pub use router::{router, router_witnessed};

/// LARGEST_SUBMISSION is the most bytes a valid submission takes as compact JSON: its four
/// committed values of at most [`MAX_VALUE_BYTES`] each, every byte escaped at worst into
/// six (`\u0001`), and 16 KiB for the rest (the event, whose longest free text is 512
/// characters, at most 6 KiB escaped; the signature; the salts; the names). The body limit
/// may not be set below it, so that it admits every valid submission.
pub const LARGEST_SUBMISSION: usize = 4 * 6 * MAX_VALUE_BYTES + 16 * 1024;

/// Limits bound what one request may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body, in bytes; at least [`LARGEST_SUBMISSION`].
    pub max_body: usize,
    /// Most entries in one page of `GET /v1/entries`.
    pub max_page: u64,
    /// Longest a request may take, body upload and wait for durability included (408).
    pub request_timeout: Duration,
    /// Longest a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed.
    pub idle_timeout: Duration,
    /// Longest a response may wait for the client to read any of it before the connection
    /// is closed.
    pub write_timeout: Duration,
    /// Most connections open at once; beyond it, new ones wait in the listen queue. `serve`
    /// and `demo` keep it below the descriptor limit ([`connections::connection_cap`]).
    pub max_connections: usize,
    /// Most connections open at once from one client address; beyond it, `429`.
    pub max_connections_per_address: usize,
    /// Most bytes of large response bodies (pages of entries) waiting for their
    /// connections at once; beyond it, a large read answers `503 busy`.
    pub response_bytes: usize,
    /// Kernel send buffer of each connection, in bytes (0: the kernel's own, which grows to
    /// several MB per connection).
    pub send_buffer: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 512 * 1024,
            max_page: 1000,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: 256,
            response_bytes: 256 << 20,
            send_buffer: 128 * 1024,
        }
    }
}

/// serve runs `router` on `listener` until `shutdown` resolves, then lets open requests
/// finish (for at most [`Limits::request_timeout`]). Each connection is HTTP/1.1 with
/// keep-alive; one that is slower than [`Limits::idle_timeout`] to send a request's headers,
/// or idle that long between requests, is closed, and so is one whose response waits longer
/// than [`Limits::write_timeout`] for the client to read. At [`Limits::max_connections`] the
/// server accepts nothing until a connection closes; an address at
/// [`Limits::max_connections_per_address`] is answered `429` and closed. `metrics` counts
/// open and refused connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let admission = connections::Admission::new(&limits, metrics);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Room first: at the cap, connections wait in the kernel's listen queue, holding
        // neither a descriptor nor a task here.
        let permit = tokio::select! {
            permit = admission.room() => permit,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(held) = admission.admit(permit, peer.ip()) else {
            admission.refuse(stream, limits.max_connections_per_address);
            continue;
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.idle_timeout)
            .max_buf_size(connections::WRITE_BUFFER.max(8192))
            .serve_connection(
                TokioIo::new(connections::TimedStream::new(stream, &limits)),
                TowerToHyperService::new(router.clone()),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection closed: {e}");
            }
            drop(held);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.request_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("closing connections that were still busy at shutdown");
    }
    Ok(())
}
