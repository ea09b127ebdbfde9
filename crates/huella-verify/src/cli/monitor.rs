//! `huella-verify monitor`: watch a log round after round and alert on what goes wrong.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use huella_core::entry::Leaf;
use huella_core::keylog::RegistryEvent;

use std::sync::Arc;

use crate::cli::{CliResult, ClientArgs, SampleArgs, TrustArgs, parse_log_key};
use crate::monitor::{self, Alert, AlertKind, MonitorState};
use crate::source::Source;

/// Arguments of `monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Base URL of the log to watch.
    #[arg(long)]
    pub url: String,
    /// The log's verifier key (or a file holding it), from a source you trust.
    #[arg(long)]
    pub log_key: String,
    /// File keeping the last verified checkpoint between rounds (created on first run).
    #[arg(long)]
    pub state: PathBuf,
    /// Keep watching, one round every SECONDS; without it, run one round.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,
    /// Who may sign: without --trust or --registry, the log's own trust root is used, with
    /// a warning.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Which served answers about each round's new entries to check.
    #[command(flatten)]
    pub sample: SampleArgs,
    /// The witnesses whose cosignatures each checkpoint must carry (else an alert).
    #[command(flatten)]
    pub witnesses: crate::witnesses::WitnessPolicyArgs,
}

/// Alerted ends a monitor run that raised an alert (already printed).
#[derive(Debug, thiserror::Error)]
#[error("the monitor raised an alert; the state file was not advanced")]
pub struct Alerted;
fn report_alert(json: bool, url: &str, a: &Alert) {
    if json {
        let line = serde_json::json!({"alert": a.alert, "message": a.message, "url": url});
        eprintln!("{line}");
    } else {
        let kind = serde_json::to_value(a.alert)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        eprintln!("ALERT {}: {} ({url})", kind.unwrap_or_default(), a.message);
    }
}

/// report_registry_event says which change to who may sign a round verified: a key
/// registered, retired or revoked (with the time since when its entries are suspect; `verify
/// --trust` counts them).
fn report_registry_event(json: bool, index: u64, leaf: &str) {
    let Ok(Leaf::Registry(entry)) = Leaf::parse(leaf.as_bytes()) else {
        return;
    };
    let event = &entry.event;
    if json {
        println!(
            "{}",
            serde_json::json!({"registry_event": event.kind(), "index": index, "event": event})
        );
        return;
    }
    let key = event.key().key_ref();
    let what = match event {
        RegistryEvent::KeyRegister {
            agency,
            country,
            role,
            valid_from,
            ..
        } => format!(
            "key {key} registered for {agency} ({country}) as {role}, valid from {valid_from}"
        ),
        RegistryEvent::KeyRetire { valid_until, .. } => {
            format!("key {key} retired, valid until {valid_until}")
        }
        RegistryEvent::KeyRevoke {
            compromised_since,
            reason,
            ..
        } => format!(
            "KEY {key} REVOKED (\"{reason}\"): entries it signed from {compromised_since} on may be a thief's; `verify --trust` counts them"
        ),
    };
    eprintln!("registry event at index {index}: {what}");
}

/// run watches the log: one round, or one every `--watch` seconds.
pub async fn run(args: MonitorArgs) -> CliResult {
    let log_key = parse_log_key(&args.log_key)?;
    let client = args.client.client(&args.url)?;
    let trust = Arc::new(match args.trust.trusted(&log_key)? {
        Some(t) => t.root,
        None => {
            eprintln!(
                "warning: using the trust root the log serves, which trusts its operator; \
                 pass --trust FILE with the trust root from a source you trust"
            );
            Source::Http(client.clone()).trust(&log_key).await?
        }
    });
    let policy = args.witnesses.policy(&log_key)?;
    let mut state = MonitorState::load(&args.state)?;
    loop {
        // A fresh sample each round, unless --seed fixes it.
        let sampling = args.sample.sampling();
        let seed = sampling.sample_seed();
        let round = monitor::monitor_round_witnessed(
            &client,
            &log_key,
            &trust,
            state.as_ref(),
            &sampling,
            policy.as_ref(),
        )
        .await;
        match round {
            Ok((next, new_entries, witnessed)) => {
                if state.as_ref() != Some(&next) {
                    next.save(&args.state)?;
                }
                let from = state.as_ref().map_or(0, |s| s.size);
                for (index, leaf) in next.registry_entries.iter().filter(|(i, _)| *i >= from) {
                    report_registry_event(args.json, *index, leaf);
                }
                if args.json {
                    let mut line = serde_json::json!({"status": "ok", "tree_size": next.size, "root": next.root, "new_entries": new_entries, "witnesses": witnessed});
                    if let Some(seed) = seed {
                        line["seed"] = seed.into();
                    }
                    println!("{line}");
                } else {
                    let sampled = seed
                        .map(|s| format!(" (sample seed {s})"))
                        .unwrap_or_default();
                    eprintln!(
                        "ok: {} verified at size {} (+{new_entries} entries), root {}{sampled}; {}",
                        args.url,
                        next.size,
                        next.root,
                        witnessed.render()
                    );
                }
                state = Some(next);
            }
            Err(a) => {
                report_alert(args.json, &args.url, &a);
                // An outage may pass: keep watching. Anything else is evidence to keep.
                if args.watch.is_none() || a.alert != AlertKind::Unreachable {
                    return Err(Alerted.into());
                }
            }
        }
        match args.watch {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds.max(1))).await,
            None => return Ok(()),
        }
    }
}
