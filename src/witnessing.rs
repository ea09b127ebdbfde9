//! The log's side of witnessing (C2SP tlog-witness): a background task sends each new
//! checkpoint to the witnesses of the log's policy, with a consistency proof from the size
//! each last cosigned (learned from a 409 when not known), collects their cosignatures, and
//! keeps the newest checkpoint whose cosignatures meet the policy's quorum, which
//! `GET /checkpoint` then serves with the cosignature lines added.
//!
//! Appends never wait for it: it reads the published checkpoint and talks to witnesses on
//! its own task, each request with a timeout. A witness that is down or refuses is logged
//! and counted in the `huella_witness_*` metrics, never fatal.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use huella_core::cosignature::verify_note;
use huella_core::policy::Policy;
use huella_core::witness::request_body;

use crate::ledger::Ledger;

/// TIMEOUT bounds one request to a witness.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// ROUND is how often the task looks for a new checkpoint.
const ROUND: Duration = Duration::from_millis(200);

/// BACKOFF_MAX is the longest pause before asking a witness that failed again.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// KEEP_SIZES is how many checkpoint sizes the task keeps cosignatures of while waiting for a
/// quorum.
const KEEP_SIZES: usize = 64;

/// Answer is a witness's answer to one request: the witness, the checkpoint's size and
/// note, how long it took, and the status and body.
type Answer = (
    usize,
    u64,
    String,
    Duration,
    Result<(u16, String), reqwest::Error>,
);

/// Peer is what the task knows of one witness.
#[derive(Clone, Debug)]
struct Peer {
    /// The size it cosigned last, as far as known (None: ask with old 0, learn from a 409).
    known: Option<u64>,
    /// The size whose cosignature by it the task holds.
    holds: Option<u64>,
    /// A request to it is in flight.
    busy: bool,
    /// The old size of the last request sent.
    sent_old: u64,
    /// Failures in a row, for the pause before the next request.
    failures: u32,
    /// No request before this instant.
    not_before: Instant,
}

/// back_off counts a witness's failure and pauses asking it: twice as long each time in a
/// row, from [`ROUND`] up to [`BACKOFF_MAX`].
fn back_off(failures: &mut u32, not_before: &mut Instant) {
    *failures = failures.saturating_add(1);
    let pause = ROUND * 2u32.saturating_pow((*failures).min(8));
    *not_before = Instant::now() + pause.min(BACKOFF_MAX);
}

impl Default for Peer {
    fn default() -> Peer {
        Peer {
            known: None,
            holds: None,
            busy: false,
            sent_old: 0,
            failures: 0,
            not_before: Instant::now(),
        }
    }
}

/// Cosigned is a checkpoint that meets the quorum, with its cosignature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// Its size.
    pub size: u64,
    /// The log's signed note with the witnesses' cosignature lines after the log's.
    pub note: String,
    /// The names (in the policy) of the witnesses that cosigned it.
    pub witnesses: Vec<String>,
}

/// Witnessing is the shared state of the witnessing task.
pub struct Witnessing {
    policy: Arc<Policy>,
    cosigned: RwLock<Option<Cosigned>>,
}

impl Witnessing {
    /// new prepares witnessing under `policy`; [`Witnessing::spawn`] starts it.
    pub fn new(policy: Policy) -> Arc<Witnessing> {
        Arc::new(Witnessing {
            policy: Arc::new(policy),
            cosigned: RwLock::new(None),
        })
    }

