//! A small HTTP client for the ledger's API: what `huella submit` and `huella demo` use.
//! It depends on the core formats only, never on the server's code.

use crate::event::Submission;
use crate::proof::Receipt;

/// ClientError says why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not complete.
    #[error("request to {url} failed: {source}")]
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
            ClientError::Unexpected { .. } => false,
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
}

/// Submitted is a receipt and whether the log created the entry (false: a retry).
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The receipt.
    pub receipt: Receipt,
    /// True for 201 Created, false for 200 (already logged).
    pub created: bool,
}

impl Client {
    /// new makes a client for the ledger at `base_url`.
    pub fn new(base_url: &str) -> Client {
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            // Without timeouts a hung or hostile log could stall a verifier or monitor
            // forever instead of being reported unreachable.
            http: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
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
        Err(ClientError::Api {
            status: status.as_u16(),
            code: field("error").unwrap_or_else(|| "unknown".into()),
            message: field("message")
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
        })
    }

    /// submit posts a sealed event and returns its receipt.
    pub async fn submit(&self, submission: &Submission) -> Result<Submitted, ClientError> {
        let path = "/v1/entries";
        let body = serde_json::to_vec(submission).map_err(|e| ClientError::Unexpected {
            url: self.url(path),
            why: e.to_string(),
        })?;
        let (status, bytes) = self.post(path, body).await?;
        let receipt = serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
            url: self.url(path),
            why: format!("receipt does not parse: {e}"),
        })?;
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

    /// send sends a request for `path` and returns the success status and body, or the
    /// log's error.
    async fn send(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = self.url(path);
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
    fn timeouts_rate_limits_and_busy_logs_are_retried_refusals_are_not() {
        for status in [408, 429, 503] {
            assert!(api(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 409, 413, 422] {
            assert!(!api(status).is_retryable(), "{status}");
        }
    }
}
