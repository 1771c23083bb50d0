//! Blocker maps: the readiness tracker JSON where evidence meets the decision
//! to go to production (`tests/fixtures/final-blocker-map.json`, copied from
//! the seed, is the format contract; docs/BLOCKERS.md describes it).
//!
//! The map is kept as an order-preserving JSON tree so unknown fields, key
//! order and values survive a read-write round trip; typed views over it
//! report the JSON path of anything of the wrong shape. This module owns
//! reading, writing, the map's invariants, and the pure rule for attaching
//! proof evidence to a blocker without ever letting surrogate or clone
//! evidence close what only production, an adoption or an owner can close.

pub mod attach;
pub mod category;
pub mod crosscheck;
mod dupkeys;
pub mod log;
pub mod map;
pub mod validate;

pub use attach::{AttachError, AttachOutcome, EvidenceInput, attach_evidence};
pub use category::{Closure, Terminal, classify};
pub use map::{Blocker, BlockerMap, Evidence, MapError, ShapeError, TABLE};
pub use validate::{Violation, ViolationKind, validate};

/// The trust file of a map: `flag` (`--trust`), else `allowed_signers`
/// beside the map (docs/BLOCKERS.md "Trust").
pub fn trust_path(map: &std::path::Path, flag: Option<&std::path::Path>) -> std::path::PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => crate::util::fsutil::parent_dir(map).join("allowed_signers"),
    }
}
