//! The routes of the API, and the middleware every request passes: the request timeout
//! and the count of error responses.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::http::Limits;
use crate::http::connections::{Reserved, ResponseBudget};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::handlers::{
    App, checkpoint, consistency, entries, entry, healthz, inclusion, keys, metrics, readyz,
    receipt, sealed_erase, sealed_read, search, stats, submit, submit_registry, trust,
};
use crate::ledger::Ledger;

/// router builds the API over a running ledger.
pub fn router(ledger: Arc<Ledger>, limits: Limits) -> Router {
    let app = App {
        ledger,
        limits,
        budget: ResponseBudget::new(limits.response_bytes),
    };
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/v1/entries", post(submit).get(entries))
        .route("/v1/entries/{index}", get(entry))
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
        .route("/v1/receipts/{index}", get(receipt))
        .route("/v1/registry", post(submit_registry))
        .route("/v1/sealed/read", post(sealed_read))
        .route("/v1/sealed/erase", post(sealed_erase))
        .route("/v1/stats", get(stats))
        .route("/v1/search", get(search))
        .route("/v1/keys", get(keys))
        .route("/v1/trust", get(trust))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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

/// guard refuses a declared body over [`Limits::max_body`] from its header alone, bounds
/// every request by [`Limits::request_timeout`], holds large response bodies within the
/// response budget ([`Limits::response_bytes`]), and counts error responses.
async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let response = if declared.is_some_and(|n| n > app.limits.max_body as u64) {
        // Without waiting for a body the client may never send (hyper then closes the
        // connection, as the body is unread).
        ApiError::too_large(app.limits.max_body).into_response()
    } else {
        match tokio::time::timeout(app.limits.request_timeout, next.run(request)).await {
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
        }
    };
    // A large body waits for its reader within the response budget, or is refused.
    let response = if response.extensions().get::<Reserved>().is_some() {
        response
    } else {
        let (parts, body) = response.into_parts();
        match app.budget.hold(body).await {
            Ok(body) => Response::from_parts(parts, body),
            Err(over) => ApiError::over_budget(over).into_response(),
        }
    };
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        app.ledger.metrics().reject(code);
    }
    response
}
