//! The HTTP API (axum). Every endpoint is documented in `docs/api.md`.
//!
//! - [`router`]: the routes and the middleware every request passes.
//! - [`handlers`]: one handler per endpoint.
//! - [`error`]: [`ApiError`], the one mapping from failures to statuses.
//! - this file: [`Limits`] and the server loop, [`serve`].
//!
//! Errors are JSON `{"error": code, "message": text}`; [`ApiError`] is the one place where
//! failures become status codes. Reads are bounded by the newest durable checkpoint, so
//! nothing unflushed is ever served.
//!
//! [`serve`] runs the API with the connection timeouts a public service needs: a client
//! that sends its headers too slowly, or idles between requests, is disconnected after
//! [`Limits::idle_timeout`], and a request that takes longer than
//! [`Limits::request_timeout`] (a slow body, say) gets 408.

use std::future::Future;
use std::time::Duration;

use axum::Router;

pub mod error;
pub mod handlers;
pub mod router;

pub use error::ApiError;
pub use router::router;

/// Limits bound what one request may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Most entries in one page of `GET /v1/entries`.
    pub max_page: u64,
    /// Longest a request may take, body upload and wait for durability included (408).
    pub request_timeout: Duration,
    /// Longest a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 64 * 1024,
            max_page: 1000,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// serve runs `router` on `listener` until `shutdown` resolves, then lets open requests
/// finish (for at most [`Limits::request_timeout`]). Each connection is HTTP/1.1 with
/// keep-alive; one that is slower than [`Limits::idle_timeout`] to send a request's headers,
/// or idle that long between requests, is closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Receipts are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.idle_timeout)
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(router.clone()),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection closed: {e}");
            }
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
