//! `huella demo`: run the ledger with demo agencies and demo events.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use huella_core::entry::Leaf;
use huella_core::event::PlainEvent;
use huella_core::keylog::{RegistryEvent, Role, SignedRegistryEvent};
use huella_core::keys::{KeyName, SignerKey, VerifierKey};
use huella_core::values::{
    AgencyId, Count, CountryCode, LegalBasis, Purpose, Reason, RequestId, Timestamp,
};
use huella_verify::client::Client;

use crate::cli::CliResult;
use crate::cli::log::{LogArgs, http_limits, open_log, shutdown_signal};
use crate::http;
use crate::keyfile;

/// Arguments of `huella demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Data directory for the demo log and the demo agencies' keys.
    #[arg(long, default_value = "demo-data")]
    pub data: PathBuf,
    /// How many demo events to submit.
    #[arg(long, default_value_t = 200)]
    pub events: u64,
    /// How many local witnesses to run (C2SP tlog-witness, keys under `witnesses/` in the
    /// data directory); `/checkpoint` is served once all of them cosigned it. 0: none.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=5))]
    pub witnesses: u8,
    /// Service options.
    #[command(flatten)]
    pub log: LogArgs,
}

/// run starts the demo log, registers its agencies' keys in the log, submits the demo
/// events (rotating one agency's key and revoking another's part-way through, on a new log)
/// and serves until Ctrl-C.
pub async fn run(mut args: DemoArgs) -> CliResult {
    // The demo's accesses span the past year, so that its log accepts accesses that old.
    args.log.max_age = args.log.max_age.max((DEMO_SPAN_DAYS + 1) * 86_400);
    let agency_dir = args.data.join("agencies");
    let (mut agencies, _) = crate::demo::load_or_create_agencies(&agency_dir)?;
    let registrars = crate::demo::load_or_create_registrars(&args.data.join("registrars"))?;
    std::fs::create_dir_all(&args.data)?;
    let trust_path = args.data.join("trust.json");
    let ledger = open_log(
        &args.data,
        |log_key| {
            let trust = crate::demo::trust_for(log_key, &agencies, &registrars);
            std::fs::write(&trust_path, trust.to_json())
                .map_err(|e| format!("{}: {e}", trust_path.display()))?;
            Ok(trust)
        },
        &args.log,
    )?;
    let listener = tokio::net::TcpListener::bind(args.log.listen)
        .await
        .map_err(|e| {
            format!(
                "listening on {}: {e} (try --listen 127.0.0.1:0)",
                args.log.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let limits = http_limits(&args.log)?;
    let witnessing = start_witnesses(&args, &ledger).await?;
    let app = http::router_witnessed(ledger.clone(), limits, witnessing.clone());
    let server = tokio::spawn(http::serve(
        listener,
        app,
        limits,
        ledger.metrics().clone(),
        shutdown_signal(),
    ));
    let base = format!("http://{addr}");
    let before = ledger.published().size;
    let client = Client::new(&base);
    let registrar_of = |country: &CountryCode| -> Result<&SignerKey, String> {
        registrars
            .iter()
            .find(|r| &r.country == country)
            .map(|r| &r.key)
            .ok_or_else(|| format!("no demo registrar for {country}"))
    };
    let mut changes: Vec<String> = Vec::new();

    // Who may sign is decided in the log: each country's registrar registers its agencies'
    // keys, and its oversight bodies' (an auditor, an erasure authority), once.
    let mut oversight = Vec::new();
    for (id, country, name, role) in crate::demo::OVERSIGHT {
        let dir = match role {
            "auditor" => "auditors",
            _ => "erasure",
        };
        let (key, _) = keyfile::load_or_create(
            &args.data.join(dir).join(format!("{id}.key")),
            &KeyName::new(name)?,
        )?;
        let role: Role = serde_json::from_value(serde_json::Value::String(role.into()))?;
        oversight.push((AgencyId::new(id)?, CountryCode::new(country)?, role, key));
    }
    let mut wanted: Vec<(AgencyId, CountryCode, Role, VerifierKey)> = agencies
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                a.country.clone(),
                Role::Submitter,
                a.key.verifier(),
            )
        })
        .collect();
    wanted.extend(oversight.iter().map(|(agency, country, role, key)| {
        (agency.clone(), country.clone(), *role, key.verifier())
    }));
    let keys = ledger.keys();
    for (agency, country, role, key) in wanted {
        if keys.record(key.key_ref()).is_some() {
            continue;
        }
        let event = RegistryEvent::KeyRegister {
            agency,
            country: country.clone(),
            role,
            key,
            valid_from: Timestamp::parse(DEMO_VALID_FROM)?,
        };
        let signed = SignedRegistryEvent::sign(event, &[registrar_of(&country)?]);
        let index = client.submit_registry(&signed).await?.receipt.index;
        changes.push(format!("key_register at index {index}"));
    }
    eprintln!(
        "huella demo: log {} on {base}; submitting {} events...",
        ledger.log_key().name(),
        args.events
    );
    let seed = u64::from_le_bytes(keyfile::random_bytes()?[..8].try_into()?);
    // On a later run the agencies sign with the keys earlier runs rotated to: its events
    // start where the newest of those keys became valid (plus the hour events reach back).
    let keys = ledger.keys();
    let newest_key = agencies
        .iter()
        .filter_map(|a| keys.record(a.key.key_ref())?.valid_from.as_ref())
        .map(|t| t.unix_millis() + 3_600_000)
        .max()
        .unwrap_or(0);
    let timeline = Timeline::new(args.events, newest_key);
    let started = std::time::Instant::now();
    let mut directions = [0u64; 2];
    // Part-way through a new demo log: a planned rotation of CJIS's key, then a revocation
    // of DIJIN's key, reported stolen ten minutes ago.
    let rotate = !agency_dir.join("US-DOJ-FBI-CJIS.2.key").exists();
    let phases = [0, args.events / 2, args.events * 3 / 4, args.events];
    for phase in 0..3 {
        let shared = Arc::new(agencies);
        let counts = submit_events(
            &client,
            &shared,
            seed,
            phases[phase]..phases[phase + 1],
            &timeline,
        )
        .await?;
        directions[0] += counts[0];
        directions[1] += counts[1];
        agencies = Arc::try_unwrap(shared).map_err(|_| "demo agencies still shared")?;
        if !rotate || phase == 2 {
            continue;
        }
        let (id, how) = match phase {
            0 => ("US-DOJ-FBI-CJIS", "rotation"),
            _ => ("CO-POLICIA-DIJIN", "revocation"),
        };
        let position = agencies
            .iter()
            .position(|a| a.id.as_str() == id)
            .ok_or("demo agency missing")?;
        let old = &agencies[position];
        let name = format!("{}-2", old.key.name().as_str());
        let (new_key, _) = keyfile::load_or_create(
            &agency_dir.join(format!("{id}.2.key")),
            &KeyName::new(name)?,
        )?;
        let registrar = registrar_of(&old.country)?;
        // The change takes effect where the next phase's accesses begin: the new key signs
        // accesses from two hours before (the demo's accesses are up to an hour before their
        // point on the timeline), so the two keys overlap as in a real rotation; the old
        // one is retired there, or revoked as stolen ten days before.
        let switch = timeline.at(phases[phase + 1]).unix_millis();
        let before = |millis: u64| Timestamp::from_unix_millis(switch.saturating_sub(millis));
        let register = RegistryEvent::KeyRegister {
            agency: old.id.clone(),
            country: old.country.clone(),
            role: Role::Submitter,
            key: new_key.verifier(),
            valid_from: before(2 * 3_600_000),
        };
        let end = match phase {
            0 => RegistryEvent::KeyRetire {
                key: old.key.verifier(),
                valid_until: before(0),
            },
            _ => RegistryEvent::KeyRevoke {
                key: old.key.verifier(),
                compromised_since: before(10 * 86_400_000),
                reason: Reason::new("demo: a signing laptop was reported stolen")?,
            },
        };
        for event in [register, end] {
            let kind = event.kind();
            let signed = SignedRegistryEvent::sign(event, &[registrar]);
            let index = client.submit_registry(&signed).await?.receipt.index;
            changes.push(format!("{kind} at index {index} ({how} of {id}'s key)"));
        }
        agencies[position].key = new_key;
    }
    let elapsed = started.elapsed();
    // Each country's auditor reads two entries' sealed data: each read is logged first, and
    // its disclosure comes back sealed to a key made for it, verified, and saved.
    let reads = sealed_reads(&ledger, &client, &oversight, &args.data).await?;
    // Colombia's erasure authority orders one entry's sealed data destroyed for good.
    let erasure = erase_one(&ledger, &client, &oversight).await?;
    let published = ledger.published();
    println!();
    println!("Huella demo log is running.");
    println!(
        "  submitted {} events in {:.2} s through the HTTP API: {} US -> CO, {} CO -> US",
        args.events,
        elapsed.as_secs_f64(),
        directions[0],
        directions[1]
    );
    if changes.is_empty() {
        println!("  registry events: none new (the keys were registered on an earlier run)");
    } else {
        println!(
            "  registry events, signed by the countries' registrars: {}",
            changes.join("; ")
        );
    }
    println!(
        "  tree size {} (was {before}); latest checkpoint:",
        published.size
    );
    for line in published.note.lines() {
        println!("    {line}");
    }
    println!("  log verifier key (keep it to verify the log):");
    println!("    {}", ledger.log_key());
    println!("  open {base}/ in your browser: the oversight dashboard (Spanish and English)");
    println!("  try:");
    println!("    curl {base}/checkpoint");
    println!("    curl {base}/v1/entries/0");
    println!("    curl '{base}/v1/entries?start=0&limit=5'");
    println!(
        "    curl '{base}/v1/proofs/inclusion?index=0&tree_size={}'",
        published.size
    );
    println!(
        "    curl '{base}/v1/proofs/consistency?from=1&to={}'",
        published.size
    );
    println!("    curl {base}/v1/receipts/0");
    println!("    curl {base}/v1/keys");
    println!(
        "    curl '{base}/v1/stats?group_by=requesting_country,holder_country,month&kind=access'"
    );
    println!("    curl '{base}/v1/search?kind=access&outcome=hit&limit=5'");
    println!("    curl {base}/openapi.json");
    println!("    curl {base}/readyz");
    // The verifier, which builds without the server (cargo install --path crates/huella-verify).
    println!(
        "    huella-verify verify --url {base} --log-key {} --trust {}",
        args.data.join("log.key.pub").display(),
        trust_path.display()
    );
    for (agency, index, entries, path) in &reads {
        println!(
            "  sealed read by {agency} of entries {entries}, logged at index {index}; its disclosure: {}",
            path.display()
        );
    }
    if let Some((_, _, _, path)) = reads.first() {
        println!(
            "    huella-verify disclosure verify {} --log-key {}",
            path.display(),
            args.data.join("log.key.pub").display()
        );
    }
    if let Some((agency, index, by)) = &erasure {
        println!(
            "  erasure ordered by {agency}, logged at index {by}: entry {index}'s openings are destroyed for good; a read of it says \"erased_by\": {by}"
        );
    }
    println!(
        "  demo keys: agencies {}, registrars {}, auditors {}, erasure authorities {}",
        agency_dir.display(),
        args.data.join("registrars").display(),
        args.data.join("auditors").display(),
        args.data.join("erasure").display()
    );
    if let Some(witnessing) = &witnessing {
        // Until every witness has cosigned what the demo logged, /checkpoint lags: wait.
        let size = ledger.published().size;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while witnessing.cosigned().is_none_or(|c| c.size < size)
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        match witnessing.cosigned() {
            Some(c) => println!(
                "  witnesses: GET /checkpoint (size {}) is cosigned by {} ({} of {} needed); require them with --witness-policy {}",
                c.size,
                c.witnesses.join(", "),
                witnessing.policy().witnesses.len(),
                witnessing.policy().witnesses.len(),
                args.data.join("witness-policy").display()
            ),
            None => println!("  witnesses: none cosigned yet (see the log above)"),
        }
    }
    println!("Serving until Ctrl-C.");
    server.await??;
    ledger.close();
    Ok(())
}

