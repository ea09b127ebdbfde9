//! A real `huella demo` process on 127.0.0.1:0, for the tests that drive the binary as a
//! user does: started, read for its URL and log key, stopped with Ctrl-C (also when a test
//! fails and the value is dropped).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

/// DemoProcess is a running `huella demo`.
pub struct DemoProcess {
    child: Option<Child>,
    /// Its base URL, as it printed it.
    pub base: String,
    /// The log's verifier key, as it printed it.
    pub log_key: String,
}

impl DemoProcess {
    /// start runs `huella demo` on `data` with `events` demo events and waits until it
    /// serves.
    pub fn start(data: &Path, events: u64) -> DemoProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_huella"))
            .args(["demo", "--listen", "127.0.0.1:0", "--events"])
            .arg(events.to_string())
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut base, mut log_key) = (None, None);
        for line in stdout.lines() {
            let line = line.unwrap();
            let line = line.trim();
            if let Some(url) = line
                .strip_prefix("curl ")
                .and_then(|u| u.strip_suffix("/checkpoint"))
            {
                base = Some(url.to_string());
            }
            if line.starts_with("huella.localhost/log+") {
                log_key = Some(line.to_string());
            }
            if line.contains("Serving until Ctrl-C") {
                break;
            }
        }
        DemoProcess {
            child: Some(child),
            base: base.expect("demo prints its URL"),
            log_key: log_key.expect("demo prints the log key"),
        }
    }

    /// stop sends Ctrl-C and waits for the process to exit.
    pub fn stop(mut self) -> ExitStatus {
        interrupt(self.child.as_mut().unwrap())
    }
}

fn interrupt(child: &mut Child) -> ExitStatus {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    child.wait().unwrap()
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                interrupt(&mut child);
            }
        }
    }
}
