//! The handlers, one per endpoint of `docs/api.md`. Reads go through a
//! [`Snapshot`](crate::ledger::Snapshot) of the published checkpoint, which refuses whatever
//! lies beyond it; submissions through the [`Appender`](crate::ledger::Appender), which
//! answers with the finished receipt.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use huella_core::checkpoint::parse_decimal;
use huella_core::disclosure::{DisclosedEntry, Disclosure};
use huella_core::entry::Leaf;
use huella_core::event::Openings;
use huella_core::event::Submission;
use huella_core::keylog::SignedRegistryEvent;
use huella_core::proof::Receipt;
use huella_core::sealed::{ErasureSubmission, ReadSubmission, SearchOpenings};

use crate::http::Limits;
use crate::http::connections::Reserved;
use crate::http::error::{ApiError, ErrorBody};
use crate::ledger::Ledger;

#[derive(Clone)]
pub(crate) struct App {
    pub(crate) ledger: Arc<Ledger>,
    /// With a witness policy: the witnessing task's state, for `GET /checkpoint`.
    pub(crate) witnessing: Option<Arc<crate::witnessing::Witnessing>>,
    pub(crate) limits: Limits,
    /// Bytes of large responses waiting for their readers.
    pub(crate) budget: crate::http::connections::ResponseBudget,
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

/// body is a request's body, or the error that says why there is none: too large (413), or
/// not read (400).
fn body(app: &App, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(app.limits.max_body)
        } else {
            ApiError::bad_request("malformed", e.body_text())
        }
    })
}

/// created is the status of an append: 201 for a new entry, 200 for a retry of one.
fn created(new: bool) -> StatusCode {
    if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// searchable refuses a search when the log keeps no blind index.
fn searchable(app: &App, search: bool, what: &str) -> Result<(), ApiError> {
    if search && app.ledger.blind_key().is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            format!(
                "this log keeps no blind index, so it cannot search; list the entries to {what}"
            ),
        ));
    }
    Ok(())
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

#[utoipa::path(post, path = "/v1/entries", tag = "agencies",
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "A signed access event and the openings of its commitments (`#/components/schemas/Submission`, docs/format.md §5)."),
    responses(
        (status = 201, description = "logged and durable: the entry's receipt", body = schema::Receipt),
        (status = 200, description = "a retry of a logged event: its original receipt", body = schema::Receipt),
        (status = "4XX", description = "refused; `error` names why (docs/api.md, Errors); nothing changed", body = ErrorBody),
        (status = 503, description = "busy or unavailable; `Retry-After` says when to retry", body = ErrorBody)))]
pub(crate) async fn submit(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = self::body(&app, body)?;
    let submission = Submission::parse(&body)?;
    let submitted = app.ledger.appender().submit(submission).await?;
    let status = created(submitted.created);
    let response = (status, axum::Json(submitted.receipt)).into_response();
    app.ledger
        .metrics()
        .append_seconds
        .observe(arrived.elapsed().as_secs_f64());
    Ok(response)
}

/// submit_registry takes a registry event signed by registrars (`POST /v1/registry`).
#[utoipa::path(post, path = "/v1/registry", tag = "registrars",
    request_body(content = schema::RegistryEvent, content_type = "application/json",
        description = "A registry event (`key_register`, `key_retire`, `key_revoke`) signed by registrars (docs/format.md §15; the fields of each kind: §15.1, signatures: §15.2)."),
    responses(
        (status = 201, description = "logged: its receipt", body = schema::Receipt),
        (status = 200, description = "a retry: the original receipt", body = schema::Receipt),
        (status = "4XX", description = "refused; `error` names why", body = ErrorBody),
        (status = 503, description = "busy or unavailable", body = ErrorBody)))]
pub(crate) async fn submit_registry(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = self::body(&app, body)?;
    let signed: SignedRegistryEvent = huella_core::canonical::parse(&body)
        .map_err(|e| ApiError::bad_request("malformed", format!("registry event: {e}")))?;
    let submitted = app.ledger.appender().submit_registry(signed).await?;
    let status = created(submitted.created);
    Ok((status, axum::Json(submitted.receipt)).into_response())
}

/// ReadAnswer is the answer to a sealed read.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReadAnswer {
    /// The read's receipt: over a cosigned checkpoint when the log is witnessed and the
    /// witnesses cosign in time.
    #[schema(value_type = schema::Receipt)]
    read_receipt: Receipt,
    /// The disclosure file (docs/format.md §16.5), sealed to the read's recipient.
    #[schema(value_type = schema::Sealed)]
    disclosure: crate::hpke::Sealed,
}

/// sealed_read takes an auditor's signed read (`POST /v1/sealed/read`), logs it, and only
/// once its entry is durable answers with the disclosure, sealed to the read's recipient.
#[utoipa::path(post, path = "/v1/sealed/read", tag = "oversight",
    request_body(content = schema::SealedReadSubmission, content_type = "application/json",
        description = "An auditor's signed sealed read (docs/format.md §16.1; the submission and the sealed answer: §16.5)."),
    responses(
        (status = 201, description = "logged, then disclosed: `read_receipt` and `disclosure` (HPKE-sealed to the read's recipient)", body = ReadAnswer),
        (status = 200, description = "a retry of a logged read: disclosed again", body = ReadAnswer),
        (status = "4XX", description = "refused; nothing logged or disclosed", body = ErrorBody),
        (status = 503, description = "busy, unavailable, or logged but not yet disclosable (retry)", body = ErrorBody)))]
