//! A walk of the sealed folders that never follows a symlink: every entry is
//! classified from `symlink_metadata`, so a symlink is reported, not read
//! through, and a FIFO or device is never opened.

use super::SealError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What sits at a path inside a sealed folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A regular file of this many bytes.
    File { size: u64 },
    /// A symbolic link; `outside` when its target resolves outside the root
    /// (or does not resolve at all).
    Symlink { target: PathBuf, outside: bool },
    /// A FIFO, socket or device: never sealable.
    Special,
    /// A name that is not UTF-8 or holds control characters, and so cannot
    /// be named in a manifest (or printed safely); shown escaped.
    BadName,
}

/// Everything found under the sealed folders, by root-relative path with
/// forward slashes, sorted.
pub type Tree = BTreeMap<String, Node>;

/// Walk each sealed folder under `root`. A folder that does not exist is
/// empty (git does not keep empty folders); a sealed folder that is itself a
/// symlink is reported as one and not entered.
pub fn scan(root: &Path, dirs: &[String]) -> Result<Tree, SealError> {
    let canonical_root = root
        .canonicalize()
        .map_err(SealError::io(root.to_path_buf()))?;
    let mut tree = Tree::new();
    for dir in dirs {
        // Every ancestor of the sealed folder must be a real folder too.
        let mut rel = String::new();
        let mut enter = true;
        for part in dir.split('/') {
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(part);
            match classify(root, &canonical_root, &rel)? {
                None => {
                    enter = false;
                    break;
                }
                Some(Classified::Dir) => {}
                Some(Classified::Node(node)) => {
                    tree.insert(rel.clone(), node);
                    enter = false;
                    break;
                }
            }
        }
        if enter {
            walk(root, &canonical_root, dir, &mut tree)?;
        }
    }
    Ok(tree)
}

enum Classified {
    Dir,
    Node(Node),
}

fn classify(
    root: &Path,
    canonical_root: &Path,
    rel: &str,
) -> Result<Option<Classified>, SealError> {
    let path = root.join(rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SealError::io(path)(e)),
    };
    let ft = meta.file_type();
    Ok(Some(if ft.is_symlink() {
        let target = std::fs::read_link(&path).map_err(SealError::io(path.clone()))?;
        let outside = !link_stays_inside(&path, &target, canonical_root);
        Classified::Node(Node::Symlink { target, outside })
    } else if ft.is_dir() {
        Classified::Dir
    } else if ft.is_file() {
        Classified::Node(Node::File { size: meta.len() })
    } else {
        Classified::Node(Node::Special)
    }))
}

fn walk(root: &Path, canonical_root: &Path, rel: &str, tree: &mut Tree) -> Result<(), SealError> {
    let dir = root.join(rel);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(SealError::io(dir.clone()))? {
        let entry = entry.map_err(SealError::io(dir.clone()))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let name = match name.to_str() {
            Some(n) if !n.chars().any(char::is_control) => n,
            _ => {
                let shown = format!("{rel}/{}", name.to_string_lossy().escape_debug());
                tree.insert(shown, Node::BadName);
                continue;
            }
        };
        let child = format!("{rel}/{name}");
        match classify(root, canonical_root, &child)? {
            None => {} // removed while we walked
            Some(Classified::Dir) => walk(root, canonical_root, &child, tree)?,
            Some(Classified::Node(node)) => {
                tree.insert(child, node);
            }
        }
    }
    Ok(())
}

/// Does a symlink at `link` pointing to `target` resolve inside the root?
/// A dangling link counts as outside: it cannot be shown to stay in.
fn link_stays_inside(link: &Path, target: &Path, canonical_root: &Path) -> bool {
    let base = link.parent().unwrap_or(Path::new("/"));
    match base.join(target).canonicalize() {
        Ok(resolved) => resolved.starts_with(canonical_root),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("s/sub")).unwrap();
        std::fs::write(root.join("s/a"), b"abc").unwrap();
        std::fs::write(root.join("s/sub/b"), b"").unwrap();
        std::os::unix::fs::symlink("a", root.join("s/in")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("s/out")).unwrap();
        std::os::unix::fs::symlink(root.join("s/sub"), root.join("s/dirlink")).unwrap();
        let t = scan(root, &["s".to_string(), "absent".to_string()]).unwrap();
        assert_eq!(t["s/a"], Node::File { size: 3 });
        assert_eq!(t["s/sub/b"], Node::File { size: 0 });
        assert!(matches!(t["s/in"], Node::Symlink { outside: false, .. }));
        assert!(matches!(t["s/out"], Node::Symlink { outside: true, .. }));
        assert!(matches!(
            t["s/dirlink"],
            Node::Symlink { outside: false, .. }
        ));
        assert_eq!(t.len(), 5);
    }
}
