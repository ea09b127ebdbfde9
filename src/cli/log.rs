//! What `serve` and `demo` share: the service options, opening the log in a data
//! directory, the HTTP limits, and the shutdown signal.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use huella_core::admission::Window;
use huella_core::keys::{KeyName, VerifierKey};
use huella_core::registry::Registry;
use huella_core::trust::TrustRoot;

use crate::http::{self, Limits, connections};
use crate::keyfile;
use crate::ledger::{Ledger, Options, RateLimit, SystemClock};
use crate::store::SledStore;

/// Options shared by `serve` and `demo`.
#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The log's origin (its key name), used when the log key is first created.
    #[arg(long)]
    pub origin: Option<String>,
    /// Memory for sled's page cache, in MiB: entries, openings and request ids. More serves
    /// reads of a large log faster, at the cost of resident memory; proofs read the tree
    /// hashes from their own file (see docs/benchmarks.md).
    #[arg(long, value_name = "MIB", default_value_t = crate::store::SLED_CACHE_BYTES >> 20, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub cache_mb: u64,
    /// How old an access may be when submitted, in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub max_age: u64,
    /// How far in the future an access time may be, in seconds (clock skew).
    #[arg(long, default_value_t = 300)]
    pub max_future: u64,
    /// Most entries per batch (group commit).
    #[arg(long, default_value_t = 1024)]
    pub max_batch: usize,
    /// How long a batch waits for more entries, in milliseconds.
    #[arg(long, default_value_t = 2)]
    pub batch_wait_ms: u64,
    /// Largest request body, in bytes; at least the largest valid submission (409,600
    /// bytes: four committed values of 16 KiB, escaped at worst).
    #[arg(long, default_value_t = 512 * 1024)]
    pub max_body: usize,
    /// Sustained submissions per second allowed to each agency (0: no limit); over it,
    /// 429 with Retry-After.
    #[arg(long, default_value_t = 10_000)]
    pub rate_limit: u32,
    /// Submissions an agency may send at once before its rate limit applies.
    /// (The default is a quarter of the pool, so one agency alone cannot fill it.)
    #[arg(long, default_value_t = 4_096)]
    pub rate_burst: u32,
    /// Most events one agency may have waiting to be written (default: a quarter of the
    /// pool of 16,384); beyond it, that agency's submissions get 503 busy.
    #[arg(long, default_value_t = 4_096)]
    pub agency_share: usize,
    /// Longest a request may take, in seconds, body upload included (408 after it; at most
    /// a day).
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed (at most a day).
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Seconds a response that has to wait for the client may wait for it to read 16 KiB
    /// (or the rest, if less) before the connection is closed (at most a day).
    #[arg(long, default_value_t = 30)]
    pub write_timeout: u64,
    /// Most connections open at once (kept below the descriptor limit, which is raised to
    /// its hard limit at start); beyond it, new connections wait in the listen queue.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Most connections open at once from one client address; beyond it, 429.
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_address: usize,
    /// Most MiB of large responses (pages of entries) waiting for slow readers at once;
    /// beyond it, a large read answers 503 busy.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub response_mb: usize,
    /// Destroy the openings of entries accessed longer ago than this (`365d`, `12h`, `90m`,
    /// `30s`), as an erasure does, logging a retention notice signed by the log key for each
    /// range purged; without it, openings are kept until an erasure order.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retention: Option<Duration>,
    /// How often the retention task runs, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub retention_every: u64,
}

