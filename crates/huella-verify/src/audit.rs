//! The full audit: every entry of a log streamed from a [`Source`], checked on every core
//! (Ed25519 signatures in batches), chained, hashed into the tree and compared with the
//! signed checkpoint; then, for a log's API, a sample of what it serves to other readers
//! checked against that tree ([`crate::sample`]); and the summary it prints.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use std::sync::Arc;

use huella_core::admission::Rules;
use huella_core::checkpoint;
use huella_core::keys::VerifierKey;
use huella_core::merkle::Hash;
use huella_core::verify::{Auditor, Checked, Summary, VerifyError, check_leaves};
use indicatif::{ProgressBar, ProgressStyle};

use crate::bundle::check_bundle_files;
use crate::cli::Trusted;
use crate::error::{AuditError, ServedError};
use crate::sample::{Sample, Sampling, ServedChecks};
use crate::source::Source;

/// Progress shows a bar on a terminal and nothing otherwise.
pub struct Progress(ProgressBar);

impl Progress {
    /// new shows a bar for `total` entries labelled `what`, if stderr is a terminal and not
    /// `quiet`.
    pub fn new(total: u64, what: &str, quiet: bool) -> Progress {
        Progress::counting(total, what, "entries", quiet)
    }

    /// counting shows a bar for `total` items called `unit`, labelled `what`, if stderr is
    /// a terminal and not `quiet`.
    pub fn counting(total: u64, what: &str, unit: &str, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(total);
        let template =
            format!("{what} [{{bar:40}}] {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(bar)
    }

    pub(crate) fn set(&self, position: u64) {
        self.0.set_position(position);
    }

    pub(crate) fn done(&self) {
        self.0.finish_and_clear();
    }
}

/// check_page checks a page's leaves on their own, split across the machine's cores.
fn check_page(
    start: u64,
    leaves: &[Vec<u8>],
    rules: Rules<'_>,
) -> Result<Vec<Checked>, VerifyError> {
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = leaves.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = leaves
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                scope.spawn(move || check_leaves(start + (i * chunk) as u64, part, rules))
            })
            .collect();
        let mut out = Vec::with_capacity(leaves.len());
        for handle in handles {
            // Invariant: check_leaves does not panic; if it did, surfacing the panic is right.
            out.extend(handle.join().expect("leaf checking panicked")?);
        }
        Ok(out)
    })
}

/// audit_entries feeds entries `auditor.size()..end` from `source` through the auditor, and
/// gives `sample` the leaf hashes and roots its checks need as the tree grows.
pub async fn audit_entries(
    source: &Source,
    auditor: &mut Auditor,
    end: u64,
    progress: &Progress,
    sample: &mut Sample,
) -> Result<(), AuditError> {
    sample.observe_root(auditor.frontier());
    let mut pages = source.pages(auditor.size(), end);
    while auditor.size() < end {
        let (start, leaves) = pages.recv().await.ok_or_else(|| {
            AuditError::Io(format!(
                "the entry stream ended at {} of {end}",
                auditor.size()
            ))
        })??;
        if start != auditor.size() {
            return Err(AuditError::Io(format!(
                "page starts at {start}, expected {}",
                auditor.size()
            )));
        }
        let rules = auditor.rules();
        let checked = tokio::task::block_in_place(|| check_page(start, &leaves, rules))?;
        for c in checked {
            let (index, leaf_hash) = (auditor.size(), c.leaf_hash);
            auditor.push_checked(c)?;
            sample.observe(index, leaf_hash, auditor.frontier());
        }
        progress.set(auditor.size());
    }
    // The reader may still judge the source as a whole (extra entries, a manifest mismatch):
    // wait for its last word.
    if let Some(more) = pages.recv().await {
        let (start, _) = more?;
        return Err(ServedError::Beyond { start, end }.into());
    }
    Ok(())
}

/// recount_compromised counts the entries of each compromised key in the day its compromise
/// began, which the auditor leaves to a second read of that day's index range (checked
/// against the hash chain the audit saw: see [`huella_core::verify::Recount`]).
pub async fn recount_compromised(
    source: &Source,
    mut summary: Summary,
) -> Result<Summary, AuditError> {
    for compromised in &mut summary.compromised {
        let Some(mut recount) = compromised.recount.take() else {
            continue;
        };
        let mut pages = source.pages(recount.first, recount.last + 1);
        while !recount.done() {
            let Some(page) = pages.recv().await else {
                break;
            };
            let (start, leaves) = page?;
            for (i, leaf) in leaves.iter().enumerate() {
                if !recount.done() {
                    recount.feed(start + i as u64, leaf)?;
                }
            }
        }
        recount.apply(compromised)?;
    }
    Ok(summary)
}

