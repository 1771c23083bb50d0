//! Which process owns a run's leftovers, and whether it is still alive.
//!
//! A run folder, a temp file's run or a PostgreSQL database rollproof made
//! records its owner: pid, the process's start time (clock ticks since boot,
//! field 22 of `/proc/<pid>/stat`), the boot id and the host name. The owner
//! is alive only while a process with that pid *and* that start time runs
//! on this boot of this host: a pid reused by another process, a reboot or
//! another machine never keeps leftovers alive, and never makes a live
//! run's files look dead.

use serde::{Deserialize, Serialize};

/// The process that owns something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Start time of the process in clock ticks since boot.
    pub start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id` at the time.
    pub boot_id: String,
    /// Host name, for leftovers seen from another machine (shared folders).
    pub host: String,
}

/// Start time (field 22) of process `pid`, from `/proc/<pid>/stat`.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// True while a process with this pid and start time runs here (the
/// owner a temporary name carries, [`crate::util::cleanup::owner_of_temp`]).
pub fn pid_alive(pid: u32, ticks: u64) -> bool {
    start_ticks(pid).is_some_and(|t| t == ticks)
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            boot_id: boot_id(),
            host: host_name(),
        }
    }

    /// True while the owning process still runs. Unknown (another host)
    /// counts as alive: fail closed, never remove what may be in use.
    pub fn alive(&self) -> bool {
        if self.host != host_name() {
            return true;
        }
        if self.boot_id != boot_id() {
            return false;
        }
        pid_alive(self.pid, self.start_ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_child_is_not() {
        let me = Owner::current();
        assert!(me.start_ticks > 0);
        assert!(me.alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let owner = Owner {
            pid,
            start_ticks: start_ticks(pid).unwrap_or(1),
            ..me.clone()
        };
        child.wait().unwrap();
        assert!(!owner.alive());
        // A reused pid (same pid, other start time) is not the owner.
        let reused = Owner {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(!reused.alive());
        // Another boot: dead. Another host: kept (unknown).
        assert!(
            !Owner {
                boot_id: "x".into(),
                ..me.clone()
            }
            .alive()
        );
        assert!(
            Owner {
                host: "elsewhere".into(),
                ..me
            }
            .alive()
        );
    }
}
