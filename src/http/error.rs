//! The one place where failures become HTTP statuses: [`ApiError`] is a status, a stable
//! machine-readable code and a message for people, and every error type of the layers below
//! converts into it here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use huella_core::admission::AdmissionError;
use huella_core::canonical::FormatError;
use huella_core::commitment::CommitmentError;
use huella_core::event::EventError;
use huella_core::keylog::{ChangeError, SignError};
use huella_core::merkle::TreeError;
use huella_core::sealed::SealedReadError;

use crate::ledger::{ReadError, SubmitError};
use crate::store::StoreError;

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

/// ErrorBody is every error response's JSON, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Stable machine-readable code (docs/api.md, Errors).
    error: String,
    /// What was wrong, for people; never a personal value from the request.
    message: String,
}

/// The error code of an error response, for the metrics layer to count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorCode(pub(crate) &'static str);

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// too_large refuses a request body over the limit of `max_body` bytes.
    pub(crate) fn too_large(max_body: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is larger than {max_body} bytes"),
        )
    }

    /// over_budget refuses a large response while slow readers hold the response budget.
    pub(crate) fn over_budget(over: crate::http::connections::OverBudget) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "large responses waiting for slow readers fill the server's budget of {} MiB; retry shortly",
                    over.total >> 20
                ),
            )
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
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
                AdmissionError::Key(SignError::UnknownKey(_)) => {
                    ApiError::new(StatusCode::UNAUTHORIZED, "unknown_key", message)
                }
                AdmissionError::Key(_) => {
                    ApiError::new(StatusCode::FORBIDDEN, "unauthorized_key", message)
                }
                AdmissionError::Holder(_) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_holder", message)
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
                AdmissionError::Commitment(CommitmentError::Invisible { .. }) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invisible_character",
                    message,
                ),
                AdmissionError::Commitment(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "commitment_mismatch",
                    message,
                ),
            },
            SubmitError::Read(read) => match read {
                SealedReadError::Key(SignError::UnknownKey(_)) => {
                    ApiError::new(StatusCode::UNAUTHORIZED, "unknown_key", message)
                }
                SealedReadError::Key(_) => {
                    ApiError::new(StatusCode::FORBIDDEN, "unauthorized_key", message)
                }
                SealedReadError::BadSignature(_) => {
                    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", message)
                }
                SealedReadError::Target(_) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_target", message)
                }
                SealedReadError::Opening(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "commitment_mismatch",
                    message,
                ),
                SealedReadError::OutOfWindow { .. } => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "read_time_out_of_window",
                    message,
                ),
            },
            SubmitError::Registry(change) => match change {
                ChangeError::NoRegistrars(_)
                | ChangeError::NotARegistrar { .. }
                | ChangeError::BadSignature(_)
                | ChangeError::DuplicateSigner(_)
                | ChangeError::BelowThreshold { .. } => {
                    ApiError::new(StatusCode::FORBIDDEN, "registrar_signatures", message)
                }
                ChangeError::UnknownKey(_) => {
                    ApiError::new(StatusCode::NOT_FOUND, "unknown_key", message)
                }
                ChangeError::Duplicate { .. }
                | ChangeError::ReservedKey(_)
                | ChangeError::AlreadyRetired { .. }
                | ChangeError::AlreadyRevoked { .. } => {
                    ApiError::new(StatusCode::CONFLICT, "registry_conflict", message)
                }
                ChangeError::RetiredBeforeValid { .. } | ChangeError::OtherKey(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "registry_change_invalid",
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
            SubmitError::PoolFull(_) | SubmitError::ShareFull { .. } => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
            },
            // The same status and code as the read itself would get.
            SubmitError::Receipt(read) => ApiError {
                message,
                ..ApiError::from(read)
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

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        let message = e.to_string();
        match e {
            ReadError::Beyond { .. }
            | ReadError::NoEntry { .. }
            | ReadError::NoCheckpoint { .. } => ApiError::not_found(message),
            // The same case as an inclusion proof's index outside its tree, and the same answer.
            ReadError::NotInTree { .. } => ApiError::bad_request("out_of_range", message),
            ReadError::Range { .. } => ApiError::bad_request("bad_range", message),
            ReadError::Tree(e) => e.into(),
            ReadError::Store(e) => e.into(),
        }
    }
}
