//! Huella as a witness (C2SP tlog-witness): `POST /add-checkpoint` cosigns a checkpoint of a
//! log its policy lists when it is consistent with the last one it cosigned for that log,
//! and `GET /<origin hash>/checkpoint` serves that checkpoint with its cosignature.
//!
//! Per log it keeps the latest cosigned checkpoint in `<data>/logs/<sha256(origin) hex>`,
//! written to a temporary file, fsynced and renamed into place (and the directory fsynced)
//! before the answer leaves. One lock orders every check and update, so two requests can
//! never roll the state back. The decisions are the core's ([`huella_core::witness`]);
//! this module keeps the state and speaks HTTP.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use huella_core::cosignature::CosignerSigner;
use huella_core::keys::VerifierKey;
use huella_core::merkle::Hash;
use huella_core::policy::Policy;
use huella_core::witness::{Latest, MAX_REQUEST, Refusal, decide, origin, parse};

/// MAX_EVIDENCE bounds the refused checkpoints kept as evidence per log.
pub const MAX_EVIDENCE: usize = 1000;

/// Witness is a running witness: its key, the logs it witnesses, and where it keeps state.
pub struct Witness {
    signer: CosignerSigner,
    logs: Vec<VerifierKey>,
    dir: PathBuf,
    /// Orders every check-and-update.
    lock: Mutex<()>,
}

/// Stored is one log's state file.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    origin: String,
    size: u64,
    root: Hash,
    /// The cosigned checkpoint: the log's note with this witness's cosignature added.
    checkpoint: String,
}

/// WitnessError is a failure of the witness itself (storage), not of a request.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WitnessError(String);

/// origin_hash is the lower-case hex SHA-256 of an origin: the monitoring path's name.
pub fn origin_hash(origin: &str) -> String {
    hex(&Hash::sha256(origin.as_bytes()).0)
}

