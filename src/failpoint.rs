//! Failpoints: named places where a debug build of the server stops for good when the
//! environment variable `HUELLA_FAILPOINT` names them, so that a test can kill the process
//! exactly there (docs/testing.md, "Killed between the log and the answer").
//!
//! Release builds compile every failpoint to nothing: `HUELLA_FAILPOINT` has no effect on
//! the binary an operator runs.

/// SEALED_READ_AFTER_APPEND is the point after a sealed read's entry is durable and before
/// its disclosure is built and answered.
pub const SEALED_READ_AFTER_APPEND: &str = "sealed-read-after-append";

/// stop_if_named never returns when this is a debug build and `HUELLA_FAILPOINT` is `name`
/// (the request waits there until the process is killed); otherwise it returns at once.
pub async fn stop_if_named(name: &str) {
    if cfg!(debug_assertions) && std::env::var_os("HUELLA_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("huella: failpoint {name} reached; this request stops here");
        std::future::pending::<()>().await;
    }
}
