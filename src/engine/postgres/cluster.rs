//! A throwaway PostgreSQL cluster: `initdb` into a private temp folder, one
//! `postgres` on a free loopback port with its Unix socket in that folder,
//! trust authentication for loopback only, and nothing left running after
//! the owning process is gone.
//!
//! Used by the end-to-end tests (`bench/postgres.sh` does the same steps in
//! shell, with production-like durability settings). `initdb` refuses to run as root,
//! so as root the cluster runs as the unprivileged `nobody` user (its folder
//! is chowned to it). The server is started from a keeper thread that lives
//! exactly as long as the server, with `PR_SET_PDEATHSIG`: if the owning
//! process exits or is killed without stopping the cluster (a test binary's
//! statics are never dropped), the kernel shuts the server down immediately.
//! Leftover folders of dead owners are removed by the next start.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Superuser name created by `initdb`.
pub const SUPERUSER: &str = "rollproof";
/// Prefix of every cluster folder in the temp dir (`<prefix><pid>-<n>`).
const DIR_PREFIX: &str = "rollproof-pg-";
/// The unprivileged account the server runs as when we are root.
const RUN_AS_USER: &str = "nobody";
/// How long to wait for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a cluster could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server program '{0}' not found on PATH or in /usr/lib/postgresql/*/bin; install the PostgreSQL server (Debian: apt-get install postgresql)"
    )]
    Missing(String),
    #[error("cannot prepare the cluster folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("running as root, but the unprivileged user '{0}' to run PostgreSQL as does not exist")]
    NoUser(String),
    #[error("{program} failed ({status}): {output}")]
    Failed {
        program: String,
        status: String,
        output: String,
    },
    #[error("PostgreSQL did not accept connections within {secs} s; server log: {log}")]
    NotReady { secs: u64, log: String },
}

/// A running throwaway cluster. Dropping it stops the server and removes
/// its folder.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    port: u16,
    pid: u32,
    keeper: Mutex<Option<JoinHandle<()>>>,
}

/// Find a PostgreSQL program: on PATH, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_program(name: &str) -> Result<PathBuf, ClusterError> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let p = e.path().join("bin").join(name);
            p.is_file().then_some((v, p))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| ClusterError::Missing(name.to_string()))
}