pub(crate) async fn sealed_read(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = self::body(&app, body)?;
    let read: ReadSubmission = huella_core::canonical::parse(&body)
        .map_err(|e| ApiError::bad_request("malformed", format!("sealed read: {e}")))?;
    searchable(&app, read.event.search.is_some(), "read under \"entries\"")?;
    let recipient = read.event.recipient;
    // A key nothing can be sealed to (a low-order point) is refused before the read is
    // logged, not after: a logged read must get its disclosure.
    crate::hpke::seal(&recipient, b"", b"").map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_recipient",
            format!("recipient: nothing can be sealed to this X25519 key ({e})"),
        )
    })?;
    let submitted = app.ledger.appender().submit_read(read).await?;
    crate::failpoint::stop_if_named(crate::failpoint::SEALED_READ_AFTER_APPEND).await;
    let receipt = match &app.witnessing {
        Some(witnessing) => cosigned_receipt(&app, witnessing, submitted.receipt).await,
        None => submitted.receipt,
    };
    let disclosure = disclose(&app, &receipt)?;
    // Invariant: a disclosure holds only strings and numbers, which always serialize.
    let plaintext = serde_json::to_vec(&disclosure).expect("a disclosure serializes");
    let sealed = crate::hpke::seal(&recipient, &receipt.leaf_hash.0, &plaintext)
        .map_err(|e| ApiError::bad_request("bad_recipient", format!("recipient: {e}")))?;
    let status = created(submitted.created);
    Ok((
        status,
        axum::Json(ReadAnswer {
            read_receipt: receipt,
            disclosure: sealed,
        }),
    )
        .into_response())
}

/// cosigned_receipt waits, for at most two witness timeouts, until the witnesses have
/// cosigned a checkpoint that covers the read, and returns the read's receipt over that
/// checkpoint with its cosignatures, so that the disclosure built on it satisfies a reader
/// who requires the witness policy. If they do not in time, the receipt as it was.
async fn cosigned_receipt(
    app: &App,
    witnessing: &crate::witnessing::Witnessing,
    receipt: Receipt,
) -> Receipt {
    let deadline = Instant::now() + 2 * crate::witnessing::TIMEOUT;
    loop {
        if let Some(cosigned) = witnessing.cosigned().filter(|c| c.size > receipt.index) {
            let snapshot = app.ledger.reader().snapshot();
            return match snapshot.receipt(receipt.index, Some(cosigned.size)) {
                Ok(mut proof) => {
                    proof.checkpoint = cosigned.note.clone();
                    Receipt {
                        index: receipt.index,
                        leaf_hash: receipt.leaf_hash,
                        checkpoint: cosigned.note,
                        tlog_proof: proof.to_text(),
                    }
                }
                Err(_) => receipt,
            };
        }
        if Instant::now() >= deadline {
            return receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// disclose gathers what the logged read at `receipt` lists: each entry's leaf, openings and
/// inclusion proof under the checkpoint committed with the read.
fn disclose(app: &App, receipt: &Receipt) -> Result<Disclosure, ApiError> {
    let unavailable = |why: String| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage",
            format!(
                "the read is logged at index {}, but {why}; retry it for the disclosure",
                receipt.index
            ),
        )
    };
    let (checkpoint, _) =
        huella_core::checkpoint::open(receipt.checkpoint.as_bytes(), app.ledger.log_key())
            .map_err(|e| unavailable(format!("its checkpoint does not open: {e}")))?;
    let snapshot = app.ledger.reader().snapshot();
    let leaf = snapshot.leaf(receipt.index)?;
    let Ok(Leaf::SealedRead(read)) = Leaf::parse(&leaf) else {
        return Err(unavailable(
            "its entry does not parse as a sealed read".into(),
        ));
    };
    let opening_of = |index: u64| -> Result<Openings, ApiError> {
        let bytes = app
            .ledger
            .store()
            .opening(index)
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| unavailable(format!("entry {index} has no openings")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| unavailable(format!("the openings of entry {index}: {e}")))
    };
    // The entries read: those listed, or those the blind index finds for the value searched
    // for, each checked against its own opening.
    let mut search = None;
    let indices: Vec<(u64, Option<Openings>)> = match (&read.event.entries, &read.event.search) {
        (Some(listed), _) => listed.iter().map(|i| (i.get(), None)).collect(),
        (None, Some(wanted)) => {
            let stored = app
                .ledger
                .store()
                .opening(receipt.index)
                .map_err(|e| unavailable(e.to_string()))?
                .unwrap_or_default();
            let Ok(Some(SearchOpenings { search: opening })) =
                serde_json::from_slice::<Option<SearchOpenings>>(&stored)
            else {
                // An erasure of what the read found destroys the value it searched for too:
                // a retry after that cannot be answered, and says why.
                if let Some(by) = app
                    .ledger
                    .store()
                    .erased_by(receipt.index)
                    .map_err(|e| unavailable(e.to_string()))?
                {
                    return Err(ApiError::new(
                        axum::http::StatusCode::GONE,
                        "erased",
                        format!(
                            "the value read {} searched for was erased by entry {by}; its disclosure can no longer be made",
                            receipt.index
                        ),
                    ));
                }
                return Err(unavailable(
                    "the searched value's opening is not stored".into(),
                ));
            };
            let key = app
                .ledger
                .blind_key()
                .ok_or_else(|| unavailable("the log keeps no blind index".into()))?;
            let mut found = Vec::new();
            for index in app
                .ledger
                .store()
                .blind_lookup(&key.tag(wanted.field, &opening.value))
                .map_err(|e| unavailable(e.to_string()))?
            {
                if index >= receipt.index {
                    continue;
                }
                let openings = opening_of(index)?;
                if crate::blind::value(&openings, wanted.field).value == opening.value {
                    found.push((index, Some(openings)));
                }
            }
            search = Some(opening);
            found
        }
        (None, None) => Vec::new(),
    };
    let mut entries = Vec::new();
    {
        for (index, openings) in indices {
            let leaf = snapshot.leaf(index)?;
            let inclusion = snapshot.inclusion(index, Some(checkpoint.size))?;
            // An entry erased before the read says so, and by which order. One erased after
            // it (a retry of the read after an erasure) cannot be disclosed any more.
            let erased_by = app
                .ledger
                .store()
                .erased_by(index)
                .map_err(|e| unavailable(e.to_string()))?;
            if let Some(by) = erased_by.filter(|&by| by > receipt.index) {
                return Err(ApiError::new(
                    axum::http::StatusCode::GONE,
                    "erased",
                    format!(
                        "entry {index}, which read {} names, was erased by entry {by} after it; its disclosure can no longer be made",
                        receipt.index
                    ),
                ));
            }
            let openings = match (openings, erased_by) {
                (_, Some(_)) => None,
                (Some(openings), None) => Some(openings),
                (None, None) => Some(opening_of(index)?),
            };
            entries.push(DisclosedEntry {
                index,
                leaf: String::from_utf8(leaf)
                    .map_err(|_| unavailable(format!("entry {index} is not UTF-8")))?,
                openings,
                erased_by,
                inclusion_proof: inclusion.proof,
            });
        }
    }
    Ok(Disclosure {
        checkpoint: receipt.checkpoint.clone(),
        entries,
        read_receipt: receipt.clone(),
        search,
    })
}

/// ErasureAnswer is the answer to an erasure order.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErasureAnswer {
    /// The order's receipt.
    #[schema(value_type = schema::Receipt)]
    receipt: Receipt,
    /// The entries whose openings it destroyed, ascending.
    erased: Vec<u64>,
}

