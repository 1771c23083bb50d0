//! Where rollproof's workspace is: the one folder every run writes to by
//! default (working copies, run folders, reports of throwaway runs, intake
//! clones, the workspace key), never the repository's tracked folders.
//!
//! Resolution (docs/GUARD.md "The workspace"):
//! 1. `$ROLLPROOF_WORKSPACE`, when set (relative to the current folder);
//! 2. else `<project root>/rollproof-work`, where the project root is the
//!    nearest ancestor of the current folder (itself included) holding
//!    `.git` (a folder, or the file a git worktree has) or `SEALS.json`
//!    (rollproof's seal manifest, which marks a sealed evidence tree even
//!    outside git) — so a command run from `docs/` uses the same workspace
//!    as one run from the root;
//! 3. outside any project, `./rollproof-work`.
//!
//! When rollproof creates the workspace it writes a `.gitignore` holding
//! `*` inside it, so the workspace and everything in it (the key included)
//! is ignored by git wherever it is, whatever the repository's own
//! `.gitignore` says.

use super::Refusal;
use std::path::{Path, PathBuf};

/// Environment variable naming the workspace folder.
pub const WORKSPACE_ENV: &str = "ROLLPROOF_WORKSPACE";

/// The workspace folder's name under the project root.
pub const DIR_NAME: &str = "rollproof-work";

/// What the workspace's own `.gitignore` holds: ignore everything here.
const GITIGNORE: &str = "# rollproof's workspace: scratch runs, clones and the workspace key.\n# Never commit any of it; promote evidence with `rollproof promote`.\n*\n";

/// Files whose presence marks a project root.
const ROOT_MARKERS: &[&str] = &[".git", crate::evidence::seal::MANIFEST_FILE];

/// The nearest folder at or above `start` that holds `.git` or `SEALS.json`.
pub fn project_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        ROOT_MARKERS
            .iter()
            .any(|m| std::fs::symlink_metadata(dir.join(m)).is_ok())
            .then(|| dir.to_path_buf())
    })
}

/// The project root of the current folder (see [`project_root`]), or the
/// current folder itself outside any project.
pub fn project_root_here() -> Result<PathBuf, Refusal> {
    let cwd = current_dir()?;
    Ok(project_root(&cwd).unwrap_or(cwd))
}

fn current_dir() -> Result<PathBuf, Refusal> {
    std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Refusal::new(format!("cannot resolve the current directory: {e}")))
}

/// Where the workspace is (see the module docs), as an absolute path; it
/// may not exist yet. Nothing is created.
pub fn location() -> Result<PathBuf, Refusal> {
    let cwd = current_dir()?;
    if let Some(env) = std::env::var_os(WORKSPACE_ENV).filter(|v| !v.is_empty()) {
        return Ok(cwd.join(env));
    }
    Ok(project_root_here()?.join(DIR_NAME))
}

/// The workspace root, canonical (symlinks resolved), if it exists.
/// Nothing is created: read-only questions (`guard target`) use this.
pub fn existing() -> Result<Option<PathBuf>, Refusal> {
    let root = location()?;
    match root.canonicalize() {
        Ok(real) if real.is_dir() => Ok(Some(real)),
        Ok(_) => Err(Refusal::new(format!(
            "the workspace {} is not a folder",
            root.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Refusal::new(format!(
            "cannot resolve workspace {}: {e}",
            root.display()
        ))),
    }
}

/// The workspace root, created (with its `.gitignore`) if missing,
/// canonical (symlinks resolved).
pub fn workspace() -> Result<PathBuf, Refusal> {
    let root = location()?;
    std::fs::create_dir_all(&root)
        .map_err(|e| Refusal::new(format!("cannot create workspace {}: {e}", root.display())))?;
    let ignore = root.join(".gitignore");
    if std::fs::symlink_metadata(&ignore).is_err() {
        // Best effort: a workspace we cannot write to fails on the next
        // write anyway, with a message naming that write.
        let _ = crate::util::fsutil::write_atomic(&ignore, GITIGNORE.as_bytes(), false);
    }
    let real = root
        .canonicalize()
        .map_err(|e| Refusal::new(format!("cannot resolve workspace {}: {e}", root.display())))?;
    // Held shared until the process exits, so `clean` never runs beside us.
    super::lock::hold_shared(&real)?;
    Ok(real)
}

/// A folder inside the workspace (created), e.g. `reports` or `attestations`.
pub fn subdir(name: &str) -> Result<PathBuf, Refusal> {
    let dir = workspace()?.join(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Refusal::new(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_root_is_the_nearest_marked_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(top.join("repo/docs/deep")).unwrap();
        std::fs::create_dir_all(top.join("repo/.git")).unwrap();
        assert_eq!(
            project_root(&top.join("repo/docs/deep")),
            Some(top.join("repo"))
        );
        // A git worktree has a `.git` file; a sealed tree a SEALS.json.
        std::fs::write(top.join("repo/docs/.git"), "gitdir: x").unwrap();
        assert_eq!(
            project_root(&top.join("repo/docs/deep")),
            Some(top.join("repo/docs"))
        );
        std::fs::create_dir_all(top.join("plain/sealed/sub")).unwrap();
        std::fs::write(top.join("plain/sealed/SEALS.json"), "{}").unwrap();
        assert_eq!(
            project_root(&top.join("plain/sealed/sub")),
            Some(top.join("plain/sealed"))
        );
    }
}