/// Verified is the result of a full audit.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verified {
    /// The log's origin.
    pub origin: String,
    /// Entries verified.
    pub tree_size: u64,
    /// The verified root.
    pub root: Hash,
    /// The signed checkpoint the log was verified against.
    pub checkpoint: String,
    /// Where the trust root came from: `trust` (--trust), `registry` (--registry, the older
    /// form), or the source itself (`log` or `bundle`, which trusts its operator).
    pub registry_source: String,
    /// What the entries show.
    pub summary: Summary,
    /// The answers the log serves to others that were checked against the tree; `None` for
    /// a bundle, or when none were (`--sample 0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served: Option<ServedChecks>,
    /// Seconds the audit took.
    pub seconds: f64,
    /// Statistics of every entry verified, when [`verify_log_witnessed`] was asked to count.
    #[serde(skip)]
    pub stats: Option<huella_core::stats::Cube>,
    /// The checkpoint's witnesses, as a witness policy required (or that none was checked).
    pub witnesses: crate::witnesses::Witnessed,
}

/// verify_log runs a full audit of `source` against `log_key`, with the trust root the user
/// gave if any (else the source's, with a warning), replaying the log's registry events from
/// it. For a log's API, it then checks the answers `sampling` picks against the audited
/// tree; a bundle serves none.
pub async fn verify_log(
    source: &Source,
    log_key: &VerifierKey,
    trusted: Option<Trusted>,
    sampling: &Sampling,
    quiet: bool,
) -> Result<Verified, AuditError> {
    verify_log_witnessed(source, log_key, trusted, sampling, quiet, false, None).await
}

/// verify_log_witnessed is [`verify_log`] that, with `count`, also counts every entry it
/// verifies into a statistics cube ([`Verified::stats`]), and, with a witness policy, first
/// requires the checkpoint's witness cosignatures to meet its quorum.
pub async fn verify_log_witnessed(
    source: &Source,
    log_key: &VerifierKey,
    trusted: Option<Trusted>,
    sampling: &Sampling,
    quiet: bool,
    count: bool,
    policy: Option<&huella_core::policy::Policy>,
) -> Result<Verified, AuditError> {
    let started = Instant::now();
    let note = source.checkpoint().await?;
    let (checkpoint, _) = checkpoint::open(&note, log_key).map_err(AuditError::checkpoint)?;
    let witnesses = crate::witnesses::check(policy, &note)?;
    if let Source::Bundle(dir) = source {
        check_bundle_files(dir, &checkpoint)?;
    }
    let (trust, registry_source) = match trusted {
        Some(t) => (t.root, t.from.to_string()),
        None => {
            let from = if matches!(source, Source::Http(_)) {
                "log"
            } else {
                "bundle"
            };
            eprintln!(
                "warning: using the trust root the {from} serves, which trusts its operator; \
                 pass --trust FILE with the trust root from a source you trust"
            );
            (source.trust(log_key).await?, from.to_string())
        }
    };
    let mut auditor = Auditor::new(Arc::new(trust));
    if count {
        auditor = auditor.with_stats();
    }
    let sampling = match source {
        Source::Http(_) => *sampling,
        Source::Bundle(_) => Sampling::off(),
    };
    let mut sample = Sample::plan(&sampling, 0, checkpoint.size);
    let progress = Progress::new(checkpoint.size, "verifying", quiet);
    let result = audit_entries(
        source,
        &mut auditor,
        checkpoint.size,
        &progress,
        &mut sample,
    )
    .await;
    progress.done();
    result?;
    auditor.finish(&checkpoint)?;
    let summary = recount_compromised(source, auditor.summary()).await?;
    let served = match source {
        Source::Http(client) if !sampling.is_off() => {
            Some(sample.check(client, log_key, &checkpoint, quiet).await?)
        }
        _ => None,
    };
    Ok(Verified {
        origin: checkpoint.origin.clone(),
        tree_size: checkpoint.size,
        root: checkpoint.root,
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
        registry_source,
        summary,
        served,
        seconds: started.elapsed().as_secs_f64(),
        stats: auditor.stats().cloned(),
        witnesses,
    })
}

