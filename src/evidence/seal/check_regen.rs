//! The generated-fixture part of `check`: every recipe must name a sealed
//! profile and a sane scale; with `--regenerate`, each fixture is rebuilt in
//! a temporary folder and its bytes compared with the sealed digest, proving
//! the fixture is reproducible and not merely unchanged.

use super::SealError;
use super::check::{CheckOptions, CheckReport};
use super::drift::{Drift, Finding};
use super::manifest::{self, Entry, Recipe};

/// Check (and with `opts.regenerate`, rebuild) every generated entry.
pub(super) fn recipes(
    opts: &CheckOptions,
    entries: &[&Entry],
    report: &mut CheckReport,
) -> Result<(), SealError> {
    let mut tmp = None;
    for e in entries {
        let Some(recipe) = &e.generated else { continue };
        if let Err(problem) = validate(recipe, entries) {
            report.findings.push(Finding {
                path: e.path.clone(),
                drift: Drift::BadEntry,
                detail: problem,
            });
            continue;
        }
        if !opts.regenerate {
            continue;
        }
        if !report.ok.contains(&recipe.profile) {
            report.findings.push(Finding {
                path: e.path.clone(),
                drift: Drift::NotRegenerable,
                detail: format!(
                    "its profile {} does not match its seal, so it was not regenerated",
                    recipe.profile
                ),
            });
            continue;
        }
        if tmp.is_none() {
            tmp = Some(tempfile::tempdir().map_err(SealError::io(std::env::temp_dir()))?);
        }
        let Some(dir) = &tmp else { continue };
        match regenerate(opts, e, recipe, dir.path()) {
            Ok(()) => report.regenerated.push(e.path.clone()),
            Err(detail) => report.findings.push(Finding {
                path: e.path.clone(),
                drift: Drift::NotRegenerable,
                detail,
            }),
        }
    }
    Ok(())
}

/// A recipe must name a sealed profile and a positive, finite scale.
pub fn validate(recipe: &Recipe, entries: &[&Entry]) -> Result<(), String> {
    if let Err(p) = manifest::check_rel_path(&recipe.profile) {
        let why = match p {
            manifest::PathProblem::Traversal(w) | manifest::PathProblem::NotNormal(w) => w,
        };
        return Err(format!("generated.profile {:?}: {why}", recipe.profile));
    }
    if !entries.iter().any(|e| e.path == recipe.profile) {
        return Err(format!(
            "generated.profile {} is not a sealed file; seal the profile too",
            recipe.profile
        ));
    }
    if !recipe.scale.is_finite() || recipe.scale <= 0.0 {
        return Err(format!(
            "generated.scale {} must be a positive number",
            recipe.scale
        ));
    }
    Ok(())
}

/// Rebuild one fixture in `dir`; `Err` says how it differs or why it failed.
fn regenerate(
    opts: &CheckOptions,
    e: &Entry,
    recipe: &Recipe,
    dir: &std::path::Path,
) -> Result<(), String> {
    let profile_path = opts.root.join(&recipe.profile);
    let profile = crate::profile::Profile::load(&profile_path).map_err(|err| err.to_string())?;
    let name = e.path.rsplit('/').next().unwrap_or("fixture.db");
    let out = dir.join(name);
    let g = crate::generate::generate(
        &profile,
        &recipe.profile,
        recipe.seed,
        recipe.scale,
        &out,
        true,
    )
    .map_err(|err| format!("regenerating failed: {err}"))?;
    let _ = std::fs::remove_file(&out);
    if g.sha256 == e.sha256 && g.size == e.size {
        Ok(())
    } else {
        Err(format!(
            "regenerated from {} seed {} scale {}: sha256 {} ({} bytes) != sealed {} ({} bytes); \
             the generator or the recipe changed; rebuild with `rollproof seal --regenerate-fixtures`",
            recipe.profile, recipe.seed, recipe.scale, g.sha256, g.size, e.sha256, e.size
        ))
    }
}