/// parse_duration reads `<number><unit>`, the unit `d`, `h`, `m` or `s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let usage = || format!("{text:?}: give a number and a unit, d, h, m or s: 365d");
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(usage()),
    };
    let n: u64 = number.parse().map_err(|_| usage())?;
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// spawn_retention runs the retention task every `--retention-every` seconds, if
/// `--retention` is given.
pub fn spawn_retention(ledger: &Arc<Ledger>, args: &LogArgs) {
    let Some(retention) = args.retention else {
        return;
    };
    let every = Duration::from_secs(args.retention_every.max(1));
    let ledger = ledger.clone();
    eprintln!(
        "huella: destroying the openings of entries accessed more than {} s ago, every {} s",
        retention.as_secs(),
        every.as_secs()
    );
    tokio::spawn(async move {
        loop {
            let now = std::time::SystemTime::now();
            let before = huella_core::values::Timestamp::from_system_time(
                now.checked_sub(retention).unwrap_or(std::time::UNIX_EPOCH),
            );
            match ledger.appender().retain(before.clone(), 100_000).await {
                Ok(Some((first, last, notice))) => tracing::info!(
                    "retention: purged the openings of entries {first}..={last} accessed before {before}; notice at index {notice}"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!("retention: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// DEFAULT_ORIGIN names a log whose key is created without `--origin`.
pub const DEFAULT_ORIGIN: &str = "huella.localhost/log";

/// open_log loads or creates the log key in `data` and opens the ledger over sled there,
/// with the trust root `trust` gives for the log's key.
pub fn open_log(
    data: &Path,
    trust: impl FnOnce(&VerifierKey) -> Result<TrustRoot, String>,
    args: &LogArgs,
) -> Result<Arc<Ledger>, Box<dyn std::error::Error>> {
    // Owner only, even if it already existed: the database holds the openings (personal
    // data) and the directory the log key.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .map_err(|e| format!("{}: {e}", data.display()))?;
    // A directory someone else owns (a volume the service writes through its group) cannot
    // be changed; say so rather than refuse to start.
    if let Err(e) = std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700)) {
        eprintln!(
            "warning: could not make {} owner-only ({e}); it holds personal data (the openings)",
            data.display()
        );
    }
    let origin = KeyName::new(args.origin.as_deref().unwrap_or(DEFAULT_ORIGIN))?;
    let key_path = data.join("log.key");
    let (log_key, created) = keyfile::load_or_create(&key_path, &origin)?;
    if let Some(wanted) = &args.origin
        && log_key.name().as_str() != wanted
    {
        return Err(format!(
            "{} holds the key of log {:?}, not --origin {wanted:?}",
            key_path.display(),
            log_key.name().as_str()
        )
        .into());
    }
    if created {
        eprintln!("created the log key in {} (mode 0600)", key_path.display());
    }
    let trust = trust(&log_key.verifier())?;
    let store = SledStore::open_with_cache(&data.join("db"), args.cache_mb << 20)?;
    let options = Options {
        max_batch: args.max_batch.max(1),
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        checkpoint_copy: Some(data.join("checkpoint")),
        stats_snapshot: Some(data.join("stats.json")),
        window: Window {
            max_age_millis: args.max_age.saturating_mul(1000),
            max_future_millis: args.max_future.saturating_mul(1000),
        },
        agency_share: Some(args.agency_share.max(1)),
        blind_key: Some(crate::blind::BlindKey::load_or_create(
            &data.join("blind-index.key"),
        )?),
        rate_limit: NonZeroU32::new(args.rate_limit).map(|per_second| RateLimit {
            per_second,
            burst: NonZeroU32::new(args.rate_burst).unwrap_or(per_second),
        }),
        ..Options::default()
    };
    let ledger = Ledger::open(
        Arc::new(store),
        log_key,
        trust,
        Arc::new(SystemClock),
        options,
    )?;
    Ok(Arc::new(ledger))
}

/// read_registry reads the submitter registry file.
pub fn read_registry(path: &Path) -> Result<Registry, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e} (see keys/README.md for the registry format)",
            path.display()
        )
    })?;
    Registry::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// read_trust reads a trust root file.
pub fn read_trust(path: &Path) -> Result<TrustRoot, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e} (see keys/README.md for the trust root format)",
            path.display()
        )
    })?;
    TrustRoot::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// shutdown_signal resolves on Ctrl-C.
pub async fn shutdown_signal() {
    // If the signal handler cannot be installed, serve until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// http_limits are the HTTP limits the options ask for. It raises the process's descriptor
/// limit to its hard limit, keeps the connection cap below it, and says so on stderr.
pub fn http_limits(args: &LogArgs) -> Result<Limits, String> {
    if args.max_body < http::LARGEST_SUBMISSION {
        return Err(format!(
            "--max-body {} is below the largest valid submission, {} bytes (four committed \
             values of 16 KiB, escaped at worst): agencies could not submit every valid event",
            args.max_body,
            http::LARGEST_SUBMISSION
        ));
    }
    let wanted = args.max_connections.max(1);
    let max_connections = match connections::descriptor_limit() {
        Ok(descriptors) => {
            let cap = connections::connection_cap(wanted, descriptors.now);
            let raised = if descriptors.now > descriptors.was {
                format!(" (raised from {})", descriptors.was)
            } else {
                String::new()
            };
            eprintln!(
                "huella: {} open files allowed{raised}; at most {cap} connections, {} per address",
                descriptors.now,
                args.max_connections_per_address.max(1).min(cap)
            );
            if cap < wanted {
                eprintln!(
                    "warning: --max-connections {wanted} lowered to {cap} to stay below the descriptor limit"
                );
            }
            cap
        }
        Err(e) => {
            eprintln!("warning: reading the descriptor limit: {e}; at most {wanted} connections");
            wanted
        }
    };
    Ok(Limits {
        max_body: args.max_body,
        // Bounded to a day: hyper adds the idle timeout to the clock, which must not overflow.
        request_timeout: Duration::from_secs(args.request_timeout.clamp(1, 86_400)),
        idle_timeout: Duration::from_secs(args.idle_timeout.clamp(1, 86_400)),
        write_timeout: Duration::from_secs(args.write_timeout.clamp(1, 86_400)),
        max_connections,
        max_connections_per_address: args.max_connections_per_address.max(1),
        response_bytes: args.response_mb.max(1).saturating_mul(1 << 20),
        ..Limits::default()
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn retention_durations_read_as_documented() {
        assert_eq!(parse_duration("365d").unwrap().as_secs(), 365 * 86_400);
        assert_eq!(parse_duration("12h").unwrap().as_secs(), 12 * 3_600);
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("").is_err());
    }
}
