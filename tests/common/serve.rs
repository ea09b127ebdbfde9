//! `huella serve` as a process: [`command`], the one place tests make its command line, and
//! [`Serve`], the process on a data directory `huella demo` made (its trust root in
//! `trust.json`), on a free port; killed when dropped.

/// Registry is where `serve` takes who may sign from.
pub enum Registry<'a> {
    /// The trust root `trust.json` in the data directory (what `huella demo` writes).
    Trust,
    /// `registry.json` in this keys directory (the older form).
    Keys(&'a std::path::Path),
}

/// command is `huella serve` on `data`, listening on `listen`, with its registry from
/// `registry`; no failpoint is inherited from the test's environment, and stdout is null.
pub fn command(
    data: &std::path::Path,
    registry: Registry<'_>,
    listen: &str,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_huella"));
    command.args(["serve", "--data"]).arg(data);
    match registry {
        Registry::Trust => command.arg("--trust").arg(data.join("trust.json")),
        Registry::Keys(keys) => command.arg("--keys").arg(keys),
    };
    command
        .args(["--listen", listen])
        .env_remove("HUELLA_FAILPOINT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    command
}

/// under_file_limit runs `command` under `ulimit -f blocks` (512-byte blocks), with SIGXFSZ
/// ignored, so that writes past the limit fail with EFBIG as on a full disk.
pub fn under_file_limit(command: &std::process::Command, blocks: u64) -> std::process::Command {
    let mut sh = std::process::Command::new("/bin/sh");
    sh.arg("-c")
        .arg(format!(
            "ulimit -f {blocks} && trap '' XFSZ && exec \"$0\" \"$@\""
        ))
        .arg(command.get_program())
        .args(command.get_args())
        .env_remove("HUELLA_FAILPOINT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    sh
}

/// free_port is a port nobody listened on a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serve is `huella serve` on a demo data directory, killed when dropped.
pub struct Serve {
    child: std::process::Child,
    /// Its base URL.
    pub base: String,
}

impl Serve {
    /// start serves `data` on a free port, stopping at `failpoint` if given, and waits
    /// until it answers `/healthz`.
    pub async fn start(data: &std::path::Path, failpoint: Option<&str>) -> Serve {
        Serve::start_with(data, failpoint, &[]).await
    }

    /// start_with is [`Serve::start`] with `extra` arguments to `serve`.
    pub async fn start_with(
        data: &std::path::Path,
        failpoint: Option<&str>,
        extra: &[&str],
    ) -> Serve {
        let port = free_port();
        let mut command = command(data, Registry::Trust, &format!("127.0.0.1:{port}"));
        command.args(extra).stderr(std::process::Stdio::null());
        if let Some(name) = failpoint {
            command.env("HUELLA_FAILPOINT", name);
        }
        let serve = Serve {
            child: command.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..600 {
            if let Ok(r) = reqwest::get(format!("{}/healthz", serve.base)).await {
                if r.status() == 200 {
                    return serve;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("huella serve did not answer /healthz within a minute");
    }

    /// size is the size of the checkpoint it serves, opened with `log_key`.
    pub async fn size(&self, log_key: &huella_core::keys::VerifierKey) -> u64 {
        let note = reqwest::get(format!("{}/checkpoint", self.base))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        huella_core::checkpoint::open(&note, log_key)
            .unwrap()
            .0
            .size
    }

    /// stop sends Ctrl-C (SIGINT) and waits for the process to exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    /// kill sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