    /// policy is the witness policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// cosigned is the newest checkpoint that meets the quorum, if one does yet.
    pub fn cosigned(&self) -> Option<Cosigned> {
        self.cosigned
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// spawn starts the task on the current runtime. Its requests check the witnesses'
    /// certificates against the system's trust store and, if given, the CA certificates
    /// (PEM) in `ca_cert`; a file that holds none is an error here, before anything starts.
    pub fn spawn(
        self: &Arc<Self>,
        ledger: Arc<Ledger>,
        ca_cert: Option<&std::path::Path>,
    ) -> Result<tokio::task::JoinHandle<()>, huella_verify::client::ClientError> {
        let http = huella_verify::client::trusting(ca_cert)?
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| huella_verify::client::ClientError::Unexpected {
                url: "the witnesses' URLs".into(),
                why: format!("cannot make an HTTP client: {e}"),
            })?;
        let this = self.clone();
        Ok(tokio::spawn(async move { this.run(ledger, http).await }))
    }

    async fn run(self: Arc<Self>, ledger: Arc<Ledger>, http: reqwest::Client) {
        let n = self.policy.witnesses.len();
        let mut state: Vec<Peer> = vec![Peer::default(); n];
        // Per checkpoint size: its note and the cosignature line of each witness that gave one.
        let mut collected: BTreeMap<u64, (String, Vec<Option<String>>)> = BTreeMap::new();
        // Requests in flight, at most one per witness: each witness goes at its own pace, so
        // a slow one never holds back what the others cosign.
        let mut tasks: tokio::task::JoinSet<Answer> = tokio::task::JoinSet::new();
        // Which witness each request in flight is for, so that one that ends without an
        // answer (a panic) frees its witness too.
        let mut asked: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut tick = tokio::time::interval(ROUND);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    match done {
                        Ok((id, (i, size, note, took, answer))) => {
                            asked.remove(&id);
                            state[i].busy = false;
                            self.answered(&ledger, &mut state[i], i, (size, &note), took, answer, &mut collected);
                            self.update(&mut collected);
                        }
                        Err(e) => {
                            if let Some(i) = asked.remove(&e.id()) {
                                state[i].busy = false;
                                let peer = &mut state[i];
                                back_off(&mut peer.failures, &mut peer.not_before);
                                tracing::warn!("witness {}: the request ended without an answer: {e}", self.policy.witnesses[i].name);
                            }
                        }
                    }
                    continue;
                }
            }
            let published = ledger.published();
            let (size, note) = (published.size, published.note.to_string());
            if size == 0 {
                continue;
            }
            let now = Instant::now();
            for (i, peer) in state.iter_mut().enumerate() {
                let Some(url) = self.policy.witnesses[i].url.as_deref() else {
                    continue;
                };
                if peer.busy || peer.holds == Some(size) || peer.not_before > now {
                    continue;
                }
                // From the size it last cosigned: after a restart, or a 409, that may be this
                // very size, and the proof is then empty (the witness cosigns it again).
                let old = peer.known.unwrap_or(0).min(size);
                let proof = match ledger.reader().snapshot().consistency(old, Some(size)) {
                    Ok((_, proof)) => proof,
                    Err(e) => {
                        tracing::warn!("witnessing: no consistency proof {old}..{size}: {e}");
                        continue;
                    }
                };
                peer.busy = true;
                peer.sent_old = old;
                let body = request_body(old, &proof, &note);
                let url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
                let (http, note) = (http.clone(), note.clone());
                let handle = tasks.spawn(async move {
                    let started = Instant::now();
                    let answer = async {
                        let response = http.post(&url).body(body).send().await?;
                        let status = response.status().as_u16();
                        let text = response.text().await?;
                        Ok::<_, reqwest::Error>((status, text))
                    }
                    .await;
                    (i, size, note, started.elapsed(), answer)
                });
                asked.insert(handle.id(), i);
            }
        }
    }

    /// answered takes witness `i`'s answer to checkpoint `size`: a cosignature is kept, a
    /// 409 teaches the size it cosigned last, and anything else is a failure, logged,
    /// counted, and retried after a growing pause.
    #[allow(clippy::too_many_arguments)]
    fn answered(
        &self,
        ledger: &Ledger,
        peer: &mut Peer,
        i: usize,
        (size, note): (u64, &str),
        took: Duration,
        answer: Result<(u16, String), reqwest::Error>,
        collected: &mut BTreeMap<u64, (String, Vec<Option<String>>)>,
    ) {
        let n = self.policy.witnesses.len();
        let name = self.policy.witnesses[i].name.clone();
        let label = [("witness", name.clone())];
        let metrics = ledger.metrics();
        let mut failed = |why: String| {
            tracing::warn!("witness {name}: {why}");
            metrics.witness_failures.get_or_create(&label).inc();
            back_off(&mut peer.failures, &mut peer.not_before);
        };
        match answer {
            Ok((200, lines)) => {
                // The line its key signed, each answered line checked once.
                let key = std::slice::from_ref(&self.policy.witnesses[i].key);
                let mut refused = None;
                let line = lines.lines().find_map(|l| {
                    let line = format!("{l}\n");
                    match verify_note(format!("{note}{line}").as_bytes(), key) {
                        Ok(found) if found.len() == 1 => Some(line),
                        Ok(_) => None,
                        Err(e) => {
                            refused = Some(e);
                            None
                        }
                    }
                });
                match (line, refused) {
                    (Some(line), _) => {
                        let entry = collected
                            .entry(size)
                            .or_insert_with(|| (note.to_string(), vec![None; n]));
                        entry.1[i] = Some(line);
                        peer.known = Some(size);
                        peer.holds = Some(size);
                        peer.failures = 0;
                        metrics
                            .witness_cosigned_size
                            .get_or_create(&label)
                            .set(size);
                        metrics
                            .witness_latency_seconds
                            .get_or_create(&label)
                            .observe(took.as_secs_f64());
                        // Older sizes nobody will complete stay bounded.
                        while collected.len() > KEEP_SIZES {
                            collected.pop_first();
                        }
                    }
                    (None, Some(e)) => failed(format!("its cosignature does not verify: {e}")),
                    (None, None) => failed("answered 200 without a cosignature by its key".into()),
                }
            }
            Ok((409, body)) => match huella_core::checkpoint::parse_decimal(body.trim_end()) {
                // This size again (asked from it), or a bigger one than the log has: it has
                // cosigned another tree of that size, or a tree this log never had. A split
                // view, or a rollback of the log or of the witness's state: report it.
                Some(s) if s > size || (s == size && peer.sent_old == size) => failed(format!(
                    "refused checkpoint {size}: it has cosigned a tree of size {s} that is not \
                     this log's (a fork, or a rolled-back log or witness)"
                )),
                // It names the very size it was sent a proof from: it contradicts itself.
                Some(s) if s == peer.sent_old => failed(format!(
                    "answered 409 naming size {s}, the size it was sent a proof from"
                )),
                // It cosigned another size, up to this one: the next request sends a proof
                // from there (an empty one from this size, which it cosigns again).
                Some(s) => peer.known = Some(s),
                None => failed(format!("409 with a body that is not a size: {body:?}")),
            },
            Ok((status, body)) => failed(format!(
                "refused checkpoint {size} with {status}: {}",
                body.trim_end()
            )),
            Err(e) => failed(format!("unreachable: {e}")),
        }
    }

    /// update finds the newest collected checkpoint that meets the quorum, publishes it,
    /// and forgets the older ones.
    fn update(&self, collected: &mut BTreeMap<u64, (String, Vec<Option<String>>)>) {
        let newest = collected.iter().rev().find(|(_, (_, lines))| {
            let cosigned: Vec<bool> = lines.iter().map(Option::is_some).collect();
            self.policy.met(&cosigned)
        });
        let Some((&size, (note, lines))) = newest else {
            return;
        };
        let mut with = note.clone();
        let mut witnesses = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(line) = line {
                with.push_str(line);
                witnesses.push(self.policy.witnesses[i].name.clone());
            }
        }
        *self.cosigned.write().unwrap_or_else(|p| p.into_inner()) = Some(Cosigned {
            size,
            note: with,
            witnesses,
        });
        collected.retain(|&s, _| s >= size);
    }
}
