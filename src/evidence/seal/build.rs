//! Writing the manifest: seal everything under the sealed folders, or
//! update just some paths, optionally (re)generating the surrogate fixtures
//! first. Refuses (exit 2, nothing written) rather than sealing something it
//! cannot vouch for: a symlink or special file, a path outside the sealed
//! folders, or an existing manifest whose seal is broken (unless `--force`).

use super::SealError;
use super::digest::{self, Job};
use super::manifest::{self, DEFAULT_SEALED_DIRS, Entry, MANIFEST_FILE, Manifest, Recipe};
use super::scan::{self, Node};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A fixture to generate and seal with its recipe.
#[derive(Debug, Clone)]
pub struct NewFixture {
    /// Root-relative path of the fixture to write.
    pub path: String,
    /// How to generate it.
    pub recipe: Recipe,
}

/// What `seal` should do.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    /// Repository root (where `SEALS.json` lives).
    pub root: PathBuf,
    /// Seal only these paths (files or folders; root-relative or absolute
    /// inside the root). Empty: everything under the sealed folders.
    pub paths: Vec<String>,
    /// Replace the list of sealed folders.
    pub sealed_dirs: Vec<String>,
    /// Generate (or regenerate) this fixture and record its recipe.
    pub fixture: Option<NewFixture>,
    /// Regenerate every fixture the manifest records before sealing.
    pub regenerate_fixtures: bool,
    /// Re-seal even if the existing manifest is unreadable or its seal broken.
    pub force: bool,
    /// Hashing threads.
    pub jobs: usize,
}

/// What `seal` wrote (also its `--json` output).
#[derive(Debug, Clone, Serialize)]
pub struct SealOutcome {
    /// The manifest written.
    pub manifest: PathBuf,
    /// Its new seal.
    pub seal: String,
    /// Number of sealed files.
    pub files: usize,
    /// Total sealed bytes.
    pub bytes: u64,
    /// Paths newly sealed.
    pub added: Vec<String>,
    /// Paths whose digest or size changed.
    pub changed: Vec<String>,
    /// Paths no longer sealed.
    pub removed: Vec<String>,
    /// Fixtures (re)generated from their recipes.
    pub regenerated: Vec<String>,
}

