//! Promotion: the one deliberate step that turns a rehearsal's report (in
//! the workspace, ignored by git) into sealed evidence in the repository.
//!
//! Each report (a rehearsal's, or a migrations folder's) must verify and
//! must not be a dry run. It is copied with its
//! companions — the Markdown rendering beside it (`X.md`) and a detached
//! signature (`X.json.sig`) when present — to `<to>/<scenario>/<file>`, and
//! exactly those files are then (re)sealed in `SEALS.json`; nothing else is
//! sealed, so a promotion can never sweep throwaway runs into the evidence.

use crate::evidence::seal::{self, SealOptions, SealOutcome};
use crate::evidence::verify::{self, Facts, Problem};
use crate::guard::Refusal;
use std::path::{Path, PathBuf};

/// Why a promotion did not happen. Nothing is copied or sealed unless
/// every report can be promoted.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// A report does not verify (exit 1): its problems are listed.
    #[error("{path} does not verify ({} problem(s)); nothing was promoted", .problems.len())]
    NotVerified {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    /// A dry run is never evidence (refused, exit 3).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The report could not be read.
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
    /// A destination already holds different bytes.
    #[error(
        "{dest} already exists with other content; promoted evidence is never replaced (remove it deliberately, or promote another run)"
    )]
    Exists { dest: PathBuf },
    /// `--to` is not inside the project root.
    #[error("{to} is not inside the project root {root}; evidence is promoted into the repository")]
    Outside { to: PathBuf, root: PathBuf },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a copy failed.
    #[error(transparent)]
    Write(#[from] crate::util::fsutil::WriteError),
    /// Sealing the promoted files failed (the copies stay, unsealed:
    /// `rollproof check` names them until `rollproof seal PATH` is run).
    #[error(transparent)]
    Seal(#[from] seal::SealError),
}

/// One promoted report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Promoted {
    /// The report as given.
    pub report: PathBuf,
    /// Root-relative paths of the files written (report first).
    pub files: Vec<String>,
    /// The report's seal.
    pub seal: String,
}

/// What a promotion did (also `promote --json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// Every report promoted.
    pub promoted: Vec<Promoted>,
    /// The manifest update.
    pub sealed: SealOutcome,
}

struct Plan {
    report: PathBuf,
    seal: String,
    /// (source, destination, root-relative destination)
    copies: Vec<(PathBuf, PathBuf, String)>,
}

/// `X.json` → `X.json.sig`, the detached signature's name.
pub fn signature_path(report: &Path) -> PathBuf {
    let mut s = report.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PromoteError {
    let path = path.to_path_buf();
    move |source| PromoteError::Io { what, path, source }
}

/// Check one report (a rehearsal's or a migrations folder's): it verifies
/// and is not a dry run.
fn admit(report: &Path) -> Result<Facts, PromoteError> {
    let checked = verify::check_file(report, None, None)?;
    let r = match (checked.ok(), checked.facts()) {
        (true, Some(r)) => r,
        _ => {
            return Err(PromoteError::NotVerified {
                path: report.to_path_buf(),
                problems: checked.problems,
            });
        }
    };
    if let Some(why) = &r.dry_run {
        return Err(Refusal::new(format!(
            "{} is a dry run ({why}): not evidence; rehearse the scenario as written",
            report.display()
        ))
        .into());
    }
    Ok(r)
}

/// Work out where an admitted report's files go.
fn plan(report: &Path, r: &Facts, to: &Path, root: &Path) -> Result<Plan, PromoteError> {
    let name = report.file_name().unwrap_or_default();
    let folder = to.join(&r.name);
    let mut copies = Vec::new();
    let md = crate::evidence::render::markdown_path(report);
    let sig = signature_path(report);
    for src in [report.to_path_buf(), md, sig] {
        let is_report = src == report;
        if !is_report && std::fs::symlink_metadata(&src).is_err() {
            continue;
        }
        let file = if is_report {
            PathBuf::from(name)
        } else {
            PathBuf::from(src.file_name().unwrap_or_default())
        };
        let dest = folder.join(&file);
        let rel = dest
            .strip_prefix(root)
            .map_err(|_| PromoteError::Outside {
                to: to.to_path_buf(),
                root: root.to_path_buf(),
            })?
            .to_string_lossy()
            .replace('\\', "/");
        copies.push((src, dest, rel));
    }
    Ok(Plan {
        report: report.to_path_buf(),
        seal: r.seal.clone(),
        copies,
    })
}

/// Promote `reports` into `to` (inside `root`, where `SEALS.json` is) and
/// seal exactly the files written. All reports are checked before anything
/// is copied.
pub fn promote(reports: &[PathBuf], to: &Path, root: &Path) -> Result<Outcome, PromoteError> {
    let root = root
        .canonicalize()
        .map_err(io("cannot resolve the project root", root))?;
    let admitted: Vec<Facts> = reports.iter().map(|r| admit(r)).collect::<Result<_, _>>()?;
    std::fs::create_dir_all(to).map_err(io("cannot create", to))?;
    let to = to.canonicalize().map_err(io("cannot resolve", to))?;
    if !to.starts_with(&root) {
        return Err(PromoteError::Outside { to, root });
    }
    let plans: Vec<Plan> = reports
        .iter()
        .zip(&admitted)
        .map(|(p, r)| plan(p, r, &to, &root))
        .collect::<Result<_, _>>()?;
    // Refuse before writing anything if a destination holds other bytes.
    let mut pending = Vec::new();
    for p in &plans {
        for (src, dest, _) in &p.copies {
            let bytes = std::fs::read(src).map_err(io("cannot read", src))?;
            match std::fs::read(dest) {
                Ok(existing) if existing == bytes => {}
                Ok(_) => return Err(PromoteError::Exists { dest: dest.clone() }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    pending.push((dest.clone(), bytes))
                }
                Err(e) => return Err(io("cannot read", dest)(e)),
            }
        }
    }
    for (dest, bytes) in &pending {
        let dir = crate::util::fsutil::parent_dir(dest);
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        crate::util::fsutil::write_atomic(dest, bytes, false)?;
    }
    let paths: Vec<String> = plans
        .iter()
        .flat_map(|p| p.copies.iter().map(|c| c.2.clone()))
        .collect();
    let sealed = seal::seal(&SealOptions {
        root: root.clone(),
        paths: paths.clone(),
        jobs: 1,
        ..SealOptions::default()
    })?;
    Ok(Outcome {
        promoted: plans
            .into_iter()
            .map(|p| Promoted {
                report: p.report,
                files: p.copies.into_iter().map(|c| c.2).collect(),
                seal: p.seal,
            })
            .collect(),
        sealed,
    })
}
