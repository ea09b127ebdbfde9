//! The HTTP API (axum). Every endpoint is documented in `docs/api.md`.
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
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::ledger::{Accepted, Ledger, SubmitError};
use crate::store::StoreError;
use huella_core::admission::AdmissionError;
use huella_core::canonical::FormatError;
use huella_core::checkpoint::parse_decimal;
use huella_core::event::{EventError, Submission};
use huella_core::merkle::{self, TreeError, stored_hash_index};
use huella_core::proof::Receipt;
use huella_core::registry::RegistryError;

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

#[derive(Clone)]
struct App {
    ledger: Arc<Ledger>,
    limits: Limits,
}

/// ApiError is an error response: a status, a stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
    /// Seconds after which a retry may succeed (429 and 503).
    pub retry_after: Option<u64>,
}

/// The error code of an error response, for the metrics layer to count.
#[derive(Clone, Copy, Debug)]
struct ErrorCode(&'static str);

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.code, "message": self.message});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> ApiError {
        let message = e.to_string();
        match e {
            SubmitError::Admission(a) => match a {
                AdmissionError::Registry(RegistryError::UnknownKey(_)) => {
                    ApiError::new(StatusCode::UNAUTHORIZED, "unknown_key", message)
                }
                AdmissionError::Registry(_) => {
                    ApiError::new(StatusCode::FORBIDDEN, "unauthorized_key", message)
                }
                AdmissionError::Event(EventError::Inconsistent(_)) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "inconsistent_event",
                    message,
                ),
                AdmissionError::Event(EventError::MalformedSignature(_)) => {
                    ApiError::bad_request("malformed", message)
                }
                AdmissionError::Event(_) => {
                    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", message)
                }
                AdmissionError::OutOfWindow { .. } => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "access_time_out_of_window",
                    message,
                ),
                AdmissionError::Commitment(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "commitment_mismatch",
                    message,
                ),
            },
            SubmitError::Conflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            SubmitError::RateLimited { retry_after_ms, .. } => ApiError {
                retry_after: Some(retry_after_ms.div_ceil(1000)),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            },
            SubmitError::PoolFull(_) => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
            },
            SubmitError::Unavailable(_) => ApiError {
                retry_after: Some(30),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!("storage: {e}");
        ApiError {
            retry_after: Some(30),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage",
                format!("storage failure: {e}"),
            )
        }
    }
}

impl From<TreeError> for ApiError {
    fn from(e: TreeError) -> ApiError {
        match e {
            TreeError::IndexOutOfRange { .. } | TreeError::SizeOrder { .. } => {
                ApiError::bad_request("out_of_range", e.to_string())
            }
            other => {
                tracing::error!("reading the tree: {other}");
                ApiError {
                    retry_after: Some(30),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage",
                        format!("storage failure: {other}"),
                    )
                }
            }
        }
    }
}

impl From<FormatError> for ApiError {
    fn from(e: FormatError) -> ApiError {
        ApiError::bad_request("malformed", e.to_string())
    }
}

/// router builds the API over a running ledger.
pub fn router(ledger: Arc<Ledger>, limits: Limits) -> Router {
    let app = App { ledger, limits };
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/v1/entries", post(submit).get(entries))
        .route("/v1/entries/{index}", get(entry))
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
        .route("/v1/receipts/{index}", get(receipt))
        .route("/v1/keys", get(keys))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint; see docs/api.md") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// guard bounds every request by [`Limits::request_timeout`] and counts error responses.
async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let response = match tokio::time::timeout(app.limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        // A submission cut off here may still be logged; its retry is idempotent and gets
        // the original receipt.
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request took longer than {} s",
                app.limits.request_timeout.as_secs_f64()
            ),
        )
        .into_response(),
    };
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        app.ledger.metrics().reject(code);
    }
    response
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

fn decimal(name: &str, value: &str) -> Result<u64, ApiError> {
    parse_decimal(value).ok_or_else(|| {
        // A plain decimal that still does not parse has more than 64 bits.
        let why = if !value.is_empty()
            && !value.starts_with('0')
            && value.bytes().all(|b| b.is_ascii_digit())
        {
            format!("is too large (above {})", u64::MAX)
        } else {
            "must be a decimal integer without sign or leading zeros".to_string()
        };
        ApiError::bad_request("bad_parameter", format!("{name} {why}, got {value:?}"))
    })
}

fn optional(name: &str, value: &Option<String>) -> Result<Option<u64>, ApiError> {
    value.as_deref().map(|v| decimal(name, v)).transpose()
}

fn required(name: &str, value: &Option<String>) -> Result<u64, ApiError> {
    optional(name, value)?
        .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("missing parameter {name}")))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request("bad_parameter", e.body_text()))
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// A size that the newest durable checkpoint covers.
fn within_log(app: &App, name: &str, size: u64) -> Result<u64, ApiError> {
    let published = app.ledger.published().size;
    if size > published {
        return Err(ApiError::not_found(format!(
            "{name} {size} is beyond the log, which has {published} entries"
        )));
    }
    Ok(size)
}

async fn submit(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body is larger than {} bytes", app.limits.max_body),
            )
        } else {
            ApiError::bad_request("malformed", e.body_text())
        }
    })?;
    let submission: Submission = huella_core::canonical::parse_without_arrays(&body)?;
    let accepted = app.ledger.submit(submission).await?;
    let status = if accepted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let response = (status, axum::Json(receipt_for(&app, accepted)?)).into_response();
    app.ledger
        .metrics()
        .append_seconds
        .observe(arrived.elapsed().as_secs_f64());
    Ok(response)
}