/// DEMO_VALID_FROM is when the demo's first keys become valid: the letter of intent.
const DEMO_VALID_FROM: &str = "2025-03-01T00:00:00Z";

/// DEMO_SPAN_DAYS is how far back the demo's accesses reach: a year, so that the
/// dashboard's months have something to show.
const DEMO_SPAN_DAYS: u64 = 365;

/// Timeline spreads a run's demo events evenly over the past [`DEMO_SPAN_DAYS`] (or less,
/// see [`Timeline::new`]), oldest first: event `n` of `events` is at
/// `start + n × span / events`.
struct Timeline {
    start: u64,
    span: u64,
    events: u64,
}

impl Timeline {
    /// new spreads `events` from a year ago, or from `not_before` if that is later, to now.
    fn new(events: u64, not_before: u64) -> Timeline {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let start = now
            .saturating_sub(DEMO_SPAN_DAYS * 86_400_000)
            .max(not_before.min(now));
        Timeline {
            start,
            span: now - start,
            events: events.max(1),
        }
    }

    /// at is event `n`'s point on the timeline (its access is up to an hour before).
    fn at(&self, n: u64) -> Timestamp {
        Timestamp::from_unix_millis(self.start + n.min(self.events) * self.span / self.events)
    }
}

/// submit_events submits the demo events numbered `range`, eight at a time, and counts them
/// by direction: US -> CO, CO -> US.
async fn submit_events(
    client: &Client,
    agencies: &Arc<Vec<crate::demo::Agency>>,
    seed: u64,
    range: std::ops::Range<u64>,
    timeline: &Timeline,
) -> Result<[u64; 2], Box<dyn std::error::Error>> {
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 8u64;
    for worker in 0..workers {
        let (agencies, client) = (agencies.clone(), client.clone());
        let range = range.clone();
        let times: Vec<Timestamp> = range.clone().map(|n| timeline.at(n)).collect();
        tasks.spawn(async move {
            let mut directions = [0u64; 2];
            let mut n = range.start + worker;
            while n < range.end {
                let now = times[(n - range.start) as usize].clone();
                let (from, json) = crate::demo::sample_event(&agencies, seed, n, &now);
                let plain: PlainEvent = serde_json::from_value(json).map_err(|e| e.to_string())?;
                let submission = plain
                    .seal(&agencies[from].key, now, keyfile::random_salt)
                    .map_err(|e| e.to_string())?;
                client
                    .submit(&submission)
                    .await
                    .map_err(|e| e.to_string())?;
                directions[usize::from(agencies[from].country.as_str() == "CO")] += 1;
                n += workers;
            }
            Ok::<_, String>(directions)
        });
    }
    let mut directions = [0u64; 2];
    while let Some(done) = tasks.join_next().await {
        let counts = done??;
        directions[0] += counts[0];
        directions[1] += counts[1];
    }
    Ok(directions)
}