/// (uid, gid) of a local account, read from /etc/passwd.
fn account(name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A free TCP port on 127.0.0.1 (the kernel's pick).
fn free_port(root: &Path) -> Result<u16, ClusterError> {
    let io = |source| ClusterError::Io {
        path: root.to_path_buf(),
        source,
    };
    let l = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    Ok(l.local_addr().map_err(io)?.port())
}

/// Remove folders of clusters whose owning process no longer exists.
fn prune_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn run_checked(cmd: &mut Command, program: &str) -> Result<(), ClusterError> {
    let out = cmd.output().map_err(|source| ClusterError::Io {
        path: PathBuf::from(program),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(ClusterError::Failed {
        program: program.to_string(),
        status: out.status.to_string(),
        output: text.split_whitespace().collect::<Vec<_>>().join(" "),
    })
}

impl Cluster {
    /// Create and start a new cluster in a fresh folder under the temp dir.
    pub fn start() -> Result<Cluster, ClusterError> {
        let initdb = find_program("initdb")?;
        let postgres = find_program("postgres")?;
        // As root the server runs as `nobody`, which must reach the folder:
        // use /tmp rather than a TMPDIR that may sit in a private home.
        let tmp = if is_root() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        prune_stale(&tmp);
        let root = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(&tmp)
            .map_err(|source| ClusterError::Io {
                path: tmp.clone(),
                source,
            })?
            .keep();
        match Self::start_in(&root, &initdb, &postgres) {
            Ok(c) => Ok(c),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&root);
                Err(e)
            }
        }
    }

    fn start_in(root: &Path, initdb: &Path, postgres: &Path) -> Result<Cluster, ClusterError> {
        let io = |source| ClusterError::Io {
            path: root.to_path_buf(),
            source,
        };
        let run_as = if is_root() {
            Some(account(RUN_AS_USER).ok_or_else(|| ClusterError::NoUser(RUN_AS_USER.into()))?)
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(root, Some(uid), Some(gid)).map_err(io)?;
        }
        let data = root.join("data");
        let as_user = |cmd: &mut Command| {
            cmd.env("LC_ALL", "C").env("LANG", "C").env("TZ", "UTC");
            if let Some((uid, gid)) = run_as {
                cmd.uid(uid).gid(gid).env("HOME", root);
            }
        };
        let mut init = Command::new(initdb);
        init.arg("-D")
            .arg(&data)
            .args(["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .arg(format!("--username={SUPERUSER}"))
            .stdin(Stdio::null());
        as_user(&mut init);
        run_checked(&mut init, "initdb")?;

        let port = free_port(root)?;
        let log_path = root.join("server.log");
        let log = std::fs::File::create(&log_path).map_err(io)?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&log_path, Some(uid), Some(gid)).map_err(io)?;
        }
        let log2 = log.try_clone().map_err(io)?;
        let mut cmd = Command::new(postgres);
        cmd.arg("-D").arg(&data);
        for opt in [
            "listen_addresses=127.0.0.1".to_string(),
            format!("port={port}"),
            format!("unix_socket_directories={}", root.display()),
            "fsync=off".into(),
            "synchronous_commit=off".into(),
            "full_page_writes=off".into(),
            "max_connections=60".into(),
            "shared_buffers=128MB".into(),
            "max_wal_size=4GB".into(),
            "log_min_messages=warning".into(),
        ] {
            cmd.arg("-c").arg(opt);
        }
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        as_user(&mut cmd);
        // SAFETY: only async-signal-safe calls between fork and exec. Runs
        // after std has switched uid (which would clear the setting).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // The keeper thread is the server's parent: PDEATHSIG fires when it
        // ends, so it lives until the server does.
        let (tx, rx) = std::sync::mpsc::channel();
        let keeper = std::thread::Builder::new()
            .name("rollproof-pg-keeper".into())
            .spawn(move || match cmd.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id()));
                    let _ = child.wait();
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(io)?;
        let pid = rx
            .recv()
            .map_err(|e| io(std::io::Error::other(e)))?
            .map_err(io)?;
        let cluster = Cluster {
            root: root.to_path_buf(),
            port,
            pid,
            keeper: Mutex::new(Some(keeper)),
        };
        cluster.wait_ready(&log_path)?;
        Ok(cluster)
    }

    fn wait_ready(&self, log_path: &Path) -> Result<(), ClusterError> {
        let started = Instant::now();
        loop {
            let exited = self
                .keeper
                .lock()
                .map(|k| k.as_ref().is_none_or(|h| h.is_finished()))
                .unwrap_or(true);
            if !exited
                && postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
                    .and_then(|mut c| c.simple_query("SELECT 1").map(|_| ()))
                    .is_ok()
            {
                return Ok(());
            }
            if exited || started.elapsed() > READY_TIMEOUT {
                let mut log = String::new();
                if let Ok(mut f) = std::fs::File::open(log_path) {
                    let _ = f.read_to_string(&mut log);
                }
                return Err(ClusterError::NotReady {
                    secs: READY_TIMEOUT.as_secs(),
                    log: log.split_whitespace().collect::<Vec<_>>().join(" "),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding the data directory and the Unix socket.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Server process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Connection URL of database `db` over loopback TCP.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Fast shutdown (sessions terminated, clean checkpoint), then remove
    /// the folder. Idempotent.
    pub fn stop(&self) {
        let handle = self.keeper.lock().ok().and_then(|mut k| k.take());
        let Some(handle) = handle else {
            return;
        };
        if !handle.is_finished() {
            // SAFETY: kill(2) on the server pid we spawned and still reap.
            unsafe {
                libc::kill(self.pid as libc::pid_t, libc::SIGINT);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !handle.is_finished() {
                // SAFETY: as above; immediate shutdown as a last resort.
                unsafe {
                    libc::kill(self.pid as libc::pid_t, libc::SIGQUIT);
                }
            }
        }
        let _ = handle.join();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_what_to_install() {
        let e = find_program("rollproof-no-such-pg-program").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("rollproof-no-such-pg-program"), "{text}");
        assert!(text.contains("apt-get install postgresql"), "{text}");
    }

    #[test]
    fn accounts_are_read_from_passwd() {
        assert_eq!(account("root"), Some((0, 0)));
        assert_eq!(account("rollproof-no-such-user"), None);
    }
}
