//! The routes of the API with their OpenAPI document, and the middleware every request
//! passes: the request timeout and the count of error responses.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::Limits;
use crate::http::connections::{Reserved, ResponseBudget};
use crate::http::dashboard;
use crate::http::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::handlers::{self, App};
use crate::ledger::Ledger;

/// ApiDoc is the OpenAPI document's frame: what the handlers' annotations do not say.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Huella",
        description = "A tamper-evident, append-only audit ledger for cross-border access to \
            personal data. Byte-level formats: docs/format.md; this API: docs/api.md.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "agencies", description = "Submitting access events"),
        (name = "registrars", description = "Who may sign: registry events"),
        (name = "oversight", description = "Sealed reads, erasure, statistics and search"),
        (name = "dashboard", description = "The oversight dashboard, in Spanish and English"),
        (name = "log", description = "Reading and proving the public log"),
        (name = "operations", description = "Health and metrics")
    )
)]
struct ApiDoc;

/// api is every route of the API with its OpenAPI description: one list, so that the
/// document (`GET /openapi.json`) and the routes cannot drift apart.
fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::checkpoint))
        .routes(routes!(handlers::submit, handlers::entries))
        .routes(routes!(handlers::entry))
        .routes(routes!(handlers::inclusion))
        .routes(routes!(handlers::consistency))
        .routes(routes!(handlers::receipt))
        .routes(routes!(handlers::submit_registry))
        .routes(routes!(handlers::sealed_read))
        .routes(routes!(handlers::sealed_erase))
        .routes(routes!(handlers::stats))
        .routes(routes!(handlers::search))
        .routes(routes!(handlers::keys))
        .routes(routes!(handlers::trust))
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::readyz))
        .routes(routes!(handlers::metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(dashboard::page))
        .routes(routes!(dashboard::asset))
        .routes(routes!(dashboard::favicon))
}

/// openapi is the API's OpenAPI 3.1 document, as `GET /openapi.json` serves it: generated
/// from the routes and their annotations, with the JSON Schemas of the access event and
/// the submission (docs/schemas/) as components.
pub fn openapi() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, doc) = api().split_for_parts();
        // Invariant: utoipa's document types always serialize.
        let mut json = serde_json::to_value(&doc).expect("the OpenAPI document serializes");
        let schema = |text: &str| -> serde_json::Value {
            // Invariant: the schema files are JSON (tests/openapi.rs validates them).
            let mut value: serde_json::Value =
                serde_json::from_str(text).expect("docs/schemas hold JSON");
            if let Some(object) = value.as_object_mut() {
                object.remove("$schema");
            }
            value
        };
        json["components"]["schemas"]["AccessEvent"] =
            schema(include_str!("../../docs/schemas/event.schema.json"));
        json["components"]["schemas"]["Submission"] =
            schema(include_str!("../../docs/schemas/submission.schema.json"));
        json["paths"]["/v1/entries"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"] = serde_json::json!({"$ref": "#/components/schemas/Submission"});
        json["info"]["version"] = env!("CARGO_PKG_VERSION").into();
        shared_errors(&mut json);
        json
    })
}

/// shared_errors adds to every operation the errors that do not come from its handler: the
/// middleware's ([`guard`]: 408, 413, 503) and the server loop's (429), and, where the
/// operation takes parameters or a body, 400. A status the handler already documents (or a
/// `4XX` range, for 400) is left as it is.
fn shared_errors(document: &mut serde_json::Value) {
    const SHARED: [(&str, &str); 4] = [
        (
            "408",
            "the request took longer than the server's request timeout (`timeout`)",
        ),
        (
            "413",
            "the declared request body is larger than the server's limit (`too_large`); the \
             connection is closed",
        ),
        (
            "429",
            "this address holds the most connections one address may (`too_many_connections`), \
             or, for a submission, its agency is over its rate (`rate_limited`); `Retry-After` \
             says when to retry",
        ),
        (
            "503",
            "busy (`busy`: large responses waiting for slow readers fill the response budget) or \
             unavailable; `Retry-After` says when to retry",
        ),
    ];
    let error = |description: &str| {
        serde_json::json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        })
    };
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for operation in paths.values_mut().filter_map(|p| p.as_object_mut()) {
        for operation in operation.values_mut() {
            let takes_input = operation
                .get("parameters")
                .is_some_and(|p| p.as_array().is_some_and(|p| !p.is_empty()))
                || operation.get("requestBody").is_some();
            let responses = &mut operation["responses"];
            for (status, description) in SHARED {
                if responses.get(status).is_none() {
                    responses[status] = error(description);
                }
            }
            if takes_input && responses.get("400").is_none() && responses.get("4XX").is_none() {
                responses["400"] = error("bad input; `error` and `message` name the problem");
            }
        }
    }
}

/// Document is the shape of [`openapi`]'s answer, for the document itself; the OpenAPI 3.1
/// specification (https://spec.openapis.org/oas/v3.1.0) says the rest.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Document {
    /// Always 3.1.0.
    openapi: String,
    /// The title, the description and the server's version.
    info: std::collections::BTreeMap<String, serde_json::Value>,
    /// Every endpoint.
    paths: std::collections::BTreeMap<String, serde_json::Value>,
    /// The schemas the paths refer to.
    components: std::collections::BTreeMap<String, serde_json::Value>,
}

/// openapi_json serves [`openapi`].
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "this document: OpenAPI 3.1", body = Document)))]
async fn openapi_json() -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(openapi()),
    )
        .into_response()
}

/// router builds the API over a running ledger.
pub fn router(ledger: Arc<Ledger>, limits: Limits) -> Router {
    router_witnessed(ledger, limits, None)
}

/// router_witnessed builds the API over a running ledger whose checkpoints are witnessed:
/// `GET /checkpoint` serves the newest one that meets the witness policy's quorum.
pub fn router_witnessed(
    ledger: Arc<Ledger>,
    limits: Limits,
    witnessing: Option<Arc<crate::witnessing::Witnessing>>,
) -> Router {
    let app = App {
        ledger,
        witnessing,
        limits,
        budget: ResponseBudget::new(limits.response_bytes),
    };
    let (routes, _) = api().split_for_parts();
    routes
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
        // Without waiting for a body the client may never send.
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
    // A body refused as too large is left unread, so hyper closes the connection after the
    // answer; `Connection: close` says so, so that a client does not send its next request
    // on it and see that request cut off.
    let mut response = response;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        app.ledger.metrics().reject(code);
    }
    response
}
