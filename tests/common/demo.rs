//! A real `huella demo` process on 127.0.0.1:0, for the tests that drive the binary as a
//! user does: started, read for its URL and log key, stopped with Ctrl-C (also when a test
//! fails and the value is dropped).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

/// EXTRA_ENTRIES is how many entries a new demo log holds besides its access events: twelve
/// registry events (eight registrations: four agencies, two auditors, two erasure
/// authorities; a rotation: register and retire; a revocation: register and revoke), two
/// sealed reads, one by each country's auditor, and one erasure order.
pub const EXTRA_ENTRIES: u64 = 15;

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
        DemoProcess::start_with(data, events, &[], None)
    }

    /// start_with runs `huella demo` with `extra` arguments and, with `open_files`, under
    /// `ulimit -n` (soft and hard), as a small server would be.
    pub fn start_with(
        data: &Path,
        events: u64,
        extra: &[&str],
        open_files: Option<u64>,
    ) -> DemoProcess {
        let mut command = match open_files {
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")])
                    .arg(env!("CARGO_BIN_EXE_huella"));
                sh
            }
            None => Command::new(env!("CARGO_BIN_EXE_huella")),
        };
        // Without local witnesses unless a test asks for them: with them, `/checkpoint`
        // lags each append by a witness round, which tests that append would have to wait out.
        let witnesses: &[&str] = if extra.contains(&"--witnesses") {
            &[]
        } else {
            &["--witnesses", "0"]
        };
        let mut child = command
            .args(["demo", "--listen", "127.0.0.1:0", "--events"])
            .arg(events.to_string())
            .arg("--data")
            .arg(data)
            .args(witnesses)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr_file(data))
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
        let (Some(base), Some(log_key)) = (base, log_key) else {
            let status = child.wait();
            panic!(
                "huella demo did not print its URL and log key (exit {status:?}); it logged:\n{}",
                stderr(data)
            );
        };
        DemoProcess {
            child: Some(child),
            base,
            log_key,
        }
    }

    /// pid is the process id (the server's own: the shell `exec`s it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// resident is the server's resident memory, in bytes (VmRSS).
    pub fn resident(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    /// exited is the process's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// stop sends Ctrl-C and waits for the process to exit.
    pub fn stop(mut self) -> ExitStatus {
        interrupt(self.child.as_mut().unwrap())
    }
}

/// stderr_file is where a demo on `data` writes its log: `data` with `.stderr` added,
/// appended to by every start (for a failing test to show).
fn stderr_file(data: &Path) -> Stdio {
    let path = data.with_extension("stderr");
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        Ok(file) => Stdio::from(file),
        Err(_) => Stdio::null(),
    }
}

/// stderr reads what demos on `data` wrote to stderr.
pub fn stderr(data: &Path) -> String {
    std::fs::read_to_string(data.with_extension("stderr")).unwrap_or_default()
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

/// sealed_read has the demo's Colombian auditor (`auditors/CO-PROCURADURIA.key` in `data`)
/// read `entries` of the log at `base` with `huella sealed read`, for `case_ref`, and write
/// the disclosure to `out`; it fails the test if the command does.
pub fn sealed_read(base: &str, data: &Path, entries: &str, case_ref: &str, out: &Path) {
    let run = crate::common::run_huella(&[
        "sealed",
        "read",
        "--url",
        base,
        "--key",
        data.join("auditors/CO-PROCURADURIA.key").to_str().unwrap(),
        "--entries",
        entries,
        "--case-ref",
        case_ref,
        "--purpose",
        "oversight_audit",
        "--legal-basis",
        "Ley 1581 de 2012, art. 17",
        "--log-key",
        data.join("log.key.pub").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
