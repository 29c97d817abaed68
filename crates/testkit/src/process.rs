//! Service binaries as processes: start with arguments and environment, wait for the
//! `listening on <addr>` line, stop with SIGTERM or SIGKILL.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// A running service process, killed when dropped.
pub struct Process {
    child: Child,
    /// `http://<addr>`.
    pub base: String,
}

impl Process {
    /// Starts `exe` (a `CARGO_BIN_EXE_…` path) with `args` and `envs`, logging at `warn`,
    /// and waits until it listens.
    pub fn start(exe: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(exe)
            .args(args)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected output of {exe}: {line:?}"))
            .to_owned();
        Self {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits: a graceful shutdown exits 0.
    #[cfg(unix)]
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // The shell's `kill` builtin: no procps needed.
        let command = format!("kill -TERM {}", self.child.id());
        assert!(
            Command::new("sh")
                .args(["-c", &command])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }
}

/// The binary `name` next to `exe` (another `CARGO_BIN_EXE_…` path of the same build), if
/// it was built — which fails the test under CI, see [`crate::skip`].
pub fn sibling_binary(exe: &str, name: &str) -> Option<String> {
    let path = std::path::Path::new(exe).with_file_name(name);
    if path.exists() {
        Some(path.display().to_string())
    } else {
        crate::skip(&format!(
            "{} is missing (build its crate in the same run, e.g. cargo test --workspace)",
            path.display()
        ));
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
