//! Seal-vs-bytes: the manifest of sealed files (`SEALS.json` at the
//! repository root) and the checker CI runs against the bytes on disk.
//!
//! Every regular file under a sealed folder (by default `reports/` and
//! `surrogates/`) is listed with its SHA-256 and size; the manifest carries
//! a seal of its own (SHA-256 over its canonical JSON without the seal), and
//! generated surrogate fixtures record the profile and seed that rebuild them
//! byte for byte. `check` fails closed on every kind of drift and names it
//! ([`Drift`]). Format and drift kinds: docs/SEALS.md (issue #5).
//!
//! The parts: [`manifest`] (format, canonical bytes, path rules), [`scan`]
//! (a walk of the sealed folders that never follows a symlink), [`digest`]
//! (parallel streaming SHA-256 with one progress bar), [`check`] (the
//! verdict, in [`drift`] kinds) and [`build`] (writing the manifest).

pub mod build;
pub mod check;
mod check_regen;
pub mod digest;
pub mod drift;
pub mod manifest;
pub mod scan;

pub use build::{SealOptions, SealOutcome, seal};
pub use check::{CheckOptions, CheckReport, check};
pub use drift::{Drift, Finding};
pub use manifest::{Entry, MANIFEST_FILE, Manifest, Recipe};

use std::path::PathBuf;

/// Why sealing or checking could not even start (exit 2), as opposed to a
/// drift it found (exit 1, see [`Finding`]).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "no seal manifest at {path}; run `rollproof seal` at the repository root to create one"
    )]
    NoManifest { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Refused { path: String, problem: String },
    #[error(transparent)]
    Input(#[from] crate::util::fsutil::InputError),
    #[error(transparent)]
    Write(#[from] crate::util::fsutil::WriteError),
    #[error(transparent)]
    Generate(#[from] crate::generate::GenerateError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Hash(#[from] crate::hash::HashError),
}

impl SealError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SealError {
        let path = path.into();
        move |source| SealError::Io { path, source }
    }

    pub(crate) fn refused(path: impl Into<String>, problem: impl Into<String>) -> SealError {
        SealError::Refused {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