/// sealed_erase takes an erasure authority's signed order (`POST /v1/sealed/erase`), logs
/// it, and once it is durable destroys the openings it names, for good.
#[utoipa::path(post, path = "/v1/sealed/erase", tag = "oversight",
    request_body(content = schema::ErasureSubmission, content_type = "application/json",
        description = "An erasure authority's signed order (docs/format.md §16.2; how the openings are destroyed: §16.6)."),
    responses(
        (status = 201, description = "logged and carried out: its receipt and the entries erased", body = ErasureAnswer),
        (status = 200, description = "a retry: finished if it was not", body = ErasureAnswer),
        (status = "4XX", description = "refused; nothing changed", body = ErrorBody),
        (status = 503, description = "busy or unavailable", body = ErrorBody)))]
pub(crate) async fn sealed_erase(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = self::body(&app, body)?;
    let order: ErasureSubmission = huella_core::canonical::parse(&body)
        .map_err(|e| ApiError::bad_request("malformed", format!("erasure order: {e}")))?;
    searchable(&app, order.event.search.is_some(), "erase")?;
    let (submitted, erased) = app.ledger.appender().submit_erasure(order).await?;
    let status = created(submitted.created);
    Ok((
        status,
        axum::Json(ErasureAnswer {
            receipt: submitted.receipt,
            erased,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/checkpoint", tag = "log",
    responses((status = 200, description = "the latest signed checkpoint (C2SP tlog-checkpoint, a C2SP signed note); on a log run with a witness policy, the newest checkpoint whose witness cosignatures (C2SP tlog-cosignature, cosignature/v1) meet the policy's quorum, with those cosignature lines after the log's signature, or the log's latest alone until one does (docs/witnessing.md)", content_type = "text/plain", body = String)))]
pub(crate) async fn checkpoint(State(app): State<App>) -> Response {
    // With a witness policy: the newest checkpoint whose cosignatures meet its quorum, with
    // them; until one does, the log's latest alone (readers that enforce the policy refuse it).
    if let Some(cosigned) = app.witnessing.as_ref().and_then(|w| w.cosigned()) {
        return text(cosigned.note);
    }
    text(app.ledger.published().note.to_string())
}

#[utoipa::path(get, path = "/v1/entries/{index}", tag = "log",
    params(("index" = u64, Path, description = "the entry's index")),
    responses(
        (status = 200, description = "the leaf bytes exactly as hashed", content_type = "application/json", body = schema::Leaf),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody),
        (status = 404, description = "not below the latest checkpoint's size", body = ErrorBody)))]
pub(crate) async fn entry(
    State(app): State<App>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = decimal("index", &index)?;
    let leaf = app.ledger.reader().snapshot().leaf(index)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], leaf).into_response())
}

/// PAGE_ENTRY_ESTIMATE is the bytes a page reserves per entry asked for before it is built
/// (an entry's leaf is about 900 bytes); the reservation is then made exact.
const PAGE_ENTRY_ESTIMATE: usize = 1024;

#[derive(serde::Deserialize)]
pub(crate) struct PageParams {
    start: Option<String>,
    limit: Option<String>,
}