/// render writes a verification summary for people.
pub fn render(v: &Verified) -> String {
    let mut out = String::new();
    let s = &v.summary;
    out.push_str(&format!(
        "VERIFIED: log {} holds {} entries, all signed by keys registered and valid at their index, chained and matching the signed checkpoint.\n",
        v.origin, v.tree_size
    ));
    out.push_str(&format!(
        "  tree size: {}\n  root:      {}\n",
        v.tree_size, v.root
    ));
    out.push_str("  checkpoint:\n");
    for line in v.checkpoint.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    if let (Some(from), Some(to)) = (&s.accessed_from, &s.accessed_to) {
        out.push_str(&format!("  accesses from {from} to {to}\n"));
    }
    if let (Some(from), Some(to)) = (&s.integrated_from, &s.integrated_to) {
        out.push_str(&format!("  logged from   {from} to {to}\n"));
    }
    out.push_str(&format!(
        "  records returned in all: {}\n",
        s.records_returned
    ));
    for (title, map) in [
        ("requesting agency", &s.by_requesting_agency),
        ("holder agency", &s.by_holder_agency),
        ("country pair", &s.by_country_pair),
        ("data category", &s.by_category),
        ("purpose", &s.by_purpose),
        ("outcome", &s.by_outcome),
    ] {
        out.push_str(&format!("  by {title}:\n"));
        for (key, count) in map {
            out.push_str(&format!("    {count:>10}  {key}\n"));
        }
    }
    out.push_str(&format!(
        "  access entries: {}; registry events: {}\n",
        s.entries,
        if s.registry_events.is_empty() {
            "none".to_string()
        } else {
            s.registry_events
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let total = |m: &std::collections::BTreeMap<String, u64>| m.values().sum::<u64>();
    let listed = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "  sealed reads: {}{}; erasures: {}{}; retention notices: {}\n",
        total(&s.sealed_reads_by_agency),
        if s.sealed_reads_by_agency.is_empty() {
            String::new()
        } else {
            format!(
                " (by agency: {}; by purpose: {})",
                listed(&s.sealed_reads_by_agency),
                listed(&s.sealed_reads_by_purpose)
            )
        },
        total(&s.erasures_by_agency),
        if s.erasures_by_agency.is_empty() {
            String::new()
        } else {
            format!(" (by agency: {})", listed(&s.erasures_by_agency))
        },
        s.retention_notices
    ));
    if s.compromised.is_empty() {
        out.push_str("  compromised keys: none revoked as compromised\n");
    }
    for c in &s.compromised {
        let range = match (c.first_index, c.last_index) {
            (Some(first), Some(last)) => format!(", indices {first} to {last}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  COMPROMISED KEY {} ({} {}), revoked at index {} (\"{}\"), exposed since {}: {} entries it signed fall in that time{range}; they verify, but a thief could have written them\n",
            c.key, c.agency, c.country, c.revoked_at, c.reason, c.compromised_since, c.entries
        ));
    }
    if let Some(served) = &v.served {
        out.push_str(&format!("  {}\n", render_served(served)));
    }
    out.push_str(&format!("  {}\n", v.witnesses.render()));
    out.push_str(&format!(
        "  trust root: {}\n  verified in {:.2} s ({:.0} entries/s)\n",
        match v.registry_source.as_str() {
            "trust" => "from --trust (trusted)".to_string(),
            "registry" => "from --registry, the older form (trusted)".to_string(),
            other => format!("served by the {other} (trusts the operator)"),
        },
        v.seconds,
        v.tree_size as f64 / v.seconds.max(1e-9)
    ));
    out
}

/// render_served says in one line which answers the log serves to others agreed with the
/// audited tree, and how they were picked.
pub fn render_served(served: &ServedChecks) -> String {
    let how = match served.seed {
        Some(seed) => format!("a random sample, seed {seed}"),
        None => "every index".to_string(),
    };
    format!(
        "served answers: {} single entries, {} inclusion proofs, {} consistency proofs and {} receipts agree with this tree ({how})",
        served.entries, served.inclusion_proofs, served.consistency_proofs, served.receipts
    )
}
