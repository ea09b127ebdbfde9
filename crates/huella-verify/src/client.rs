//! A small HTTP(S) client for the ledger's API: what the verifier, the monitor, `huella
//! submit` and `huella demo` use. It depends on the core formats only, never on the server's
//! code.
//!
//! HTTPS is rustls with the ring provider, checking certificates against the system's trust
//! store (through rustls-platform-verifier), plus one extra CA when asked (`--ca-cert`).
//! Errors name their cause: a refused connection, a TLS failure and why, a URL without a
//! scheme, an answer that is not what the API promises.

use std::path::Path;

use huella_core::event::Submission;
use huella_core::proof::Receipt;

/// ClientError says why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be used: no `http://` or `https://` scheme, say.
    #[error("bad URL {url:?}: {why}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: UrlProblem,
    },
    /// The extra CA certificate cannot be used.
    #[error("CA certificate {path}: {why}")]
    CaCert {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// The request did not complete.
    #[error("request to {url} failed: {}", cause(source))]
    Http {
        /// The URL.
        url: String,
        /// The failure.
        source: reqwest::Error,
    },
    /// The log answered with an error.
    #[error("the log refused the request ({status}): {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The log's explanation.
        message: String,
    },
    /// The answer was not JSON where the API promises JSON (a proxy's error page, say).
    #[error(
        "the answer from {url} (HTTP {status}) is not JSON, so not from a Huella log (a proxy's error page?); it begins {begins:?}"
    )]
    NotJson {
        /// The URL.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
        /// Its first bytes, for people.
        begins: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from {url}: {why}")]
    Unexpected {
        /// The URL.
        url: String,
        /// What was wrong.
        why: String,
    },
}

impl ClientError {
    /// is_retryable says whether sending the same request again may succeed: the log was
    /// unreachable, timed out (408), rate limited the agency (429) or was busy (503). A
    /// retried submission is the same signed event, so it is logged at most once.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Http { .. } => true,
            ClientError::Api { status, .. } => matches!(*status, 408 | 429 | 503),
            ClientError::Url { .. }
            | ClientError::CaCert { .. }
            | ClientError::Unexpected { .. } => false,
            // A proxy's error page in front of a busy or restarting log.
            ClientError::NotJson { status, .. } => matches!(*status, 408 | 429 | 502 | 503 | 504),
        }
    }
}

/// How long connecting to the log may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one request may take, response body included (a page of entries is about 1 MB).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Client talks to one ledger.
#[derive(Clone, Debug)]
pub struct Client {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    base: String,
    /// Connection pool.
    http: reqwest::Client,
    /// Why this client cannot send anything, if it cannot (see [`Client::new`]).
    broken: Option<UrlProblem>,
}

/// UrlProblem says why a log's URL cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    /// No `scheme://` at all.
    #[error("it has no scheme: write http://HOST:PORT or https://HOST")]
    NoScheme,
    /// A scheme other than http and https.
    #[error("the scheme must be http or https, not {0:?}")]
    Scheme(String),
    /// Nothing after `scheme://`.
    #[error("it names no host")]
    NoHost,
    /// Anything else the URL parser refused, or the HTTP client could not be built for it.
    #[error("{0}")]
    Invalid(String),
}

/// check_url refuses a base URL that is not `http://` or `https://` with a host.
fn check_url(base: &str) -> Result<(), ClientError> {
    let bad = |why: UrlProblem| ClientError::Url {
        url: base.to_string(),
        why,
    };
    let Some((scheme, rest)) = base.split_once("://") else {
        return Err(bad(UrlProblem::NoScheme));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad(UrlProblem::Scheme(scheme.to_string())));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad(UrlProblem::NoHost));
    }
    reqwest::Url::parse(base).map_err(|e| bad(UrlProblem::Invalid(e.to_string())))?;
    Ok(())
}

/// Submitted is a receipt and whether the log created the entry (false: a retry).
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The receipt.
    pub receipt: Receipt,
    /// True for 201 Created, false for 200 (already logged).
    pub created: bool,
}

/// HttpCause is why a request did not complete, typed for callers that tell the cases
/// apart (the message of [`ClientError::Http`] is made from it).
#[derive(Debug)]
pub enum HttpCause<'a> {
    /// Nobody listens at the address: the connection was refused.
    Refused,
    /// The TLS handshake failed: a certificate the trust store does not accept, or (an
    /// `InvalidMessage`) a server that speaks plain HTTP.
    Tls(&'a rustls::Error),
    /// No answer within the timeout.
    Timeout,
    /// Anything else (an answer that is not HTTP, say): reqwest's message and the innermost
    /// cause's.
    Other(String),
}

