//! `huella witness` as a process on a free port, killed when dropped.

use std::process::{Child, Command, Stdio};

/// WitnessProcess is `huella witness` on a free port, killed when dropped.
pub struct WitnessProcess {
    /// The process.
    pub child: Child,
    /// Its base URL: the submission prefix.
    pub base: String,
}

impl WitnessProcess {
    /// start runs `huella witness` with `dir`'s `witness.key` and `policy`, state in
    /// `dir/state`, and waits until it answers.
    pub async fn start(dir: &std::path::Path) -> WitnessProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_huella"))
            .args(["witness", "--listen", &format!("127.0.0.1:{port}"), "--key"])
            .arg(dir.join("witness.key"))
            .arg("--policy")
            .arg(dir.join("policy"))
            .arg("--data")
            .arg(dir.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let witness = WitnessProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if reqwest::get(format!("{}/nothing", witness.base))
                .await
                .is_ok()
            {
                return witness;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("huella witness did not start");
    }

    /// add posts an add-checkpoint body and returns the status, content type and body.
    pub async fn add(&self, body: impl Into<reqwest::Body>) -> (u16, String, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