/// Seal, writing `SEALS.json` atomically.
pub fn seal(opts: &SealOptions) -> Result<SealOutcome, SealError> {
    let root = opts
        .root
        .canonicalize()
        .map_err(SealError::io(opts.root.clone()))?;
    let manifest_path = root.join(MANIFEST_FILE);
    let old = load_existing(&manifest_path, opts.force)?;
    let mut base = old.clone().unwrap_or_else(|| {
        Manifest::new(DEFAULT_SEALED_DIRS.iter().map(|d| d.to_string()).collect())
    });
    if !opts.sealed_dirs.is_empty() {
        base.sealed_dirs = opts.sealed_dirs.clone();
        base.sealed_dirs.sort();
    }
    if let Some((d, p)) = manifest::check_sealed_dirs(&base.sealed_dirs)
        .into_iter()
        .next()
    {
        return Err(SealError::refused(d, format!("bad sealed folder: {p}")));
    }
    let dirs = base.sealed_dirs.clone();

    let mut recipes: BTreeMap<String, Recipe> = base
        .files
        .iter()
        .filter_map(|e| e.generated.clone().map(|r| (e.path.clone(), r)))
        .collect();
    let mut regenerated = Vec::new();
    if let Some(f) = &opts.fixture {
        inside_sealed(&f.path, &dirs)?;
        inside_sealed(&f.recipe.profile, &dirs)?;
        recipes.insert(f.path.clone(), f.recipe.clone());
        generate_fixture(&root, &f.path, &f.recipe, sealed_digest(&base, &f.path))?;
        regenerated.push(f.path.clone());
    }
    if opts.regenerate_fixtures {
        for (path, recipe) in &recipes {
            if !regenerated.contains(path) {
                inside_sealed(path, &dirs)?;
                inside_sealed(&recipe.profile, &dirs)?;
                generate_fixture(&root, path, recipe, sealed_digest(&base, path))?;
                regenerated.push(path.clone());
            }
        }
    }

    let tree = scan::scan(&root, &dirs)?;
    let scope: Vec<String> = opts
        .paths
        .iter()
        .map(|p| relative(&root, p, &dirs))
        .collect::<Result<_, _>>()?;
    let in_scope = |p: &str| {
        scope.is_empty()
            || scope.iter().any(|s| {
                p == s || (p.starts_with(s.as_str()) && p.as_bytes().get(s.len()) == Some(&b'/'))
            })
    };
    for s in &scope {
        let known = tree.keys().any(|p| in_scope(p)) || base.files.iter().any(|e| &e.path == s);
        if !known {
            return Err(SealError::refused(
                s.clone(),
                "no such file under the sealed folders, and not in the manifest",
            ));
        }
    }
    let mut jobs = Vec::new();
    for (path, node) in tree.iter().filter(|(p, _)| in_scope(p)) {
        match node {
            Node::File { size } => jobs.push((
                path.clone(),
                Job {
                    path: root.join(path),
                    size: *size,
                    prefix: None,
                },
            )),
            Node::Symlink { target, .. } => {
                return Err(SealError::refused(
                    path.clone(),
                    format!(
                        "is a symlink to {}; seal the file itself, not a link",
                        target.display()
                    ),
                ));
            }
            Node::Special => return Err(SealError::refused(path.clone(), "not a regular file")),
            Node::BadName => {
                return Err(SealError::refused(
                    path.clone(),
                    "file name is not UTF-8 or holds control characters",
                ));
            }
        }
    }
    let only_jobs: Vec<Job> = jobs.iter().map(|(_, j)| j.clone()).collect();
    let hashed = digest::hash_all(
        &only_jobs,
        opts.jobs,
        &format!("sealing {} files", jobs.len()),
    );

    let mut files: BTreeMap<String, Entry> = base
        .files
        .iter()
        .filter(|e| !in_scope(&e.path))
        .map(|e| (e.path.clone(), e.clone()))
        .collect();
    for ((path, _), h) in jobs.into_iter().zip(hashed) {
        let h = h?;
        let generated = recipes.get(&path).cloned();
        files.insert(
            path.clone(),
            Entry {
                path,
                sha256: h.digest.sha256,
                size: h.digest.size,
                generated,
            },
        );
    }
    let refs: Vec<&Entry> = files.values().collect();
    for e in &refs {
        if let Err(p) = manifest::check_rel_path(&e.path) {
            return Err(SealError::refused(e.path.clone(), p.to_string()));
        }
        if let Some(r) = &e.generated {
            super::check_regen::validate(r, &refs)
                .map_err(|p| SealError::refused(e.path.clone(), p))?;
        }
    }
    let new = Manifest {
        files: files.into_values().collect(),
        ..base
    };
    let bytes = new
        .to_sealed_bytes()
        .map_err(|e| SealError::refused(MANIFEST_FILE, e.to_string()))?;
    crate::util::fsutil::write_atomic(&manifest_path, &bytes, true)?;
    let seal = manifest::parse(&String::from_utf8_lossy(&bytes))
        .map(|p| p.computed_seal)
        .map_err(|p| SealError::refused(MANIFEST_FILE, p.to_string()))?;
    Ok(outcome(
        manifest_path,
        seal,
        old.as_ref(),
        &new,
        regenerated,
    ))
}

fn outcome(
    manifest: PathBuf,
    seal: String,
    old: Option<&Manifest>,
    new: &Manifest,
    regenerated: Vec<String>,
) -> SealOutcome {
    let before: BTreeMap<&str, &Entry> = old
        .map(|m| m.files.iter().map(|e| (e.path.as_str(), e)).collect())
        .unwrap_or_default();
    let after: BTreeMap<&str, &Entry> = new.files.iter().map(|e| (e.path.as_str(), e)).collect();
    let pick = |f: &dyn Fn(&str) -> bool, from: &BTreeMap<&str, &Entry>| -> Vec<String> {
        from.keys()
            .filter(|p| f(p))
            .map(|p| p.to_string())
            .collect()
    };
    SealOutcome {
        manifest,
        seal,
        files: new.files.len(),
        bytes: new.files.iter().map(|e| e.size).sum(),
        added: pick(&|p| !before.contains_key(p), &after),
        changed: pick(
            &|p| {
                before
                    .get(p)
                    .is_some_and(|b| after.get(p).is_some_and(|a| a != b))
            },
            &after,
        ),
        removed: pick(&|p| !after.contains_key(p), &before),
        regenerated,
    }
}

