//! Where a write target really is: inside the workspace, named without
//! `..`, and reached without any symlink at or below the workspace root.

use super::Refusal;
use std::path::{Component, Path, PathBuf};

/// `path` made absolute against the (canonical) current directory.
fn absolute(path: &Path) -> Result<PathBuf, Refusal> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Refusal::new(format!("cannot resolve the current directory: {e}")))?;
    Ok(cwd.join(path))
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

/// Resolve `path` to its canonical place inside the workspace `root`, or
/// refuse. Rules: no `..`; some prefix of the path is the workspace root
/// itself (not a symlink to it); nothing below that prefix is a symlink.
/// With `allow_missing`, trailing components may not exist yet.
pub fn resolve_in(root: &Path, path: &Path, allow_missing: bool) -> Result<PathBuf, Refusal> {
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Refusal::new(format!(
            "{} contains '..'; name workspace files directly",
            path.display()
        )));
    }
    let abs = absolute(path)?;
    let comps: Vec<Component> = abs.components().collect();
    let mut prefix = PathBuf::new();
    let mut split = None;
    for (i, c) in comps.iter().enumerate() {
        prefix.push(c);
        if prefix.canonicalize().is_ok_and(|p| p == root) {
            split = Some(i + 1);
            break;
        }
    }
    let outside = || {
        Refusal::new(format!(
            "{} is outside rollproof's workspace {}; only surrogates and clones in the workspace may be written",
            path.display(),
            root.display()
        ))
    };
    let Some(split) = split else {
        if abs.canonicalize().is_ok_and(|p| p.starts_with(root)) {
            return Err(Refusal::new(format!(
                "{} reaches the workspace through a symlink; symlinks are never write targets",
                path.display()
            )));
        }
        return Err(outside());
    };
    if is_symlink(&prefix) {
        return Err(Refusal::new(format!(
            "{} reaches the workspace through the symlink {}; symlinks are never write targets",
            path.display(),
            prefix.display()
        )));
    }
    let mut real = root.to_path_buf();
    for c in &comps[split..] {
        real.push(c);
        match std::fs::symlink_metadata(&real) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Refusal::new(format!(
                    "{} goes through the symlink {}; symlinks are never write targets",
                    path.display(),
                    real.display()
                )));
            }
            Ok(_) => {}
            Err(e) if allow_missing && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Refusal::new(format!(
                    "cannot inspect {}: {e}",
                    real.display()
                )));
            }
        }
    }
    if real == root {
        return Err(outside());
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_dotdot_outside_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let root = root.canonicalize().unwrap();
        std::fs::write(root.join("sub/a.db"), b"x").unwrap();
        assert_eq!(
            resolve_in(&root, &root.join("sub/a.db"), false).unwrap(),
            root.join("sub/a.db")
        );
        assert!(resolve_in(&root, &root.join("sub/../sub/a.db"), false).is_err());
        std::fs::write(dir.path().join("out.db"), b"x").unwrap();
        assert!(resolve_in(&root, &dir.path().join("out.db"), false).is_err());
        assert!(resolve_in(&root, &root, false).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(root.join("sub"), dir.path().join("link")).unwrap();
            assert!(resolve_in(&root, &dir.path().join("link/a.db"), false).is_err());
            symlink(&root, dir.path().join("wslink")).unwrap();
            assert!(resolve_in(&root, &dir.path().join("wslink/sub/a.db"), false).is_err());
            symlink(root.join("sub"), root.join("inner")).unwrap();
            assert!(resolve_in(&root, &root.join("inner/a.db"), false).is_err());
        }
        assert_eq!(
            resolve_in(&root, &root.join("new/b.db"), true).unwrap(),
            root.join("new/b.db")
        );
        assert!(resolve_in(&root, &root.join("new/b.db"), false).is_err());
    }
}
