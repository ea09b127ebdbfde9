//! The log's side of witnessing (C2SP tlog-witness): a background task sends each new
//! checkpoint to the witnesses of the log's policy, with a consistency proof from the size
//! each last cosigned (learned from a 409 when not known), collects their cosignatures, and
//! keeps the newest checkpoint whose cosignatures meet the policy's quorum, which
//! `GET /checkpoint` then serves with the cosignature lines added.
//!
//! Appends never wait for it: it reads the published checkpoint and talks to witnesses on
//! its own task, each request with a timeout. A witness that is down or refuses is logged
//! and counted in the `huella_witness_*` metrics, never fatal.

use std::collections::BTreeMap;
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

    /// spawn starts the task on the current runtime.
    pub fn spawn(self: &Arc<Self>, ledger: Arc<Ledger>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { this.run(ledger).await })
    }

    async fn run(self: Arc<Self>, ledger: Arc<Ledger>) {
        huella_verify::client::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        let n = self.policy.witnesses.len();
        // Per witness: the size it cosigned last, as far as known (None: ask with old 0).
        let mut known: Vec<Option<u64>> = vec![None; n];
        // Per checkpoint size: its note and the cosignature line of each witness that gave one.
        let mut collected: BTreeMap<u64, (String, Vec<Option<String>>)> = BTreeMap::new();
        loop {
            tokio::time::sleep(ROUND).await;
            let published = ledger.published();
            let (size, note) = (published.size, published.note.to_string());
            if size == 0 {
                continue;
            }
            let wanted: Vec<usize> = (0..n)
                .filter(|&i| known[i] != Some(size) && self.policy.witnesses[i].url.is_some())
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let mut tasks = tokio::task::JoinSet::new();
            for i in wanted {
                let old = known[i].unwrap_or(0).min(size);
                let proof = match ledger.reader().snapshot().consistency(old, Some(size)) {
                    Ok((_, proof)) => proof,
                    Err(e) => {
                        tracing::warn!("witnessing: no consistency proof {old}..{size}: {e}");
                        continue;
                    }
                };
                let body = request_body(old, &proof, &note);
                let url = format!(
                    "{}/add-checkpoint",
                    self.policy.witnesses[i]
                        .url
                        .as_deref()
                        .unwrap_or("")
                        .trim_end_matches('/')
                );
                let http = http.clone();
                tasks.spawn(async move {
                    let started = Instant::now();
                    let answer = async {
                        let response = http.post(&url).body(body).send().await?;
                        let status = response.status().as_u16();
                        let text = response.text().await?;
                        Ok::<_, reqwest::Error>((status, text))
                    }
                    .await;
                    (i, started.elapsed(), answer)
                });
            }
            while let Some(Ok((i, took, answer))) = tasks.join_next().await {
                let name = self.policy.witnesses[i].name.clone();
                let label = [("witness", name.clone())];
                let metrics = ledger.metrics();
                let failed = |why: String| {
                    tracing::warn!("witness {name}: {why}");
                    metrics.witness_failures.get_or_create(&label).inc();
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
                                    .or_insert_with(|| (note.clone(), vec![None; n]));
                                entry.1[i] = Some(line);
                                known[i] = Some(size);
                                metrics
                                    .witness_cosigned_size
                                    .get_or_create(&label)
                                    .set(size);
                                metrics
                                    .witness_latency_seconds
                                    .get_or_create(&label)
                                    .observe(took.as_secs_f64());
                            }
                            (None, Some(e)) => {
                                failed(format!("its cosignature does not verify: {e}"))
                            }
                            (None, None) => {
                                failed("answered 200 without a cosignature by its key".into())
                            }
                        }
                    }
                    Ok((409, body)) => {
                        match huella_core::checkpoint::parse_decimal(body.trim_end()) {
                            // It cosigned another size: the next round sends a proof from there.
                            Some(n) => known[i] = Some(n),
                            None => failed(format!("409 with a body that is not a size: {body:?}")),
                        }
                    }
                    Ok((status, body)) => failed(format!(
                        "refused checkpoint {size} with {status}: {}",
                        body.trim_end()
                    )),
                    Err(e) => failed(format!("unreachable: {e}")),
                }
            }
            self.update(&mut collected);
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
