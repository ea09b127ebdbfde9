//! Operational metrics in the Prometheus text format, served at `GET /metrics`: queue depth,
//! batch sizes, commit and append latencies, and rejections by error code. They say how the
//! service is doing, never what is in the log: no label carries an agency, a request id or
//! anything personal.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One label: `code="busy"`.
type CodeLabel = [(&'static str, &'static str); 1];

/// One label naming a witness by its name in the log's witness policy: `witness="W1"`.
pub type WitnessLabel = [(&'static str, String); 1];

/// Metrics are the service's counters, gauges and histograms.
pub struct Metrics {
    /// What `render` encodes.
    registry: Registry,
    /// Admitted events waiting for the sequencer (the pool).
    pub queue_depth: Gauge,
    /// Entries per committed batch.
    pub batch_size: Histogram,
    /// Seconds to write and flush one batch.
    pub commit_seconds: Histogram,
    /// Seconds from a submission's arrival to its durable receipt, server side.
    pub append_seconds: Histogram,
    /// Seconds to build one inclusion or consistency proof answer (store reads included).
    pub proof_seconds: Histogram,
    /// New entries logged since start.
    pub appended: Counter,
    /// Size of the newest durable checkpoint.
    pub tree_size: Gauge<u64, AtomicU64>,
    /// Error responses, by the error code of their JSON body.
    pub rejections: Family<CodeLabel, Counter>,
    /// Writes that failed for good (after retries), each refusing writes until the store
    /// took writes again.
    pub write_failures: Counter,
    /// 1 while writes are refused after a failure, else 0.
    pub writes_refused: Gauge,
    /// Open client connections.
    pub connections: Gauge,
    /// Connections closed at once, by why (`per_address` limit).
    pub connections_refused: Family<CodeLabel, Counter>,
    /// With a witness policy: the largest size each witness cosigned for this log.
    pub witness_cosigned_size: Family<WitnessLabel, Gauge<u64, AtomicU64>>,
    /// Seconds each witness took for its last cosignature.
    pub witness_latency_seconds: Family<WitnessLabel, Histogram>,
    /// Requests to each witness that failed (down, timed out, refused, bad cosignature).
    pub witness_failures: Family<WitnessLabel, Counter>,
}

impl Metrics {
    /// new registers every metric under the `huella_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("huella");
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Admitted events waiting for the sequencer",
            queue_depth.clone(),
        );
        // 1, 2, 4 ... 4096 entries.
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        registry.register(
            "batch_size",
            "Entries per committed batch",
            batch_size.clone(),
        );
        // 0.25 ms ... about 8 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        registry.register(
            "commit_seconds",
            "Time to write and flush one batch",
            commit_seconds.clone(),
        );
        let append_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        registry.register(
            "append_seconds",
            "Time from a submission's arrival to its durable receipt",
            append_seconds.clone(),
        );
        // 25 us ... about 0.8 s.
        let proof_seconds = Histogram::new(exponential_buckets(0.000_025, 2.0, 16));
        registry.register(
            "proof_seconds",
            "Time to build one inclusion or consistency proof answer",
            proof_seconds.clone(),
        );
        let appended = Counter::default();
        registry.register(
            "appended",
            "New entries logged since start",
            appended.clone(),
        );
        let tree_size = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "tree_size",
            "Size of the newest durable checkpoint",
            tree_size.clone(),
        );
        let rejections = Family::<CodeLabel, Counter>::default();
        registry.register(
            "rejections",
            "Error responses, by error code",
            rejections.clone(),
        );
        let write_failures = Counter::default();
        registry.register(
            "write_failures",
            "Writes that failed after their retries; writes are refused until the store takes writes again",
            write_failures.clone(),
        );
        let writes_refused = Gauge::default();
        registry.register(
            "writes_refused",
            "1 while writes are refused after a failed write",
            writes_refused.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open client connections",
            connections.clone(),
        );
        let connections_refused = Family::<CodeLabel, Counter>::default();
        registry.register(
            "connections_refused",
            "Connections closed at once, by reason",
            connections_refused.clone(),
        );
        let witness_cosigned_size = Family::<WitnessLabel, Gauge<u64, AtomicU64>>::default();
        registry.register(
            "witness_cosigned_size",
            "Largest checkpoint size each witness cosigned for this log",
            witness_cosigned_size.clone(),
        );
        let witness_latency_seconds =
            Family::<WitnessLabel, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 14))
            });
        registry.register(
            "witness_latency_seconds",
            "Seconds a witness took to cosign",
            witness_latency_seconds.clone(),
        );
        let witness_failures = Family::<WitnessLabel, Counter>::default();
        registry.register(
            "witness_failures",
            "Requests to a witness that failed",
            witness_failures.clone(),
        );
        Metrics {
            registry,
            witness_cosigned_size,
            witness_latency_seconds,
            witness_failures,
            write_failures,
            writes_refused,
            connections,
            connections_refused,
            queue_depth,
            batch_size,
            commit_seconds,
            append_seconds,
            proof_seconds,
            appended,
            tree_size,
            rejections,
        }
    }

    /// reject counts one error response with this code.
    pub fn reject(&self, code: &'static str) {
        self.rejections.get_or_create(&[("code", code)]).inc();
    }

    /// render is the Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_each_metric_with_its_value() {
        let m = Metrics::new();
        m.appended.inc_by(3);
        m.batch_size.observe(3.0);
        m.reject("busy");
        m.reject("busy");
        m.tree_size.set(42);
        let text = m.render();
        assert!(text.contains("huella_appended_total 3"), "{text}");
        assert!(
            text.contains("huella_rejections_total{code=\"busy\"} 2"),
            "{text}"
        );
        assert!(text.contains("huella_tree_size 42"), "{text}");
        assert!(text.contains("huella_batch_size_count 1"), "{text}");
        assert!(text.contains("huella_queue_depth 0"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