/// sealed_reads has each demo auditor read two access entries of the log (the first four,
/// two each), and saves each verified disclosure, owner-only, under `disclosures/`. It
/// returns, per read, the auditor, the read's index, the entries read and the file.
async fn sealed_reads(
    ledger: &crate::ledger::Ledger,
    client: &Client,
    oversight: &[(AgencyId, CountryCode, Role, SignerKey)],
    data: &std::path::Path,
) -> Result<Vec<(String, u64, String, PathBuf)>, Box<dyn std::error::Error>> {
    let size = ledger.published().size;
    let access: Vec<u64> = ledger
        .store()
        .leaves(0, size.min(64))?
        .iter()
        .zip(0..)
        .filter(|(leaf, _)| matches!(Leaf::parse(leaf), Ok(Leaf::Access(_))))
        .map(|(_, i)| i)
        .take(4)
        .collect();
    let dir = data.join("disclosures");
    std::fs::create_dir_all(&dir)?;
    let mut reads = Vec::new();
    let auditors = oversight
        .iter()
        .filter(|(_, _, role, _)| *role == Role::Auditor);
    for ((agency, country, _, key), pair) in auditors.zip(access.chunks(2)) {
        let request = crate::cli::sealed::ReadRequest {
            key,
            agency: agency.clone(),
            country: country.clone(),
            target: crate::cli::sealed::ReadTarget::Entries(
                pair.iter()
                    .map(|&i| Count::new(i))
                    .collect::<Result<_, _>>()?,
            ),
            case_ref: RequestId::new(format!("{agency}-DEMO-CASE"))?,
            purpose: Purpose::new("oversight_audit")?,
            legal_basis: LegalBasis::new(
                "US-CO letter of intent on biometric data sharing (2025), para. 9",
            )?,
            request_id: crate::cli::sealed::fresh_request_id()?,
        };
        let (disclosure, verified) =
            crate::cli::sealed::read_sealed(client, request, ledger.log_key()).await?;
        let path = dir.join(format!("{agency}.json"));
        keyfile::write_private(&path, &serde_json::to_vec_pretty(&disclosure)?)?;
        let entries = pair
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        reads.push((agency.to_string(), verified.read.index.get(), entries, path));
    }
    Ok(reads)
}