/// hex is lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Witness {
    /// open starts a witness with `signer`, for the logs of `policy`, keeping state in
    /// `dir` (created if needed).
    pub fn open(
        signer: CosignerSigner,
        policy: &Policy,
        dir: &Path,
    ) -> Result<Witness, WitnessError> {
        let logs_dir = dir.join("logs");
        std::fs::create_dir_all(&logs_dir)
            .map_err(|e| WitnessError(format!("creating {}: {e}", logs_dir.display())))?;
        Ok(Witness {
            signer,
            logs: policy.logs.iter().map(|l| l.key.clone()).collect(),
            dir: logs_dir,
            lock: Mutex::new(()),
        })
    }

    fn path(&self, origin: &str) -> PathBuf {
        self.dir.join(origin_hash(origin))
    }

    fn load(&self, origin: &str) -> Result<Option<Stored>, WitnessError> {
        let path = self.path(origin);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Stored>(&bytes)
                .map(Some)
                .map_err(|e| WitnessError(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(WitnessError(format!("reading {}: {e}", path.display()))),
        }
    }

    fn store(&self, stored: &Stored) -> Result<(), WitnessError> {
        let path = self.path(&stored.origin);
        let temporary = path.with_extension("tmp");
        let io =
            |what: &str, e: std::io::Error| WitnessError(format!("{what} {}: {e}", path.display()));
        let bytes = serde_json::to_vec(stored).map_err(|e| WitnessError(e.to_string()))?;
        {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&temporary).map_err(|e| io("writing", e))?;
            file.write_all(&bytes).map_err(|e| io("writing", e))?;
            file.sync_all().map_err(|e| io("syncing", e))?;
        }
        std::fs::rename(&temporary, &path).map_err(|e| io("renaming into", e))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("syncing the directory of", e))
    }

    /// add_checkpoint answers an `add-checkpoint` body at `now` (POSIX seconds): the
    /// cosignature line, or the refusal; a storage failure is the witness's own error.
    pub fn add_checkpoint(
        &self,
        body: &[u8],
        now: u64,
    ) -> Result<Result<String, Refusal>, WitnessError> {
        let request = match parse(body) {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let Some(origin) = origin(&request.note).map(str::to_string) else {
            return Ok(Err(Refusal::new(
                400,
                "malformed request: the checkpoint has no origin line",
            )));
        };
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let stored = self.load(&origin)?;
        let latest = stored.as_ref().map(|s| Latest {
            size: s.size,
            root: s.root,
        });
        let accepted = match decide(&request, &self.logs, latest.as_ref()) {
            Ok(a) => a,
            Err(refusal) => {
                if refusal.misbehavior {
                    self.keep_evidence(
                        &origin,
                        body,
                        &request.note,
                        &refusal,
                        stored.as_ref(),
                        now,
                    );
                }
                return Ok(Err(refusal));
            }
        };
        let line = self.signer.cosign(&accepted.body, now);
        let mut checkpoint = String::from_utf8_lossy(&request.note).into_owned();
        checkpoint.push_str(&line);
        self.store(&Stored {
            origin,
            size: accepted.latest.size,
            root: accepted.latest.root,
            checkpoint,
        })?;
        Ok(Ok(line))
    }

    /// keep_evidence keeps a refused checkpoint the log signed that contradicts what this
    /// witness cosigned (another root at the size it cosigned: a split view), beside what it
    /// cosigned, in `<data>/evidence/<origin hash>/`, and logs it: for a witness run by an
    /// authority or a rights group, that is the proof of the log's misbehavior. Each file is
    /// named by the SHA-256 of the checkpoint and the log's signature on it, so sending it
    /// again, with other signature lines or without, adds nothing; only the log's key can
    /// make new ones, and at most [`MAX_EVIDENCE`] are kept per log. Failing to
    /// keep one is logged, never a reason to answer otherwise.
    fn keep_evidence(
        &self,
        origin: &str,
        body: &[u8],
        note: &[u8],
        refusal: &Refusal,
        cosigned: Option<&Stored>,
        now: u64,
    ) {
        tracing::warn!(
            "log {origin} signed a checkpoint this witness refuses: {}",
            refusal.why
        );
        let Some(data) = self.dir.parent() else {
            return;
        };
        let dir = data.join("evidence").join(origin_hash(origin));
        let kept = std::fs::create_dir_all(&dir).and_then(|()| {
            // Named by the checkpoint and the log's own signature on it: lines by other keys
            // (which a note may carry, and anyone may add) do not make it another file.
            let signed = match huella_core::note::parse(note) {
                Ok((text, signatures)) => {
                    let mut signed = text.into_bytes();
                    for line in signatures
                        .iter()
                        .filter(|s| self.logs.iter().any(|k| s.is_by(k.key_ref())))
                    {
                        signed.extend_from_slice(line.to_line().as_bytes());
                    }
                    signed
                }
                Err(_) => note.to_vec(),
            };
            let path = dir.join(format!("{}.txt", hex(&Hash::sha256(&signed).0)));
            if path.exists() {
                return Ok(path);
            }
            let count = std::fs::read_dir(&dir)?.count();
            if count >= MAX_EVIDENCE {
                return Err(std::io::Error::other(format!("{count} files kept already")));
            }
            let mut text = format!(
                "refused ({}) at {now}: {}\n\nrequest:\n",
                refusal.status, refusal.why
            )
            .into_bytes();
            text.extend_from_slice(body);
            text.extend_from_slice(b"\ncosigned before:\n");
            text.extend_from_slice(cosigned.map_or("(nothing)\n", |c| &c.checkpoint).as_bytes());
            std::fs::write(&path, text)?;
            Ok(path)
        });
        match kept {
            Ok(path) => tracing::warn!("kept as evidence in {}", path.display()),
            Err(e) => tracing::warn!("could not keep the evidence of {origin}: {e}"),
        }
    }

    /// checkpoint is the latest cosigned checkpoint of the log whose origin hashes to
    /// `hash`, if any.
    pub fn checkpoint(&self, hash: &str) -> Result<Option<String>, WitnessError> {
        for key in &self.logs {
            let origin = key.name().as_str();
            if origin_hash(origin) == hash {
                return Ok(self.load(origin)?.map(|s| s.checkpoint));
            }
        }
        Ok(None)
    }
}

/// router is the witness's HTTP API.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(witness)
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The state file is fsynced before the answer: off the runtime's threads.
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now)).await;
    match result {
        Ok(Ok(Ok(line))) => text(StatusCode::OK, "text/plain; charset=utf-8", line),
        Ok(Ok(Err(refusal))) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            match refusal.size_body() {
                Some(size) => text(status, "text/x.tlog.size", size),
                None => text(
                    status,
                    "text/plain; charset=utf-8",
                    format!("{}\n", refusal.why),
                ),
            }
        }
        Ok(Err(e)) => {
            tracing::error!("witness storage: {e}");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                "the witness cannot store its state now\n".into(),
            )
        }
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "the witness stopped unexpectedly\n".into(),
        ),
    }
}

async fn checkpoint(
    State(witness): State<Arc<Witness>>,
    UrlPath(hash): UrlPath<String>,
) -> Response {
    match witness.checkpoint(&hash) {
        Ok(Some(note)) => text(StatusCode::OK, "text/plain; charset=utf-8", note),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no checkpoint cosigned for this log\n".into(),
        ),
        Err(e) => {
            tracing::error!("witness storage: {e}");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                "the witness cannot read its state now\n".into(),
            )
        }
    }
}