/// stats answers a statistics query over the published entries (`GET /v1/stats`), from the
/// index the log keeps up to date as it appends.
#[utoipa::path(get, path = "/v1/stats", tag = "oversight",
    params(schema::GroupBy, schema::Filters),
    responses(
        (status = 200, description = "the groups with count, records_returned, hits and hit_rate (docs/api.md)", body = schema::Stats),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody)))]
pub(crate) async fn stats(
    State(app): State<App>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pairs = query(q)?;
    let wanted =
        huella_core::stats::Query::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?;
    let ledger = app.ledger.clone();
    // Off the runtime's threads, as a search is: a query walks every cell of the index.
    let table = blocking(move || ledger.stats(&wanted), "the statistics query").await?;
    Ok(axum::Json(table.to_json()).into_response())
}

/// blocking runs `work` on the blocking pool, so that a long read does not hold one of the
/// runtime's threads; `what` names it if it panics.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    what: &str,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what} stopped unexpectedly"),
        )
    })
}

/// search answers one page of a search over the published entries (`GET /v1/search`).
#[utoipa::path(get, path = "/v1/search", tag = "oversight",
    params(schema::Filters, schema::SearchPaging),
    responses(
        (status = 200, description = "a page of matching entries with links, and next_cursor", body = schema::SearchPage),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody),
        (status = 404, description = "cursor beyond the log", body = ErrorBody)))]
pub(crate) async fn search(
    State(app): State<App>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    use crate::ledger::search::{MAX_LIMIT, Order, Request};
    let pairs = query(q)?;
    let bad = |message: String| ApiError::bad_request("bad_query", message);
    let (mut order, mut cursor, mut limit) = (Order::Newest, None, 20);
    let mut rest = Vec::new();
    for (name, value) in &pairs {
        match name.as_str() {
            "order" => {
                order = match value.as_str() {
                    "newest" => Order::Newest,
                    "oldest" => Order::Oldest,
                    _ => return Err(bad("order: want newest or oldest".into())),
                }
            }
            "cursor" => cursor = Some(decimal("cursor", value)?),
            "limit" => {
                limit = decimal("limit", value)?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(bad(format!("limit: must be between 1 and {MAX_LIMIT}")));
                }
            }
            "group_by" => {
                return Err(bad(
                    "group_by: a search does not group; see /v1/stats".into()
                ));
            }
            _ => rest.push((name.as_str(), value.as_str())),
        }
    }
    let wanted = huella_core::stats::Query::from_pairs(rest).map_err(|e| bad(e.to_string()))?;
    let request = Request {
        query: wanted,
        order,
        cursor,
        limit,
    };
    let ledger = app.ledger.clone();
    // Off the runtime's threads: a page may read up to `SCAN_BUDGET` leaves.
    let page = blocking(move || ledger.search(&request), "the search").await??;
    Ok(axum::Json(page).into_response())
}

#[utoipa::path(get, path = "/v1/entries", tag = "log",
    params(
        ("start" = Option<u64>, Query, description = "first index, default 0"),
        ("limit" = Option<u64>, Query, description = "1 to 1000, default 100")),
    responses(
        (status = 200, description = "the leaves, one per line", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody),
        (status = 404, description = "start beyond the log", body = ErrorBody),
        (status = 503, description = "busy: the response budget is full", body = ErrorBody)))]
pub(crate) async fn entries(
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
    // Budgeted before it is built, so that many page requests at once cannot hold more
    // than the budget while slow readers keep theirs.
    let reservation = app
        .budget
        .reserve((limit as usize).saturating_mul(PAGE_ENTRY_ESTIMATE))
        .map_err(ApiError::over_budget)?;
    let leaves = app.ledger.reader().snapshot().leaves(start, limit)?;
    let mut body = Vec::with_capacity(leaves.iter().map(|l| l.len() + 1).sum());
    for leaf in leaves {
        body.extend_from_slice(&leaf);
        body.push(b'\n');
    }
    let body = reservation
        .body(body.into())
        .map_err(ApiError::over_budget)?;
    let mut response = ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response();
    response.extensions_mut().insert(Reserved);
    Ok(response)
}

#[derive(serde::Deserialize)]
pub(crate) struct InclusionParams {
    index: Option<String>,
    tree_size: Option<String>,
}

/// InclusionProof is the answer of `GET /v1/proofs/inclusion`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct InclusionProof {
    /// The entry.
    index: u64,
    /// The tree size the proof is for.
    tree_size: u64,
    /// The entry's leaf hash, base64.
    #[schema(value_type = String)]
    leaf_hash: huella_core::merkle::Hash,
    /// The proof's hashes, leaf sibling first, base64 (RFC 6962 §2.1.1).
    #[schema(value_type = Vec<String>)]
    proof: Vec<huella_core::merkle::Hash>,
}

#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "log",
    params(
        ("index" = u64, Query, description = "the entry"),
        ("tree_size" = Option<u64>, Query, description = "the tree size, default the latest")),
    responses(
        (status = 200, description = "the inclusion proof (docs/api.md)", body = InclusionProof),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody),
        (status = 404, description = "no such tree size", body = ErrorBody)))]
pub(crate) async fn inclusion(
    State(app): State<App>,
    q: Result<Query<InclusionParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let q = query(q)?;
    let index = required("index", &q.index)?;
    let tree_size = optional("tree_size", &q.tree_size)?;
    let proof = app.ledger.reader().snapshot().inclusion(index, tree_size)?;
    let response = axum::Json(InclusionProof {
        index,
        tree_size: proof.tree_size,
        leaf_hash: proof.leaf_hash,
        proof: proof.proof,
    })
    .into_response();
    observe_proof(&app, started);
    Ok(response)
}