impl std::fmt::Display for HttpCause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpCause::Refused => {
                f.write_str("connection refused (is the log running, and is this its address?)")
            }
            HttpCause::Tls(tls @ rustls::Error::InvalidMessage(_)) => write!(
                f,
                "TLS failure: {tls} (is the server speaking plain HTTP? then use an http:// URL)"
            ),
            HttpCause::Tls(tls) => write!(f, "TLS failure: {tls}"),
            HttpCause::Timeout => f.write_str("timed out"),
            HttpCause::Other(why) => f.write_str(why),
        }
    }
}

impl ClientError {
    /// http_cause is why the request did not complete, for an [`ClientError::Http`].
    pub fn http_cause(&self) -> Option<HttpCause<'_>> {
        match self {
            ClientError::Http { source, .. } => Some(cause(source)),
            _ => None,
        }
    }
}

/// cause finds why a request failed: the innermost error of the chain says what went wrong
/// (connection refused, a certificate the trust store does not accept), where reqwest's own
/// message says only "error sending request".
fn cause(e: &reqwest::Error) -> HttpCause<'_> {
    let mut causes = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(cause) = next {
        if let Some(tls) = tls_error(cause) {
            return HttpCause::Tls(tls);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return HttpCause::Refused;
        }
        causes.push(cause.to_string());
        next = cause.source();
    }
    if e.is_timeout() {
        return HttpCause::Timeout;
    }
    HttpCause::Other(match causes.last() {
        Some(innermost) => format!("{e}: {innermost}"),
        None => e.to_string(),
    })
}

/// tls_error finds a rustls error in `e`, which hyper and tokio wrap in I/O errors, sometimes
/// twice: an I/O error's `source` skips the error it wraps, so look inside it.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    tls_error(inner)
}

/// trusting is an HTTP client builder that checks certificates against the system's trust
/// store and, if given, the CA certificates (PEM) in `ca_cert`: what every client of Huella
/// starts from (the reader tools, and the log's requests to its witnesses).
pub fn trusting(ca_cert: Option<&Path>) -> Result<reqwest::ClientBuilder, ClientError> {
    install_crypto();
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca_cert {
        let bad = |why: String| ClientError::CaCert {
            path: path.display().to_string(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// install_crypto makes ring rustls's process-wide provider, once; reqwest is built without
/// one of its own, to keep aws-lc out of the build. [`Client`] calls it; code that builds a
/// `reqwest::Client` of its own calls it first.
pub fn install_crypto() {
    // Err means a provider is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// new makes a client for the ledger at `base_url`, trusting the system's CAs. A URL it
    /// cannot use is reported by the first request.
    pub fn new(base_url: &str) -> Client {
        // The fallback client below is built without a URL check, but still needs a provider.
        install_crypto();
        Client::with_ca_cert(base_url, None).unwrap_or_else(|e| Client {
            base: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            broken: Some(match e {
                ClientError::Url { why, .. } => why,
                other => UrlProblem::Invalid(other.to_string()),
            }),
        })
    }

    /// with_ca_cert makes a client for the ledger at `base_url` that also trusts the CA
    /// certificate(s) in the PEM file `ca_cert`.
    pub fn with_ca_cert(base_url: &str, ca_cert: Option<&Path>) -> Result<Client, ClientError> {
        check_url(base_url)?;
        let base = base_url.trim_end_matches('/').to_string();
        // Without timeouts a hung or hostile log could stall a verifier or monitor forever
        // instead of being reported unreachable.
        let http = trusting(ca_cert)?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Url {
                url: base.clone(),
                why: UrlProblem::Invalid(format!(
                    "cannot make an HTTP client for it: {}",
                    cause(&e)
                )),
            })?;
        Ok(Client {
            base,
            http,
            broken: None,
        })
    }

    /// url joins a path to the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn check(
        &self,
        url: &str,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.map_err(|source| ClientError::Http {
            url: url.to_string(),
            source,
        })?;
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        // Every error of the API is JSON with a code; anything else came from something else.
        let Some(code) = field("error") else {
            return Err(not_json(url, status.as_u16(), &body));
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            code,
            message: field("message").unwrap_or_default(),
        })
    }

    /// submit posts a sealed event and returns its receipt.
    pub async fn submit(&self, submission: &Submission) -> Result<Submitted, ClientError> {
        self.post_for_receipt("/v1/entries", submission).await
    }

    /// submit_registry posts a registry event signed by registrars (`POST /v1/registry`)
    /// and returns its receipt.
    pub async fn submit_registry(
        &self,
        signed: &huella_core::keylog::SignedRegistryEvent,
    ) -> Result<Submitted, ClientError> {
        self.post_for_receipt("/v1/registry", signed).await
    }

    /// post_for_receipt posts `value` as JSON to `path` and reads the receipt it answers.
    async fn post_for_receipt(
        &self,
        path: &str,
        value: &impl serde::Serialize,
    ) -> Result<Submitted, ClientError> {
        let body = serde_json::to_vec(value).map_err(|e| ClientError::Unexpected {
            url: self.url(path),
            why: e.to_string(),
        })?;
        let (status, bytes) = self.post(path, body).await?;
        let receipt = parse_json(&self.url(path), &bytes)?;
        Ok(Submitted {
            receipt,
            created: status == 201,
        })
    }

    /// post_raw posts a JSON body to a path and returns the answer's body.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        Ok(self.post(path, body).await?.1)
    }

    /// post sends a JSON body and returns the success status and body, or the log's error.
    async fn post(&self, path: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), ClientError> {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        self.send(path, request).await
    }

    /// get fetches a path and returns the body.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        Ok(self.send(path, self.http.get(self.url(path))).await?.1)
    }

    /// get_json fetches a path and parses the answer as JSON of type `T`; an answer that is
    /// not (an HTML error page from a proxy, say) is named as such.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let body = self.get(path).await?;
        parse_json(&self.url(path), &body)
    }

    /// send sends a request for `path` and returns the success status and body, or the
    /// log's error.
    async fn send(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = self.url(path);
        if let Some(why) = &self.broken {
            return Err(ClientError::Url {
                url: self.base.clone(),
                why: why.clone(),
            });
        }
        let response = request.send().await.map_err(|source| ClientError::Http {
            url: url.clone(),
            source,
        })?;
        let response = self.check(&url, response).await?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ClientError::Http { url, source })?;
        Ok((status, bytes.to_vec()))
    }
}

