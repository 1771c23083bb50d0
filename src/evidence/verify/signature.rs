//! Whose evidence a report is: its detached signature (`<report>.json.sig`,
//! or the signature inside a DSSE envelope) checked against an explicit
//! allowed-signers file. A report can be consistent — every seal, schema
//! and recomputation check holds — and still not be evidence: unsigned, or
//! signed by a key nobody trusts. This module says which.

use crate::evidence::sign::{self, Rejected, Signer, Trust};
use serde::Serialize;
use std::path::Path;

/// The state of a report's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Signature {
    /// No trust file was given, so the signature was not looked at.
    NotChecked,
    /// There is no signature.
    Unsigned {
        /// Where the signature was looked for.
        file: String,
    },
    /// A valid signature by a key the trust file lists for this namespace.
    Trusted {
        /// The signature file (or `envelope` for a DSSE envelope).
        file: String,
        /// Who signed.
        #[serde(flatten)]
        signer: Signer,
    },
    /// A valid signature by a key the trust file does not list (here, now).
    Untrusted {
        /// The signature file.
        file: String,
        /// Why it is not trusted.
        reason: String,
    },
    /// Not a valid signature over these bytes.
    Invalid {
        /// The signature file.
        file: String,
        /// Why.
        reason: String,
    },
}

impl Signature {
    /// True only for a trusted signature.
    pub fn trusted(&self) -> bool {
        matches!(self, Signature::Trusted { .. })
    }

    /// The signer, when trusted.
    pub fn signer(&self) -> Option<&Signer> {
        match self {
            Signature::Trusted { signer, .. } => Some(signer),
            _ => None,
        }
    }

    /// One line for humans.
    pub fn describe(&self) -> String {
        match self {
            Signature::NotChecked => "signature not checked (no --trust)".into(),
            Signature::Unsigned { file } => format!("unsigned: no signature {file}"),
            Signature::Trusted { signer, .. } => {
                format!("signed by {} ({})", signer.principal(), signer.key)
            }
            Signature::Untrusted { reason, .. } => reason.clone(),
            Signature::Invalid { reason, .. } => format!("bad signature: {reason}"),
        }
    }

    /// The state for a checked signature.
    pub fn from_result(file: String, r: Result<Signer, Rejected>) -> Signature {
        match r {
            Ok(signer) => Signature::Trusted { file, signer },
            Err(e @ Rejected::Untrusted { .. }) => Signature::Untrusted {
                file,
                reason: e.to_string(),
            },
            Err(e) => Signature::Invalid {
                file,
                reason: e.to_string(),
            },
        }
    }
}

/// Check the detached signature `<file>.sig` over `bytes` in `namespace`.
pub fn detached(
    file: &Path,
    bytes: &[u8],
    namespace: &str,
    trust: &Trust,
    now_ms: i64,
) -> Signature {
    let sig = sign::sig_path(file);
    let shown = sig.display().to_string();
    if std::fs::symlink_metadata(&sig).is_err() {
        return Signature::Unsigned { file: shown };
    }
    match crate::util::fsutil::read_bounded(&sig, sign::MAX_SIG_BYTES, "signature") {
        Err(e) => Signature::Invalid {
            file: shown,
            reason: e.to_string(),
        },
        Ok(armored) => Signature::from_result(
            shown,
            sign::verify(trust, namespace, bytes, &armored, now_ms),
        ),
    }
}