fn receipt_for(app: &App, a: Accepted) -> Result<Receipt, ApiError> {
    let leaf_hash = merkle::record_hash(&a.leaf);
    let proof = app
        .ledger
        .tlog_proof(a.index, a.leaf, a.checkpoint_size, &a.checkpoint)?;
    Ok(Receipt {
        index: a.index,
        leaf_hash,
        checkpoint: a.checkpoint.to_string(),
        tlog_proof: proof.to_text(),
    })
}

/// stored_leaf reads a leaf the published size covers; its absence means a corrupt store.
fn stored_leaf(app: &App, index: u64) -> Result<Vec<u8>, ApiError> {
    Ok(app
        .ledger
        .store()
        .leaves(index, 1)?
        .pop()
        .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?)
}

async fn checkpoint(State(app): State<App>) -> Response {
    text(app.ledger.published().note.to_string())
}

async fn entry(State(app): State<App>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index = decimal("index", &index)?;
    let size = app.ledger.published().size;
    if index >= size {
        return Err(ApiError::not_found(format!(
            "no entry {index}: the log has {size} entries"
        )));
    }
    let leaf = stored_leaf(&app, index)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], leaf).into_response())
}

#[derive(serde::Deserialize)]
struct PageParams {
    start: Option<String>,
    limit: Option<String>,
}

async fn entries(
    State(app): State<App>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let start = optional("start", &q.start)?.unwrap_or(0);
    let limit = optional("limit", &q.limit)?.unwrap_or(100);
    if limit == 0 || limit > app.limits.max_page {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be between 1 and {}", app.limits.max_page),
        ));
    }
    within_log(&app, "start", start)?;
    let end = start.saturating_add(limit).min(app.ledger.published().size);
    let leaves = app
        .ledger
        .store()
        .leaves(start, end.saturating_sub(start))?;
    let mut body = Vec::with_capacity(leaves.iter().map(|l| l.len() + 1).sum());
    for leaf in leaves {
        body.extend_from_slice(&leaf);
        body.push(b'\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

#[derive(serde::Deserialize)]
struct InclusionParams {
    index: Option<String>,
    tree_size: Option<String>,
}

async fn inclusion(
    State(app): State<App>,
    q: Result<Query<InclusionParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let q = query(q)?;
    let index = required("index", &q.index)?;
    let tree_size = match optional("tree_size", &q.tree_size)? {
        Some(n) => within_log(&app, "tree_size", n)?,
        None => app.ledger.published().size,
    };
    let store = app.ledger.store();
    let proof = merkle::inclusion_proof(index, tree_size, store)?;
    let leaf_hash = store.read_hashes(&[stored_hash_index(0, index)])?[0];
    let response = axum::Json(serde_json::json!({
        "index": index,
        "tree_size": tree_size,
        "leaf_hash": leaf_hash,
        "proof": proof,
    }))
    .into_response();
    observe_proof(&app, started);
    Ok(response)
}

#[derive(serde::Deserialize)]
struct ConsistencyParams {
    from: Option<String>,
    to: Option<String>,
}

async fn consistency(
    State(app): State<App>,
    q: Result<Query<ConsistencyParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let q = query(q)?;
    let from = required("from", &q.from)?;
    let to = match optional("to", &q.to)? {
        Some(n) => within_log(&app, "to", n)?,
        None => app.ledger.published().size,
    };
    if from > to {
        return Err(ApiError::bad_request(
            "bad_range",
            format!("from ({from}) must not be larger than to ({to})"),
        ));
    }
    let proof = merkle::consistency_proof(from, to, app.ledger.store())?;
    let response =
        axum::Json(serde_json::json!({"from": from, "to": to, "proof": proof})).into_response();
    observe_proof(&app, started);
    Ok(response)
}

/// observe_proof counts the time one proof answer took to build.
fn observe_proof(app: &App, started: Instant) {
    app.ledger
        .metrics()
        .proof_seconds
        .observe(started.elapsed().as_secs_f64());
}

#[derive(serde::Deserialize)]
struct ReceiptParams {
    tree_size: Option<String>,
}

async fn receipt(
    State(app): State<App>,
    Path(index): Path<String>,
    q: Result<Query<ReceiptParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let index = decimal("index", &index)?;
    let q = query(q)?;
    let (size, note) = match optional("tree_size", &q.tree_size)? {
        Some(n) => {
            within_log(&app, "tree_size", n)?;
            let note = app.ledger.store().checkpoint(n)?.ok_or_else(|| {
                ApiError::not_found(format!(
                    "the log signed no checkpoint at tree size {n}; omit tree_size for the latest"
                ))
            })?;
            let note = String::from_utf8(note)
                .map_err(|_| StoreError::Corrupt(format!("checkpoint {n} is not UTF-8")))?;
            (n, note)
        }
        None => {
            let p = app.ledger.published();
            (p.size, p.note.to_string())
        }
    };
    if index >= size {
        return Err(ApiError::not_found(format!(
            "no entry {index} in the tree of size {size}"
        )));
    }
    let leaf = stored_leaf(&app, index)?;
    let proof = app.ledger.tlog_proof(index, leaf, size, &note)?;
    Ok(text(proof.to_text()))
}

async fn keys(State(app): State<App>) -> Response {
    axum::Json(serde_json::json!({
        "origin": app.ledger.log_key().name().as_str(),
        "log_key": app.ledger.log_key().to_string(),
        "submitters": app.ledger.registry().submitters,
    }))
    .into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.ledger.metrics().render(),
    )
        .into_response()
}

async fn healthz(State(app): State<App>) -> Result<Response, ApiError> {
    let size = app.ledger.published().size;
    if let Some(failure) = app.ledger.write_failure() {
        return Err(ApiError {
            retry_after: Some(30),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("reads work (tree size {size}) but writes are refused: {failure}"),
            )
        });
    }
    Ok(axum::Json(serde_json::json!({"status": "ok", "tree_size": size})).into_response())
}
