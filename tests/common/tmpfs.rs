//! A tmpfs of a chosen size, for the tests of a full disk. Mounting one needs root. Where it
//! cannot be mounted, the tests that need one say so and pass, unless
//! `HUELLA_REQUIRE_TMPFS=1` is set: `.ci/run` sets it where it can mount one, so that there
//! these tests must run.

use std::path::PathBuf;
use std::process::Command;

/// Tmpfs is a small tmpfs mounted on a directory (a disk that can be filled), unmounted when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(at: &std::path::Path, size: &str) -> Tmpfs {
        Tmpfs::try_mount(at, size).expect("mounting a tmpfs needs root")
    }

    /// try_mount mounts a tmpfs, or says why it cannot (not root, or no right to mount in
    /// this container).
    pub fn try_mount(at: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !output.status.success() {
            let why = String::from_utf8_lossy(&output.stderr).into_owned();
            if std::env::var("HUELLA_REQUIRE_TMPFS").is_ok_and(|v| v == "1") {
                panic!("HUELLA_REQUIRE_TMPFS=1, but a tmpfs cannot be mounted: {why}");
            }
            return Err(why);
        }
        Ok(Tmpfs(at.to_path_buf()))
    }

    pub fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// available is how many bytes the file system holding `path` has free (`df`).
pub fn available(path: &std::path::Path) -> u64 {
    let output = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df prints the space available")
}

/// fill writes a file `path` of zeros until the file system has at most `leave` bytes free
/// (or none).
pub fn fill(path: &std::path::Path, leave: u64) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 4096];
    loop {
        let free = available(path);
        if free <= leave {
            break;
        }
        let want = (free - leave).min(1 << 20) as usize;
        let chunk: Vec<u8> = block.iter().copied().cycle().take(want.max(1)).collect();
        if file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_err()
        {
            break;
        }
    }
}
