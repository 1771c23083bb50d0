//! Test helpers: a temp workspace and a way to run the built binary in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Root of the repository (where Cargo.toml lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A repository file, e.g. `repo_file("surrogates/profiles/tiny.toml")`.
pub fn repo_file(rel: &str) -> PathBuf {
    repo().join(rel)
}

/// A temporary directory the test works in; removed when dropped.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A command for the built binary, run inside the work directory.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rollproof"));
        c.current_dir(self.dir.path());
        c.env_remove("ROLLPROOF_WORKSPACE");
        c
    }

    /// Run with arguments; returns the finished process output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run rollproof")
    }

    /// Generate the tiny surrogate at `rel` with `seed`.
    pub fn tiny(&self, rel: &str, seed: u64) -> PathBuf {
        let out = self.path(rel);
        let profile = repo_file("surrogates/profiles/tiny.toml");
        let o = self.run(&[
            "generate",
            "--profile",
            profile.to_str().unwrap(),
            "--seed",
            &seed.to_string(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_success(&o);
        out
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert exit code 0, printing both streams when it is not.
pub fn assert_success(o: &Output) {
    assert_code(o, 0);
}

/// Assert a specific exit code, printing both streams when it differs.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// SHA-256 of a file, computed by the independent `sha2` path of the test.
pub fn sha256_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(p).expect("read file")))
}

/// Run with arguments, killing the process (and failing the test) if it has
/// not finished within `secs` seconds: for inputs that could block forever.
pub fn run_within(w: &Work, args: &[&str], secs: u64) -> Output {
    use std::io::Read;
    let mut child = w
        .cmd()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rollproof");
    // Drain both pipes meanwhile, so a long output cannot stall the child.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rollproof {args:?} did not finish within {secs} s (blocked?)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// Make a FIFO (named pipe) at `p`.
pub fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", p.display());
}

static CLUSTER: std::sync::OnceLock<Result<rollproof::engine::postgres::cluster::Cluster, String>> =
    std::sync::OnceLock::new();

/// The throwaway PostgreSQL cluster shared by every test of this binary,
/// started on first use and shut down by the kernel when the binary exits.
pub fn pg() -> &'static rollproof::engine::postgres::cluster::Cluster {
    use rollproof::engine::postgres::cluster::Cluster;
    match CLUSTER.get_or_init(|| Cluster::start().map_err(|e| e.to_string())) {
        Ok(c) => c,
        Err(e) => panic!("cannot start the throwaway PostgreSQL cluster: {e}"),
    }
}

/// A superuser connection to `db` on the shared cluster (test-side,
/// independent of rollproof).
pub fn connect(db: &str) -> postgres::Client {
    postgres::Client::connect(&pg().url(db), postgres::NoTls).expect("connect")
}

/// An ed25519 key pair made by the stock `ssh-keygen` (CI installs
/// openssh-client), in the work dir.
pub struct Key {
    /// The private key file (0600, unencrypted).
    pub private: PathBuf,
    /// `ssh-ed25519 BASE64` (no comment).
    pub public: String,
    /// The principal it signs as in the allowed-signers files the tests write.
    pub principal: String,
}

impl Work {
    /// `ssh-keygen -t ed25519 -N '' -f <rel>`.
    pub fn keygen(&self, rel: &str, principal: &str) -> Key {
        let private = self.path(rel);
        if let Some(d) = private.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        let o = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", principal, "-f"])
            .arg(&private)
            .output()
            .expect("ssh-keygen must be installed for this test");
        assert!(o.status.success(), "ssh-keygen: {}", stderr(&o));
        let line = std::fs::read_to_string(format!("{}.pub", private.display())).unwrap();
        let public = line
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        Key {
            private,
            public,
            principal: principal.to_string(),
        }
    }

    /// Write an allowed-signers file: one `principal [options] key` line each.
    pub fn allowed_signers(&self, rel: &str, lines: &[(&Key, &str)]) -> PathBuf {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        let text: String = lines
            .iter()
            .map(|(k, opts)| {
                if opts.is_empty() {
                    format!("{} {}\n", k.principal, k.public)
                } else {
                    format!("{} {opts} {}\n", k.principal, k.public)
                }
            })
            .collect();
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// `<file>.sig`.
pub fn sig_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sig", file.display()))
}

/// Stdout parsed as JSON (panics with both streams when it is not).
pub fn json_out(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

/// The report of the only result of a `rehearse --json` run in `w`.
pub fn only_report(w: &Work, o: &Output) -> serde_json::Value {
    let v = json_out(o);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{v}");
    let path = w
        .dir
        .path()
        .join(results[0]["report"].as_str().expect("report path"));
    serde_json::from_slice(&std::fs::read(&path).expect("report file")).expect("report JSON")
}

/// The named check of a report.
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {}", report["checks"]))
}
