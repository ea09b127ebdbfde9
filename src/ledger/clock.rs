//! The clock the ledger reads: the system's, or a manual one that tests move instead of
//! sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Clock gives the time; tests use a manual one instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// now_millis is milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// SystemClock reads the system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// ManualClock is a clock that moves only when told to.
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// new starts the clock at `unix_millis`.
    pub fn new(unix_millis: u64) -> ManualClock {
        ManualClock(AtomicU64::new(unix_millis))
    }

    /// set moves the clock.
    pub fn set(&self, unix_millis: u64) {
        self.0.store(unix_millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