/// erase_one has the first demo erasure authority order the openings of the fifth access
/// entry destroyed, and returns the authority, the entry and the order's index.
async fn erase_one(
    ledger: &crate::ledger::Ledger,
    client: &Client,
    oversight: &[(AgencyId, CountryCode, Role, SignerKey)],
) -> Result<Option<(String, u64, u64)>, Box<dyn std::error::Error>> {
    let size = ledger.published().size;
    let Some(index) = ledger
        .store()
        .leaves(0, size.min(64))?
        .iter()
        .zip(0..)
        .filter(|(leaf, _)| matches!(Leaf::parse(leaf), Ok(Leaf::Access(_))))
        .map(|(_, i)| i)
        .nth(4)
    else {
        return Ok(None);
    };
    let Some((agency, country, _, key)) = oversight
        .iter()
        .find(|(_, _, role, _)| *role == Role::ErasureAuthority)
    else {
        return Ok(None);
    };
    let event = huella_core::sealed::Erasure {
        agency: agency.clone(),
        country: country.clone(),
        entries: Some(vec![Count::new(index)?]),
        key: key.key_ref().clone(),
        kind: huella_core::sealed::ErasureKind::Only,
        legal_basis: LegalBasis::new("Ley 1581 de 2012, art. 15 (demo)")?,
        order_ref: RequestId::new(format!("{agency}-DEMO-ORDER"))?,
        ordered_at: Timestamp::from_system_time(std::time::SystemTime::now()),
        request_id: crate::cli::sealed::fresh_request_id()?,
        search: None,
    };
    let submission = huella_core::sealed::ErasureSubmission {
        signature: huella_core::sealed::sign(&event, key),
        event,
        openings: None,
    };
    let answer: serde_json::Value = serde_json::from_slice(
        &client
            .post_raw("/v1/sealed/erase", serde_json::to_vec(&submission)?)
            .await?,
    )?;
    let by = answer["receipt"]["index"]
        .as_u64()
        .ok_or("the log's answer to the erasure has no receipt")?;
    Ok(Some((agency.to_string(), index, by)))
}