#[derive(serde::Deserialize)]
pub(crate) struct ConsistencyParams {
    from: Option<String>,
    to: Option<String>,
}

/// ConsistencyProof is the answer of `GET /v1/proofs/consistency`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ConsistencyProof {
    /// The smaller tree size.
    from: u64,
    /// The larger.
    to: u64,
    /// The proof's hashes, base64 (RFC 6962 §2.1.2).
    #[schema(value_type = Vec<String>)]
    proof: Vec<huella_core::merkle::Hash>,
}

#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "log",
    params(
        ("from" = u64, Query, description = "the smaller tree size"),
        ("to" = Option<u64>, Query, description = "the larger, default the latest")),
    responses(
        (status = 200, description = "the consistency proof", body = ConsistencyProof),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody),
        (status = 404, description = "no such tree size", body = ErrorBody)))]
pub(crate) async fn consistency(
    State(app): State<App>,
    q: Result<Query<ConsistencyParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let q = query(q)?;
    let from = required("from", &q.from)?;
    let to = optional("to", &q.to)?;
    let (to, proof) = app.ledger.reader().snapshot().consistency(from, to)?;
    let response = axum::Json(ConsistencyProof { from, to, proof }).into_response();
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
pub(crate) struct ReceiptParams {
    tree_size: Option<String>,
}

#[utoipa::path(get, path = "/v1/receipts/{index}", tag = "log",
    params(
        ("index" = u64, Path, description = "the entry"),
        ("tree_size" = Option<u64>, Query, description = "the checkpoint size, default the latest")),
    responses(
        (status = 200, description = "the entry's C2SP tlog-proof", content_type = "text/plain", body = String),
        (status = 400, description = "bad input; the body names the problem", body = ErrorBody),
        (status = 404, description = "no such entry or tree size", body = ErrorBody)))]
pub(crate) async fn receipt(
    State(app): State<App>,
    Path(index): Path<String>,
    q: Result<Query<ReceiptParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let index = decimal("index", &index)?;
    let q = query(q)?;
    let tree_size = optional("tree_size", &q.tree_size)?;
    // With a witness policy, and no size asked for: over the newest cosigned checkpoint once
    // one covers the entry, with its cosignatures; until then, the log's latest.
    let cosigned = app
        .witnessing
        .as_ref()
        .and_then(|w| w.cosigned())
        .filter(|c| tree_size.is_none() && c.size > index);
    if let Some(cosigned) = cosigned {
        let mut proof = app
            .ledger
            .reader()
            .snapshot()
            .receipt(index, Some(cosigned.size))?;
        proof.checkpoint = cosigned.note;
        return Ok(text(proof.to_text()));
    }
    let proof = app.ledger.reader().snapshot().receipt(index, tree_size)?;
    Ok(text(proof.to_text()))
}

/// keys is the registry as of the latest checkpoint (`GET /v1/keys`): every key ever
/// registered, retired and revoked ones included, with where each change is logged.
#[utoipa::path(get, path = "/v1/keys", tag = "log",
    responses((status = 200, description = "the log's origin and key, every key ever registered with its role and validity, the registrars and the holders", body = Keys)))]
pub(crate) async fn keys(State(app): State<App>) -> Response {
    let published = app.ledger.published();
    let trust = app.ledger.trust();
    let keys = published
        .keys
        .records()
        .map(|r| {
            let retired = r.retired.as_ref();
            let revoked = r.revoked.as_ref();
            // A retired key signs until its valid_until; a revoked one is suspect from
            // compromised_since on, whichever is earlier.
            let until = [
                retired.map(|(t, _)| t),
                revoked.map(|v| &v.compromised_since),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|t| t.unix_millis());
            KeyAnswer {
                key: r.key.to_string(),
                key_id: r.key.key_ref().to_string(),
                agency: r.principal.agency.to_string(),
                country: r.principal.country.to_string(),
                role: r.role.to_string(),
                valid_from: r.valid_from.as_ref().map(|t| t.as_str().to_string()),
                valid_until: until.map(|t| t.as_str().to_string()),
                registered_at: r.registered_at,
                retired_at: retired.map(|(_, i)| *i),
                revoked_at: revoked.map(|v| v.index),
                compromised_since: revoked.map(|v| v.compromised_since.as_str().to_string()),
                revocation_reason: revoked.map(|v| v.reason.to_string()),
            }
        })
        .collect();
    axum::Json(Keys {
        origin: app.ledger.log_key().name().as_str().to_string(),
        log_key: app.ledger.log_key().to_string(),
        tree_size: published.size,
        keys,
        registrars: trust.countries.clone(),
        holders: trust.registry.holders.clone(),
    })
    .into_response()
}

/// Keys is the answer of `GET /v1/keys`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Keys {
    /// The log's origin.
    origin: String,
    /// The log's verifier key.
    log_key: String,
    /// The checkpoint size the registry is as of.
    tree_size: u64,
    /// Every key ever registered, in the order registered.
    keys: Vec<KeyAnswer>,
    /// Who may sign registry changes, per country (the trust root's).
    #[schema(value_type = Vec<schema::Registrars>)]
    registrars: Vec<huella_core::trust::Registrars>,
    /// The agencies holding data (the trust root's).
    #[schema(value_type = Vec<schema::Holder>)]
    holders: Vec<huella_core::registry::Holder>,
}