/// not_json is the error for an answer that is not the API's JSON.
fn not_json(url: &str, status: u16, body: &[u8]) -> ClientError {
    ClientError::NotJson {
        url: url.to_string(),
        status,
        begins: String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned(),
    }
}

/// parse_json parses an answer as JSON of type `T`, saying whether it was not JSON at all or
/// JSON of another shape.
fn parse_json<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| {
        if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
            ClientError::Unexpected {
                url: url.to_string(),
                why: format!("the JSON answer is not what the API promises: {e}"),
            }
        } else {
            not_json(url, 200, body)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ClientError {
        ClientError::Api {
            status,
            code: "x".into(),
            message: "y".into(),
        }
    }

    #[test]
    fn urls_without_a_scheme_or_host_are_refused_by_name() {
        for (url, problem) in [
            ("127.0.0.1:8080", UrlProblem::NoScheme),
            ("ftp://log.example", UrlProblem::Scheme("ftp".into())),
            ("https://", UrlProblem::NoHost),
        ] {
            match Client::with_ca_cert(url, None) {
                Err(ClientError::Url { why, .. }) => assert_eq!(why, problem, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
            // Client::new reports it at the first request.
            let client = Client::new(url);
            let sent = block_on(client.get("/checkpoint"));
            assert!(matches!(sent, Err(ClientError::Url { why, .. }) if why == problem));
        }
        assert!(Client::with_ca_cert("https://log.example/", None).is_ok());
    }

    /// block_on runs a future that completes without waiting on I/O.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        for path in [dir.path().join("missing.pem"), empty] {
            assert!(matches!(
                Client::with_ca_cert("https://log.example", Some(&path)),
                Err(ClientError::CaCert { .. })
            ));
        }
    }

    #[test]
    fn an_answer_that_is_not_json_is_named() {
        let html = parse_json::<serde_json::Value>("u", b"<html>502 Bad Gateway</html>");
        assert!(matches!(html, Err(ClientError::NotJson { .. })), "{html:?}");
        let shape = parse_json::<Receipt>("u", b"{\"index\": 1}");
        assert!(
            matches!(shape, Err(ClientError::Unexpected { .. })),
            "{shape:?}"
        );
    }

    #[test]
    fn timeouts_rate_limits_and_busy_logs_are_retried_refusals_are_not() {
        for status in [408, 429, 503] {
            assert!(api(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 409, 413, 422] {
            assert!(!api(status).is_retryable(), "{status}");
        }
    }
}