/// The existing manifest, if any; refuse a broken one unless forced.
fn load_existing(path: &Path, force: bool) -> Result<Option<Manifest>, SealError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SealError::io(path)(e)),
    };
    let hint = "run `rollproof check` to see what changed, then `rollproof seal --force` to re-seal the bytes as they are";
    if !meta.is_file() {
        return if force {
            Ok(None)
        } else {
            Err(SealError::refused(
                MANIFEST_FILE,
                format!("not a regular file; {hint}"),
            ))
        };
    }
    use crate::util::fsutil::{limit, read_bounded};
    let text = read_bounded(path, limit::MANIFEST, "seal manifest")?;
    match manifest::parse(&String::from_utf8_lossy(&text)) {
        Ok(p) if p.seal_holds() => Ok(Some(p.manifest)),
        Ok(p) if force => Ok(Some(p.manifest)),
        Ok(_) => Err(SealError::refused(
            MANIFEST_FILE,
            format!("its seal is broken (edited by hand?); {hint}"),
        )),
        Err(_) if force => Ok(None),
        Err(p) => Err(SealError::refused(MANIFEST_FILE, format!("{p}; {hint}"))),
    }
}

/// Turn a user-given path into a root-relative manifest path.
fn relative(root: &Path, given: &str, dirs: &[String]) -> Result<String, SealError> {
    let p = Path::new(given);
    let rel = if p.is_absolute() {
        let resolved = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        resolved
            .strip_prefix(root)
            .or_else(|_| p.strip_prefix(root))
            .map(Path::to_path_buf)
            .map_err(|_| SealError::refused(given, "is outside the repository root"))?
    } else {
        p.to_path_buf()
    };
    let Some(text) = rel.to_str() else {
        return Err(SealError::refused(given, "path is not UTF-8"));
    };
    let text = text
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    manifest::check_rel_path(&text).map_err(|p| SealError::refused(given, p.to_string()))?;
    if !dirs.contains(&text) {
        inside_sealed(&text, dirs)?;
    }
    Ok(text)
}

fn inside_sealed(path: &str, dirs: &[String]) -> Result<(), SealError> {
    manifest::check_rel_path(path).map_err(|p| SealError::refused(path, p.to_string()))?;
    match manifest::sealed_dir_of(path, dirs) {
        Some(_) => Ok(()),
        None => Err(SealError::refused(
            path,
            format!("is not inside a sealed folder ({})", dirs.join(", ")),
        )),
    }
}

/// Write one fixture from its recipe, creating real (non-symlink) folders.
/// The digest the manifest sealed for `rel`, if it records one.
fn sealed_digest<'a>(base: &'a Manifest, rel: &str) -> Option<&'a str> {
    base.files
        .iter()
        .find(|e| e.path == rel)
        .map(|e| e.sha256.as_str())
}

/// Regenerate one fixture. `generate --force` replaces only a file it can
/// prove it generated; a fixture made by an older generator (older record
/// format) cannot prove that by regeneration, but when its bytes are exactly
/// the ones the manifest sealed it is the committed fixture itself. Such a
/// file is moved aside, not deleted, until the new one is in place.
fn generate_fixture(
    root: &Path,
    rel: &str,
    recipe: &Recipe,
    sealed: Option<&str>,
) -> Result<(), SealError> {
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SealError::refused(
                    rel,
                    format!("{} is not a real folder (a symlink or file)", dir.display()),
                ));
            }
            Err(_) => std::fs::create_dir(&dir).map_err(SealError::io(dir.clone()))?,
        }
    }
    let profile = crate::profile::Profile::load(&root.join(&recipe.profile))?;
    let out = root.join(rel);
    let aside = match sealed {
        Some(digest) if is_sealed_bytes(&out, digest) => {
            let aside = dir.join(format!(".rollproof-tmp-sealed-{}", std::process::id()));
            std::fs::rename(&out, &aside).map_err(SealError::io(out.clone()))?;
            Some(aside)
        }
        _ => None,
    };
    let made = crate::generate::generate(
        &profile,
        &recipe.profile,
        recipe.seed,
        recipe.scale,
        &out,
        true,
    );
    if let Some(aside) = aside {
        if made.is_ok() {
            std::fs::remove_file(&aside).map_err(SealError::io(aside))?;
        } else {
            std::fs::rename(&aside, &out).map_err(SealError::io(out.clone()))?;
        }
    }
    made?;
    Ok(())
}

/// Whether `path` is a regular file whose SHA-256 is `digest`.
fn is_sealed_bytes(path: &Path, digest: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
        && crate::hash::file_sha256(path).is_ok_and(|d| d.sha256 == digest)
}