/// KeyAnswer is one key of `GET /v1/keys`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyAnswer {
    /// Its verifier key.
    key: String,
    /// Its `name+hexid`, as signatures name it.
    key_id: String,
    /// The agency it signs for.
    agency: String,
    /// That agency's country.
    country: String,
    /// What it may sign.
    #[schema(value_type = schema::Role)]
    role: String,
    /// From when it may sign; null for a key of the trust root, valid from the start.
    #[schema(required = true)]
    valid_from: Option<String>,
    /// Until when it may sign: its retirement's end or its compromise, the earlier; null
    /// while neither.
    #[schema(required = true)]
    valid_until: Option<String>,
    /// The entry that registered it; null for a key of the trust root.
    #[schema(required = true)]
    registered_at: Option<u64>,
    /// The entry that retired it, if any.
    #[schema(required = true)]
    retired_at: Option<u64>,
    /// The entry that revoked it, if any.
    #[schema(required = true)]
    revoked_at: Option<u64>,
    /// From when a revoked key is suspect.
    #[schema(required = true)]
    compromised_since: Option<String>,
    /// Why it was revoked.
    #[schema(required = true)]
    revocation_reason: Option<String>,
}

/// trust is the trust root the log runs with (`GET /v1/trust`), as its file holds it. A
/// reader should take it from a source it trusts, not from here: `verify` uses it only
/// without --trust, with a warning.
#[utoipa::path(get, path = "/v1/trust", tag = "log",
    responses((status = 200, description = "the trust root the log runs with (keys/README.md)", body = schema::Trust)))]
pub(crate) async fn trust(State(app): State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.ledger.trust().to_json(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus/OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub(crate) async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.ledger.metrics().render(),
    )
        .into_response()
}

/// healthz is liveness: the process runs and answers. Whether it can read and write is
/// [`readyz`].
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "the process answers", body = Health)))]
pub(crate) async fn healthz(State(app): State<App>) -> Response {
    axum::Json(Health {
        status: "ok",
        tree_size: app.ledger.published().size,
    })
    .into_response()
}

/// Health is the answer of `GET /healthz`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
    /// The published checkpoint's size.
    tree_size: u64,
}

/// readyz is readiness, for reads and for writes apart: reads are ready when the newest
/// entry, its proof and its checkpoint can be read; writes when no storage failure holds
/// them refused. 200 when both are, else 503 with the same body.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "reads and writes work", body = Readiness),
        (status = 503, description = "reads or writes do not; the body says which", body = Readiness)))]
pub(crate) async fn readyz(State(app): State<App>) -> Response {
    let snapshot = app.ledger.reader().snapshot();
    let size = snapshot.size();
    let reads = match size.checked_sub(1).map(|last| snapshot.receipt(last, None)) {
        None | Some(Ok(_)) => Ready {
            ok: true,
            tree_size: Some(size),
            error: None,
        },
        Some(Err(e)) => Ready {
            ok: false,
            tree_size: Some(size),
            error: Some(e.to_string()),
        },
    };
    let writes = match app.ledger.appender().write_failure() {
        None => Ready {
            ok: true,
            tree_size: None,
            error: None,
        },
        Some(why) => Ready {
            ok: false,
            tree_size: None,
            error: Some(why),
        },
    };
    let ready = reads.ok && writes.ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (status, axum::Json(Readiness { reads, writes })).into_response();
    if !ready {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(5));
    }
    response
}

/// Readiness is the answer of `GET /readyz`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Readiness {
    /// Whether the newest entry, its proof and its checkpoint can be read.
    reads: Ready,
    /// Whether submissions are accepted (no storage failure holds them refused).
    writes: Ready,
}

/// Ready is whether one half works, and if not why.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ready {
    /// Whether it works.
    ok: bool,
    /// For reads: the published size.
    #[serde(skip_serializing_if = "Option::is_none")]
    tree_size: Option<u64>,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The query parameters and answers of the API, as the OpenAPI document describes them.
/// Types the handlers above serialize derive their schema; answers built by code that must
/// not depend on utoipa (the pure core's statistics, trust root and receipts, the ledger's
/// search page, the HPKE envelope) are described here by a mirror type that is never built,
/// and tests/openapi.rs validates real answers against each (`jsonschema`), so a mirror
/// that drifts fails there.
pub(crate) mod schema {
    #![allow(dead_code)]

    use std::collections::BTreeMap;

    use utoipa::{IntoParams, ToSchema};

