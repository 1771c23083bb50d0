//! One module per subcommand: each defines `Args` (clap) and `run`.
//! Only these modules print; the library beneath them returns data.

pub mod apply_worker;
pub mod attach;
pub mod blockers;
pub mod check;
pub mod clean;
pub mod fidelity;
pub mod generate;
pub mod guard;
pub mod hash;
pub mod intake;
pub mod migrations;
pub mod profile;
pub mod promote;
pub mod rehearse;
pub mod report;
pub mod seal;
pub mod verify;

/// The project root a command works on: `--root DIR` when given, else the
/// one the workspace is resolved from (the nearest folder at or above the
/// current one holding `.git` or SEALS.json), so `check`, `seal` and
/// `promote` mean the same tree from any folder of the repository.
pub fn project_root(flag: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    match flag {
        Some(r) => Ok(r.to_path_buf()),
        None => Ok(crate::guard::workspace::project_root_here()?),
    }
}