/// start_witnesses runs `--witnesses` local witnesses of the demo log, each a C2SP
/// tlog-witness on its own port with its key and state under `witnesses/`, writes the log's
/// witness policy (all of them needed) to `witness-policy`, and starts sending them the
/// log's checkpoints.
async fn start_witnesses(
    args: &DemoArgs,
    ledger: &Arc<crate::ledger::Ledger>,
) -> Result<Option<Arc<crate::witnessing::Witnessing>>, Box<dyn std::error::Error>> {
    use huella_core::policy::{Member, Policy, PolicyLog};
    if args.witnesses == 0 {
        return Ok(None);
    }
    let dir = args.data.join("witnesses");
    let logs = Policy {
        logs: vec![PolicyLog {
            key: ledger.log_key().clone(),
            url: None,
        }],
        witnesses: Vec::new(),
        groups: Vec::new(),
        quorum: Member::None,
    };
    let mut lines = String::from(
        "# The demo log's witnesses: all must cosign a checkpoint (C2SP tlog-policy).\n",
    );
    let mut names = Vec::new();
    for n in 1..=args.witnesses {
        let path = dir.join(format!("w{n}.key"));
        let signer = if path.exists() {
            keyfile::read_cosigner(&path)?
        } else {
            let seed = zeroize::Zeroizing::new(keyfile::random_bytes()?);
            let key = huella_core::cosignature::CosignerSigner::from_seed(
                KeyName::new(format!("witness{n}.demo.example"))?,
                &seed,
            );
            keyfile::write_cosigner(&path, &key)?;
            key
        };
        let vkey = signer.verifier();
        let witness = Arc::new(crate::witness::Witness::open(
            signer,
            &logs,
            &dir.join(format!("w{n}-state")),
        )?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, crate::witness::router(witness)).await;
        });
        lines += &format!("witness W{n} {vkey} {url}\n");
        names.push(format!("W{n}"));
    }
    lines += &format!(
        "group all-witnesses all {}\nquorum all-witnesses\n",
        names.join(" ")
    );
    std::fs::write(args.data.join("witness-policy"), &lines)?;
    let policy = Policy::parse(lines.as_bytes())?;
    let witnessing = crate::witnessing::Witnessing::new(policy);
    witnessing.spawn(ledger.clone(), None)?;
    Ok(Some(witnessing))
}