    /// Dimension is what `group_by` may name: huella_core::stats::DIMENSION_NAMES.
    #[derive(ToSchema, serde::Serialize)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum Dimension {
        RequestingAgency,
        RequestingCountry,
        HolderAgency,
        HolderCountry,
        Category,
        Purpose,
        LegalBasis,
        Outcome,
        Kind,
        Day,
        Month,
        Year,
    }

    /// TimeField is which time a query's days are of.
    #[derive(ToSchema, serde::Serialize)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum TimeField {
        AccessedAt,
        IntegratedAt,
    }

    /// Filters are the parameters `/v1/stats` and `/v1/search` share
    /// (`huella_core::stats::Query::from_pairs`): a comma list of values per public field
    /// (an entry matches when its field has any of them), the time the days are of, and a
    /// range of days. Each at most once.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct Filters {
        /// Only entries by these agencies (comma list): the agency that accessed, read,
        /// ordered an erasure, or whose key a registration names.
        #[param(style = Form, explode = false)]
        requesting_agency: Option<Vec<String>>,
        /// Only entries whose requesting agency is of these countries (ISO 3166-1 alpha-2).
        #[param(style = Form, explode = false)]
        requesting_country: Option<Vec<String>>,
        /// Only access entries about data held by these agencies.
        #[param(style = Form, explode = false)]
        holder_agency: Option<Vec<String>>,
        /// Only access entries about data held in these countries.
        #[param(style = Form, explode = false)]
        holder_country: Option<Vec<String>>,
        /// Only access entries of these data categories (docs/format.md §2).
        #[param(style = Form, explode = false)]
        category: Option<Vec<String>>,
        /// Only access entries and sealed reads with these purposes.
        #[param(style = Form, explode = false)]
        purpose: Option<Vec<String>>,
        /// Only entries under these legal bases.
        #[param(style = Form, explode = false)]
        legal_basis: Option<Vec<String>>,
        /// Only access entries with these outcomes: hit, no_hit, error.
        #[param(style = Form, explode = false, value_type = Option<Vec<Outcome>>, inline)]
        outcome: Option<Vec<String>>,
        /// Only entries of these kinds.
        #[param(style = Form, explode = false, value_type = Option<Vec<Kind>>, inline)]
        kind: Option<Vec<String>>,
        /// Which time `from`, `to` and the periods are of: accessed_at (default; for
        /// registry events and retention notices, when the log integrated them) or
        /// integrated_at.
        #[param(value_type = Option<TimeField>, inline)]
        time: Option<String>,
        /// The first day counted, included: YYYY, YYYY-MM or YYYY-MM-DD (UTC).
        #[param(pattern = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")]
        from: Option<String>,
        /// The last day counted, included: YYYY, YYYY-MM or YYYY-MM-DD (UTC).
        #[param(pattern = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")]
        to: Option<String>,
    }

    /// GroupBy is what `/v1/stats` groups by.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct GroupBy {
        /// What to group by, in order (comma list, each once, at most 12); none gives one
        /// group of everything that matches. day, month and year are of `time`.
        #[param(style = Form, explode = false, inline)]
        group_by: Option<Vec<Dimension>>,
    }

    /// SearchPaging is how `/v1/search` pages.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct SearchPaging {
        /// newest (default) or oldest first.
        #[param(value_type = Option<Order>, inline)]
        order: Option<String>,
        /// Most entries on the page, 1 to 100; default 20.
        #[param(minimum = 1, maximum = 100)]
        limit: Option<u64>,
        /// Where to go on from: the previous page's `next_cursor`.
        cursor: Option<u64>,
    }

    /// Outcome is an access's outcome.
    #[derive(ToSchema, serde::Serialize)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum Outcome {
        Hit,
        NoHit,
        Error,
    }

    /// Kind is an entry's kind.
    #[derive(ToSchema, serde::Serialize)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum Kind {
        Access,
        SealedRead,
        Erasure,
        Retention,
        KeyRegister,
        KeyRetire,
        KeyRevoke,
    }

    /// Role is what a registered key may sign.
    #[derive(ToSchema, serde::Serialize)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum Role {
        Submitter,
        Auditor,
        ErasureAuthority,
    }

    /// Order is a search's order.
    #[derive(ToSchema, serde::Serialize)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum Order {
        Newest,
        Oldest,
    }

    /// Totals are a group's counts.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Totals {
        /// Entries.
        count: u64,
        /// The sum of their `records_returned`.
        records_returned: u64,
        /// Those with outcome `hit`.
        hits: u64,
        /// hits over entries with an outcome; null when none has one.
        #[schema(required = true)]
        hit_rate: Option<f64>,
    }

    /// StatsGroup is one group: its value of each `group_by` dimension, by the dimension's
    /// name (null where its entries have no such field), and its totals.
    #[derive(ToSchema, serde::Serialize)]
    pub(crate) struct StatsGroup {
        /// The group's value of each `group_by` dimension, by the dimension's name.
        #[serde(flatten)]
        key: BTreeMap<String, Option<String>>,
        /// Entries.
        count: u64,
        /// The sum of their `records_returned`.
        records_returned: u64,
        /// Those with outcome `hit`.
        hits: u64,
        /// hits over entries with an outcome; null when none has one.
        #[schema(required = true)]
        hit_rate: Option<f64>,
    }

    /// Stats is the answer of `GET /v1/stats` (`huella_core::stats::Table::to_json`).
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Stats {
        /// The entries counted: the first `tree_size` of the log.
        tree_size: u64,
        /// The query's dimensions, in order.
        group_by: Vec<Dimension>,
        /// The query's time field.
        time: TimeField,
        /// The first day counted (YYYY-MM-DD), or null.
        #[schema(required = true)]
        from: Option<String>,
        /// The last day counted, or null.
        #[schema(required = true)]
        to: Option<String>,
        /// The query's filters: per field, the values allowed.
        filters: BTreeMap<String, Vec<String>>,
        /// The groups, sorted by key (absent values last).
        groups: Vec<StatsGroup>,
        /// Everything that matched.
        total: Totals,
    }

    /// SearchLinks are an entry's URLs, relative to the log's base URL.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SearchLinks {
        /// `GET /v1/entries/{index}`.
        leaf: String,
        /// `GET /v1/proofs/inclusion?index=…&tree_size=…`, at the page's tree size.
        inclusion_proof: String,
        /// `GET /v1/receipts/{index}`.
        receipt: String,
    }

    /// SearchEntry is one entry found: its public fields (those its kind has), its time and
    /// links. Nothing sealed.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SearchEntry {
        /// Its index.
        index: u64,
        requesting_agency: Option<String>,
        requesting_country: Option<String>,
        holder_agency: Option<String>,
        holder_country: Option<String>,
        category: Option<String>,
        purpose: Option<String>,
        legal_basis: Option<String>,
        outcome: Option<String>,
        kind: Option<String>,
        /// `records_returned` (access entries only).
        records_returned: Option<u64>,
        /// accessed_at for an access, read_at for a sealed read, ordered_at for an erasure,
        /// integrated_at for the rest.
        time: String,
        /// When the log integrated it.
        integrated_at: String,
        /// Where to get its leaf, inclusion proof and receipt.
        links: SearchLinks,
    }

    /// SearchPage is one page of `GET /v1/search`.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SearchPage {
        /// The log size searched.
        tree_size: u64,
        /// The order.
        order: Order,
        /// How many entries of the log match, in all.
        matches: u64,
        /// This page's matches.
        entries: Vec<SearchEntry>,
        /// Where the next page starts; null when the search is done.
        #[schema(required = true)]
        next_cursor: Option<u64>,
        /// How many leaves this page read.
        scanned: u64,
    }

    /// Receipt is the JSON receipt of a logged entry (docs/format.md §11.1).
    #[derive(ToSchema, serde::Serialize)]
    pub(crate) struct Receipt {
        /// The entry's index.
        index: u64,
        /// Its leaf hash, base64.
        leaf_hash: String,
        /// The signed checkpoint the proof is against.
        checkpoint: String,
        /// The entry's C2SP tlog-proof: keep it, it proves the entry is in the log.
        tlog_proof: String,
    }

    /// Sealed is an HPKE envelope (RFC 9180; docs/format.md §16.5).
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Sealed {
        /// The HPKE suite.
        suite: String,
        /// The encapsulated key, base64.
        enc: String,
        /// The ciphertext with its tag, base64: the disclosure file's JSON.
        ciphertext: String,
    }

    /// Leaf is a logged entry exactly as hashed (docs/format.md §8, §15.3, §16.4).
    #[derive(ToSchema, serde::Serialize)]
    pub(crate) struct Leaf {
        /// The signature(s) over the event, which differ by kind.
        #[serde(flatten)]
        signatures: BTreeMap<String, serde_json::Value>,
        /// Its index.
        index: u64,
        /// When the log integrated it.
        integrated_at: String,
        /// The previous entry's leaf hash, base64 (zeros for entry 0).
        prev: String,
        /// The event, as signed; its `kind` says which (docs/format.md).
        event: BTreeMap<String, serde_json::Value>,
    }

    /// TrustLog is the log a trust root is for.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct TrustLog {
        /// Its origin.
        origin: String,
        /// Its verifier key.
        key: String,
    }

    /// Registrars are one country's registrars.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Registrars {
        /// ISO 3166-1 alpha-2.
        country: String,
        /// Their verifier keys.
        registrars: Vec<String>,
        /// How many must sign a change; absent means 1.
        threshold: Option<u64>,
    }

    /// Holder is an agency holding data.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Holder {
        /// The agency.
        agency: String,
        /// Its country.
        country: String,
    }

    /// InitialRegistry is the registry a log starts with.
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct InitialRegistry {
        /// Always 2.
        version: u64,
        /// Keys that may submit from the start: agency, country, key.
        submitters: Vec<BTreeMap<String, String>>,
        /// The holders.
        holders: Vec<Holder>,
    }

    /// Trust is a trust root as its file holds it (docs/format.md §14, keys/README.md).
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Trust {
        /// Always 1.
        version: u64,
        /// The log.
        log: TrustLog,
        /// Who may sign registry changes, per country.
        countries: Vec<Registrars>,
        /// The registry the log started with.
        registry: InitialRegistry,
    }

    /// RegistryEvent is the body of `POST /v1/registry` (docs/format.md §15).
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct RegistryEvent {
        /// The change: its `kind` is key_register, key_retire or key_revoke, with that
        /// kind's fields (docs/format.md §15.1).
        event: BTreeMap<String, serde_json::Value>,
        /// One signature per registrar who signs it (docs/format.md §15.2).
        signatures: Vec<BTreeMap<String, String>>,
    }

    /// SealedReadSubmission is the body of `POST /v1/sealed/read` (docs/format.md §16.1,
    /// §16.5).
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SealedReadSubmission {
        /// The read, as the auditor signs it: `kind` sealed_read, and either `entries` or
        /// `search` (docs/format.md §16.1).
        event: BTreeMap<String, serde_json::Value>,
        /// For a search, the opening of the value searched for.
        openings: Option<BTreeMap<String, serde_json::Value>>,
        /// The auditor's signature, base64 (docs/format.md §16.1).
        signature: String,
    }

    /// ErasureSubmission is the body of `POST /v1/sealed/erase` (docs/format.md §16.2,
    /// §16.6).
    #[derive(ToSchema, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ErasureSubmission {
        /// The order, as the erasure authority signs it: `kind` erasure, and either
        /// `entries` or `search` (docs/format.md §16.2).
        event: BTreeMap<String, serde_json::Value>,
        /// For a search, the opening of the value searched for.
        openings: Option<BTreeMap<String, serde_json::Value>>,
        /// The authority's signature, base64.
        signature: String,
    }
}
